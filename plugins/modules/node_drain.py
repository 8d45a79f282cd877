#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_drain
short_description: Drain a list of nodes in order, moving each pod with a zonal disk once, without stranding any
version_added: 0.2.0
description:
  - Drains O(nodes) in their order, O(batch_size) at a time, in one call. Before any write it checks the whole list
    once, as C(kubedisk.aks.drain_preflight) checks one drain, simulating the drains one after the other (each on the
    cluster the earlier ones leave, the pods they moved where the simulation put them). When a pod whose volume is
    pinned to a zone would find no node of its zone, a PodDisruptionBudget allows no disruption, or a pod would be lost
    without O(force) or O(delete_emptydir_data), it fails with drain_preflight's messages and changes nothing.
  - When the simulation shows that no pod is stranded with every node of the list cordoned from the start, all of them
    are cordoned up front, so that no evicted pod lands on a node drained next and each pod moves once. Otherwise each
    node is cordoned when its turn comes, and a pod that lands on a node drained later moves again, but not before it
    has been Ready for O(settle_seconds).
  - Evicts with the Eviction API, as C(kubectl drain) does (Pods of DaemonSets, mirror pods and finished pods stay);
    an eviction a PodDisruptionBudget refuses (HTTP 429) is tried again every O(pdb_retry_delay) seconds within
    O(timeout), any other refusal fails at once. It then follows the pods through one watch of the API (no polling)
    until the controller of each evicted pod has a replacement Ready on a node outside the batch, and starts the next
    batch at once.
  - Returns what happened to each pod (RV(report)) with its downtime, from its eviction to its replacement Ready.
  - Nodes already drained (cordoned, nothing left to evict) are left alone; with O(uncordon=never) a rerun changes nothing.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  nodes:
    description: Names of the nodes to drain, in the order to drain them.
    type: list
    elements: str
    required: true
  batch_size:
    description: Nodes drained at the same time (their pods evicted together); V(1) drains one node after the other.
    type: int
    default: 1
  uncordon:
    description:
      - When the drained nodes take pods again.
      - V(never) leaves them cordoned (maintenance follows).
      - V(after_each) uncordons each batch once its pods run elsewhere, so later batches can use it.
      - V(at_end) uncordons every node of the list once the last batch is done.
      - With V(after_each) or V(at_end) the nodes are also uncordoned when the drain fails after it began.
    type: str
    choices: [never, after_each, at_end]
    default: never
  settle_seconds:
    description: A pod this call moved is not evicted again before its replacement has been Ready this many seconds.
    type: int
    default: 10
  pdb_retry_delay:
    description: Seconds between the attempts of an eviction a PodDisruptionBudget refuses.
    type: int
    default: 2
  timeout:
    description: Seconds the whole call may take, checks, evictions and waits; at most one day.
    type: int
    default: 600
  check_pdb:
    description: Check PodDisruptionBudgets before the first write (a budget that allows no disruption now refuses the drain).
    type: bool
    default: true
  force:
    description: Evict pods no controller manages too (they are deleted for good, as C(kubectl drain --force) does).
    type: bool
    default: false
  delete_emptydir_data:
    description: Evict pods with C(emptyDir) volumes too, whose data is deleted with them.
    type: bool
    default: false
  csi_driver:
    description: CSI driver whose attach slots (CSINode allocatable count) are counted.
    type: str
    default: disk.csi.azure.com
notes:
  - The check is a snapshot of the cluster when the call starts; the simulation places only pods with zonal volumes.
  - Preferred (soft) affinity rules and topology spread constraints are not evaluated.
  - Supports check mode (the plan, no write) and diff mode (the nodes' cordon state before and after).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
"""

EXAMPLES = r"""
- name: Drain the nodes of zone 1, one after the other, and leave them cordoned for maintenance
  kubedisk.aks.node_drain:
    nodes:
      - aks-nodepool1-30410574-vmss000000
      - aks-nodepool1-30410574-vmss000002
    delete_emptydir_data: true
  register: drained

- name: Downtime of each moved pod
  ansible.builtin.debug:
    msg: "{{ drained.report | map(attribute='seconds') | list }}"

- name: A rolling drain that gives each node back once its pods run elsewhere
  kubedisk.aks.node_drain:
    nodes: "{{ groups['zone1_nodes'] }}"
    uncordon: after_each
    timeout: 1800
"""

RETURN = r"""
report:
  description: One entry per pod the call evicted (a pod moved twice has one entry).
  returned: success
  type: list
  elements: dict
  contains:
    pod:
      description: C(namespace/name) of the pod that runs now (a StatefulSet's pod keeps its name, a Deployment's gets a new one).
      type: str
    from:
      description: The node it was evicted from first.
      type: str
    to:
      description: The node its replacement is Ready on (null for a pod no controller manages, deleted for good).
      type: str
    zones:
      description: Zones its volumes are pinned to.
      type: list
      elements: str
    seconds:
      description: Seconds it was down, from each eviction to its replacement Ready, summed over its moves.
      type: float
    moves:
      description: How often this call evicted it.
      type: int
  sample:
    - {pod: default/web-0, from: aks-nodepool1-30410574-vmss000000, to: aks-nodepool1-30410574-vmss000004,
       zones: [westeurope-1], seconds: 14.2, moves: 1}
plan:
  description: The simulated drains, one entry per pod to evict (drain_preflight's plan entries with C(batch), the index of the batch).
  returned: always
  type: list
  elements: dict
cordoned_up_front:
  description: Whether every node of the list was cordoned before the first eviction (no pod lands on a node drained next).
  returned: always
  type: bool
stranded:
  description: The plan entries that cannot move (the call failed before any write).
  returned: always
  type: list
  elements: dict
pdb_blocks:
  description: PodDisruptionBudgets that allow no disruption now, with the pods they cover.
  returned: always
  type: list
  elements: dict
deleted_for_good:
  description: The pods no controller manages that the drain deletes (with O(force=true)).
  returned: always
  type: list
  elements: str
emptydir_data_lost:
  description: The pods whose C(emptyDir) data the drain deletes, with their volumes.
  returned: always
  type: list
  elements: dict
nodes:
  description: Each node of the list with its zone and whether it is cordoned after the call.
  returned: always
  type: dict
"""

import queue
import threading
import time
import traceback

from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import (
    K8S_AUTH_SPEC, K8sError, KubeconfigModule, kube_client, unreachable,
)
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_drain_plan import (
    Cluster, controller_of, evicted_by_drain, pdb_blocks, plan_in_order, read_cluster, refuse_unasked, unsafe_message,
)
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import node_zone
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import CSI_DRIVER

try:
    from kubernetes.watch import Watch
except ImportError:  # kube_client() fails first, naming what to install
    Watch = None

ARGUMENT_SPEC = {
    "nodes": {"type": "list", "elements": "str", "required": True},
    "batch_size": {"type": "int", "default": 1},
    "uncordon": {"type": "str", "choices": ["never", "after_each", "at_end"], "default": "never"},
    "settle_seconds": {"type": "int", "default": 10},
    "pdb_retry_delay": {"type": "int", "default": 2},
    "timeout": {"type": "int", "default": 600},
    "check_pdb": {"type": "bool", "default": True},
    "force": {"type": "bool", "default": False},
    "delete_emptydir_data": {"type": "bool", "default": False},
    "csi_driver": {"type": "str", "default": CSI_DRIVER},
}
ARGUMENT_SPEC.update(K8S_AUTH_SPEC)

MAX_TIMEOUT = 86400
# A watch request ends after this many seconds and is made again from the last resourceVersion seen.
WATCH_SECONDS = 60
# An eviction that finds the API server unreachable (a restart) is made again for this long: made twice, it evicts once.
RIDE_OUT_SECONDS = 30.0


class DrainFailed(Exception):
    """The drain cannot go on; the message says where it stopped."""


def pod_key(pod):
    return "%s/%s" % (pod["metadata"]["namespace"], pod["metadata"]["name"])


def pod_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def node_cordoned(node):
    return bool((node.get("spec") or {}).get("unschedulable"))


class Pods(object):
    """The cluster's pods through one client: a list, then one watch from its resourceVersion in a thread of its own
    (made again from the last version seen when it ends, from a new list when that version is gone), and evictions.

    ``events(seconds)`` hands the module's thread what the watch saw, waiting up to ``seconds`` for something.
    """

    def __init__(self, kube):
        self.kube = kube
        self.resource = kube.client.resource("Pod", "v1")
        self.queue = queue.Queue()
        self.stopped = threading.Event()
        self.watcher = None
        self.error = None

    def list(self):
        """``(pods, resourceVersion)``."""
        try:
            found = self.kube.client.get(self.resource).to_dict()
        except Exception as exc:  # kubernetes.dynamic errors carry the HTTP status
            raise K8sError("listing Pod: %s" % exc)
        return found.get("items") or [], found["metadata"]["resourceVersion"]

    def watch(self, resource_version):
        thread = threading.Thread(target=self._follow, args=(resource_version,))
        thread.daemon = True
        thread.start()

    def _follow(self, resource_version):
        while not self.stopped.is_set():
            self.watcher = Watch()
            try:
                for event in self.kube.client.client.watch(self.resource, resource_version=resource_version, timeout=WATCH_SECONDS,
                                                           watcher=self.watcher, allow_watch_bookmarks=True):
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self.queue.put((event["type"], event["raw_object"]))
                resource_version = self.watcher.resource_version or resource_version
                self.error = None
            except Exception as exc:  # pylint: disable=broad-except  # the watch is made again; the drain's deadline decides
                if self.stopped.is_set():
                    return
                self.error = str(exc)
                if getattr(exc, "status", None) == 410:  # the version is gone: start again from a new list
                    try:
                        pods, resource_version = self.list()
                        self.queue.put(("SYNC", pods))
                        continue
                    except K8sError as again:
                        self.error = str(again)
                self.stopped.wait(1.0)

    def events(self, seconds):
        """What the watch saw since the last call, after waiting up to ``seconds`` for a first event."""
        found = []
        try:
            found.append(self.queue.get(timeout=seconds) if seconds > 0 else self.queue.get_nowait())
            while True:
                found.append(self.queue.get_nowait())
        except queue.Empty:
            return found

    def evict(self, namespace, name):
        """``evicted``, ``gone`` (it was deleted already) or ``refused`` (a PodDisruptionBudget, HTTP 429)."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        try:
            self.kube.client.client.request("post", "/api/v1/namespaces/%s/pods/%s/eviction" % (namespace, name), body=body)
        except Exception as exc:  # kubernetes.dynamic errors carry the HTTP status
            status = getattr(exc, "status", None)
            if status == 429:
                return "refused"
            if status == 404:
                return "gone"
            if unreachable(exc):
                raise
            raise K8sError("evicting Pod %s/%s: %s" % (namespace, name, exc.summary() if hasattr(exc, "summary") else exc))
        return "evicted"

    def stop(self):
        self.stopped.set()
        if self.watcher is not None:
            self.watcher.stop()


class Waiting(object):
    """An evicted pod whose controller is to have a replacement Ready: which pods were there when it left, when it left."""

    def __init__(self, pod, entry, known, now):
        self.owner = (pod["metadata"]["namespace"],) + tuple(sorted(controller_of(pod).items()))
        self.name = pod["metadata"]["name"]
        self.statefulset = controller_of(pod)["kind"] == "StatefulSet"
        self.entry = entry
        self.known = known
        self.evicted_at = now

    def takes(self, pod, batch):
        """Whether ``pod`` is this one's replacement, Ready outside ``batch``."""
        meta = pod["metadata"]
        ref = controller_of(pod)
        return (ref is not None and (meta["namespace"],) + tuple(sorted(ref.items())) == self.owner
                and meta["uid"] not in self.known and not meta.get("deletionTimestamp") and pod_ready(pod)
                and pod["spec"].get("nodeName") not in batch and (not self.statefulset or meta["name"] == self.name))


class Drain(object):
    """Carries out the checked plan: cordons, evictions, the watch on the replacements, uncordons."""

    def __init__(self, module, kube, pods, deadline, zones_of):
        self.module = module
        self.kube = kube
        self.pods = pods
        self.deadline = deadline
        self.zones_of = zones_of
        self.params = module.params
        self.cache = {}  # uid -> pod, as the watch last showed it
        self.report = []
        self.lineage = {}  # uid of a replacement -> its report entry (a pod evicted again goes on in the same entry)
        self.ready_at = {}  # uid of a replacement -> when the drain saw it Ready
        self.claimed = set()

    def keep(self, pods):
        self.cache = dict((p["metadata"]["uid"], p) for p in pods)

    def absorb(self, seconds):
        for kind, obj in self.pods.events(seconds):
            if kind == "SYNC":
                self.keep(obj)
            elif kind == "DELETED":
                self.cache.pop(obj["metadata"]["uid"], None)
            else:
                self.cache[obj["metadata"]["uid"]] = obj

    def evict(self, pod):
        return self.deadline.within(RIDE_OUT_SECONDS).retry(
            lambda: self.pods.evict(pod["metadata"]["namespace"], pod["metadata"]["name"]), unreachable, interval=1.0, max_interval=4.0)

    def set_cordon(self, names, cordoned):
        for name in names:
            self.kube.patch("Node", name, {"spec": {"unschedulable": True if cordoned else None}})

    def evictable(self, batch):
        pods = [p for p in self.cache.values() if (p.get("spec") or {}).get("nodeName") in batch and evicted_by_drain(p)]
        return sorted(pods, key=pod_key)

    def drain_batch(self, batch):
        self.absorb(0)
        todo = self.evictable(batch)
        waiting = []
        next_try = {}
        evicted = set()
        while todo or waiting:
            now = time.monotonic()
            for pod in list(todo):
                uid = pod["metadata"]["uid"]
                due = max(next_try.get(uid, 0.0), self.ready_at.get(uid, float("-inf")) + self.params["settle_seconds"])
                if due > now:
                    continue
                outcome = self.evict(pod)
                if outcome == "refused":
                    next_try[uid] = now + self.params["pdb_retry_delay"]
                    continue
                todo.remove(pod)
                evicted.add(uid)
                entry = self.lineage.pop(uid, None)
                if entry is None:
                    entry = {"pod": pod_key(pod), "from": pod["spec"]["nodeName"], "to": None,
                             "zones": self.zones_of(pod_key(pod)), "seconds": 0.0, "moves": 0}
                    self.report.append(entry)
                entry["moves"] += 1
                if controller_of(pod):
                    waiting.append(Waiting(pod, entry, set(self.cache), time.monotonic()))
            self.match(waiting, batch)
            if not todo and not waiting:
                # A pod scheduled there just before the cordon showed up may have come since: it leaves too.
                self.absorb(0)
                todo = [p for p in self.evictable(batch) if p["metadata"]["uid"] not in evicted]
                if not todo:
                    return
            if self.deadline.expired():
                raise DrainFailed(self.stuck(batch, todo, waiting))
            dues = [max(next_try.get(p["metadata"]["uid"], 0.0), self.ready_at.get(p["metadata"]["uid"], float("-inf"))
                        + self.params["settle_seconds"]) for p in todo]
            pause = min([self.deadline.remaining()] + [d - time.monotonic() for d in dues])
            self.absorb(max(pause, 0.0))

    def match(self, waiting, batch):
        """Each waiting pod takes its Ready replacement, the latest evicted first (its pods known are the most)."""
        for record in sorted(waiting, key=lambda r: -r.evicted_at):
            found = sorted((p for p in self.cache.values() if p["metadata"]["uid"] not in self.claimed and record.takes(p, batch)),
                           key=lambda p: p["metadata"].get("creationTimestamp") or "")
            if not found:
                continue
            now = time.monotonic()
            pod = found[0]
            uid = pod["metadata"]["uid"]
            self.claimed.add(uid)
            self.ready_at[uid] = now
            self.lineage[uid] = record.entry
            record.entry.update({"pod": pod_key(pod), "to": pod["spec"]["nodeName"],
                                 "seconds": round(record.entry["seconds"] + now - record.evicted_at, 1)})
            waiting.remove(record)

    def stuck(self, batch, todo, waiting):
        what = []
        if todo:
            what.append("%s not evicted (a PodDisruptionBudget kept refusing)" % ", ".join(pod_key(p) for p in todo))
        if waiting:
            what.append("no Ready replacement outside %s for %s" % (", ".join(batch), ", ".join(
                "%s/%s" % (r.owner[0], r.name) for r in waiting)))
        if self.pods.error:
            what.append("the pod watch failed: %s" % self.pods.error)
        return "draining %s did not finish within timeout=%d s: %s" % (", ".join(batch), self.params["timeout"], "; ".join(what))


def plan_drains(state, batches, p):
    """``(plans, cordoned_up_front)``: every node cordoned from the start when no pod is stranded so, else each in turn."""
    for up_front in (True, False):
        cluster = Cluster(state["nodes"], state["pods"], state["csinodes"], state["attachments"], p["csi_driver"])
        plans = plan_in_order(cluster, batches, state["pvcs"], state["pvs"], up_front, p["uncordon"] == "after_each")
        for dummy, dummy_evicted, plan in plans:
            refuse_unasked(plan, p["force"], p["delete_emptydir_data"])
        if len(batches) == 1 or all(e["ok"] for dummy, dummy_evicted, plan in plans for e in plan):
            return plans, up_front and len(batches) > 1
    return plans, False


def check_params(module):
    p = module.params
    names = [n.strip() for n in p["nodes"] if n and n.strip()]
    if not names or len(names) != len(p["nodes"]):
        module.fail_json(msg="nodes must name at least one node to drain, none of them empty")
    if len(set(names)) != len(names):
        module.fail_json(msg="nodes lists a node twice: %s" % ", ".join(sorted(set(n for n in names if names.count(n) > 1))))
    for option, low, high in (("batch_size", 1, None), ("settle_seconds", 0, MAX_TIMEOUT), ("pdb_retry_delay", 1, MAX_TIMEOUT),
                              ("timeout", 1, MAX_TIMEOUT)):
        if p[option] < low or (high is not None and p[option] > high):
            module.fail_json(msg="%s must be %d or more%s, not %d" % (option, low, " and %d at most" % high if high else "", p[option]))
    return names


def main():
    module = KubeconfigModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    names = check_params(module)
    deadline = Deadline(p["timeout"])
    kube = kube_client(module, deadline)
    try:
        pods = Pods(kube)
        listed, resource_version = pods.list()
        state = read_cluster(kube, lambda node: node["metadata"]["name"] in names, p["check_pdb"], pods=listed)
    except Exception as exc:  # pylint: disable=broad-except  # K8sError, or the API's discovery failing
        module.fail_json(msg="cannot read the cluster: %s" % exc, exception=traceback.format_exc())
    known = dict((n["metadata"]["name"], n) for n in state["nodes"])
    missing = [n for n in names if n not in known]
    if missing:
        module.fail_json(msg="node%s %s not found in the cluster; check the names with kubectl get nodes" % (
            "s" if len(missing) > 1 else "", ", ".join(missing)))

    batches = [names[i:i + p["batch_size"]] for i in range(0, len(names), p["batch_size"])]
    plans, up_front = plan_drains(state, batches, p)
    plan = [dict(entry, batch=index) for index, (dummy, dummy_evicted, batch_plan) in enumerate(plans) for entry in batch_plan]
    blocks, warnings = [], []
    for dummy, evicted, dummy_plan in plans:
        found, said = pdb_blocks(state["pdbs"], evicted)
        blocks += [b for b in found if b["pdb"] not in [x["pdb"] for x in blocks]]
        warnings += [w for w in said if w not in warnings]
    for warning in warnings:
        module.warn(warning)
    first = dict((e["pod"], e) for e in reversed(plan))
    lost = [{"pod": e["pod"], "volumes": e["emptydir"]} for e in first.values() if e["emptydir"] and p["delete_emptydir_data"]]
    deleted = [e["pod"] for e in first.values() if not e["managed"] and p["force"]]
    stranded = [e for e in plan if not e["ok"]]
    before = dict((n, node_cordoned(known[n])) for n in names)
    after = dict((n, p["uncordon"] == "never") for n in names)
    result = {"changed": bool(plan) or before != after, "plan": plan, "cordoned_up_front": up_front, "stranded": stranded,
              "pdb_blocks": blocks, "deleted_for_good": deleted, "emptydir_data_lost": lost, "report": [],
              "nodes": dict((n, {"zone": node_zone(known[n]), "cordoned": before[n]}) for n in names)}
    if stranded or blocks:
        result["changed"] = False
        module.fail_json(msg=unsafe_message(names, stranded, blocks), **result)
    if module._diff:
        result["diff"] = {"before": {"cordoned": before}, "after": {"cordoned": after}}
    if not result["changed"] or module.check_mode:
        module.exit_json(**result)

    drain = Drain(module, kube, pods, deadline, lambda key: first.get(key, {}).get("zones") or [])
    drain.keep(listed)
    pods.watch(resource_version)
    began = False
    try:
        if up_front:
            began = True
            drain.set_cordon([n for n in names if not before[n]], True)
        for batch in batches:
            began = True
            drain.set_cordon([n for n in batch if not before[n] and not up_front], True)
            drain.drain_batch(batch)
            if p["uncordon"] == "after_each":
                drain.set_cordon(batch, False)
        if p["uncordon"] == "at_end":
            drain.set_cordon(names, False)
    except (DrainFailed, K8sError) as exc:
        pods.stop()
        result["report"] = drain.report
        msg = str(exc)
        if began and p["uncordon"] != "never":
            try:
                drain.set_cordon(names, False)
                msg += "; the nodes were uncordoned"
            except K8sError as again:
                msg += "; uncordoning the nodes failed too: %s" % again
        module.fail_json(msg="node_drain: %s" % msg, **result)
    except Exception as exc:  # pylint: disable=broad-except  # an unreachable API server after the ride-out
        pods.stop()
        result["report"] = drain.report
        module.fail_json(msg="node_drain: the Kubernetes API stopped answering: %s" % exc, exception=traceback.format_exc(), **result)
    pods.stop()
    for name in names:
        result["nodes"][name]["cordoned"] = after[name]
    result["report"] = drain.report
    module.exit_json(**result)


if __name__ == "__main__":
    main()
