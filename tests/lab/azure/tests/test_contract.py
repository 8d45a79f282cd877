"""ARM contract details clients rely on: final states read via Location, AKS version lists, the managed-identity
cluster's service principal profile, standalone VM lists, and cloud metadata per api-version.

Each is checked through the unmodified Azure SDKs or raw HTTP against the emulator.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import time
import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.core.polling.base_polling import LROBasePolling
from azure.mgmt.core.polling.arm_polling import ARMPolling

from .helpers import empty_disk

VIA_LOCATION = {"final-state-via": "location"}
COMPUTE = "providers/Microsoft.Compute"


def _via_location(polling_class):
    """A polling method that reads the operation's final state from the Location URL (interval from the answers)."""
    return polling_class(0, lro_options=VIA_LOCATION)


@pytest.mark.parametrize("polling_class", [ARMPolling, LROBasePolling])
def test_disk_put_and_patch_final_state_via_location(compute, group, polling_class):
    """ARMPolling follows Azure-AsyncOperation, LROBasePolling the Location URL; both read the disk from the Location URL."""
    name = f"via-location-{polling_class.__name__.lower()}"
    created = compute.disks.begin_create_or_update(group, name, empty_disk(size=8), polling=_via_location(polling_class)).result()
    assert created is not None and created.name == name and created.provisioning_state == "Succeeded" and created.disk_size_gb == 8
    grown = compute.disks.begin_update(group, name, {"properties": {"diskSizeGB": 16}}, polling=_via_location(polling_class)).result()
    assert grown is not None and grown.disk_size_gb == 16 and grown.provisioning_state == "Succeeded"
    assert compute.disks.begin_delete(group, name, polling=_via_location(polling_class)).result() is None
    with pytest.raises(ResourceNotFoundError):
        compute.disks.get(group, name)


def test_snapshot_put_final_state_via_location(compute, group):
    source = compute.disks.begin_create_or_update(group, "snapshot-source", empty_disk()).result()
    body = {"location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source.id},
                                                     "incremental": True}}
    snapshot = compute.snapshots.begin_create_or_update(group, "via-location", body, polling=_via_location(ARMPolling)).result()
    assert snapshot is not None and snapshot.name == "via-location" and snapshot.provisioning_state == "Succeeded"
    assert snapshot.creation_data.source_resource_id == source.id


def test_location_url_answers_202_then_the_resource(lab, subscription, group):
    """Raw GETs of the Location URL: 202 with Retry-After while running, then 200 with the disk as GET shows it."""
    lab.admin("PUT", "profile", json={"name": "realistic", "overrides": {"disk.create": 1.5}})
    try:
        path = f"/subscriptions/{subscription}/resourceGroups/{group}/{COMPUTE}/disks/raw-location"
        started = lab.arm("PUT", path, json=empty_disk())
        assert started.status_code == 202 and "Azure-AsyncOperation" in started.headers
        location = started.headers["Location"]
        assert f"/subscriptions/{subscription}/{COMPUTE}/locations/westeurope/operationResults/" in location
        running = lab.arm("GET", location.split(lab.url)[1], params={})
        assert running.status_code == 202 and int(running.headers["Retry-After"]) >= 1 and not running.content
        time.sleep(1.6)
        finished = lab.arm("GET", location.split(lab.url)[1], params={})
        assert finished.status_code == 200, finished.text
        assert finished.json() == lab.arm("GET", path).json()
        assert finished.json()["properties"]["provisioningState"] == "Succeeded"
    finally:
        lab.admin("PUT", "profile", json={"name": "fast", "overrides": {}})
    deleted = lab.arm("DELETE", path)
    assert deleted.status_code == 202
    time.sleep(0.4)
    assert lab.arm("GET", deleted.headers["Location"].split(lab.url)[1], params={}).status_code == 204


def test_orchestrators_list_versions_and_upgrades(lab, subscription):
    path = f"/subscriptions/{subscription}/providers/Microsoft.ContainerService/locations/westeurope/orchestrators"
    response = lab.arm("GET", path, params={"api-version": "2019-08-01", "resource-type": "managedClusters"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == path and body["type"] == "Microsoft.ContainerService/locations/orchestrators"
    profiles = {profile["orchestratorVersion"]: profile for profile in body["properties"]["orchestrators"]}
    assert set(profiles) == {"1.33.6", "1.34.2", "1.35.1"}
    assert {version for version, profile in profiles.items() if profile.get("default")} == {"1.35.1"}
    assert [upgrade["orchestratorVersion"] for upgrade in profiles["1.33.6"]["upgrades"]] == ["1.34.2"]
    assert [upgrade["orchestratorVersion"] for upgrade in profiles["1.34.2"]["upgrades"]] == ["1.35.1"]
    assert profiles["1.35.1"]["upgrades"] == []
    assert all(profile["orchestratorType"] == "Kubernetes" and profile["isPreview"] is False for profile in profiles.values())
    unknown = lab.arm("GET", path.replace("westeurope", "atlantis"), params={"api-version": "2019-08-01"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "LocationNotAvailableForResourceType"


def test_kubernetes_versions_through_the_sdk(aks, group):
    listed = aks.managed_clusters.list_kubernetes_versions("westeurope")
    # the list is `values_property` in the newer SDKs (where `values` is the mapping's method), `values` in older ones
    entries = listed.values_property if hasattr(listed, "values_property") else listed.values
    versions = {entry.version: entry for entry in entries}
    assert set(versions) == {"1.33", "1.34", "1.35"}
    assert [minor for minor, entry in versions.items() if entry.is_default] == ["1.35"]
    assert {minor: {patch: value.upgrades for patch, value in entry.patch_versions.items()} for minor, entry in versions.items()} == {
        "1.33": {"1.33.6": ["1.34.2"]}, "1.34": {"1.34.2": ["1.35.1"]}, "1.35": {"1.35.1": []}}
    assert all(entry.is_preview is False and "KubernetesOfficial" in entry.capabilities.support_plan for entry in versions.values())
    # a listed patch is one a cluster can be created with; the managed-identity cluster's service principal is "msi"
    cluster = aks.managed_clusters.begin_create_or_update(group, "versions", {
        "location": "westeurope", "identity": {"type": "SystemAssigned"},
        "properties": {"dnsPrefix": "versions", "kubernetesVersion": "1.33.6",
                       "agentPoolProfiles": [{"name": "system", "count": 1, "vmSize": "Standard_D2s_v5", "mode": "System"}]}}).result()
    assert cluster.current_kubernetes_version == "1.33.6"
    assert cluster.service_principal_profile is not None and cluster.service_principal_profile.client_id == "msi"
    assert aks.managed_clusters.get(group, "versions").service_principal_profile.client_id == "msi"


def test_standalone_virtual_machines(lab, subscription, group):
    """A group (or subscription) with scale sets only lists no standalone VMs; a named one is ResourceNotFound."""
    listed = lab.arm("GET", f"/subscriptions/{subscription}/resourceGroups/{group}/{COMPUTE}/virtualMachines")
    assert listed.status_code == 200 and listed.json()["value"] == []
    assert lab.arm("GET", f"/subscriptions/{subscription}/{COMPUTE}/virtualMachines").json()["value"] == []
    missing = lab.arm("GET", f"/subscriptions/{subscription}/resourceGroups/{group}/{COMPUTE}/virtualMachines/vm-1")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    no_group = lab.arm("GET", f"/subscriptions/{subscription}/resourceGroups/rg-{uuid.uuid4().hex[:8]}/{COMPUTE}/virtualMachines")
    assert no_group.status_code == 404 and no_group.json()["error"]["code"] == "ResourceGroupNotFound"


def test_standalone_virtual_machines_through_the_sdk(compute, group):
    assert not list(compute.virtual_machines.list(group))
    with pytest.raises(ResourceNotFoundError):
        compute.virtual_machines.get(group, "vm-1")


def _metadata(lab, api_version=None):
    return lab.admin("GET", "../metadata/endpoints", params={"api-version": api_version} if api_version else {})


def test_metadata_endpoints_per_api_version(lab):
    clouds = _metadata(lab, "2019-05-01").json()
    assert isinstance(clouds, list) and len(clouds) == 1
    listed = clouds[0]
    assert set(listed) == {"name", "portal", "authentication", "media", "graphAudience", "graph", "suffixes", "batch", "resourceManager",
                           "vmImageAliasDoc", "activeDirectoryDataLake", "sqlManagement", "gallery"}
    assert set(listed["authentication"]) == {"loginEndpoint", "audiences", "tenant", "identityProvider"}
    assert listed["resourceManager"] == lab.url + "/" and listed["authentication"]["tenant"] == lab.info["tenant"]
    assert {"storage", "keyVaultDns", "acrLoginServer", "sqlServerHostname"} <= set(listed["suffixes"])
    current = _metadata(lab, "2022-09-01").json()
    assert isinstance(current, dict) and current["name"] == listed["name"] and current["resourceManager"] == listed["resourceManager"]
    assert current["authentication"] == listed["authentication"] and current["microsoftGraphResourceId"]
    assert set(listed) < set(current) and set(listed["suffixes"]) < set(current["suffixes"])
    legacy = _metadata(lab, "2015-01-01").json()
    assert set(legacy) == {"galleryEndpoint", "graphEndpoint", "portalEndpoint", "authentication"}
    assert legacy["authentication"]["loginEndpoint"] == lab.url + "/" and legacy["authentication"]["audiences"]
    missing = _metadata(lab)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"
