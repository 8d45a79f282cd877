# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the pods a drain evicts can go: a simulation of the scheduler for pods whose volumes are pinned to a zone.

``Cluster`` holds what placement needs (nodes, the pods on them, requests, CSI attach slots) and ``build_plan`` places
the evicted pods greedily, one after the other, on nodes that can take them (readiness, cordon, taints, selectors,
required node affinity, cpu and memory, attach slots, required pod anti-affinity). ``read_cluster`` reads it all from
the API. ``drain_preflight`` checks one drain with it, ``aks_upgrade_plan`` every drain of a node pool upgrade.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_quantities import parse_quantity
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import (
    label_selector_matches, node_ready, node_selector_terms_match, owner, pod_requests, untolerated_taints,
)
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import pod_pvc_names, pv_node_terms, pv_zones


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


def refuse_unasked(plan, force, delete_emptydir_data):
    """Mark the plan entries the drain would refuse or lose without ``force`` / ``delete_emptydir_data`` as not ok."""
    for entry in plan:
        refusal = drain_refusal(entry, force, delete_emptydir_data)
        if refusal:
            entry["ok"] = False
            entry["reason"] = "; ".join(r for r in (entry["reason"], refusal) if r)


def unsafe_message(names, stranded, blocks):
    """The refusal of a drain of ``names``: each stranded plan entry with its zone and reason, each blocking budget."""
    problems = ["pod %s in zone %s would be stranded: %s" % (e["pod"], "/".join(e["zones"]), e["reason"]) if e["zones"]
                else "pod %s cannot be drained: %s" % (e["pod"], e["reason"]) for e in stranded]
    problems += ["PodDisruptionBudget %s allows no disruption now (pods %s): wait until its pods are Ready or relax it"
                 % (b["pdb"], ", ".join(b["pods"])) for b in blocks]
    return "draining %s is not safe: %s. Uncordon or add a node in that zone, or drain another node first" % (
        ", ".join(names), "; ".join(problems))


def apply_plan(cluster, evicted):
    """Make a drain's plan the simulated cluster: the evicted pods leave their nodes (with their requests and disk
    attachments) and the pods it placed run on their targets, so that the next drain is planned on what this one leaves.
    Pods without zonal volumes are not placed by the plan and leave the simulation."""
    gone = set(id(p) for p in evicted)
    for pod in evicted:
        node_name = pod["spec"]["nodeName"]
        _count(cluster, node_name, pod, -1)
    placed = [p for p, dummy in cluster.placed]
    for pod in placed:
        _count(cluster, pod["spec"]["nodeName"], pod, 1)
    cluster.pods = [p for p in cluster.pods if id(p) not in gone] + placed
    cluster.placed = []


def _count(cluster, node_name, pod, sign):
    use = cluster.used.get(node_name)
    if use is not None:
        req = pod_requests(pod)
        use["cpu"] += sign * req["cpu"]
        use["memory"] += sign * req["memory"]
        use["pods"] += sign
    if node_name in cluster.attached:
        cluster.attached[node_name] = max(0, cluster.attached[node_name] + sign * len(pod_pvc_names(pod)))


def plan_in_order(cluster, batches, pvcs, pvs, later_cordoned, back_after_batch):
    """Plans of drains made one batch of nodes after the other, each on the cluster the earlier ones leave.

    A batch evicts the pods its nodes run by then, pods an earlier batch placed there too. ``later_cordoned``: the nodes
    of later batches take no pod (cordoned up front); ``back_after_batch``: a drained node takes pods again once its
    batch is done (uncordoned after each). Returns ``[(batch, evicted pods, plan)]``.
    """
    plans, done = [], []
    for index, batch in enumerate(batches):
        later = [n for b in batches[index + 1:] for n in b] if later_cordoned else []
        unavailable = list(batch) + later + ([] if back_after_batch else done)
        evicted = [p for p in cluster.pods if p["spec"]["nodeName"] in batch and evicted_by_drain(p)]
        plan = build_plan(cluster, unavailable, evicted, pvcs, pvs)
        apply_plan(cluster, evicted)
        plans.append((batch, evicted, plan))
        done.extend(batch)
    return plans


def read_cluster(kube, drained, check_pdb=True, pods=None):
    """What ``Cluster`` and ``build_plan`` need, read through ``kube`` (a ``Kube``); raises ``K8sError``.

    ``drained(node)`` says whether a node is drained: the pods a drain evicts from those nodes are ``evicted``, and the
    claims and PodDisruptionBudgets of their namespaces are read (budgets only with ``check_pdb``). ``pods``: the pods
    when the caller has listed them already.
    """
    nodes = kube.list("Node")
    names = set(n["metadata"]["name"] for n in nodes if drained(n))
    pods = kube.list("Pod") if pods is None else pods
    evicted = [pod for pod in pods if (pod.get("spec") or {}).get("nodeName") in names and evicted_by_drain(pod)]
    namespaces = sorted(set(pod["metadata"]["namespace"] for pod in evicted))
    pvcs = {}
    for ns in namespaces:
        for pvc in kube.list("PersistentVolumeClaim", ns):
            pvcs[(ns, pvc["metadata"]["name"])] = pvc
    pdbs = []
    if check_pdb:
        for ns in namespaces:
            pdbs.extend(kube.list("PodDisruptionBudget", ns, api_version="policy/v1"))
    return {"nodes": nodes, "pods": pods, "evicted": evicted, "pvcs": pvcs,
            "pvs": dict((pv["metadata"]["name"], pv) for pv in kube.list("PersistentVolume")),
            "csinodes": kube.list("CSINode", api_version="storage.k8s.io/v1"),
            "attachments": kube.list("VolumeAttachment", api_version="storage.k8s.io/v1"), "pdbs": pdbs}
