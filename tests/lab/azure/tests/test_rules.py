"""What ARM refuses: names and tags per resource type, unknown subscriptions, unknown locations; the list of locations."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from .helpers import empty_disk, error_code

POOL = {"name": "nodepool1", "count": 1, "vmSize": "Standard_D2s_v5", "mode": "System"}
SNAPSHOT_OF = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/disks/{}"


def _cluster(dns_prefix="rules", **extra):
    return {"location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": dns_prefix, "agentPoolProfiles": [dict(POOL)]}, **extra}


def _refused(call, code):
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert (caught.value.status_code, error_code(caught)) == (400, code), caught.value.message
    return caught.value.error


@pytest.mark.parametrize("name", ["a", "rg_1.(x)-y", "ressourcengruppe-ä", "r" * 90])
def test_resource_group_names_azure_allows(resource_client, name):
    assert resource_client.resource_groups.create_or_update(name, {"location": "westeurope"}).name == name


@pytest.mark.parametrize("name", ["ends.", "r" * 91, "has space", "bad*name", "trailing\n", "tab\tname", "slash\\"])
def test_resource_group_names_azure_refuses(resource_client, name):
    _refused(lambda: resource_client.resource_groups.create_or_update(name, {"location": "westeurope"}), "InvalidResourceGroup")
    assert resource_client.resource_groups.check_existence(name.rstrip("\n") or "x") is False


@pytest.mark.parametrize("name, valid", [
    ("d", True), ("data_", True), ("Data.disk-1_x", True), ("d" * 80, True),
    ("_data", False), ("-data", False), ("data-", False), ("data.", False), ("d" * 81, False), ("data\n", False), ("da ta", False),
    ("däta", False),
])
def test_disk_and_snapshot_names(compute, subscription, group, name, valid):
    if valid:
        disk = compute.disks.begin_create_or_update(group, name, empty_disk(size=1)).result()
        snapshot = compute.snapshots.begin_create_or_update(group, name, {
            "location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk.id}}}).result()
        assert (disk.name, snapshot.name) == (name, name)
        return
    error = _refused(lambda: compute.disks.begin_create_or_update(group, name, empty_disk(size=1)).result(), "InvalidParameter")
    assert error.target == "disk.name" and error.message == "The value of parameter disk.name is invalid."
    source = SNAPSHOT_OF.format(subscription, group, "none")
    error = _refused(lambda: compute.snapshots.begin_create_or_update(group, name, {
        "location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source}}}).result(),
        "InvalidParameter")
    assert error.target == "snapshot.name"


@pytest.mark.parametrize("name, target", [
    ("-cluster", "name"), ("cluster_", "name"), ("c" * 64, "name"), ("cluster\n", "name"),
])
def test_cluster_names_azure_refuses(aks, group, name, target):
    error = _refused(lambda: aks.managed_clusters.begin_create_or_update(group, name, _cluster()).result(), "InvalidParameter")
    assert error.target == target and "aka.ms/aks-naming-rules" in error.message


def test_node_resource_group_name_at_most_80(aks, resource_client):
    group = "g" * 60
    resource_client.resource_groups.create_or_update(group, {"location": "westeurope"})
    error = _refused(lambda: aks.managed_clusters.begin_create_or_update(group, "c" * 10, _cluster()).result(), "InvalidParameter")
    assert "The maximum length is 80 and the length of the value provided is 85." in error.message
    created = aks.managed_clusters.begin_create_or_update(group, "c" * 4, _cluster()).result()
    assert len(created.node_resource_group) == 79


def test_default_dns_prefix_is_valid(aks, resource_client):
    group = "rg_(dns).1"
    resource_client.resource_groups.create_or_update(group, {"location": "westeurope"})
    body = _cluster()
    del body["properties"]["dnsPrefix"]
    assert aks.managed_clusters.begin_create_or_update(group, "no-prefix", body).result().dns_prefix.startswith("no-prefix-rgdns1-")


@pytest.mark.parametrize("pool", ["Nodepool", "node-pool", "1pool", "pool567890123", "pool\n"])
def test_agent_pool_names_azure_refuses(aks, group, pool):
    body = _cluster()
    body["properties"]["agentPoolProfiles"] = [dict(POOL, name=pool)]
    error = _refused(lambda: aks.managed_clusters.begin_create_or_update(group, "pools", body).result(), "InvalidParameter")
    assert error.target == "agentPoolProfile.name"


@pytest.mark.parametrize("prefix", ["-lab", "lab-", "lab_1", "l" * 55])
def test_dns_prefix_azure_refuses(aks, group, prefix):
    error = _refused(lambda: aks.managed_clusters.begin_create_or_update(group, "dns", _cluster(prefix)).result(), "InvalidParameter")
    assert error.target == "properties.dnsPrefix"


@pytest.mark.parametrize("name, valid", [("id1", True), ("Writer_id-2", True), ("i" * 120, True),
                                         ("id", False), ("-id1", False), ("i" * 129, False), ("id.1", False), ("id1\n", False)])
def test_identity_names(lab, subscription, group, name, valid):
    identity = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    assert lab.arm("PUT", f"{identity}/holder", json={"location": "westeurope"}).status_code == 201
    answer = lab.arm("PUT", f"{identity}/{name}", json={"location": "westeurope"})
    assert answer.status_code == 201 if valid else answer.json()["error"]["code"] == "InvalidResourceName"
    credential = lab.arm("PUT", f"{identity}/holder/federatedIdentityCredentials/{name}", json={"properties": {
        "issuer": "https://oidc.lab", "subject": "system:serviceaccount:app:writer", "audiences": ["api://AzureADTokenExchange"]}})
    assert credential.status_code in ((200, 201) if valid else (400,)), credential.text


def test_role_assignment_name_must_be_a_guid(authorization, subscription, group):
    scope = f"/subscriptions/{subscription}/resourceGroups/{group}"
    body = {"properties": {"roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
                           "principalId": str(uuid.uuid4())}}
    for name in ("reader", f"{uuid.uuid4()}\n", str(uuid.uuid4())[:-1]):
        _refused(lambda name=name: authorization.role_assignments.create(scope, name, body), "InvalidRoleAssignmentId")


TAG_CASES = [
    ({f"k{index}": "v" for index in range(51)}, "InvalidTags"),
    ({"a/b": "v"}, "InvalidTagNameCharacters"),
    ({"kubernetes.io/created-for/pvc/name": "web"}, "InvalidTagNameCharacters"),
    ({"line\nbreak": "v"}, "InvalidTagNameCharacters"),
    ({"100%": "v"}, "InvalidTagNameCharacters"),
    ({" ": "v"}, "InvalidTagName"),
    ({"k" * 513: "v"}, "InvalidTagName"),
    ({"k": "v" * 257}, "InvalidTagValueLength"),
]


@pytest.mark.parametrize("tags, code", TAG_CASES)
def test_tags_azure_refuses(lab, resource_client, compute, aks, group, tags, code):
    _refused(lambda: resource_client.resource_groups.create_or_update(group, {"location": "westeurope", "tags": tags}), code)
    _refused(lambda: resource_client.resource_groups.update(group, {"tags": tags}), code)
    _refused(lambda: compute.disks.begin_create_or_update(group, "tagged", dict(empty_disk(size=1), tags=tags)).result(), code)
    _refused(lambda: aks.managed_clusters.begin_create_or_update(group, "tagged", _cluster(tags=tags)).result(), code)
    identity = f"/subscriptions/{lab.info['subscription_id']}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/tagged"
    answer = lab.arm("PUT", identity, json={"location": "westeurope", "tags": tags})
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, code)
    with pytest.raises(ResourceNotFoundError):
        compute.disks.get(group, "tagged")


def test_tags_at_the_limits_and_updates(compute, group):
    limits = {f"k{index}": "v" for index in range(48)} | {"k" * 512: "v" * 256, "unicode-ä": "ok"}
    disk = compute.disks.begin_create_or_update(group, "limits", dict(empty_disk(size=1), tags=limits)).result()
    assert disk.tags == limits
    _refused(lambda: compute.disks.begin_update(group, "limits", {"tags": {"a<b": "v"}}).result(), "InvalidTagNameCharacters")
    _refused(lambda: compute.snapshots.begin_create_or_update(group, "limits-snap", {
        "location": "westeurope", "tags": {"a?b": "v"},
        "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk.id}}}).result(), "InvalidTagNameCharacters")
    assert compute.disks.get(group, "limits").tags == limits


def test_unknown_and_malformed_subscriptions(lab, subscription):
    other = str(uuid.uuid4())
    for path in (f"/subscriptions/{other}", f"/subscriptions/{other}/resourcegroups/rg",
                 f"/subscriptions/{other}/providers/Microsoft.Compute/locations/westeurope/operations/{uuid.uuid4()}",
                 f"/subscriptions/{other}/providers/Microsoft.Nothing/things/x"):
        answer = lab.arm("GET", path)
        assert answer.status_code == 404 and answer.json()["error"] == {
            "code": "SubscriptionNotFound", "message": f"The subscription '{other}' could not be found."}, path
    for malformed in ("not-a-guid", f"{subscription}x", f"{subscription}%0A"):
        answer = lab.arm("PUT", f"/subscriptions/{malformed}/resourcegroups/rg", json={"location": "westeurope"})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "InvalidSubscriptionId", (malformed, answer.text)
    assert lab.arm("GET", f"/subscriptions/{other}", token=False).status_code == 401, "authentication comes first"
    assert lab.arm("GET", f"/subscriptions/{subscription.upper()}").status_code == 200
    assert lab.arm("GET", "/subscriptions").status_code == 200


def test_sdk_with_unknown_subscription(lab):
    client = ResourceManagementClient(lab.credential(), str(uuid.uuid4()), base_url=lab.url, connection_verify=lab.info["ca"])
    with pytest.raises(ResourceNotFoundError) as caught:
        client.resource_groups.create_or_update("rg", {"location": "westeurope"})
    assert error_code(caught) == "SubscriptionNotFound"


def test_locations(lab, subscription):
    answer = lab.arm("GET", f"/subscriptions/{subscription}/locations", params={"api-version": "2022-12-01"})
    listed = {location["name"]: location for location in answer.json()["value"]}
    west = listed["westeurope"]
    assert (west["displayName"], west["metadata"]["regionType"], west["type"]) == ("West Europe", "Physical", "Region")
    assert west["availabilityZoneMappings"] == [{"logicalZone": zone, "physicalZone": f"westeurope-az{zone}"} for zone in "123"]
    assert "availabilityZoneMappings" not in listed["westcentralus"], "a region without zones maps none"
    assert {"northeurope", "eastus2", "swedencentral"} <= set(listed)


def test_unknown_locations(resource_client, compute, group):
    error = _refused(lambda: resource_client.resource_groups.create_or_update("rg-nowhere", {"location": "atlantis"}),
                     "LocationNotAvailableForResourceGroup")
    assert error.message.startswith("The provided location 'atlantis' is not available for resource group. List of available regions is '")
    assert "westeurope" in error.message
    error = _refused(lambda: compute.disks.begin_create_or_update(group, "nowhere", empty_disk(location="atlantis")).result(),
                     "LocationNotAvailableForResourceType")
    assert "'Microsoft.Compute/disks'" in error.message and ",northeurope," in error.message
    assert resource_client.resource_groups.create_or_update("rg-display-name", {"location": "West Europe"}).location == "westeurope"
