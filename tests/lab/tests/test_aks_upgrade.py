"""AKS upgrades on a lab of their own (the cluster the lab backs must start on an old version), through the SDK.

The steps build on each other and run in file order: the control plane moves one minor (a two-minor
jump and a pool newer than the control plane refused, a second write during the upgrade refused with
409); a three-zone pool with a StatefulSet on zonal disks under a PodDisruptionBudget is upgraded with
a surge of three, the emulator restarted in the middle; a PodDisruptionBudget that cannot be satisfied
fails a node image upgrade past the drain timeout, naming the budget. Fast profile.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import AgentPoolUpgradeSettings
from azure.mgmt.resource.resources import ResourceManagementClient
from kubernetes import client, config

from lab.admin_client import AdminClient
from lab.cli.compute import sdk_client
from lab.cli.labdir import read_exports
from lab.tests.conftest import lab_cli, wait_for

GROUP, CLUSTER, LOCATION = "upgrades", "upgrades", "westeurope"
ZONE = "topology.kubernetes.io/zone"
IMAGE_LABEL = "kubernetes.azure.com/node-image-version"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
APP = {"app": "zonal"}
STORAGE_CLASS = "lab-upgrade-zonal"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A lab of this module's own, with SDK and Kubernetes clients, and a cluster on 1.33 with a three-zone user pool."""
    lab_dir = tmp_path_factory.mktemp("upgrade-lab")
    lab_cli(lab_dir, "up")
    try:
        env = dict(read_exports(lab_dir / "env"), LAB_DIR=str(lab_dir))
        api = config.new_client_from_config(config_file=env["KUBECONFIG"])
        parts = {"dir": lab_dir, "env": env, "aks": sdk_client(ContainerServiceClient, env),
                 "compute": sdk_client(ComputeManagementClient, env), "core": client.CoreV1Api(api), "apps": client.AppsV1Api(api),
                 "policy": client.PolicyV1Api(api), "storage": client.StorageV1Api(api),
                 "admin": AdminClient(env["LAB_ADMIN_URL"], env["LAB_AZURE_CA"])}
        sdk_client(ResourceManagementClient, env).resource_groups.create_or_update(GROUP, {"location": LOCATION})
        cluster = parts["aks"].managed_clusters.begin_create_or_update(GROUP, CLUSTER, {
            "location": LOCATION, "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": CLUSTER, "kubernetesVersion": "1.33", "agentPoolProfiles": [
                {"name": "system", "count": 1, "vmSize": "Standard_D4s_v5", "availabilityZones": ["1"], "mode": "System"},
                {"name": "zonal", "count": 3, "vmSize": "Standard_D4s_v5", "availabilityZones": ["1", "2", "3"], "mode": "User"}]},
        }).result()
        scope = f"/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/{cluster.node_resource_group}"
        sdk_client(AuthorizationManagementClient, env).role_assignments.create(scope, str(uuid.uuid4()), {
            "role_definition_id": f"/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            "principal_id": cluster.identity_profile["kubeletidentity"].object_id, "principal_type": "ServicePrincipal"})
        wait_for(lambda: len(ready_nodes(parts["core"], "zonal")) == 3, 60, "3 Ready nodes in pool zonal")
        parts["nodeGroup"] = cluster.node_resource_group
        yield parts
    finally:
        lab_cli(lab_dir, "down")


def ready_nodes(core, pool):
    """Names of the pool's Ready nodes."""
    return sorted(node.metadata.name for node in core.list_node(label_selector=f"agentpool={pool}").items
                  if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []))


def error_code(caught):
    """The ARM error code of an SDK exception."""
    return caught.value.error.code


def put_pool(lab, name, **properties):
    """Start a PUT of a pool as read, with some properties changed; the poller."""
    pool = lab["aks"].agent_pools.get(GROUP, CLUSTER, name)
    for key, value in properties.items():
        setattr(pool, key, value)
    return lab["aks"].agent_pools.begin_create_or_update(GROUP, CLUSTER, name, pool)


def test_1_control_plane_moves_one_minor(lab):
    aks = lab["aks"]
    current = aks.managed_clusters.get(GROUP, CLUSTER)
    current.kubernetes_version = "1.35"
    with pytest.raises(HttpResponseError) as caught:
        aks.managed_clusters.begin_create_or_update(GROUP, CLUSTER, current)
    assert error_code(caught) == "OperationNotAllowed" and "Available upgrades: [1.34.2]" in caught.value.error.message
    with pytest.raises(HttpResponseError) as caught:
        put_pool(lab, "zonal", orchestrator_version="1.34")
    assert error_code(caught) == "NodePoolMcVersionIncompatible"

    current.kubernetes_version = "1.34"
    for profile in current.agent_pool_profiles:  # control plane only: the pools keep their version
        profile.orchestrator_version = "1.33.6"
    lab["admin"].call("PUT", "/profile", {"name": "fast", "overrides": {"cluster.upgrade": 3}})  # time for a second write
    try:
        poller = aks.managed_clusters.begin_create_or_update(GROUP, CLUSTER, current)
        with pytest.raises(HttpResponseError) as caught:
            put_pool(lab, "zonal", count=4)
    finally:
        lab["admin"].call("PUT", "/profile", {"name": "fast", "overrides": {}})
    assert caught.value.status_code == 409 and error_code(caught) == "OperationNotAllowed"
    upgraded = poller.result()
    assert (upgraded.current_kubernetes_version, upgraded.provisioning_state) == ("1.34.2", "Succeeded")
    assert {pool.name: pool.current_orchestrator_version for pool in upgraded.agent_pool_profiles} == {"system": "1.33.6", "zonal": "1.33.6"}
    assert {node.status.node_info.kubelet_version for node in lab["core"].list_node().items} == {"v1.33.6"}
    profile = aks.agent_pools.get_upgrade_profile(GROUP, CLUSTER, "zonal")
    assert [upgrade.kubernetes_version for upgrade in profile.upgrades] == ["1.34.2"]


def zonal_statefulset():
    """Three replicas on pool zonal, one per zone, each with a zonal disk, and a PDB letting one go at a time."""
    storage_class = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STORAGE_CLASS},
                     "provisioner": "disk.csi.azure.com", "parameters": {"skuName": "StandardSSD_LRS"},
                     "volumeBindingMode": "WaitForFirstConsumer"}
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "zonal"},
        "spec": {"serviceName": "zonal", "replicas": 3, "selector": {"matchLabels": APP}, "template": {
            "metadata": {"labels": APP},
            "spec": {"nodeSelector": {"agentpool": "zonal"},
                     "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                                                    "labelSelector": {"matchLabels": APP}}],
                     "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS, "resources": {"requests": {"storage": "1Gi"}}}}]},
    }
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


def run_step(lab):
    """The step the zonal pool's upgrade run is at, or None."""
    runs = [run for run in lab["admin"].call("GET", "/kube")["upgrades"] if run["poolName"] == "zonal"]
    return runs[0]["step"] if runs else None


def test_2_pool_upgrade_surges_drains_and_reimages(lab):
    storage_class, statefulset, budget = zonal_statefulset()
    lab["storage"].create_storage_class(storage_class)
    lab["apps"].create_namespaced_stateful_set("default", statefulset)
    lab["policy"].create_namespaced_pod_disruption_budget("default", budget)
    before = {pod.metadata.name: pod.spec.node_name for pod in wait_for(lambda: pods_in_their_disks_zones(lab), 90, "3 Ready pods")}
    old_nodes = ready_nodes(lab["core"], "zonal")

    poller = put_pool(lab, "zonal", orchestrator_version="1.34",
                      upgrade_settings=AgentPoolUpgradeSettings(max_surge="3", drain_timeout_in_minutes=30))
    wait_for(lambda: run_step(lab) in ("drain", "soak", "reimage", "uncordon"), 60, "the run to drain its first node")
    surged = [node.metadata.name for node in lab["core"].list_node(label_selector="agentpool=zonal").items]
    assert len(surged) == 6 and {lab["core"].read_node(name).metadata.labels[ZONE] for name in set(surged) - set(old_nodes)} == {
        f"{LOCATION}-1", f"{LOCATION}-2", f"{LOCATION}-3"}
    token = poller.continuation_token()
    lab_cli(lab["dir"], "restart", "azure")  # the run goes on from its stored plan; a client resumes polling the same operation
    pool = lab["aks"].agent_pools.begin_create_or_update(GROUP, CLUSTER, "zonal", None, continuation_token=token).result(timeout=240)

    assert (pool.current_orchestrator_version, pool.provisioning_state, pool.count) == ("1.34.2", "Succeeded", 3)
    assert pool.power_state.code == "Running"
    latest = lab["aks"].agent_pools.get_upgrade_profile(GROUP, CLUSTER, "zonal").latest_node_image_version
    assert pool.node_image_version == latest
    wait_for(lambda: ready_nodes(lab["core"], "zonal") == old_nodes, 10, "the surge nodes gone")
    nodes = lab["core"].list_node(label_selector="agentpool=zonal").items
    assert {(node.status.node_info.kubelet_version, node.metadata.labels[IMAGE_LABEL], bool(node.spec.unschedulable))
            for node in nodes} == {("v1.34.2", latest, False)}
    vms = list(lab["compute"].virtual_machine_scale_set_vms.list(lab["nodeGroup"], nodes[0].metadata.name[:-6]))
    assert len(vms) == 3
    after = wait_for(lambda: pods_in_their_disks_zones(lab), 90, "3 Ready pods in their disks' zones after the upgrade")
    assert {pod.metadata.name for pod in after} == set(before)


def test_3_unsatisfiable_budget_fails_the_drain(lab):
    lab["policy"].patch_namespaced_pod_disruption_budget("zonal", "default", {"spec": {"maxUnavailable": None, "minAvailable": 3}})
    nodes = ready_nodes(lab["core"], "zonal")
    put_pool(lab, "zonal", upgrade_settings=AgentPoolUpgradeSettings(max_surge="1", drain_timeout_in_minutes=2)).result()
    poller = lab["aks"].agent_pools.begin_upgrade_node_image_version(GROUP, CLUSTER, "zonal")
    with pytest.raises(HttpResponseError) as caught:
        poller.result(timeout=120)
    message = caught.value.error.message
    assert error_code(caught) == "UpgradeFailed" and "blocked by pdb zonal with 0 unready pods" in message and "default/zonal-" in message
    pool = lab["aks"].agent_pools.get(GROUP, CLUSTER, "zonal")
    assert (pool.provisioning_state, pool.count) == ("Failed", 3)
    wait_for(lambda: ready_nodes(lab["core"], "zonal") == nodes, 30, "the surge node gone")
    assert not any(node.spec.unschedulable for node in lab["core"].list_node(label_selector="agentpool=zonal").items)
