#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drain_preflight
short_description: Check that draining nodes strands no pod whose disk is pinned to a zone
version_added: 0.1.0
description:
  - Read-only check to run before C(kubernetes.core.k8s_drain). For the nodes about to be drained it finds every pod
    that uses a zonal volume (a PersistentVolume with node affinity, such as an Azure Disk LRS volume) and checks that
    another node of that zone can take it. That node must be Ready and schedulable (not cordoned, not being drained), its taints tolerated,
    the pod's node selector and required node affinity met, enough allocatable cpu and memory left, a free attach slot
    of the CSI driver (CSINode C(allocatable.count) minus the node's VolumeAttachments) and no required pod
    anti-affinity conflict. Pods placed earlier in the plan count against the nodes they take.
  - It also checks the PodDisruptionBudgets of the pods to evict; a budget that allows no disruption now blocks the drain.
  - Returns a plan (one entry per pod to evict). When a pod would be stranded it fails with a message naming the pod,
    its zone and the reason, unless O(fail_on_stranded=false).
  - Pods of DaemonSets, mirror pods and finished pods are not evicted by a drain and are left out.
  - "A pod no controller manages (a bare pod) is not re-created anywhere after a drain, and C(kubectl drain) /
    C(kubernetes.core.k8s_drain) refuse it unless told to delete it (C(force)): it blocks the drain unless O(force=true),
    and is then reported as deleted for good."
  - "The data of a pod's C(emptyDir) volumes is deleted with the pod: such a pod blocks the drain unless
    O(delete_emptydir_data=true), and is then listed in RV(emptydir_data_lost)."
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  nodes:
    description: Names of the nodes about to be drained (together).
    type: list
    elements: str
    required: true
  check_pdb:
    description: Check PodDisruptionBudgets too.
    type: bool
    default: true
  fail_on_stranded:
    description: Fail when a pod would be stranded or a PodDisruptionBudget blocks; with V(false) return the plan with RV(safe=false).
    type: bool
    default: true
  force:
    description: The drain deletes pods no controller manages (C(delete_options.force) of C(kubernetes.core.k8s_drain)).
    type: bool
    default: false
  delete_emptydir_data:
    description: The drain deletes pods with C(emptyDir) volumes and their data (C(delete_options.delete_emptydir_data)).
    type: bool
    default: false
  csi_driver:
    description: CSI driver whose attach slots (CSINode allocatable count) are counted.
    type: str
    default: disk.csi.azure.com
notes:
  - The check is a snapshot of the cluster at the time it runs; pods scheduled between the check and the drain are not in it.
  - Preferred (soft) affinity rules and topology spread constraints are not evaluated.
extends_documentation_fragment:
  - kubedisk.aks.kubernetes
  - kubedisk.aks.kubernetes.read_only
"""

EXAMPLES = r"""
- name: Make sure draining the node strands no zonal disk
  kubedisk.aks.drain_preflight:
    nodes: [aks-nodepool1-30410574-vmss000002]
  register: plan

- name: Drain it
  kubernetes.core.k8s_drain:
    name: aks-nodepool1-30410574-vmss000002
    delete_options:
      ignore_daemonsets: true
      delete_emptydir_data: true
"""

RETURN = r"""
safe:
  description: Whether every pod can move and no PodDisruptionBudget blocks.
  returned: always
  type: bool
plan:
  description: One entry per pod the drain would evict.
  returned: always
  type: list
  elements: dict
  contains:
    pod:
      description: C(namespace/name).
      type: str
    node:
      description: Node it runs on.
      type: str
    zones:
      description: Zones its volumes are pinned to (empty for pods without zonal volumes).
      type: list
      elements: str
    volumes:
      description: Its PVCs.
      type: list
      elements: str
    candidates:
      description: Nodes that could take it (for pods with zonal volumes).
      type: list
      elements: str
    target:
      description: The node the plan counts it on (the first candidate).
      type: str
    ok:
      description: Whether it can move.
      type: bool
    reason:
      description: Why it cannot (null when it can), naming the zone and what rules out each node there.
      type: str
    managed:
      description: Whether a controller manages it (re-creates it elsewhere); a bare pod is deleted for good by a drain.
      type: bool
    owner:
      description: C(kind) and C(name) of its controller (null for a bare pod); its replacement after the drain has the same.
      type: dict
    emptydir:
      description: Its C(emptyDir) volumes, whose data the drain deletes.
      type: list
      elements: str
  sample:
    - pod: default/nginx-statefulset-0
      node: aks-nodepool1-30410574-vmss000002
      zones: [westeurope-1]
      volumes: [azuredisk-nginx-statefulset-0]
      candidates: []
      target: null
      ok: false
      reason: "no other node in zone westeurope-1 can take it: aks-nodepool1-30410574-vmss000000 is cordoned"
stranded:
  description: The plan entries that cannot move.
  returned: always
  type: list
  elements: dict
pdb_blocks:
  description: PodDisruptionBudgets that allow no disruption now, with the pods they cover.
  returned: always
  type: list
  elements: dict
emptydir_data_lost:
  description: The pods (C(namespace/name)) whose C(emptyDir) data the drain deletes, with their volumes.
  returned: always
  type: list
  elements: dict
deleted_for_good:
  description: The pods no controller manages, which the drain deletes (with O(force=true)) and nothing re-creates.
  returned: always
  type: list
  elements: str
nodes:
  description: The drained nodes with their zones.
  returned: always
  type: dict
"""

import traceback


from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import KUBERNETES_SPEC, K8sError, KubeconfigModule, kube_client
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_quantities import parse_quantity
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import (
    label_selector_matches, node_ready, node_selector_terms_match, node_zone, owner, pod_requests, untolerated_taints,
)
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import CSI_DRIVER, pod_pvc_names, pv_node_terms, pv_zones

ARGUMENT_SPEC = {
    "nodes": {"type": "list", "elements": "str", "required": True},
    "check_pdb": {"type": "bool", "default": True},
    "fail_on_stranded": {"type": "bool", "default": True},
    "force": {"type": "bool", "default": False},
    "delete_emptydir_data": {"type": "bool", "default": False},
    "csi_driver": {"type": "str", "default": CSI_DRIVER},
    "kubernetes": KUBERNETES_SPEC,
}


def evicted_by_drain(pod):
    """Whether a drain evicts the pod (DaemonSet pods, mirror pods and finished or terminating pods stay out)."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
        return False
    if owner(pod, "DaemonSet"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def controller_of(pod):
    """``{kind, name}`` of the controller that re-creates the pod after an eviction (None for a bare pod)."""
    ref = owner(pod)
    return {"kind": ref["kind"], "name": ref["name"]} if ref else None


def emptydir_volumes(pod):
    return [v["name"] for v in (pod.get("spec") or {}).get("volumes") or [] if "emptyDir" in v]


def drain_refusal(entry, force, delete_emptydir_data):
    """Why the drain itself would refuse or lose the pod of a plan entry without being told to (None when it would not)."""
    reasons = []
    if not entry["managed"] and not force:
        reasons.append("no controller manages it, so the drain would delete it for good; the drain refuses it unless "
                       "force: true (or delete it yourself, or run it under a controller)")
    if entry["emptydir"] and not delete_emptydir_data:
        reasons.append("its emptyDir volume%s %s would lose %s data; the drain refuses it unless delete_emptydir_data: true"
                       % ("s" if len(entry["emptydir"]) > 1 else "", ", ".join(entry["emptydir"]), "their" if len(entry["emptydir"]) > 1 else "its"))
    return "; ".join(reasons) or None


def node_labels_with_name(node):
    labels = dict((node.get("metadata") or {}).get("labels") or {})
    labels["metadata.name"] = node["metadata"]["name"]
    return labels


def pod_node_terms(pod):
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    return ((affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")) or []


def anti_affinity_terms(pod):
    anti = ((pod.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity") or {}
    return anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []


def term_applies(term, owner_pod, other_pod):
    """Whether an anti-affinity term of ``owner_pod`` selects ``other_pod`` (namespace and label selector)."""
    namespaces = term.get("namespaces") or []
    if not namespaces and term.get("namespaceSelector") is None:
        namespaces = [owner_pod["metadata"]["namespace"]]
    if namespaces and other_pod["metadata"]["namespace"] not in namespaces:
        return False
    return label_selector_matches(term.get("labelSelector"), other_pod["metadata"].get("labels"))


class Cluster(object):
    """What placement needs: nodes, pods per node, used requests and attach slots (plus what the plan adds)."""

    def __init__(self, nodes, pods, csinodes, attachments, driver):
        self.nodes = dict((n["metadata"]["name"], n) for n in nodes)
        self.pods = [p for p in pods if (p.get("spec") or {}).get("nodeName")
                     and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        self.used = dict((name, {"cpu": 0, "memory": 0, "pods": 0}) for name in self.nodes)
        for pod in self.pods:
            use = self.used.get(pod["spec"]["nodeName"])
            if use is not None:
                req = pod_requests(pod)
                use["cpu"] += req["cpu"]
                use["memory"] += req["memory"]
                use["pods"] += 1
        self.slots = {}
        for csinode in csinodes:
            for drv in (csinode.get("spec") or {}).get("drivers") or []:
                if drv.get("name") == driver and (drv.get("allocatable") or {}).get("count") is not None:
                    self.slots[csinode["metadata"]["name"]] = int(drv["allocatable"]["count"])
        self.attached = dict((name, 0) for name in self.nodes)
        for va in attachments:
            spec = va.get("spec") or {}
            if spec.get("attacher") == driver and spec.get("nodeName") in self.attached:
                self.attached[spec["nodeName"]] += 1
        self.placed = []  # (pod, node name) the plan has put somewhere

    def pods_on(self, node_name, leaving):
        on = [p for p in self.pods if p["spec"]["nodeName"] == node_name and p["metadata"]["name"] + "/" + p["metadata"]["namespace"] not in leaving]
        return on + [p for p, n in self.placed if n == node_name]

    def why_not(self, node, pod, volumes, leaving, draining):
        """None when ``node`` can take ``pod`` (with ``volumes`` new attachments), else a short reason."""
        name = node["metadata"]["name"]
        spec = node.get("spec") or {}
        if name in draining:
            return "is being drained too"
        if node_ready(node) is not True:
            return "is not Ready"
        if spec.get("unschedulable"):
            return "is cordoned"
        taints = untolerated_taints(node, (pod.get("spec") or {}).get("tolerations"))
        if taints:
            return "has taint %s the pod does not tolerate" % ", ".join(
                "%s%s:%s" % (t["key"], "=" + t["value"] if t.get("value") else "", t["effect"]) for t in taints)
        labels = node_labels_with_name(node)
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return "does not match the pod's nodeSelector"
        if not node_selector_terms_match(pod_node_terms(pod), labels):
            return "does not match the pod's required node affinity"
        req = pod_requests(pod)
        alloc = (node.get("status") or {}).get("allocatable") or {}
        use = dict(self.used.get(name, {"cpu": 0, "memory": 0, "pods": 0}))
        for placed, where in self.placed:
            if where == name:
                extra = pod_requests(placed)
                use["cpu"] += extra["cpu"]
                use["memory"] += extra["memory"]
                use["pods"] += 1
        for key, unit in (("cpu", "cpu"), ("memory", "memory")):
            if alloc.get(key) is not None and req[key] and use[key] + req[key] > parse_quantity(alloc[key]):
                return "has not enough %s left (requests %s of %s allocatable, the pod needs %s)" % (
                    unit, _fmt(key, use[key]), alloc[key], _fmt(key, req[key]))
        if alloc.get("pods") is not None and use["pods"] + 1 > parse_quantity(alloc["pods"]):
            return "runs its maximum number of pods"
        if volumes and name in self.slots:
            planned = sum(len(pod_pvc_names(p)) for p, n in self.placed if n == name)
            free = self.slots[name] - self.attached.get(name, 0) - planned
            if free < volumes:
                return "has no free disk attach slot (%d of %d used)" % (self.slots[name] - free, self.slots[name])
        conflict = self.anti_affinity_conflict(node, pod, leaving)
        if conflict:
            return conflict
        return None

    def anti_affinity_conflict(self, node, pod, leaving):
        labels = node_labels_with_name(node)
        others = [p for p in self.pods if p is not pod and "%s/%s" % (p["metadata"]["name"], p["metadata"]["namespace"]) not in leaving]
        others += [p for p, dummy in self.placed]
        for other in others:
            other_node = self.nodes.get(other["spec"]["nodeName"])
            if other_node is None:
                continue
            other_labels = node_labels_with_name(other_node)
            for term, owner_pod, target in [(t, pod, other) for t in anti_affinity_terms(pod)] + \
                                           [(t, other, pod) for t in anti_affinity_terms(other)]:
                key = term.get("topologyKey")
                if key and key in labels and other_labels.get(key) == labels[key] and term_applies(term, owner_pod, target):
                    return "would break the required pod anti-affinity with %s/%s (%s=%s)" % (
                        other["metadata"]["namespace"], other["metadata"]["name"], key, labels[key])
        return None


def _fmt(key, value):
    if key == "cpu":
        return "%dm" % round(value * 1000)
    return "%dMi" % round(value / (1 << 20))


def pdb_blocks(pdbs, evicted):
    """Budgets that allow fewer disruptions than the drain needs right now (0 allowed blocks; fewer serialises)."""
    blocks, warnings = [], []
    for pdb in pdbs:
        ns = pdb["metadata"]["namespace"]
        covered = [p for p in evicted if p["metadata"]["namespace"] == ns
                   and label_selector_matches((pdb.get("spec") or {}).get("selector"), p["metadata"].get("labels"))]
        if not covered:
            continue
        allowed = int((pdb.get("status") or {}).get("disruptionsAllowed") or 0)
        names = ["%s/%s" % (ns, p["metadata"]["name"]) for p in covered]
        if allowed == 0:
            blocks.append({"pdb": "%s/%s" % (ns, pdb["metadata"]["name"]), "disruptions_allowed": 0, "pods": names})
        elif allowed < len(covered):
            warnings.append("PodDisruptionBudget %s/%s allows %d disruption(s) now but the drain evicts %d of its pods (%s): "
                            "evictions will wait for each other (retry on 429)"
                            % (ns, pdb["metadata"]["name"], allowed, len(covered), ", ".join(names)))
    return blocks, warnings


def build_plan(cluster, draining, evicted, pvcs, pvs):
    """Plan entries for the evicted pods; pods with zonal volumes are placed greedily on candidate nodes.

    A pod no controller manages is not placed: the drain deletes it and nothing starts it elsewhere.
    """
    leaving = set("%s/%s" % (p["metadata"]["name"], p["metadata"]["namespace"]) for p in evicted)
    plan = []
    for pod in evicted:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        claims = pod_pvc_names(pod)
        zones, terms, missing = [], [], []
        for claim in claims:
            pvc = pvcs.get((ns, claim))
            pv = pvs.get(((pvc or {}).get("spec") or {}).get("volumeName"))
            if pv is None:
                missing.append(claim)
                continue
            if pv_node_terms(pv):
                terms.append(pv_node_terms(pv))
                zones.extend(z for z in pv_zones(pv) if z not in zones)
        entry = {"pod": "%s/%s" % (ns, name), "node": pod["spec"]["nodeName"], "zones": zones, "volumes": claims,
                 "candidates": [], "target": None, "ok": True, "reason": None, "owner": controller_of(pod),
                 "emptydir": emptydir_volumes(pod)}
        entry["managed"] = entry["owner"] is not None
        if terms and owner(pod):
            reasons = []
            for node_name in sorted(cluster.nodes):
                node = cluster.nodes[node_name]
                if node_name == pod["spec"]["nodeName"]:
                    continue
                labels = node_labels_with_name(node)
                if not all(node_selector_terms_match(t, labels) for t in terms):
                    continue
                why = cluster.why_not(node, pod, len(claims), leaving, draining)
                if why:
                    reasons.append("%s %s" % (node_name, why))
                else:
                    entry["candidates"].append(node_name)
            where = "zone %s" % "/".join(zones) if zones else "the nodes its volumes' node affinity allows"
            if entry["candidates"]:
                entry["target"] = entry["candidates"][0]
                cluster.placed.append((dict(pod, spec=dict(pod["spec"], nodeName=entry["target"])), entry["target"]))
            else:
                entry["ok"] = False
                entry["reason"] = "its volume%s %s %s pinned to %s and no other node there can take it: %s" % (
                    "s" if len(claims) > 1 else "", ", ".join(claims), "are" if len(claims) > 1 else "is", where,
                    "; ".join(reasons) if reasons else "there is no other node in %s" % where)
        plan.append(entry)
    return plan


def main():
    module = KubeconfigModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    names = [n.strip() for n in p["nodes"] if n and n.strip()]
    if not names:
        module.fail_json(msg="nodes must name at least one node to drain")
    if len(set(names)) != len(names):
        module.fail_json(msg="nodes lists a node twice: %s" % ", ".join(sorted(set(n for n in names if names.count(n) > 1))))
    kube = kube_client(module)
    try:
        nodes = kube.list("Node")
        known = dict((n["metadata"]["name"], n) for n in nodes)
        missing = [n for n in names if n not in known]
        if missing:
            module.fail_json(msg="node%s %s not found in the cluster; check the names with kubectl get nodes" % (
                "s" if len(missing) > 1 else "", ", ".join(missing)))
        pods = kube.list("Pod")
        evicted = [pod for pod in pods if (pod.get("spec") or {}).get("nodeName") in names and evicted_by_drain(pod)]
        namespaces = set(pod["metadata"]["namespace"] for pod in evicted)
        pvcs = {}
        for ns in namespaces:
            for pvc in kube.list("PersistentVolumeClaim", ns):
                pvcs[(ns, pvc["metadata"]["name"])] = pvc
        pvs = dict((pv["metadata"]["name"], pv) for pv in kube.list("PersistentVolume"))
        csinodes = kube.list("CSINode", api_version="storage.k8s.io/v1")
        attachments = kube.list("VolumeAttachment", api_version="storage.k8s.io/v1")
        pdbs = []
        if p["check_pdb"]:
            for ns in namespaces:
                pdbs.extend(kube.list("PodDisruptionBudget", ns, api_version="policy/v1"))
    except K8sError as exc:
        module.fail_json(msg="cannot read the cluster: %s" % exc, exception=traceback.format_exc())

    cluster = Cluster(nodes, pods, csinodes, attachments, p["csi_driver"])
    plan = build_plan(cluster, names, evicted, pvcs, pvs)
    for entry in plan:
        refusal = drain_refusal(entry, p["force"], p["delete_emptydir_data"])
        if refusal:
            entry["ok"] = False
            entry["reason"] = "; ".join(r for r in (entry["reason"], refusal) if r)
    lost = [{"pod": e["pod"], "volumes": e["emptydir"]} for e in plan if e["emptydir"] and p["delete_emptydir_data"]]
    deleted = [e["pod"] for e in plan if not e["managed"] and p["force"]]
    if lost:
        module.warn("the drain deletes the emptyDir data of %s" % "; ".join("%s (%s)" % (x["pod"], ", ".join(x["volumes"])) for x in lost))
    if deleted:
        module.warn("the drain deletes %s, which no controller manages: nothing re-creates %s" % (
            ", ".join(deleted), "them" if len(deleted) > 1 else "it"))
    blocks, warnings = pdb_blocks(pdbs, evicted)
    for warning in warnings:
        module.warn(warning)
    stranded = [e for e in plan if not e["ok"]]
    result = {"changed": False, "safe": not stranded and not blocks, "plan": plan, "stranded": stranded, "pdb_blocks": blocks,
              "emptydir_data_lost": lost, "deleted_for_good": deleted,
              "nodes": dict((n, {"zone": node_zone(known[n])}) for n in names)}
    if not result["safe"] and p["fail_on_stranded"]:
        problems = ["pod %s in zone %s would be stranded: %s" % (e["pod"], "/".join(e["zones"]), e["reason"]) if e["zones"]
                    else "pod %s cannot be drained: %s" % (e["pod"], e["reason"]) for e in stranded]
        problems += ["PodDisruptionBudget %s allows no disruption now (pods %s): wait until its pods are Ready or relax it"
                     % (b["pdb"], ", ".join(b["pods"])) for b in blocks]
        module.fail_json(msg="draining %s is not safe: %s. Uncordon or add a node in that zone, or drain another node first"
                             % (", ".join(names), "; ".join(problems)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
