"""Host names and filters of the kubedisk.aks.aks inventory plugin (the listing itself is tested against the lab)."""

import pytest

from ansible_collections.kubedisk.aks.plugins.inventory.aks import InventoryModule, host_names, wanted


def _cluster(name, group, subscription="sub-a", location="westeurope", tags=None):
    return {"name": name, "resource_group": group, "subscription_id": subscription, "location": location, "tags": tags or {}}


def test_a_unique_name_is_the_host_name_and_a_shared_one_takes_its_group_or_subscription():
    clusters = [_cluster("web", "rg1"), _cluster("db", "rg1"), _cluster("DB", "rg2"),
                _cluster("api", "rg1", "sub-a"), _cluster("api", "rg1", "sub-b"), _cluster("api", "rg2", "sub-a")]
    assert host_names(clusters) == ["web", "rg1_db", "rg2_DB", "sub-a_rg1_api", "sub-b_rg1_api", "rg2_api"]
    assert len(set(host_names(clusters))) == len(clusters)


@pytest.mark.parametrize("locations, tags, expected", [
    (set(), {}, True),
    ({"westeurope"}, {}, True),
    ({"northeurope"}, {}, False),
    (set(), {"env": "prod"}, True),
    (set(), {"env": "dev"}, False),
    (set(), {"owner": None}, True),
    (set(), {"team": None}, False),
])
def test_filters_by_location_and_tags(locations, tags, expected):
    cluster = _cluster("web", "rg1", location="West Europe", tags={"env": "prod", "owner": "ops"})
    assert wanted(cluster, locations, tags) is expected


@pytest.mark.parametrize("path, accepted", [("fleet.aks.yml", True), ("aks.yaml", True), ("fleet.azure_rm.yml", False),
                                            ("aks.yml.bak", False)])
def test_only_files_named_for_the_plugin_are_read(tmp_path, path, accepted):
    config = tmp_path / path
    config.write_text("plugin: kubedisk.aks.aks\n", encoding="utf-8")
    assert InventoryModule().verify_file(str(config)) is accepted
