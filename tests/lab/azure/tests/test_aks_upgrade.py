"""AKS upgrades through the SDK on a cluster without Kubernetes behind it: upgrade profiles, version rules, operations."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import AgentPoolUpgradeSettings

from .helpers import error_code

POOL = {"name": "nodepool1", "count": 2, "vmSize": "Standard_D2s_v5", "availabilityZones": ["1", "2"], "mode": "System"}


@pytest.fixture
def cluster(aks, resource_client):
    """A cluster on 1.33 with a second pool, deleted afterwards (the session's oldest cluster is the one the lab backs)."""
    group = f"rg-up-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": "westeurope"})
    body = {"location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "up", "kubernetesVersion": "1.33",
                           "agentPoolProfiles": [dict(POOL), dict(POOL, name="user", mode="User", count=1)]}}
    aks.managed_clusters.begin_create_or_update(group, "up", body).result()
    yield group, "up"
    aks.managed_clusters.begin_delete(group, "up").result()


def _upgrade(aks, group, name, version, pools):
    """PUT the cluster as read, with ``kubernetesVersion`` and per pool name its ``orchestratorVersion``."""
    current = aks.managed_clusters.get(group, name)
    current.kubernetes_version = version
    for profile in current.agent_pool_profiles:
        profile.orchestrator_version = pools.get(profile.name, profile.orchestrator_version)
    return aks.managed_clusters.begin_create_or_update(group, name, current)


def test_profiles_offer_what_aks_allows(aks, cluster):
    group, name = cluster
    profile = aks.managed_clusters.get_upgrade_profile(group, name)
    assert profile.control_plane_profile.kubernetes_version == "1.33.6"
    assert [upgrade.kubernetes_version for upgrade in profile.control_plane_profile.upgrades] == ["1.34.2"]
    assert {pool.name: pool.kubernetes_version for pool in profile.agent_pool_profiles} == {"nodepool1": "1.33.6", "user": "1.33.6"}
    pool = aks.agent_pools.get_upgrade_profile(group, name, "user")
    assert pool.kubernetes_version == "1.33.6" and pool.upgrades == [] and pool.latest_node_image_version
    versions = aks.agent_pools.get_available_agent_pool_versions(group, name).agent_pool_versions
    assert [(version.kubernetes_version, version.default) for version in versions] == [("1.33.6", True)]


def test_version_rules(aks, cluster):
    group, name = cluster
    with pytest.raises(HttpResponseError) as caught:
        _upgrade(aks, group, name, "1.35", {})
    assert error_code(caught) == "OperationNotAllowed" and "1.33.6 to 1.35.1 is not allowed" in str(caught.value)
    with pytest.raises(HttpResponseError) as caught:
        aks.agent_pools.begin_create_or_update(group, name, "user", {"properties": {"orchestratorVersion": "1.34", "count": 1}})
    assert error_code(caught) == "NodePoolMcVersionIncompatible"


def test_control_plane_only_then_pool(aks, cluster, lab):
    group, name = cluster
    lab.admin("PUT", "profile", json={"name": "fast", "overrides": {"cluster.upgrade": 3}}).raise_for_status()  # time for a second write
    try:
        poller = _upgrade(aks, group, name, "1.34", {"nodepool1": "1.33.6", "user": "1.33.6"})
        with pytest.raises(HttpResponseError) as caught:
            aks.agent_pools.begin_create_or_update(group, name, "user", {"properties": {"count": 2}})
    finally:
        lab.admin("PUT", "profile", json={"name": "fast", "overrides": {}}).raise_for_status()
    assert caught.value.status_code == 409 and error_code(caught) == "OperationNotAllowed"
    upgraded = poller.result()
    assert (upgraded.kubernetes_version, upgraded.current_kubernetes_version) == ("1.34.2", "1.34.2")
    assert {pool.name: pool.current_orchestrator_version for pool in upgraded.agent_pool_profiles} == {"nodepool1": "1.33.6", "user": "1.33.6"}
    assert [upgrade.kubernetes_version for upgrade in aks.agent_pools.get_upgrade_profile(group, name, "user").upgrades] == ["1.34.2"]
    pool = aks.agent_pools.begin_create_or_update(group, name, "user", {"properties": {
        "orchestratorVersion": "1.34", "count": 1, "upgradeSettings": {"maxSurge": "1"}}}).result()
    assert (pool.orchestrator_version, pool.current_orchestrator_version, pool.provisioning_state) == ("1.34.2", "1.34.2", "Succeeded")
    assert pool.upgrade_settings.max_surge == "1" and pool.count == 1
    image = aks.agent_pools.begin_upgrade_node_image_version(group, name, "nodepool1")
    image.result()
    assert aks.agent_pools.get(group, name, "nodepool1").node_image_version == \
        aks.agent_pools.get_upgrade_profile(group, name, "nodepool1").latest_node_image_version


def test_cluster_upgrade_carries_following_pools(aks, cluster):
    group, name = cluster
    upgraded = _upgrade(aks, group, name, "1.34", {"nodepool1": "1.34", "user": "1.34.2"}).result()
    assert {pool.name: pool.current_orchestrator_version for pool in upgraded.agent_pool_profiles} == {"nodepool1": "1.34.2", "user": "1.34.2"}
    with pytest.raises(HttpResponseError) as caught:
        aks.agent_pools.begin_create_or_update(group, name, "user", {"properties": {"count": 1, "upgradeSettings": {"maxSurge": "lots"}}})
    assert error_code(caught) == "InvalidParameter"


def _backed_cluster(emulator, tmp_path, pool):
    """A cluster on 1.33 that the emulator takes as the one its Kubernetes control plane backs (nothing runs behind it:
    the test plays the bridge), with one pool."""
    emulator.admin("POST", "config", json={"kubeconfig": str(tmp_path / "kubeconfig")}).raise_for_status()
    aks = emulator.client(ContainerServiceClient)
    body = {"location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "backed", "kubernetesVersion": "1.33", "agentPoolProfiles": [pool]}}
    aks.managed_clusters.begin_create_or_update("kept", "backed", body).result()
    return aks


def _play_bridge(emulator, poller, block_first=False):
    """Report every Kubernetes step of the runs done until the operation ends (with ``block_first``, the drain of the
    first node of the first batch blocked); the bridge's steps seen, as (step, index, nodes of the batch), and when
    each was first seen."""
    seen, times = [], []
    while not poller.done():
        for run in emulator.admin("GET", "kube").json()["upgrades"]:
            if run["step"] in ("soak", "reimage"):  # the emulator's own steps
                continue
            if (run["step"], run["index"], len(run["nodes"])) not in seen:
                seen.append((run["step"], run["index"], len(run["nodes"])))
                times.append(time.time())
            blocked = block_first and run["step"] == "drain" and run["index"] == 0
            detail = [{"node": run["nodes"][0], "namespace": "default", "pod": "web-0", "pdb": "web", "unready": 0}] if blocked else None
            emulator.admin("POST", "upgrades", json={"pool": run["pool"], "step": run["step"], "index": run["index"],
                                                     "outcome": "blocked" if blocked else "done", "detail": detail})
        time.sleep(0.1)
    return seen, times


def _instances(emulator):
    return {instance["instanceId"]: instance["kubeletVersion"] for instance in emulator.admin("GET", "kube").json()["instances"]}


def test_cluster_upgrade_runs_its_pools_through_surge_drain_reimage(emulator, tmp_path):
    aks = _backed_cluster(emulator, tmp_path, dict(POOL, upgradeSettings={"maxSurge": "50%"}))
    current = aks.managed_clusters.get("kept", "backed")
    current.kubernetes_version = "1.34"
    for profile in current.agent_pool_profiles:
        profile.orchestrator_version = "1.34"
    poller = aks.managed_clusters.begin_create_or_update("kept", "backed", current)
    seen, dummy = _play_bridge(emulator, poller)
    upgraded = poller.result()
    assert seen == [("surge", 0, 1), ("drain", 0, 1), ("uncordon", 0, 1), ("drain", 1, 1), ("uncordon", 1, 1), ("removeSurge", 2, 0)]
    assert (upgraded.current_kubernetes_version, upgraded.provisioning_state) == ("1.34.2", "Succeeded")
    pool = aks.agent_pools.get("kept", "backed", "nodepool1")
    assert (pool.current_orchestrator_version, pool.provisioning_state, pool.count) == ("1.34.2", "Succeeded", 2)
    assert _instances(emulator) == {"0": "1.34.2", "1": "1.34.2"}


def test_a_surge_of_the_pool_size_drains_and_reimages_every_node_at_once(emulator, tmp_path):
    aks = _backed_cluster(emulator, tmp_path, dict(POOL, count=3, availabilityZones=["1", "2", "3"], upgradeSettings={"maxSurge": "3"}))
    emulator.admin("PUT", "profile", json={"name": "fast", "overrides": {"agentPool.reimage": 2}}).raise_for_status()
    try:
        poller = aks.agent_pools.begin_upgrade_node_image_version("kept", "backed", "nodepool1")
        seen, times = _play_bridge(emulator, poller)
    finally:
        emulator.admin("PUT", "profile", json={"name": "fast", "overrides": {}}).raise_for_status()
    poller.result()
    assert seen == [("surge", 0, 3), ("drain", 0, 3), ("uncordon", 0, 3), ("removeSurge", 3, 0)]
    assert 2 <= times[2] - times[1] < 4  # one reimage for the batch of three
    assert sorted(_instances(emulator)) == ["0", "1", "2"]


# undrainableNodeBehavior is GA from API 2025-03-01 (azure-mgmt-containerservice 36.0.0); older SDKs drop it unsent.
@pytest.mark.skipif(getattr(AgentPoolUpgradeSettings(undrainable_node_behavior="Cordon"), "undrainable_node_behavior", None) != "Cordon",
                    reason="this azure-mgmt-containerservice's API version has no undrainableNodeBehavior")
def test_undrainable_node_cordoned_keeps_a_surge_node_and_fails(emulator, tmp_path):
    aks = _backed_cluster(emulator, tmp_path, dict(POOL, upgradeSettings={"maxSurge": "2", "undrainableNodeBehavior": "Cordon"}))
    poller = aks.agent_pools.begin_upgrade_node_image_version("kept", "backed", "nodepool1")
    seen, dummy = _play_bridge(emulator, poller, block_first=True)
    assert seen == [("surge", 0, 2), ("drain", 0, 2), ("uncordon", 0, 1), ("removeSurge", 2, 0)]  # one batch; its other node upgraded
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert error_code(caught) == "UpgradeFailed" and "default/web-0 blocked by pdb web with 0 unready pods" in caught.value.error.message
    pool = aks.agent_pools.get("kept", "backed", "nodepool1")
    assert (pool.provisioning_state, pool.count) == ("Failed", 2)
    assert sorted(_instances(emulator)) == ["0", "1", "2"]  # the blocked node and the surge node kept for it


def test_undrainable_node_under_schedule_stops_its_whole_batch(emulator, tmp_path):
    aks = _backed_cluster(emulator, tmp_path, dict(POOL, upgradeSettings={"maxSurge": "2"}))
    poller = aks.agent_pools.begin_upgrade_node_image_version("kept", "backed", "nodepool1")
    seen, dummy = _play_bridge(emulator, poller, block_first=True)
    assert seen == [("surge", 0, 2), ("drain", 0, 2), ("removeSurge", 0, 0)]  # neither node of the batch reimaged
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert error_code(caught) == "UpgradeFailed"
    pool = aks.agent_pools.get("kept", "backed", "nodepool1")
    assert (pool.provisioning_state, pool.count) == ("Failed", 2)
    images = {instance["instanceId"]: instance["nodeImage"] for instance in emulator.admin("GET", "kube").json()["instances"]}
    assert sorted(images) == ["0", "1"] and pool.node_image_version not in ("", None) and set(images.values()) == {pool.node_image_version}
