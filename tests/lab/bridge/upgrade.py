"""The Kubernetes side of an AKS node pool upgrade, as AKS's upgrade does it on the nodes.

The emulator keeps the plan of each pool run (``models/aks_upgrade.py``) and shows it in the bridge's
view; this module carries out the step the plan is at and reports it done through the admin API:

* ``surge``: the surge nodes have joined and are Ready;
* ``drain``: the nodes of the batch (as many as the surge nodes) are cordoned together and every pod on them
  but DaemonSet and mirror pods is evicted through the Eviction API, which honours PodDisruptionBudgets (a 429
  is retried on the next pass, as ``kubectl drain`` does); done once those pods are gone from every node of
  the batch. Past the pool's drain timeout the nodes still holding pods are undrainable: with
  ``undrainableNodeBehavior: Schedule`` the batch's nodes are uncordoned, with ``Cordon`` those nodes stay
  cordoned and are labelled ``kubernetes.azure.com/upgrade-status: Quarantined``, and the report names, for
  each, the pod and the PDB that blocked it;
* ``uncordon``: the reimaged nodes of the batch are Ready again and are uncordoned;
* ``removeSurge``: the surge nodes (but those kept for quarantined nodes) are cordoned and drained, at
  best effort: past the drain timeout they are removed with what is left on them.

Each pass looks at the cluster afresh, so a restart of the bridge or of the emulator resumes the step.
"""

from __future__ import annotations

import json
import logging
import re
import time

from kubernetes import client
from kubernetes.client.exceptions import ApiException

UPGRADE_STATUS = "kubernetes.azure.com/upgrade-status"
QUARANTINED = "Quarantined"
MIRROR = "kubernetes.io/config.mirror"
BUDGET = re.compile(r"The disruption budget (?P<name>\S+) needs")

log = logging.getLogger("lab.bridge.upgrade")


class UpgradeDriver:
    """Carries out the Kubernetes steps of the pool runs in the bridge's view."""

    def __init__(self, core, policy, report):
        self.core = core
        self.policy = policy
        self.report = report

    def reconcile(self, runs: list) -> None:
        """One pass over the runs in progress."""
        for run in runs:
            step = getattr(self, "_" + run["step"].lower(), None)
            if step is None:
                continue
            try:
                step(run)
            except ApiException as exc:  # e.g. an eviction of a pod under two PDBs (500): retried next pass, the rest of the pass goes on
                log.warning("pool %s: step %s of nodes %s: %s %s", run["poolName"], run["step"], run["nodes"], exc.status, exc.reason)

    def _done(self, run, outcome="done", detail=None) -> None:
        log.info("pool %s: step %s of nodes %s %s", run["poolName"], run["step"], run["nodes"], outcome)
        self.report(pool=run["pool"], step=run["step"], index=run["index"], outcome=outcome, detail=detail)

    def _surge(self, run) -> None:
        if all(self._ready(name) for name in run["surgeNodes"]):
            self._done(run)

    def _drain(self, run) -> None:
        for name in run["nodes"]:
            self._cordon(name, True)
        blockers = {name: self._evict_all(name) for name in run["nodes"]}
        blocked = [dict(blocker, node=name) for name, blocker in blockers.items() if blocker is not None]
        if not blocked:
            self._done(run)
        elif time.time() - run["since"] > run["drainTimeout"]:
            for name in run["nodes"]:
                if run["undrainable"] != "Cordon":
                    self._cordon(name, False)
                elif blockers[name] is not None:
                    self.core.patch_node(name, {"metadata": {"labels": {UPGRADE_STATUS: QUARANTINED}}})
            self._done(run, "blocked", blocked)

    def _uncordon(self, run) -> None:
        if all(self._ready(name) for name in run["nodes"]):
            for name in run["nodes"]:
                self._cordon(name, False)
            self._done(run)

    def _removesurge(self, run) -> None:
        leaving = [name for name in run["surgeNodes"] if name not in run["keptSurge"]]
        pending = []
        for name in leaving:
            if self._node(name) is None:
                continue
            self._cordon(name, True)
            if self._evict_all(name) is not None:
                pending.append(name)
        if not pending or time.time() - run["since"] > run["drainTimeout"]:
            self._done(run)

    def _node(self, name):
        try:
            return self.core.read_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _ready(self, name) -> bool:
        node = self._node(name)
        conditions = (node.status.conditions or []) if node is not None and node.status else []
        return any(condition.type == "Ready" and condition.status == "True" for condition in conditions)

    def _cordon(self, name, unschedulable: bool) -> None:
        node = self._node(name)
        if node is not None and bool(node.spec.unschedulable) != unschedulable:
            log.info("node %s: %s", name, "cordoned" if unschedulable else "uncordoned")
            self.core.patch_node(name, {"spec": {"unschedulable": unschedulable}})

    def _evict_all(self, name):
        """Evict what runs on the node; None once nothing but DaemonSet and mirror pods is left, else what blocks
        (``{}`` while evicted pods terminate, the pod and its PDB when an eviction was refused)."""
        pods = [pod for pod in self.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}").items
                if _evictable(pod)]
        if not pods:
            return None
        blocker = {}
        for pod in pods:
            if pod.metadata.deletion_timestamp is not None:
                continue
            refused = self._evict(pod)
            if refused:
                blocker = refused
        return blocker

    def _evict(self, pod):
        """Ask the Eviction API to evict a pod; the pod and its PDB when it answers 429."""
        namespace, name = pod.metadata.namespace, pod.metadata.name
        try:
            self.core.create_namespaced_pod_eviction(name, namespace, client.V1Eviction(
                metadata=client.V1ObjectMeta(name=name, namespace=namespace)))
            log.info("pod %s/%s: evicted", namespace, name)
            return None
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status != 429:
                raise
            budget = _budget_name(exc.body)
            return {"namespace": namespace, "pod": name, "pdb": budget, "unready": self._unready(namespace, budget)}

    def _unready(self, namespace, budget) -> int:
        if not budget:
            return 0
        try:
            status = self.policy.read_namespaced_pod_disruption_budget(budget, namespace).status
        except ApiException:
            return 0
        return max(0, (status.expected_pods or 0) - (status.current_healthy or 0))


def _evictable(pod) -> bool:
    """Pods a drain evicts: not mirror pods, not DaemonSet pods, not finished."""
    if MIRROR in (pod.metadata.annotations or {}) or pod.status.phase in ("Succeeded", "Failed"):
        return False
    return not any(owner.kind == "DaemonSet" for owner in pod.metadata.owner_references or [])


def _budget_name(body) -> str | None:
    """The PodDisruptionBudget a 429 from the Eviction API names in its causes."""
    try:
        causes = (json.loads(body).get("details") or {}).get("causes") or []
    except (TypeError, ValueError):
        return None
    for cause in causes:
        found = BUDGET.search(cause.get("message") or "")
        if found:
            return found["name"]
    return None
