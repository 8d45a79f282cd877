"""aks_upgrade_plan: surge counts and their zones, version targets in AKS's order, the PUT bodies."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_upgrade_plan import (
    Refused, control_plane_body, control_plane_target, pool_body, pool_target, settings_change, surge_count, surge_per_zone)


def cluster(version="1.33.6"):
    return {"id": "/x/c1", "name": "c1", "type": "t", "location": "westeurope", "identity": {"type": "SystemAssigned", "principalId": "p"},
            "properties": {"kubernetesVersion": version, "currentKubernetesVersion": version, "provisioningState": "Succeeded",
                           "agentPoolProfiles": [{"name": "data", "orchestratorVersion": "1.33", "currentOrchestratorVersion": "1.33.6",
                                                  "provisioningState": "Succeeded", "count": 3}]}}


def pool(version="1.33.6", settings=None):
    return {"name": "data", "properties": {"orchestratorVersion": version, "currentOrchestratorVersion": version, "count": 3,
                                           "provisioningState": "Succeeded", "nodeImageVersion": "img-1",
                                           "upgradeSettings": settings or {"maxSurge": "10%"}}}


@pytest.mark.parametrize("max_surge, count, nodes", [("1", 3, 1), ("3", 3, 3), ("10%", 3, 1), ("33%", 3, 1), ("34%", 3, 2),
                                                     ("100%", 6, 6), ("50%", 5, 3)])
def test_surge_count_rounds_percent_up(max_surge, count, nodes):
    assert surge_count(max_surge, count) == nodes


@pytest.mark.parametrize("max_surge", ["0", "-1", "1.5", "101%", "three", ""])
def test_surge_count_refuses_what_aks_refuses(max_surge):
    with pytest.raises(Refused, match="max_surge"):
        surge_count(max_surge, 3)


def test_surge_goes_to_the_zones_with_fewest_nodes_ties_uncertain():
    even = {"we-1": 1, "we-2": 1, "we-3": 1}
    assert surge_per_zone(1, even) == {"we-1": (0, 1), "we-2": (0, 1), "we-3": (0, 1)}
    assert surge_per_zone(3, even) == {"we-1": (1, 1), "we-2": (1, 1), "we-3": (1, 1)}
    assert surge_per_zone(4, even) == {"we-1": (1, 2), "we-2": (1, 2), "we-3": (1, 2)}
    assert surge_per_zone(1, {"we-1": 2, "we-2": 1}) == {"we-1": (0, 0), "we-2": (1, 1)}
    assert surge_per_zone(2, {"we-1": 3, "we-2": 1, "we-3": 1}) == {"we-1": (0, 0), "we-2": (1, 1), "we-3": (1, 1)}


def test_control_plane_takes_the_newest_offered_patch_of_a_minor():
    assert control_plane_target(cluster(), "1.34", ["1.34.1", "1.34.2"]) == "1.34.2"
    assert control_plane_target(cluster(), "1.34.1", ["1.34.1", "1.34.2"]) == "1.34.1"
    assert control_plane_target(cluster(), "1.33", ["1.34.2"]) is None
    assert control_plane_target(cluster(), "1.33.6", []) is None


@pytest.mark.parametrize("want, offers, words", [
    ("1.35", ["1.34.2"], "more than one minor version ahead: AKS upgrades one minor version at a time. Upgrade to 1.34 first "
                         "(offered: 1.34.2), then to 1.35"),
    ("1.32", ["1.34.2"], "older than the control plane's 1.33.6: AKS does not downgrade"),
    ("1.34.9", ["1.34.2"], "AKS offers no upgrade of the control plane from 1.33.6 to 1.34.9 (offered: 1.34.2)"),
    ("latest", ["1.34.2"], "is not a Kubernetes version"),
])
def test_control_plane_refusals(want, offers, words):
    with pytest.raises(Refused) as refused:
        control_plane_target(cluster(), want, offers)
    assert words in str(refused.value)


def test_pool_follows_the_control_plane_even_before_its_profile_offers_it():
    assert pool_target(pool(), "1.34", "1.34.2", [], ["1.33.6", "1.34.2"]) == "1.34.2"
    assert pool_target(pool(), "1.34.2", "1.34.2", [], None) == "1.34.2"
    assert pool_target(pool("1.34.2"), "1.34", "1.34.2", [], None) is None


def test_pool_several_minors_behind_goes_straight_to_the_control_plane():
    assert pool_target(pool(), "1.35", "1.35.1", [], None) == "1.35.1"


@pytest.mark.parametrize("have, want, control, words", [
    ("1.33.6", "1.34", "1.33.6", "newer than the control plane's 1.33.6: a pool is never newer than the control plane"),
    ("1.33.6", "1.34.2", "1.34.1", "newer than the control plane's 1.34.1"),
    ("1.34.2", "1.33", "1.34.2", "AKS does not downgrade"),
])
def test_pool_refusals(have, want, control, words):
    with pytest.raises(Refused) as refused:
        pool_target(pool(have), want, control, [], None)
    assert words in str(refused.value)


def test_pool_target_must_be_available():
    with pytest.raises(Refused, match="offers no upgrade of node pool data"):
        pool_target(pool(), "1.34", "1.34.2", [], ["1.33.6"])


def test_settings_change_keeps_what_is_not_given_and_is_none_when_same():
    settings = {"maxSurge": "10%", "drainTimeoutInMinutes": 30}
    assert settings_change(pool(settings=settings), {"max_surge": "10%"}) is None
    assert settings_change(pool(settings=settings), {}) is None
    assert settings_change(pool(settings=settings), {"max_surge": 3, "undrainable_node_behavior": "Cordon"}) == \
        {"maxSurge": "3", "drainTimeoutInMinutes": 30, "undrainableNodeBehavior": "Cordon"}


def test_control_plane_body_keeps_every_pool_at_its_version_and_drops_read_only():
    body = control_plane_body(cluster(), "1.34.2")
    props = body["properties"]
    assert props["kubernetesVersion"] == "1.34.2" and "currentKubernetesVersion" not in props and "provisioningState" not in props
    assert props["agentPoolProfiles"] == [{"name": "data", "orchestratorVersion": "1.33.6", "count": 3}]
    assert "id" not in body and body["identity"] == {"type": "SystemAssigned"}


def test_pool_body_sets_version_and_settings():
    body = pool_body(pool(), "1.34.2", {"maxSurge": "3"})
    assert body["properties"]["orchestratorVersion"] == "1.34.2" and body["properties"]["upgradeSettings"] == {"maxSurge": "3"}
    assert "currentOrchestratorVersion" not in body["properties"] and "nodeImageVersion" not in body["properties"]
