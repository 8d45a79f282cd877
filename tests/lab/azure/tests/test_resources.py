"""Resource groups (sync PUT, Location-polled DELETE with cascade) and role assignments / definitions."""

import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from .helpers import empty_disk, error_code

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def test_resource_group_lifecycle(lab, resource_client, compute, subscription):
    name = f"rg-{uuid.uuid4().hex[:8]}"
    first = lab.arm("PUT", f"/subscriptions/{subscription}/resourcegroups/{name}", json={"location": "westeurope"})
    again = lab.arm("PUT", f"/subscriptions/{subscription}/resourceGroups/{name.upper()}", json={"location": "westeurope", "tags": {"a": "b"}})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["name"] == name and again.json()["tags"] == {"a": "b"}
    assert resource_client.resource_groups.check_existence(name) is True
    assert resource_client.resource_groups.check_existence("no-such-group") is False
    assert name in [group.name for group in resource_client.resource_groups.list()]
    with pytest.raises(HttpResponseError) as caught:
        resource_client.resource_groups.create_or_update(name, {"location": "northeurope"})
    assert error_code(caught) == "InvalidResourceGroupLocation"
    compute.disks.begin_create_or_update(name, "d1", empty_disk()).result()
    deletion = lab.arm("DELETE", f"/subscriptions/{subscription}/resourcegroups/{name}")
    assert deletion.status_code == 202 and "Azure-AsyncOperation" not in deletion.headers
    assert "/operationresults/" in deletion.headers["Location"]
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(name, "d2", empty_disk()).result()
    assert error_code(caught) == "ResourceGroupBeingDeleted"
    location = deletion.headers["Location"].split(lab.url)[1].split("?")[0]
    deadline = time.monotonic() + 5
    while lab.arm("GET", location).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.arm("GET", location).status_code == 204
    assert resource_client.resource_groups.check_existence(name) is False
    with pytest.raises(ResourceNotFoundError) as caught:
        compute.disks.get(name, "d1")
    assert error_code(caught) == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError):
        resource_client.resource_groups.begin_delete(name).result()


def test_role_definitions(authorization, subscription):
    scope = f"/subscriptions/{subscription}"
    found = list(authorization.role_definitions.list(scope, filter="roleName eq 'Disk Snapshot Contributor'"))
    assert [role.name for role in found] == ["7efff54f-a5b4-42b5-a1c5-5411624893ce"]
    assert found[0].id == f"{scope}/providers/Microsoft.Authorization/roleDefinitions/7efff54f-a5b4-42b5-a1c5-5411624893ce"
    assert authorization.role_definitions.get(scope, CONTRIBUTOR).role_name == "Contributor"
    assert len(list(authorization.role_definitions.list(scope, filter="type eq 'BuiltInRole'"))) >= 7
    with pytest.raises(ResourceNotFoundError) as caught:
        authorization.role_definitions.get(scope, str(uuid.uuid4()))
    assert error_code(caught) == "RoleDefinitionDoesNotExist"


def _principal(lab, **extra):
    return lab.admin("POST", "principals", json={"displayName": f"p-{uuid.uuid4().hex[:6]}", **extra}).json()["objectId"]


def _assignment(subscription, role, principal, **extra):
    return {"properties": {"roleDefinitionId": f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                           "principalId": principal, **extra}}


def test_role_assignments(lab, authorization, subscription, group):
    principal = _principal(lab)
    scope = f"/subscriptions/{subscription}/resourceGroups/{group}"
    name = str(uuid.uuid4())
    created = authorization.role_assignments.create(scope, name, _assignment(subscription, CONTRIBUTOR, principal))
    assert created.principal_type == "ServicePrincipal" and created.scope == scope
    assert created.role_definition_id.endswith(CONTRIBUTOR)
    assert authorization.role_assignments.create(scope, name, _assignment(subscription, CONTRIBUTOR, principal)).name == name
    assert authorization.role_assignments.get(scope, name).principal_id == principal
    with pytest.raises(ResourceExistsError) as caught:
        authorization.role_assignments.create(scope, str(uuid.uuid4()), _assignment(subscription, CONTRIBUTOR, principal))
    assert error_code(caught) == "RoleAssignmentExists"
    with pytest.raises(ResourceExistsError) as caught:
        authorization.role_assignments.create(scope, name, _assignment(subscription, READER, principal))
    assert error_code(caught) == "RoleAssignmentUpdateNotPermitted"
    at_scope = list(authorization.role_assignments.list_for_scope(scope, filter="atScope()"))
    assert name in [item.name for item in at_scope]
    assert any(item.scope == f"/subscriptions/{subscription}" for item in at_scope), "the deployer's subscription Owner is above"
    mine = list(authorization.role_assignments.list_for_subscription(filter=f"principalId eq '{principal}'"))
    assert [item.name for item in mine] == [name]
    assert authorization.role_assignments.delete(scope, name).name == name
    assert authorization.role_assignments.delete(scope, name) is None
    with pytest.raises(ResourceNotFoundError) as caught:
        authorization.role_assignments.get(scope, name)
    assert error_code(caught) == "RoleAssignmentNotFound"


def test_role_assignment_errors(lab, authorization, subscription, group):
    scope = f"/subscriptions/{subscription}/resourceGroups/{group}"
    with pytest.raises(HttpResponseError) as caught:
        authorization.role_assignments.create(scope, str(uuid.uuid4()), _assignment(subscription, CONTRIBUTOR, str(uuid.uuid4())))
    assert error_code(caught) == "PrincipalNotFound"
    with pytest.raises(HttpResponseError) as caught:
        authorization.role_assignments.create(scope, "not-a-guid", _assignment(subscription, CONTRIBUTOR, _principal(lab)))
    assert error_code(caught) == "InvalidRoleAssignmentId"
    with pytest.raises(HttpResponseError) as caught:
        authorization.role_assignments.create(scope, str(uuid.uuid4()), _assignment(subscription, str(uuid.uuid4()), _principal(lab)))
    assert error_code(caught) == "RoleDefinitionDoesNotExist"
    with pytest.raises(HttpResponseError) as caught:
        authorization.role_assignments.create(scope, str(uuid.uuid4()), _assignment(subscription, CONTRIBUTOR, _principal(lab), principalType="User"))
    assert error_code(caught) == "UnmatchedPrincipalType"
    missing = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/disks/none"
    with pytest.raises(ResourceNotFoundError) as caught:
        authorization.role_assignments.create(missing, str(uuid.uuid4()), _assignment(subscription, CONTRIBUTOR, _principal(lab)))
    assert error_code(caught) == "ResourceNotFound"


def test_principal_replication_delay(lab, authorization, subscription, group):
    scope = f"/subscriptions/{subscription}/resourceGroups/{group}"
    lab.admin("POST", "config", json={"principalReplicationDelaySeconds": 60})
    try:
        fresh = _principal(lab)
        with pytest.raises(HttpResponseError) as caught:
            authorization.role_assignments.create(scope, str(uuid.uuid4()), _assignment(subscription, READER, fresh))
        assert error_code(caught) == "PrincipalNotFound"
        typed_body = _assignment(subscription, READER, fresh, principalType="ServicePrincipal")
        typed = authorization.role_assignments.create(scope, str(uuid.uuid4()), typed_body)
        assert typed.principal_id == fresh
    finally:
        lab.admin("POST", "config", json={"principalReplicationDelaySeconds": 0})
