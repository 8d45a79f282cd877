"""aks_upgrade: the plan in check mode and diff, the zonal preflight refusing before any write, the order of the writes,
idempotence at the target and an upgrade in progress waited for."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module, deadline
from ansible_collections.kubedisk.aks.plugins.modules import aks_upgrade
from ansible_collections.kubedisk.aks.tests.unit.plugins.module_utils.test_aks_upgrade_preflight import ANTI, ZONES, pool_node
from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.kube_fakes import FakeKube, pod, pv, pvc


class Model(dict):
    def as_dict(self):
        return copy.deepcopy(dict(self))


def cluster(version="1.33.6", state="Succeeded"):
    return {"id": "/x/c1", "name": "c1", "location": "westeurope",
            "properties": {"kubernetesVersion": version, "currentKubernetesVersion": version, "provisioningState": state,
                           "agentPoolProfiles": [{"name": "data", "orchestratorVersion": version, "count": 3}]}}


def pool(version="1.33.6", state="Succeeded"):
    return {"name": "data", "properties": {"orchestratorVersion": version, "currentOrchestratorVersion": version, "count": 3,
                                           "availabilityZones": ["1", "2", "3"], "provisioningState": state,
                                           "nodeImageVersion": "img-1", "upgradeSettings": {"maxSurge": "10%"}}}


@pytest.fixture
def aks(clients):
    """The containerservice mock holding cluster c1 at 1.33.6 with pool data, offered 1.34.2."""
    cs = clients["containerservice"]
    cs.managed_clusters.get.return_value = Model(cluster())
    cs.agent_pools.list.return_value = [Model(pool())]
    cs.agent_pools.get.return_value = Model(pool())
    cs.managed_clusters.get_upgrade_profile.return_value = Model(
        {"properties": {"controlPlaneProfile": {"kubernetesVersion": "1.33.6", "upgrades": [{"kubernetesVersion": "1.34.2"}]}}})
    cs.agent_pools.get_upgrade_profile.return_value = Model(
        {"properties": {"kubernetesVersion": "1.33.6", "upgrades": [], "latestNodeImageVersion": "img-2"}})
    cs.agent_pools.get_available_agent_pool_versions.return_value = Model(
        {"properties": {"agentPoolVersions": [{"kubernetesVersion": "1.33.6"}, {"kubernetesVersion": "1.34.2"}]}})
    return cs


@pytest.fixture
def kube(monkeypatch):
    """Three zones, one node of pool data each, a StatefulSet pod with a disk pinned to each zone."""
    objects = [pool_node("data-%d" % i, zone) for i, zone in enumerate(ZONES)]
    for i, zone in enumerate(ZONES):
        objects += [pod("web-%d" % i, "data-%d" % i, ["data-web-%d" % i], labels={"app": "web"}, anti=ANTI, owner=("StatefulSet", "web")),
                    pvc("data-web-%d" % i, "pv%d" % i), pv("pv%d" % i, zone)]
    fake = FakeKube(objects)
    monkeypatch.setattr(azure_module.AzureModule, "kube", lambda self: fake)
    return fake


def test_check_mode_shows_the_plan_and_surge_per_zone_without_writing(run_module, clients, auth, aks, kube):
    result = run_module(aks_upgrade.main, dict(auth, name="c1", resource_group="rg", kubernetes_version="1.34",
                                               upgrade_settings={"max_surge": "3"}), check_mode=True, diff=True)
    assert result["changed"] and clients.writes() == [] and kube.writes == []
    assert [(s["step"], s["from"], s["to"]) for s in result["plan"]] == [("control_plane", "1.33.6", "1.34.2"),
                                                                         ("node_pool", "1.33.6", "1.34.2")]
    assert result["plan"][1]["surge_nodes"] == 3
    assert result["plan"][1]["surge_nodes_per_zone"] == dict((z, {"fewest": 1, "most": 1}) for z in ZONES)
    assert result["operations"][1] == "upgrade node pool data from 1.33.6 to 1.34.2 (max surge 3: 3 surge node(s))"
    assert result["diff"]["before"]["control_plane"] == "1.33.6" and result["diff"]["after"]["control_plane"] == "1.34.2"
    assert result["diff"]["after"]["node_pools"]["data"]["upgrade_settings"] == {"maxSurge": "3"}


def test_max_surge_one_is_refused_before_any_write_naming_pod_zone_and_setting(run_module, clients, auth, aks, kube):
    result = run_module(aks_upgrade.main, dict(auth, name="c1", resource_group="rg", kubernetes_version="1.34",
                                               upgrade_settings={"max_surge": "1"}))
    assert result["failed"] and clients.writes() == []
    assert "max surge 1 puts no surge node for certain in zone westeurope-1, where pod default/web-0 has its disk" in result["msg"]
    assert "set upgrade_settings.max_surge to at least 3 (the pool's zone count)" in result["msg"]


def test_percent_surge_advice_is_a_percent(run_module, clients, auth, aks, kube):
    result = run_module(aks_upgrade.main, dict(auth, name="c1", resource_group="rg", kubernetes_version="1.34"))
    assert result["failed"] and "max surge 10% puts no surge node" in result["msg"] and "at least 100%" in result["msg"]


def test_upgrade_writes_control_plane_then_pool(run_module, clients, auth, aks, kube, poller):
    aks.managed_clusters.begin_create_or_update.return_value = poller()
    aks.agent_pools.begin_create_or_update.return_value = poller()
    result = run_module(aks_upgrade.main, dict(auth, name="c1", resource_group="rg", kubernetes_version="1.34.2",
                                               upgrade_settings={"max_surge": "3", "drain_timeout_in_minutes": 30}))
    assert result["changed"] and clients.writes() == ["managed_clusters.begin_create_or_update", "agent_pools.begin_create_or_update"]
    body = aks.managed_clusters.begin_create_or_update.call_args[0][2]
    assert body["properties"]["kubernetesVersion"] == "1.34.2"
    assert body["properties"]["agentPoolProfiles"][0]["orchestratorVersion"] == "1.33.6"
    pool_put = aks.agent_pools.begin_create_or_update.call_args[0][3]["properties"]
    assert pool_put["orchestratorVersion"] == "1.34.2" and pool_put["upgradeSettings"] == {"maxSurge": "3", "drainTimeoutInMinutes": 30}


def test_at_the_target_nothing_is_written_nor_checked(run_module, clients, auth, aks, kube):
    aks.managed_clusters.get.return_value = Model(cluster("1.34.2"))
    aks.agent_pools.get.return_value = Model(pool("1.34.2"))
    aks.agent_pools.list.return_value = [Model(pool("1.34.2"))]
    result = run_module(aks_upgrade.main, dict(auth, name="c1", resource_group="rg", kubernetes_version="1.34"))
    assert not result["changed"] and result["plan"] == [] and clients.writes() == []
    assert not aks.agent_pools.get_upgrade_profile.called


def test_an_upgrade_in_progress_is_waited_for_not_started_again(run_module, clients, auth, aks, kube, monkeypatch):
    monkeypatch.setattr(deadline.time, "sleep", lambda s: None)
    answers = [Model(pool("1.34.2", "Upgrading"))] * 3 + [Model(pool("1.34.2"))]
    aks.agent_pools.get.side_effect = lambda *a: answers.pop(0) if len(answers) > 1 else answers[0]
    aks.managed_clusters.get.return_value = Model(cluster("1.34.2"))
    result = run_module(aks_upgrade.main, dict(auth, name="c1", resource_group="rg", kubernetes_version="1.34", timeout=60))
    assert not result["changed"] and clients.writes() == []
    assert result["waited_for"] == ["node pool data (Upgrading)"]


def test_node_image_alone(run_module, clients, auth, aks, kube, poller):
    aks.agent_pools.begin_upgrade_node_image_version.return_value = poller()
    args = dict(auth, name="c1", resource_group="rg", node_pools=[{"name": "data", "node_image": True}],
                upgrade_settings={"max_surge": "3"})
    result = run_module(aks_upgrade.main, args, check_mode=True)
    assert [s["step"] for s in result["plan"]] == ["node_pool", "node_image"]
    assert result["plan"][1]["from"] == "img-1" and result["plan"][1]["to"] == "img-2"
    assert result["operations"] == ["set the upgrade settings of node pool data",
                                    "upgrade the node image of node pool data from img-1 to img-2"]


@pytest.mark.parametrize("args, words", [
    ({"kubernetes_version": "1.35"}, "Upgrade to 1.34 first (offered: 1.34.2), then to 1.35"),
    ({"node_pools": [{"name": "data", "orchestrator_version": "1.34"}]}, "newer than the control plane's 1.33.6"),
    ({"node_pools": [{"name": "nope"}]}, "cluster c1 has no node pool nope"),
    ({"upgrade_settings": {"max_surge": "0"}}, "neither a node count"),
    ({"control_plane_only": True}, "control_plane_only needs kubernetes_version"),
])
def test_refusals_before_any_write(run_module, clients, auth, aks, kube, args, words):
    result = run_module(aks_upgrade.main, dict(auth, name="c1", resource_group="rg", **args))
    assert result["failed"] and words in result["msg"] and clients.writes() == []


class SettingsOfApi20240801:
    """The upgrade settings model of azure-mgmt-containerservice 32.1.0 (API 2024-08-01): no undrainable_node_behavior."""

    def __init__(self):
        self.max_surge = self.drain_timeout_in_minutes = self.node_soak_duration_in_minutes = None


def test_a_setting_the_sdk_would_drop_is_refused_before_any_write(run_module, clients, auth, aks, kube, monkeypatch):
    monkeypatch.setattr(aks_upgrade, "AgentPoolUpgradeSettings", SettingsOfApi20240801)
    args = dict(auth, name="c1", resource_group="rg", kubernetes_version="1.34",
                node_pools=[{"name": "data", "upgrade_settings": {"max_surge": "3", "undrainable_node_behavior": "Cordon"}}])
    result = run_module(aks_upgrade.main, args)
    assert result["failed"] and clients.writes() == []
    assert result["msg"].startswith("upgrade_settings undrainable_node_behavior: ") and "36.0.0 or later" in result["msg"]
    # with a model that has the field (SDK 36.0.0 and later) the setting is not refused
    monkeypatch.setattr(aks_upgrade, "AgentPoolUpgradeSettings", type("Settings", (), {"undrainable_node_behavior": None}))
    assert "undrainable_node_behavior" not in (run_module(aks_upgrade.main, args).get("msg") or "")
