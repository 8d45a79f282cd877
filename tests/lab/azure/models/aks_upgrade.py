"""AKS upgrades: version rules, upgrade profiles, and the surge-drain-reimage run of an agent pool.

Mirrored behaviour (Azure's "Upgrade an AKS cluster", "Upgrade node pools", "Customize node surge
upgrade" pages and the containerservice REST specs):
- the control plane moves one minor version at a time: a PUT skipping a minor is 400
  ``OperationNotAllowed`` ("Upgrading Kubernetes version A to B is not allowed. Available upgrades:
  [...]"), a lower version is refused the same way;
- an agent pool is never newer than the control plane and at most three minors older: else 400
  ``NodePoolMcVersionIncompatible``; a pool may jump several minors up to the control plane's;
- ``upgradeProfiles/default`` of a cluster (control plane and pools, each with its upgrades) and of a
  pool (its upgrades up to the control plane, ``latestNodeImageVersion``), and
  ``availableAgentPoolVersions``;
- a PUT of the cluster with a higher ``kubernetesVersion`` upgrades the control plane, then every pool
  whose profile follows it (no ``orchestratorVersion`` given, or the new one), one pool after the other;
  a PUT of a pool with a higher ``orchestratorVersion`` upgrades that pool;
  ``upgradeNodeImageVersion`` reimages a pool to ``LATEST_NODE_IMAGE``;
- a pool upgrade adds ``maxSurge`` instances (a count, or a percentage of the pool rounded up; at
  least one), spread over the pool's zones; once their nodes are Ready, the old nodes are taken in
  batches of as many as the surge instances ("it cordons and drains as many nodes at the same time as
  the number of buffer nodes"): the nodes of a batch are cordoned and drained together through the
  Eviction API (PodDisruptionBudgets honoured for ``drainTimeoutInMinutes``, default 30, per batch),
  soaked ``nodeSoakDurationInMinutes``, reimaged together (their VMs restart on the new version and
  node image, losing their data disk attachments) and uncordoned; then the next batch; finally the
  surge instances are drained and deleted;
- a node that cannot be drained in time fails the operation with ``UpgradeFailed`` naming the pod and
  its PodDisruptionBudget, as AKS words it; with ``undrainableNodeBehavior: Schedule`` (the default) the
  batch's nodes are made schedulable again, not upgraded, and the surge instances are removed; with
  ``Cordon`` a blocked node stays cordoned, labelled ``kubernetes.azure.com/upgrade-status: Quarantined``,
  one surge instance is kept for it, and the other nodes (of its batch and the next ones) are still
  upgraded; the pool ends ``provisioningState: Failed`` with the nodes it has.

Rules and state live here; the Kubernetes steps (waiting for Ready, cordon, evictions, uncordon) are the
bridge's (``lab.bridge.upgrade``), which reads the plan from ``kube_view`` and reports each step done
through the admin API (``report``). The plan lives with the pool in the store and time-bound steps are
dated, so a restart of the emulator or of the bridge resumes the run where it was. A cluster that the
lab's Kubernetes control plane does not back has no nodes to drain: its upgrade is one timed operation.
"""

import math
import time

from ...aks_names import node_name
from ..arm import ArmError, invalid_parameter
from ..lro import NEVER, completion
from . import containerservice as aks
from . import disks, resources, vmss

CREATED_NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202601.01.0"
# AKS ships node images weekly: the lab's region already has a newer one than its pools were created with
LATEST_NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202602.03.0"
DEFAULT_DRAIN_TIMEOUT_MINUTES = 30
# far enough never to be due, below lro.NEVER so that clearing an lro-hang rule does not end a run early
RUN_DEADLINE = NEVER / 2
MAX_SKEW = 3
VERSION_DOCS = "For more information, see [AKS supported Kubernetes versions](https://aka.ms/aks-supported-k8s-ver) for version details."
SKEW_DOCS = "For more information, see [AKS upgrade version skew policy](https://aka.ms/aks/UpgradeVersionRules)."
QUARANTINED = "Quarantined"


def minor_of(version):
    """(major, minor) of a version."""
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _sorted(versions):
    return sorted(versions, key=lambda version: tuple(int(part) for part in version.split(".")))


def control_plane_upgrades(version):
    """What the control plane may move to: the next minor (minors cannot be skipped)."""
    major, minor = minor_of(version)
    following = aks.VERSIONS.get(f"{major}.{minor + 1}")
    return [following] if following else []


def pool_upgrades(pool_version, control_plane):
    """What a pool may move to: any later version up to the control plane's."""
    return [version for version in _sorted(aks.VERSIONS.values())
            if minor_of(pool_version) < minor_of(version) <= minor_of(control_plane)]


def check_control_plane(current, wanted):
    """Refuse a control plane version AKS does not move ``current`` to."""
    if wanted != current and wanted not in control_plane_upgrades(current):
        raise ArmError(400, "OperationNotAllowed", f"Upgrading Kubernetes version {current} to {wanted} is not allowed. "
                                                   f"Available upgrades: [{' '.join(control_plane_upgrades(current))}]. {VERSION_DOCS}")


def check_skew(pool_version, control_plane):
    """Refuse a pool newer than the control plane or more than three minors older."""
    pool_minor, plane_minor = minor_of(pool_version), minor_of(control_plane)
    if pool_minor[0] != plane_minor[0] or pool_minor[1] > plane_minor[1] or plane_minor[1] - pool_minor[1] > MAX_SKEW:
        raise ArmError(400, "NodePoolMcVersionIncompatible",
                       f"Node pool version {pool_version} and control plane version {control_plane} are incompatible. Minor version of node "
                       f"pool cannot be more than {MAX_SKEW} versions less than control plane's version, nor greater than it. Minor version "
                       f"of node pool is {pool_minor[1]} and control plane is {plane_minor[1]}. {SKEW_DOCS}")


def check_pool_version(pool_version, wanted, control_plane):
    """Refuse a pool version change AKS does not make (downgrades, past the control plane)."""
    unknown_patch = wanted != pool_version and minor_of(wanted) == minor_of(pool_version) and wanted not in aks.VERSIONS.values()
    if minor_of(wanted) < minor_of(pool_version) or unknown_patch:
        offered = " ".join(pool_upgrades(pool_version, control_plane))
        raise ArmError(400, "OperationNotAllowed", f"Upgrading Kubernetes version {pool_version} to {wanted} is not allowed. "
                       f"Available upgrades: [{offered}]. {VERSION_DOCS}")
    check_skew(wanted, control_plane)


def surge_count(max_surge, count):
    """Instances a ``maxSurge`` of "N" or "P%" adds to a pool of ``count``: at least one, a percentage rounded up."""
    text = str(max_surge or "10%").strip()
    try:
        value = int(text[:-1]) if text.endswith("%") else int(text)
    except ValueError:
        value = -1
    if value < 0 or (text.endswith("%") and value > 100):
        raise invalid_parameter("properties.upgradeSettings.maxSurge",
                                f"maxSurge '{max_surge}' is not valid: an integer (\"1\") or a percentage from 0% to 100% (\"33%\").")
    return max(1, math.ceil(count * value / 100) if text.endswith("%") else value)


def checked_settings(current, wanted):
    """A pool's ``upgradeSettings`` after a PUT: the given ones over the current, checked."""
    settings = dict(current or {})
    settings.update({key: value for key, value in (wanted or {}).items() if value is not None})
    surge_count(settings.get("maxSurge"), 1)
    for key in ("drainTimeoutInMinutes", "nodeSoakDurationInMinutes"):
        limit = 1440 if key == "drainTimeoutInMinutes" else 30
        if key in settings and (not isinstance(settings[key], int) or isinstance(settings[key], bool)
                                or not (1 if key == "drainTimeoutInMinutes" else 0) <= settings[key] <= limit):
            raise invalid_parameter(f"properties.upgradeSettings.{key}", f"{key} {settings[key]!r} is not valid: minutes up to {limit}.")
    if settings.get("undrainableNodeBehavior", "Schedule") not in ("Schedule", "Cordon"):
        raise invalid_parameter("properties.upgradeSettings.undrainableNodeBehavior",
                                f"undrainableNodeBehavior '{settings['undrainableNodeBehavior']}' is not valid: Schedule or Cordon.")
    return settings


# profiles
def cluster_profile(lab, subscription, group, name):
    """``ManagedClusterUpgradeProfile``."""
    cluster = aks.get_cluster(lab, subscription, group, name)
    plane = cluster.properties["currentKubernetesVersion"]
    pools = [{"name": pool.body["name"], "kubernetesVersion": pool.properties["currentOrchestratorVersion"],
              "osType": pool.properties["osType"],
              "upgrades": [{"kubernetesVersion": version, "isPreview": False}
                           for version in pool_upgrades(pool.properties["currentOrchestratorVersion"], plane)]}
             for pool in lab.store.children(cluster.id, aks.POOL_TYPE)]
    return {"id": f"{cluster.id}/upgradeProfiles/default", "name": "default", "type": f"{aks.CLUSTER_TYPE}/upgradeProfiles",
            "properties": {"controlPlaneProfile": {"kubernetesVersion": plane, "name": None, "osType": "Linux",
                                                   "upgrades": [{"kubernetesVersion": version, "isPreview": False}
                                                                for version in control_plane_upgrades(plane)]},
                           "agentPoolProfiles": pools}}


def pool_profile(lab, subscription, group, name, pool_name):
    """``AgentPoolUpgradeProfile``."""
    cluster = aks.get_cluster(lab, subscription, group, name)
    pool = aks.get_pool(lab, subscription, group, name, pool_name)
    version = pool.properties["currentOrchestratorVersion"]
    return {"id": f"{pool.id}/upgradeProfiles/default", "name": "default", "type": f"{aks.POOL_TYPE}/upgradeProfiles",
            "properties": {"kubernetesVersion": version, "osType": pool.properties["osType"],
                           "upgrades": [{"kubernetesVersion": target, "isPreview": False}
                                        for target in pool_upgrades(version, cluster.properties["currentKubernetesVersion"])],
                           "latestNodeImageVersion": LATEST_NODE_IMAGE}}


def available_pool_versions(lab, subscription, group, name):
    """``AgentPoolAvailableVersions``: what a pool of this cluster may run (within the skew of the control plane)."""
    cluster = aks.get_cluster(lab, subscription, group, name)
    plane = cluster.properties["currentKubernetesVersion"]
    versions = []
    for version in _sorted(aks.VERSIONS.values()):
        if 0 <= minor_of(plane)[1] - minor_of(version)[1] <= MAX_SKEW:
            versions.append({"kubernetesVersion": version, "default": version == plane, "isPreview": False})
    return {"id": f"{cluster.id}/availableAgentPoolVersions", "name": "default",
            "type": f"{aks.POOL_TYPE}/availableAgentPoolVersions", "properties": {"agentPoolVersions": versions}}


# starting runs
def backed(lab, cluster):
    """Whether the lab's Kubernetes control plane (and so the bridge) stands behind this cluster."""
    other = aks.backed_cluster(lab)
    return other is not None and other.id == cluster.id


def start_pool_upgrade(lab, cluster, pool, version, image):
    """Start upgrading one pool (to ``version`` and ``image``); returns its operation."""
    pool.properties["orchestratorVersion"] = version
    kind = "agentPool.upgrade"
    operation = resources.begin(lab, pool, "Upgrading", kind, {"version": version, "image": image}, cluster.body["location"])
    if backed(lab, cluster):
        lab.store.reschedule_operation(operation.id, RUN_DEADLINE)
        _begin_run(lab, lab.store.get(pool.id), operation.id, version, image)
    return operation


def start_cluster_upgrade(lab, cluster, version, following):
    """Start upgrading the control plane to ``version``, then the pools named in ``following``; returns the operation."""
    cluster.properties["kubernetesVersion"] = version
    for pool in following:
        pool.properties["orchestratorVersion"] = version
        pool.properties["provisioningState"] = "Upgrading"
        lab.store.save(pool)
    params = {"version": version, "pools": [pool.id for pool in following]}
    operation = resources.begin(lab, cluster, "Upgrading", "cluster.upgrade", params)
    if backed(lab, cluster):
        lab.store.reschedule_operation(operation.id, RUN_DEADLINE)
        cluster.internal["upgrade"] = {"operation": operation.id, "version": version, "pools": params["pools"],
                                       "controlPlaneUntil": time.time() + lab.profile.duration("cluster.upgrade")}
        lab.store.save(cluster)
    return operation


def upgrade_node_image(lab, subscription, group, name, pool_name):
    """``upgradeNodeImageVersion``: reimage a pool to the latest node image on its Kubernetes version; returns (pool, operation)."""
    cluster = aks.get_cluster(lab, subscription, group, name)
    pool = aks.get_pool(lab, subscription, group, name, pool_name)
    aks.check_idle(lab, cluster)
    operation = start_pool_upgrade(lab, cluster, pool, pool.properties["currentOrchestratorVersion"], LATEST_NODE_IMAGE)
    return lab.store.get(pool.id), operation


def _minutes(lab, minutes):
    return minutes * lab.profile.nominal("upgrade.minute")


def _begin_run(lab, pool, operation_id, version, image):
    """The plan of a pool's run, and its surge instances (joining the cluster once provisioned)."""
    scale_set = lab.store.get(pool.internal["vmss"])
    old = [vm.body["instanceId"] for vm in lab.store.children(scale_set.id, vmss.VM_TYPE)]
    settings = pool.properties.get("upgradeSettings") or {}
    surge = surge_count(settings.get("maxSurge"), len(old))
    vmss.scale(lab, scale_set, len(old) + surge)
    scale_set = lab.store.get(scale_set.id)
    joined = time.time() + lab.profile.duration("agentPool.surgeNode")
    surge_ids = []
    for vm in lab.store.children(scale_set.id, vmss.VM_TYPE):
        if vm.body["instanceId"] not in old:
            vm.internal.update({"orchestratorVersion": version, "nodeImage": image, "joinsAt": joined})
            lab.store.save(vm)
            surge_ids.append(vm.body["instanceId"])
    pool.internal["upgrade"] = {
        "operation": operation_id, "version": version, "image": image, "old": old, "surge": surge_ids, "index": 0,
        "batch": len(surge_ids), "step": "surge", "since": time.time(),
        "drainTimeout": _minutes(lab, settings.get("drainTimeoutInMinutes") or DEFAULT_DRAIN_TIMEOUT_MINUTES),
        "soak": _minutes(lab, settings.get("nodeSoakDurationInMinutes") or 0),
        "undrainable": settings.get("undrainableNodeBehavior") or "Schedule", "blocked": [], "error": None}
    lab.store.save(pool)


# progress
def _set_step(plan, step, until=None):
    plan.update({"step": step, "since": time.time(), "until": until})


def tick(lab, cluster):
    """Apply the time-bound steps that are due (control plane, soak, reimage) of the cluster's runs."""
    now = time.time()
    with lab.store.transaction():
        cluster = lab.store.get(cluster.id)
        run = cluster.internal.get("upgrade")
        if run and run.get("controlPlaneUntil") and now >= run["controlPlaneUntil"]:
            cluster.properties["currentKubernetesVersion"] = run["version"]
            run["controlPlaneUntil"] = None
            lab.store.save(cluster)
            _next_pool(lab, cluster)
        for pool in lab.store.children(cluster.id, aks.POOL_TYPE):
            plan = pool.internal.get("upgrade")
            if not plan or not plan.get("until") or now < plan["until"]:
                continue
            if plan["step"] == "soak":
                _reimage(lab, pool, plan)
            elif plan["step"] == "reimage":
                _reimaged(lab, pool, plan)
            lab.store.save(pool)


def _next_pool(lab, cluster):
    """Start the next pool a cluster upgrade carries, or end the cluster's operation."""
    run = cluster.internal["upgrade"]
    if run["pools"] and not run.get("error"):
        pool = lab.store.get(run["pools"].pop(0))
        lab.store.save(cluster)
        if pool is not None:
            _begin_run(lab, pool, run["operation"], run["version"], LATEST_NODE_IMAGE)
            return
        _next_pool(lab, cluster)
        return
    lab.store.reschedule_operation(run["operation"], time.time())


def _vm(lab, pool, instance_id):
    return lab.store.get(f"{pool.internal['vmss']}/virtualMachines/{instance_id}")


def _batch(plan):
    """The instances of the batch the run is at."""
    return plan["old"][plan["index"]:plan["index"] + plan["batch"]]


def _upgrading(lab, pool, plan):
    """The batch's instances that go on with the upgrade: all but those whose node was quarantined."""
    vmss_name = lab.store.get(pool.internal["vmss"]).body["name"]
    quarantined = {entry.get("node") for entry in plan["blocked"]}
    return [instance for instance in _batch(plan) if node_name(vmss_name, instance) not in quarantined]


def _reimage(lab, pool, plan):
    """The batch's VMs restart together from the new image: their nodes stop heartbeating, their data disks are released."""
    for instance_id in _upgrading(lab, pool, plan):
        vm = _vm(lab, pool, instance_id)
        if vm is None:
            continue
        for entry in vm.properties["storageProfile"]["dataDisks"]:
            disk = lab.store.get(entry["managedDisk"]["id"])
            if disk:
                disks.detach(lab, disk, vm.id)
        vm.properties["storageProfile"]["dataDisks"] = []
        vm.properties["provisioningState"] = "Updating"
        vm.internal["power"] = "starting"
        lab.store.save(vm)
    _set_step(plan, "reimage", time.time() + lab.profile.duration("agentPool.reimage"))


def _reimaged(lab, pool, plan):
    for instance_id in _upgrading(lab, pool, plan):
        vm = _vm(lab, pool, instance_id)
        if vm is not None:
            vm.properties["provisioningState"] = "Succeeded"
            vm.internal.update({"power": "running", "orchestratorVersion": plan["version"], "nodeImage": plan["image"]})
            lab.store.save(vm)
    _set_step(plan, "uncordon")


def report(lab, pool_id, step, index, outcome, detail=None):
    """What the bridge saw of a step: ``done``, or ``blocked`` with a list of the batch's undrainable nodes, each with the
    pod and PDB that held it (``{node, namespace, pod, pdb, unready}``); stale reports change nothing."""
    with lab.store.transaction():
        pool = lab.store.get(pool_id)
        plan = (pool.internal.get("upgrade") if pool else None) or {}
        if plan.get("step") != step or plan.get("index") != index:
            return False
        cluster = lab.store.get(pool.parent)
        if step == "surge":
            _next_node(plan)
        elif step == "drain" and outcome == "done":
            _set_step(plan, "soak", time.time() + plan["soak"])
        elif step == "drain":
            _undrainable(lab, pool, plan, detail or [{}])
        elif step == "uncordon":
            plan["index"] += plan["batch"]
            _next_node(plan)
        elif step == "removeSurge":
            _finish_run(lab, cluster, pool, plan)
            return True
        lab.store.save(pool)
        return True


def _undrainable(lab, pool, plan, blocked):
    """Under ``Cordon`` the batch's drained nodes go on (soak, reimage) and its blocked ones stay quarantined; under
    ``Schedule`` the run stops there."""
    plan["blocked"].extend(blocked)
    plan["error"] = plan["error"] or drain_error(blocked[0])
    if plan["undrainable"] != "Cordon":
        _set_step(plan, "removeSurge")
    elif _upgrading(lab, pool, plan):
        _set_step(plan, "soak", time.time() + plan["soak"])
    else:
        plan["index"] += plan["batch"]
        _next_node(plan)


def _next_node(plan):
    _set_step(plan, "drain" if plan["index"] < len(plan["old"]) else "removeSurge")


def drain_error(detail):
    """AKS's error for a node whose drain timed out on a PodDisruptionBudget."""
    return {"code": "UpgradeFailed",
            "message": f"Drain node {detail.get('node')} failed when evicting pod {detail.get('pod')} failed with Too Many Requests error. "
                       "This is often caused by a restrictive Pod Disruption Budget (PDB) policy. See http://aka.ms/aks/debugdrainfailures. "
                       "Original error: Cannot evict pod as it would violate the pod's disruption budget.. PDB debug info: "
                       f"{detail.get('namespace')}/{detail.get('pod')} blocked by pdb {detail.get('pdb')} with "
                       f"{detail.get('unready', 0)} unready pods."}


def kept_surge(plan):
    """The surge instances a run keeps: one for each node left cordoned (``Cordon``)."""
    return plan["surge"][:len(plan["blocked"])] if plan["undrainable"] == "Cordon" else []


def _finish_run(lab, cluster, pool, plan):
    """Remove the surge instances, settle the pool, and end its operation (or go on with the cluster's next pool)."""
    scale_set = lab.store.get(pool.internal["vmss"])
    kept = kept_surge(plan)
    for instance_id in plan["surge"]:
        if instance_id not in kept:
            resources.remove_tree(lab, f"{scale_set.id}/virtualMachines/{instance_id}")
    scale_set = lab.store.get(scale_set.id)
    scale_set.body["sku"]["capacity"] = len(lab.store.children(scale_set.id, vmss.VM_TYPE))
    lab.store.save(scale_set)
    pool.internal.pop("upgrade")
    pool.internal["upgradeError"] = plan["error"]
    if not plan["error"]:
        pool.properties.update({"currentOrchestratorVersion": plan["version"], "nodeImageVersion": plan["image"],
                                "provisioningState": "Succeeded"})
    else:
        pool.properties["provisioningState"] = "Failed"
    lab.store.save(pool)
    run = cluster.internal.get("upgrade")
    if run and run["operation"] == plan["operation"]:
        run["error"] = run.get("error") or plan["error"]
        lab.store.save(cluster)
        _next_pool(lab, cluster)
    else:
        lab.store.reschedule_operation(plan["operation"], time.time())


# completion
def _apply_to_pool(lab, pool, version, image):
    """A run without nodes to drain (a cluster the lab's control plane does not back): every instance moves at once."""
    for vm in lab.store.children(pool.internal["vmss"], vmss.VM_TYPE):
        vm.internal.update({"orchestratorVersion": version, "nodeImage": image})
        lab.store.save(vm)
    pool.properties.update({"orchestratorVersion": version, "currentOrchestratorVersion": version, "nodeImageVersion": image,
                            "provisioningState": "Succeeded"})
    lab.store.save(pool)


@completion("agentPool.upgrade")
def _finish_pool_upgrade(lab, operation):
    pool = lab.store.get(operation.resource_id)
    if "upgradeError" not in pool.internal:
        _apply_to_pool(lab, pool, operation.params["version"], operation.params["image"])
        return
    error = pool.internal.pop("upgradeError")
    lab.store.save(pool)
    if error:
        raise ArmError(400, error["code"], error["message"])


@completion("cluster.upgrade")
def _finish_cluster_upgrade(lab, operation):
    cluster = lab.store.get(operation.resource_id)
    run = cluster.internal.pop("upgrade", None)
    if run is None:
        for pool_id in operation.params["pools"]:
            pool = lab.store.get(pool_id)
            if pool is not None:
                _apply_to_pool(lab, pool, operation.params["version"], LATEST_NODE_IMAGE)
    cluster.properties["currentKubernetesVersion"] = operation.params["version"]
    cluster.properties["provisioningState"] = "Failed" if run and run.get("error") else "Succeeded"
    lab.store.save(cluster)
    for pool_id in operation.params["pools"]:
        pool = lab.store.get(pool_id)
        if pool is not None and pool.internal.pop("upgradeError", None) is not None:
            lab.store.save(pool)
    if run and run.get("error"):
        raise ArmError(400, run["error"]["code"], run["error"]["message"])


# the bridge's view
def instance_versions(pool, vm):
    """The Kubernetes version and node image an instance runs."""
    return (vm.internal.get("orchestratorVersion") or pool.properties["currentOrchestratorVersion"],
            vm.internal.get("nodeImage") or pool.properties.get("nodeImageVersion") or CREATED_NODE_IMAGE)


def joined(vm, now):
    """Whether an instance's node has joined the cluster (a surge instance joins once provisioned)."""
    return now >= (vm.internal.get("joinsAt") or 0)


def runs_view(lab, cluster):
    """The pool runs in progress, with the node names each step concerns, for the bridge."""
    views = []
    for pool in lab.store.children(cluster.id, aks.POOL_TYPE):
        plan = pool.internal.get("upgrade")
        if not plan:
            continue
        vmss_name = lab.store.get(pool.internal["vmss"]).body["name"]
        views.append({
            "pool": pool.id, "poolName": pool.body["name"], "operation": plan["operation"], "step": plan["step"], "index": plan["index"],
            "since": plan["since"], "drainTimeout": plan["drainTimeout"], "undrainable": plan["undrainable"],
            "nodes": [node_name(vmss_name, instance) for instance in _upgrading(lab, pool, plan)] if plan["step"] != "removeSurge" else [],
            "surgeNodes": [node_name(vmss_name, instance) for instance in plan["surge"]],
            "keptSurge": [node_name(vmss_name, instance) for instance in kept_surge(plan)],
            "quarantined": [entry.get("node") for entry in plan["blocked"]] if plan["undrainable"] == "Cordon" else [],
            "version": plan["version"], "image": plan["image"],
        })
    return views
