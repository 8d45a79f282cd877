# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the drains of a node pool upgrade strand a pod whose disk is pinned to a zone, before the upgrade starts.

AKS upgrades a pool by adding its surge nodes, then cordoning, draining and reimaging the old nodes in batches of as
many nodes as it added surge nodes (all of a batch at the same time), and at last draining and removing the surge
nodes. A pod with a zonal disk can only move to a node of its disk's zone, so each of those drains must find it a node
there that is not in the same batch. ``upgrade_problems`` plays the drains batch after batch (the old nodes in the
order of their names, which is their scale set instances' order, then the surge nodes together) with the placement of
``k8s_drain_plan`` (capacity, taints, attach slots, anti-affinity), the surge nodes copies of a node of the pool in the
zones Azure surely puts them (``surge_per_zone``), and checks the PodDisruptionBudgets; ``upgrade_refusal`` turns the
problems into what to change, trying larger surges for the smallest one that works.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_upgrade_plan import surge_per_zone
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_drain_plan import Cluster, pdb_blocks, plan_in_order
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import ZONE_LABELS, node_zone

POOL_LABEL = "kubernetes.azure.com/agentpool"
HOSTNAME_LABEL = "kubernetes.io/hostname"
# Taints AKS's node lifecycle adds to a node (not-ready, unreachable, ...): a fresh surge node has none of them.
LIFECYCLE_TAINT_PREFIX = "node.kubernetes.io/"


def pool_nodes(nodes, pool):
    """The pool's nodes in the order AKS upgrades them: by name, AKS naming a node after its instance's id."""
    return sorted((n for n in nodes if ((n.get("metadata") or {}).get("labels") or {}).get(POOL_LABEL) == pool),
                  key=lambda n: n["metadata"]["name"])


def nodes_per_zone(nodes):
    counts = {}
    for node in nodes:
        counts[node_zone(node) or ""] = counts.get(node_zone(node) or "", 0) + 1
    return counts


def surge_node(template, zone, index):
    """A new node of the pool in ``zone``: the template's labels, taints and allocatable, Ready, empty."""
    node = copy.deepcopy(template)
    meta = node["metadata"]
    meta["name"] = "%s-surge-%s-%d" % (template["metadata"]["name"], zone, index)
    labels = meta.setdefault("labels", {})
    for key in ZONE_LABELS:
        if key in labels:
            labels[key] = zone
    labels[HOSTNAME_LABEL] = meta["name"]
    spec = node.setdefault("spec", {})
    spec["unschedulable"] = False
    spec["taints"] = [t for t in spec.get("taints") or [] if not (t.get("key") or "").startswith(LIFECYCLE_TAINT_PREFIX)]
    node.setdefault("status", {})["conditions"] = [{"type": "Ready", "status": "True"}]
    return node


def _csinode(csinodes, name):
    for csinode in csinodes:
        if csinode["metadata"]["name"] == name:
            return copy.deepcopy(csinode)
    return None


def upgrade_problems(state, pool, surge, driver):
    """The pods the drains of an upgrade of ``pool`` with ``surge`` surge nodes strand, and the budgets that block.

    ``state``: ``k8s_drain_plan.read_cluster`` of the pool's nodes. Returns ``(stranded, blocks, surge_nodes)``:
    ``stranded`` entries ``{pod, zone, node, reason, surge_in_zone}`` (the first drain that strands each pod), ``blocks``
    as ``pdb_blocks`` gives them, ``surge_nodes`` ``{zone: (fewest, most)}``. Only pods with zonal volumes are placed.
    """
    members = pool_nodes(state["nodes"], pool)
    old = [n["metadata"]["name"] for n in members]
    per_zone = surge_per_zone(surge, nodes_per_zone(members)) if members else {}
    nodes, csinodes, added = list(state["nodes"]), list(state["csinodes"]), []
    for zone, (fewest, dummy) in sorted(per_zone.items()):
        for index in range(fewest):
            new = surge_node(members[0], zone, index)
            nodes.append(new)
            added.append(new["metadata"]["name"])
            slots = _csinode(state["csinodes"], old[0])
            if slots is not None:
                slots["metadata"]["name"] = new["metadata"]["name"]
                csinodes.append(slots)
    batches = [old[start:start + surge] for start in range(0, len(old), max(1, surge))] + ([added] if added else [])
    cluster = Cluster(nodes, state["pods"], csinodes, state["attachments"], driver)
    stranded, seen = [], set()
    for dummy, dummy2, plan in plan_in_order(cluster, batches, state["pvcs"], state["pvs"], later_cordoned=False, back_after_batch=True):
        for entry in plan:
            if entry["zones"] and not entry["ok"] and entry["pod"] not in seen:
                seen.add(entry["pod"])
                stranded.append({"pod": entry["pod"], "zone": "/".join(entry["zones"]), "node": entry["node"], "reason": entry["reason"],
                                 "surge_in_zone": sum(per_zone.get(z, (0, 0))[0] for z in entry["zones"])})
    blocks, dummy = pdb_blocks(state["pdbs"], state["evicted"])
    return stranded, blocks, per_zone


def upgrade_refusal(state, pool, max_surge, surge, driver, surge_for):
    """Why the upgrade of ``pool`` with ``max_surge`` (giving ``surge`` nodes) must not start, or None; and the plan.

    ``surge_for(n)`` is the ``max_surge`` value that gives ``n`` surge nodes (to name the setting to change). The
    smallest larger surge up to one more than the pool's nodes that strands nobody is suggested.
    """
    stranded, blocks, per_zone = upgrade_problems(state, pool, surge, driver)
    plan = {"surge_nodes": surge, "surge_nodes_per_zone": dict((z, {"fewest": f, "most": m}) for z, (f, m) in per_zone.items()),
            "stranded": stranded, "pdb_blocks": blocks}
    if not stranded and not blocks:
        return None, plan
    problems = []
    if stranded:
        zones = len(per_zone)
        better = next((n for n in range(surge + 1, len(pool_nodes(state["nodes"], pool)) + 2)
                       if not upgrade_problems(state, pool, n, driver)[0]), None)
        if better is not None:
            advice = "set upgrade_settings.max_surge to at least %s%s" % (
                surge_for(better), " (the pool's zone count)" if better == zones else "")
        else:
            advice = "no larger max_surge helps: give the zone room (another node, fewer requests) or relax the pod's rules"
        for item in stranded:
            surge_there = "%d surge node(s)" % item["surge_in_zone"] if item["surge_in_zone"] else "no surge node for certain"
            problems.append("max surge %s puts %s in zone %s, where pod %s has its disk; when node %s is drained %s: %s" % (
                max_surge, surge_there, item["zone"], item["pod"], item["node"], item["reason"], advice))
    problems += ["PodDisruptionBudget %s allows no disruption now (pods %s): AKS's drain would wait drain_timeout_in_minutes "
                 "and fail the upgrade; wait until its pods are Ready or relax it" % (b["pdb"], ", ".join(b["pods"])) for b in blocks]
    return "; ".join(problems), plan
