"""An AKS node pool upgrade on the lab's nodes, through the SDK, on the cluster the lab backs.

A three-zone pool is added on 1.34 (the story's cluster when it exists, else a small one made here runs
1.35). The steps build on each other and run in file order: a StatefulSet on zonal disks under a
PodDisruptionBudget, the pool upgraded with a surge of three across an emulator restart (another write
refused with 409 meanwhile): its three old nodes are drained as one batch, as AKS drains as many nodes at once as it
added surge nodes; then a PodDisruptionBudget that cannot be satisfied fails a node image upgrade with a surge
of one (one node drained at a time) past the drain timeout, naming the budget. The control plane's version rules are tested on the emulator
alone (``azure/tests/test_aks_upgrade.py``). Fast profile.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import json
import threading
from contextlib import contextmanager

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice.models import AgentPoolUpgradeSettings

from lab.tests.conftest import lab_cli, wait_for
from lab.tests.test_aks_story import CLUSTER as STORY_CLUSTER, GROUP as STORY_GROUP, LOCATION, admin
from lab.tests.test_pod_lifecycle import grant_driver_role

ZONE = "topology.kubernetes.io/zone"
IMAGE_LABEL = "kubernetes.azure.com/node-image-version"
APP = {"app": "zonal"}
STORAGE_CLASS = "lab-upgrade-zonal"
POOL = "zonal"


@pytest.fixture(scope="module")
def lab(azure, kube, lab_env):
    """The backed cluster with a three-zone pool on 1.34 (removed afterwards), and the clients the steps use."""
    aks = azure["aks"]
    clusters = list(aks.managed_clusters.list())
    if not clusters:
        azure["resources"].resource_groups.create_or_update(STORY_GROUP, {"location": LOCATION})
        clusters = [aks.managed_clusters.begin_create_or_update(STORY_GROUP, STORY_CLUSTER, {
            "location": LOCATION, "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": STORY_CLUSTER, "agentPoolProfiles": [
                {"name": "nodepool1", "count": 1, "vmSize": "Standard_D4s_v5", "availabilityZones": ["1"], "mode": "System"}]},
        }).result()]
    cluster = clusters[0]  # the oldest, listed first: the one the lab backs
    for each in clusters:
        grant_driver_role(lab_env, each)
    group = cluster.id.split("/")[4]
    aks.agent_pools.begin_create_or_update(group, cluster.name, POOL, {"properties": {
        "count": 3, "vmSize": "Standard_D4s_v5", "availabilityZones": ["1", "2", "3"], "mode": "User", "orchestratorVersion": "1.34"}}).result()
    parts = dict(kube, aks=aks, compute=azure["compute"], admin=admin(lab_env), dir=lab_env["LAB_DIR"], group=group,
                 cluster=cluster.name, nodeGroup=cluster.node_resource_group)
    wait_for(lambda: len(ready_nodes(kube["core"], POOL)) == 3, 60, "3 Ready nodes in pool zonal")
    yield parts
    kube["apps"].delete_namespaced_stateful_set("zonal", "default")
    kube["policy"].delete_namespaced_pod_disruption_budget("zonal", "default")
    aks.agent_pools.begin_delete(group, cluster.name, POOL).result()
    for claim in kube["core"].list_namespaced_persistent_volume_claim("default", label_selector="app=zonal").items:
        kube["core"].delete_namespaced_persistent_volume_claim(claim.metadata.name, "default")
    kube["storage"].delete_storage_class(STORAGE_CLASS)


def ready_nodes(core, pool):
    """Names of the pool's Ready nodes."""
    return sorted(node.metadata.name for node in core.list_node(label_selector=f"agentpool={pool}").items
                  if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []))


def error_code(caught):
    """The ARM error code of an SDK exception."""
    return caught.value.error.code


def put_pool(lab, name, **properties):
    """Start a PUT of a pool as read, with some properties changed; the poller."""
    pool = lab["aks"].agent_pools.get(lab["group"], lab["cluster"], name)
    for key, value in properties.items():
        setattr(pool, key, value)
    return lab["aks"].agent_pools.begin_create_or_update(lab["group"], lab["cluster"], name, pool)


def zonal_statefulset():
    """Three replicas on pool zonal, one per zone, each with a zonal disk, and a PDB letting one go at a time."""
    storage_class = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STORAGE_CLASS},
                     "provisioner": "disk.csi.azure.com", "parameters": {"skuName": "StandardSSD_LRS"},
                     "volumeBindingMode": "WaitForFirstConsumer"}
    claim_template = {"metadata": {"name": "data"},
                      "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS,
                               "resources": {"requests": {"storage": "1Gi"}}}}
    pod_spec = {"nodeSelector": {"agentpool": "zonal"},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                                               "labelSelector": {"matchLabels": APP}}],
                "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}
    statefulset = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "zonal"},
                   "spec": {"serviceName": "zonal", "replicas": 3, "selector": {"matchLabels": APP},
                            "template": {"metadata": {"labels": APP}, "spec": pod_spec},
                            "volumeClaimTemplates": [claim_template]}}
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "zonal"},
              "spec": {"maxUnavailable": 1, "selector": {"matchLabels": APP}}}
    return storage_class, statefulset, budget


def pods_in_their_disks_zones(lab):
    """The StatefulSet's pods, once each is Ready on a node of its disk's zone; else None."""
    core = lab["core"]
    pods = [pod for pod in core.list_namespaced_pod("default", label_selector="app=zonal").items
            if pod.metadata.deletion_timestamp is None and pod.spec.node_name
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])]
    if len(pods) != 3:
        return None
    for pod in pods:
        claim = core.read_namespaced_persistent_volume_claim(f"data-{pod.metadata.name}", "default")
        volume = core.read_persistent_volume(claim.spec.volume_name)
        zones = {value for term in volume.spec.node_affinity.required.node_selector_terms
                 for expression in term.match_expressions for value in expression.values}
        if core.read_node(pod.spec.node_name).metadata.labels["topology.disk.csi.azure.com/zone"] not in zones:
            return None
    return pods


def pool_run(lab):
    """The zonal pool's upgrade run (as ``python -m lab upgrades`` shows it), or None."""
    runs = [run for run in json.loads(lab_cli(lab["dir"], "upgrades"))["runs"] if run["poolName"] == POOL]
    return runs[0] if runs else None


@contextmanager
def cordoned_together(core, names):
    """Watch which of the nodes ``names`` are cordoned at the same time; yields the list of the sets seen."""
    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            now = {node.metadata.name for node in core.list_node(label_selector=f"agentpool={POOL}").items
                   if node.spec.unschedulable and node.metadata.name in names}
            if now and now not in seen:
                seen.append(now)
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


def test_1_pool_upgrade_surges_drains_and_reimages(lab):
    storage_class, statefulset, budget = zonal_statefulset()
    lab["storage"].create_storage_class(storage_class)
    lab["apps"].create_namespaced_stateful_set("default", statefulset)
    lab["policy"].create_namespaced_pod_disruption_budget("default", budget)
    before = {pod.metadata.name: pod.spec.node_name for pod in wait_for(lambda: pods_in_their_disks_zones(lab), 90, "3 Ready pods")}
    old_nodes = ready_nodes(lab["core"], "zonal")

    poller = put_pool(lab, POOL, orchestrator_version="1.35",
                      upgrade_settings=AgentPoolUpgradeSettings(max_surge="3", drain_timeout_in_minutes=30))
    with pytest.raises(HttpResponseError) as caught:
        put_pool(lab, POOL, count=4)
    assert caught.value.status_code == 409 and error_code(caught) == "OperationNotAllowed"
    with cordoned_together(lab["core"], old_nodes) as cordoned:
        drain = wait_for(lambda: (pool_run(lab) or {}).get("step") == "drain" and pool_run(lab), 60, "the run to drain its first batch")
        wait_for(lambda: set(old_nodes) in cordoned, 30, "the three old nodes cordoned together", seen=lambda: cordoned)
    assert (drain["index"], sorted(drain["nodes"])) == (0, old_nodes)  # one batch of three: as many as the surge nodes
    surged = [node.metadata.name for node in lab["core"].list_node(label_selector="agentpool=zonal").items]
    assert len(surged) == 6 and {lab["core"].read_node(name).metadata.labels[ZONE] for name in set(surged) - set(old_nodes)} == {
        f"{LOCATION}-1", f"{LOCATION}-2", f"{LOCATION}-3"}
    token = poller.continuation_token()
    lab_cli(lab["dir"], "restart", "azure")  # the run goes on from its stored plan; a client resumes polling the same operation
    pool = lab["aks"].agent_pools.begin_create_or_update(lab["group"], lab["cluster"], POOL, None, continuation_token=token).result(timeout=240)

    assert (pool.current_orchestrator_version, pool.provisioning_state, pool.count) == ("1.35.1", "Succeeded", 3)
    assert pool.power_state.code == "Running"
    latest = lab["aks"].agent_pools.get_upgrade_profile(lab["group"], lab["cluster"], POOL).latest_node_image_version
    assert pool.node_image_version == latest
    wait_for(lambda: ready_nodes(lab["core"], "zonal") == old_nodes, 10, "the surge nodes gone")
    nodes = lab["core"].list_node(label_selector="agentpool=zonal").items
    assert {(node.status.node_info.kubelet_version, node.metadata.labels[IMAGE_LABEL], bool(node.spec.unschedulable))
            for node in nodes} == {("v1.35.1", latest, False)}
    vms = list(lab["compute"].virtual_machine_scale_set_vms.list(lab["nodeGroup"], nodes[0].metadata.name[:-6]))
    assert len(vms) == 3
    after = wait_for(lambda: pods_in_their_disks_zones(lab), 90, "3 Ready pods in their disks' zones after the upgrade")
    assert {pod.metadata.name for pod in after} == set(before)


def test_2_unsatisfiable_budget_fails_the_drain(lab):
    lab["policy"].patch_namespaced_pod_disruption_budget("zonal", "default", {"spec": {"maxUnavailable": None, "minAvailable": 3}})
    nodes = ready_nodes(lab["core"], "zonal")
    put_pool(lab, "zonal", upgrade_settings=AgentPoolUpgradeSettings(max_surge="1", drain_timeout_in_minutes=2)).result()
    with cordoned_together(lab["core"], nodes) as cordoned:
        poller = lab["aks"].agent_pools.begin_upgrade_node_image_version(lab["group"], lab["cluster"], POOL)
        with pytest.raises(HttpResponseError) as caught:
            poller.result(timeout=120)
    assert [len(together) for together in cordoned] == [1]  # a batch of one: the blocked node alone, then uncordoned
    message = caught.value.error.message
    assert error_code(caught) == "UpgradeFailed" and "blocked by pdb zonal with 0 unready pods" in message and "default/zonal-" in message
    pool = lab["aks"].agent_pools.get(lab["group"], lab["cluster"], POOL)
    assert (pool.provisioning_state, pool.count) == ("Failed", 3)
    wait_for(lambda: ready_nodes(lab["core"], "zonal") == nodes, 30, "the surge node gone")
    assert not any(node.spec.unschedulable for node in lab["core"].list_node(label_selector="agentpool=zonal").items)
