# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the drains of a node pool upgrade strand a pod whose disk is pinned to a zone, before the upgrade starts.

AKS upgrades a pool by adding its surge nodes, then cordoning, draining and reimaging the old nodes, and at last
draining and removing the surge nodes. A pod with a zonal disk can only move to a node of its disk's zone, so each of
those drains must find it a node there. ``upgrade_problems`` plays the drains one node at a time with the placement of
``k8s_drain_plan`` (capacity, taints, attach slots, anti-affinity), the surge nodes copies of a node of the pool in the
zones Azure surely puts them (``surge_per_zone``), and checks the PodDisruptionBudgets; ``upgrade_refusal`` turns the
problems into what to change, trying larger surges for the smallest one that works.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_upgrade_plan import surge_per_zone
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_drain_plan import Cluster, build_plan, evicted_by_drain, pdb_blocks
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import ZONE_LABELS, node_zone
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import pod_pvc_names

POOL_LABEL = "kubernetes.azure.com/agentpool"
HOSTNAME_LABEL = "kubernetes.io/hostname"
# Taints AKS's node lifecycle adds to a node (not-ready, unreachable, ...): a fresh surge node has none of them.
LIFECYCLE_TAINT_PREFIX = "node.kubernetes.io/"


def pool_nodes(nodes, pool):
    return sorted((n for n in nodes if ((n.get("metadata") or {}).get("labels") or {}).get(POOL_LABEL) == pool),
                  key=lambda n: (node_zone(n) or "", n["metadata"]["name"]))


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
    old = pool_nodes(state["nodes"], pool)
    per_zone = surge_per_zone(surge, nodes_per_zone(old)) if old else {}
    nodes = copy.deepcopy(state["nodes"])
    csinodes = list(state["csinodes"])
    added = []
    for zone, (fewest, dummy) in sorted(per_zone.items()):
        for index in range(fewest):
            new = surge_node(old[0], zone, index)
            nodes.append(new)
            added.append(new)
            slots = _csinode(state["csinodes"], old[0]["metadata"]["name"])
            if slots is not None:
                slots["metadata"]["name"] = new["metadata"]["name"]
                csinodes.append(slots)
    pods = copy.deepcopy(state["pods"])
    attachments = copy.deepcopy(state["attachments"])
    stranded, seen = [], set()
    for drained in [n["metadata"]["name"] for n in old] + [n["metadata"]["name"] for n in added]:
        evicted = [p for p in pods if p["spec"].get("nodeName") == drained and evicted_by_drain(p)]
        if not evicted:
            continue
        cluster = Cluster(nodes, pods, csinodes, attachments, driver)
        for entry in build_plan(cluster, [drained], evicted, state["pvcs"], state["pvs"]):
            if not entry["zones"]:
                continue
            if not entry["ok"] and entry["pod"] not in seen:
                seen.add(entry["pod"])
                stranded.append({"pod": entry["pod"], "zone": "/".join(entry["zones"]), "node": drained, "reason": entry["reason"],
                                 "surge_in_zone": sum(per_zone.get(z, (0, 0))[0] for z in entry["zones"])})
            elif entry["target"]:
                _move(pods, attachments, state["pvcs"], entry["pod"], entry["target"])
        if drained in [n["metadata"]["name"] for n in added]:
            nodes = [n for n in nodes if n["metadata"]["name"] != drained]
    blocks, dummy = pdb_blocks(state["pdbs"], state["evicted"])
    return stranded, blocks, per_zone


def _move(pods, attachments, pvcs, name, target):
    """Put pod ``namespace/name`` and the attachments of its volumes on ``target``, as its move does."""
    for pod in pods:
        if "%s/%s" % (pod["metadata"]["namespace"], pod["metadata"]["name"]) != name:
            continue
        volumes = set(((pvcs.get((pod["metadata"]["namespace"], c)) or {}).get("spec") or {}).get("volumeName")
                      for c in pod_pvc_names(pod))
        for va in attachments:
            if ((va.get("spec") or {}).get("source") or {}).get("persistentVolumeName") in volumes:
                va["spec"]["nodeName"] = target
        pod["spec"]["nodeName"] = target


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
