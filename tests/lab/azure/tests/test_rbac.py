"""Azure RBAC on every ARM call: principals with built-in roles sign in and call through the unmodified SDKs."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from ..models import rbac
from ..models.authorization import BUILTIN_ROLES, find_role
from .helpers import empty_disk

OWNER, READER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "acdd72a7-3385-48ef-bd42-f606fba81ae7"


class Caller:  # pylint: disable=too-few-public-methods
    """A principal made through the admin API with roles, signed in with its own client secret."""

    def __init__(self, lab, *roles):
        created = lab.admin("POST", "principals", json={
            "displayName": f"rbac-{uuid.uuid4().hex[:6]}", "secret": True,
            "roles": [{"role": role, "scope": scope} for role, scope in roles]})
        assert created.status_code == 201, created.text
        self.info = created.json()
        self.object_id, self.client_id = self.info["objectId"], self.info["clientId"]
        self.credential = ClientSecretCredential(lab.info["tenant"], self.client_id, self.info["secret"], authority=lab.url,
                                                 disable_instance_discovery=True, connection_verify=lab.info["ca"])
        self.lab = lab

    def client(self, client_class):
        """An SDK management client acting as this principal."""
        return self.lab.client(client_class, credential=self.credential)

    def token(self):
        """A raw ARM token of this principal."""
        return self.credential.get_token(f"{self.lab.url}/.default").token

    def denial(self, action, scope):
        """ARM's AuthorizationFailed message for this principal."""
        return (f"The client '{self.client_id}' with object id '{self.object_id}' does not have authorization to perform action "
                f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.")


def _group_scope(subscription, group):
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def _denied(caught, caller, action, scope):
    assert caught.value.status_code == 403
    assert caught.value.error.code == "AuthorizationFailed"
    assert caught.value.error.message == caller.denial(action, scope)


def _assignment_body(subscription, role, principal):
    return {"properties": {"roleDefinitionId": f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                           "principalId": principal, "principalType": "ServicePrincipal"}}


@pytest.fixture
def other_group(resource_client):
    """A second fresh resource group."""
    name = f"rg-{uuid.uuid4().hex[:8]}"
    resource_client.resource_groups.create_or_update(name, {"location": "westeurope"})
    return name


def test_reader_reads_but_cannot_write_a_disk(lab, compute, subscription, group):
    compute.disks.begin_create_or_update(group, "data", empty_disk()).result()
    reader = Caller(lab, ("Reader", _group_scope(subscription, group)))
    disks = reader.client(ComputeManagementClient).disks
    assert disks.get(group, "data").disk_size_gb == 8
    assert [disk.name for disk in disks.list_by_resource_group(group)] == ["data"]
    with pytest.raises(HttpResponseError) as caught:
        disks.begin_create_or_update(group, "data", empty_disk(size=16))
    _denied(caught, reader, "Microsoft.Compute/disks/write", f"{_group_scope(subscription, group)}/providers/Microsoft.Compute/disks/data")
    assert compute.disks.get(group, "data").disk_size_gb == 8


def test_contributor_creates_a_disk_but_assigns_no_role(lab, subscription, group):
    scope = _group_scope(subscription, group)
    contributor = Caller(lab, ("Contributor", scope))
    created = contributor.client(ComputeManagementClient).disks.begin_create_or_update(group, "made", empty_disk()).result()
    assert created.provisioning_state == "Succeeded"
    name = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as caught:
        contributor.client(AuthorizationManagementClient).role_assignments.create(
            scope, name, _assignment_body(subscription, READER, contributor.object_id))
    _denied(caught, contributor, "Microsoft.Authorization/roleAssignments/write", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}")


def test_disk_snapshot_contributor_snapshots_but_makes_no_disk(lab, compute, subscription, group):
    scope = _group_scope(subscription, group)
    source = compute.disks.begin_create_or_update(group, "source", empty_disk(size=4)).result()
    operator = Caller(lab, ("Disk Snapshot Contributor", scope))
    own = operator.client(ComputeManagementClient)
    snapshot = own.snapshots.begin_create_or_update(group, "snap", {
        "location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source.id}}}).result()
    assert snapshot.provisioning_state == "Succeeded"
    with pytest.raises(HttpResponseError) as caught:
        own.disks.begin_create_or_update(group, "restored", empty_disk())
    _denied(caught, operator, "Microsoft.Compute/disks/write", f"{scope}/providers/Microsoft.Compute/disks/restored")


def test_assignments_are_inherited_downwards_only(lab, compute, subscription, group, other_group):
    for name in (group, other_group):
        compute.disks.begin_create_or_update(name, "d", empty_disk()).result()
    on_group = Caller(lab, ("Reader", _group_scope(subscription, group)))
    disks = on_group.client(ComputeManagementClient).disks
    assert disks.get(group, "d").name == "d"
    with pytest.raises(HttpResponseError) as caught:
        disks.get(other_group, "d")
    _denied(caught, on_group, "Microsoft.Compute/disks/read", f"{_group_scope(subscription, other_group)}/providers/Microsoft.Compute/disks/d")
    disk_id = f"{_group_scope(subscription, other_group)}/providers/Microsoft.Compute/disks/d"
    on_disk = Caller(lab, ("Reader", disk_id))
    assert on_disk.client(ComputeManagementClient).disks.get(other_group, "d").id == disk_id
    other_casing = disk_id.replace("resourceGroups", "RESOURCEGROUPS").replace("Microsoft.Compute/disks", "microsoft.compute/DISKS")
    assert lab.arm("GET", other_casing, token=on_disk.token()).status_code == 200
    with pytest.raises(HttpResponseError) as caught:
        on_disk.client(ResourceManagementClient).resource_groups.get(other_group)
    # the scope is the path as the SDK sent it
    _denied(caught, on_disk, "Microsoft.Resources/subscriptions/resourceGroups/read", f"/subscriptions/{subscription}/resourcegroups/{other_group}")


def test_not_actions_subtract_within_their_own_assignment(lab, authorization, subscription, group):
    scope = _group_scope(subscription, group)
    contributor = Caller(lab, ("Contributor", scope))
    both = Caller(lab, ("Contributor", scope), ("User Access Administrator", scope))
    name = str(uuid.uuid4())
    authorization.role_assignments.create(scope, name, _assignment_body(subscription, READER, contributor.object_id))
    own = contributor.client(AuthorizationManagementClient).role_assignments
    assert name in {item.name for item in own.list_for_scope(scope)}  # Microsoft.Authorization/*/read is no notAction
    with pytest.raises(HttpResponseError) as caught:
        own.delete(scope, name)
    _denied(caught, contributor, "Microsoft.Authorization/roleAssignments/delete", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}")
    assert both.client(AuthorizationManagementClient).role_assignments.delete(scope, name).name == name


def test_owner_does_everything_at_its_scope(lab, subscription, group):
    scope = _group_scope(subscription, group)
    owner = Caller(lab, ("Owner", scope))
    compute = owner.client(ComputeManagementClient)
    compute.disks.begin_create_or_update(group, "owned", empty_disk()).result()
    compute.disks.begin_delete(group, "owned").result()
    name = str(uuid.uuid4())
    assert owner.client(AuthorizationManagementClient).role_assignments.create(
        scope, name, _assignment_body(subscription, READER, owner.object_id)).name == name
    with pytest.raises(HttpResponseError) as caught:
        owner.client(ResourceManagementClient).resource_groups.create_or_update(f"{group}-beside", {"location": "westeurope"})
    _denied(caught, owner, "Microsoft.Resources/subscriptions/resourceGroups/write", f"/subscriptions/{subscription}/resourcegroups/{group}-beside")


def test_denied_write_leaves_no_resource_and_no_operation(lab, compute, subscription, group):
    reader = Caller(lab, ("Reader", _group_scope(subscription, group)))
    before = len(lab.admin("GET", "operations").json()["operations"])
    path = f"{_group_scope(subscription, group)}/providers/Microsoft.Compute/disks/never"
    response = lab.arm("PUT", path, token=reader.token(), json=empty_disk())
    assert response.status_code == 403 and response.json()["error"]["code"] == "AuthorizationFailed"
    assert len(lab.admin("GET", "operations").json()["operations"]) == before
    assert lab.arm("GET", path).status_code == 404
    assert "never" not in {disk.name for disk in compute.disks.list_by_resource_group(group)}


def test_operation_polls_are_for_the_starter_or_whoever_may_read_them(lab, subscription, group, other_group):
    lab.admin("PUT", "profile", json={"name": "fast", "overrides": {"disk.create": 30}})
    try:
        starter = Caller(lab, ("Disk Restore Operator", _group_scope(subscription, group)))
        started = lab.arm("PUT", f"{_group_scope(subscription, group)}/providers/Microsoft.Compute/disks/slow", token=starter.token(),
                          json=empty_disk())
        poll = started.headers["Azure-AsyncOperation"].split(lab.url)[1].split("?")[0]
        assert lab.arm("GET", poll, token=starter.token()).json()["status"] == "InProgress"
        watcher = Caller(lab, ("Reader", _group_scope(subscription, group)))
        assert lab.arm("GET", poll, token=watcher.token()).json()["status"] == "InProgress"
        stranger = Caller(lab, ("Reader", _group_scope(subscription, other_group)))
        refused = lab.arm("GET", poll, token=stranger.token())
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == stranger.denial("Microsoft.Compute/locations/operations/read", poll)
    finally:
        lab.admin("PUT", "profile", json={"name": "fast", "overrides": {}})


def test_subscription_reads_need_an_assignment_in_it(lab, subscription, group):
    member = Caller(lab, ("Disk Backup Reader", _group_scope(subscription, group)))
    nobody = Caller(lab)
    assert lab.arm("GET", f"/subscriptions/{subscription}", token=member.token()).status_code == 200
    assert lab.arm("GET", f"/subscriptions/{subscription}/locations", token=member.token()).status_code == 200
    assert lab.arm("GET", "/subscriptions", token=nobody.token()).status_code == 200
    refused = lab.arm("GET", f"/subscriptions/{subscription}", token=nobody.token())
    assert refused.status_code == 403 and refused.json()["error"]["message"] == nobody.denial(
        "Microsoft.Resources/subscriptions/read", f"/subscriptions/{subscription}")


def test_aks_cluster_user_role_lists_user_but_not_admin_credentials(lab, aks, subscription, group):
    aks.managed_clusters.begin_create_or_update(group, "creds", {
        "location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {"dnsPrefix": "creds", "agentPoolProfiles": [
            {"name": "nodepool1", "count": 1, "vmSize": "Standard_D2s_v5", "mode": "System"}]}}).result()
    cluster = f"{_group_scope(subscription, group)}/providers/Microsoft.ContainerService/managedClusters/creds"
    user = Caller(lab, ("Azure Kubernetes Service Cluster User Role", cluster))
    clusters = user.client(ContainerServiceClient).managed_clusters
    assert clusters.get(group, "creds").name == "creds"
    assert clusters.list_cluster_user_credentials(group, "creds").kubeconfigs
    with pytest.raises(HttpResponseError) as caught:
        clusters.list_cluster_admin_credentials(group, "creds")
    _denied(caught, user, "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action", cluster)


def test_lab_principal_is_owner_of_the_subscription(lab, authorization, subscription):
    lab_principal = next(item for item in lab.admin("GET", "principals").json()["principals"] if item["appId"] == lab.info["client_id"])
    mine = list(authorization.role_assignments.list_for_subscription(filter=f"principalId eq '{lab_principal['objectId']}'"))
    assert [(item.scope, item.role_definition_id.rsplit("/", 1)[-1]) for item in mine] == [(f"/subscriptions/{subscription}", OWNER)]


def test_admin_api_refuses_unknown_roles_and_scopes(lab, subscription):
    unknown = lab.admin("POST", "principals", json={"displayName": "x", "roles": [{"role": "Superuser"}]})
    assert unknown.status_code == 400 and "no built-in role 'Superuser'" in unknown.json()["error"]
    missing = lab.admin("POST", "principals", json={"displayName": "x", "roles": [{"role": "Reader",
                                                                                   "scope": f"/subscriptions/{subscription}/resourceGroups/nowhere"}]})
    assert missing.status_code == 404 and missing.json()["error"].startswith("ResourceGroupNotFound")
    assert "x" not in {item["displayName"] for item in lab.admin("GET", "principals").json()["principals"]}


@pytest.mark.parametrize("permission, operation, expected", [
    ("*", "Microsoft.Compute/disks/write", True),
    ("*/read", "Microsoft.Compute/disks/read", True),
    ("*/read", "Microsoft.Compute/disks/beginGetAccess/action", False),
    ("Microsoft.Compute/*", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/deallocate/action", True),
    ("Microsoft.Compute/*", "Microsoft.ContainerService/managedClusters/read", False),
    ("Microsoft.Compute/disks/*", "microsoft.compute/DISKS/write", True),
    ("Microsoft.Compute/disks/*", "Microsoft.Compute/diskEncryptionSets/write", False),
    ("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", True),
    ("Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/read", True),
    ("Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
     "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read", True),
    ("Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/write", False),
])
def test_wildcards(permission, operation, expected):
    assert rbac.matches(permission, operation) is expected


def test_contributor_role_is_its_actions_minus_its_not_actions():
    contributor = find_role("contributor")
    assert rbac.allows(contributor, "Microsoft.Compute/snapshots/write")
    assert not rbac.allows(contributor, "Microsoft.Authorization/roleAssignments/write")
    assert not rbac.allows(find_role("Reader"), "Microsoft.Compute/disks/delete")
    assert len({role["name"] for role in BUILTIN_ROLES}) == len(BUILTIN_ROLES)


SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
DISK = f"{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d"
VM = f"{SUB}/resourceGroups/mc/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/3"
CLUSTER = f"{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c"


@pytest.mark.parametrize("method, path, operation, scope", [
    ("GET", DISK, "Microsoft.Compute/disks/read", DISK),
    ("HEAD", f"{SUB}/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/read", f"{SUB}/resourcegroups/rg"),
    ("PATCH", DISK, "Microsoft.Compute/disks/write", DISK),
    ("DELETE", f"{SUB}/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/delete", f"{SUB}/resourceGroups/rg"),
    ("GET", f"{SUB}/resourceGroups/rg/resources", "Microsoft.Resources/subscriptions/resourceGroups/resources/read", f"{SUB}/resourceGroups/rg/resources"),
    ("GET", f"{SUB}/providers/Microsoft.Compute/disks", "Microsoft.Compute/disks/read", f"{SUB}/providers/Microsoft.Compute/disks"),
    ("POST", f"{VM}/deallocate", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/deallocate/action", VM),
    ("GET", f"{VM}/instanceView", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/instanceView/read", f"{VM}/instanceView"),
    ("POST", f"{CLUSTER}/listClusterUserCredential", "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", CLUSTER),
    ("PUT", f"{CLUSTER}/agentPools/p1", "Microsoft.ContainerService/managedClusters/agentPools/write", f"{CLUSTER}/agentPools/p1"),
    ("PUT", f"{DISK}/providers/Microsoft.Authorization/roleAssignments/x", "Microsoft.Authorization/roleAssignments/write",
     f"{DISK}/providers/Microsoft.Authorization/roleAssignments/x"),
])
def test_operation_of_a_request(method, path, operation, scope):
    wanted = rbac.need(method, path)
    assert (wanted.kind, wanted.operation, wanted.scope) == ("scoped", operation, scope)
