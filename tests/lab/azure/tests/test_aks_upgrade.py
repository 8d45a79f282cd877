"""AKS upgrades through the SDK on a cluster without Kubernetes behind it: upgrade profiles, version rules, operations."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import uuid

import pytest
from azure.core.exceptions import HttpResponseError

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


def test_control_plane_only_then_pool(aks, cluster):
    group, name = cluster
    poller = _upgrade(aks, group, name, "1.34", {"nodepool1": "1.33.6", "user": "1.33.6"})
    with pytest.raises(HttpResponseError) as caught:
        aks.agent_pools.begin_create_or_update(group, name, "user", {"properties": {"count": 2}})
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
