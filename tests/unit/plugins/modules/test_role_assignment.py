"""role_assignment: resolution of role / principal / scope, idempotence, RoleAssignmentExists, PrincipalNotFound retry."""

from __future__ import annotations

import io
import json

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import deadline
from ansible_collections.kubedisk.aks.plugins.modules import role_assignment
from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.azure_fakes import record_warnings, sdk_answers

SUB = "00000000-0000-0000-0000-000000000001"
SCOPE = "/subscriptions/%s/resourceGroups/MC_rg_c1_westeurope" % SUB
ROLE_GUID = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
ROLE_ID = "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (SUB, ROLE_GUID)
PRINCIPAL = "3aac3059-e424-4cad-b631-5a25f70ba73d"


class Model(dict):
    def as_dict(self):
        return dict(self)


def role_def():
    return Model(id=ROLE_ID, name=ROLE_GUID, properties={"roleName": "Virtual Machine Contributor"})


def assignment(scope=SCOPE, principal=PRINCIPAL, role=ROLE_ID, name="a1"):
    return Model(id=scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, name=name,
                 properties={"scope": scope, "principalId": principal, "roleDefinitionId": role, "principalType": "ServicePrincipal"})


def cluster():
    return Model(id="/subscriptions/%s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1" % SUB, name="c1",
                 identity={"type": "SystemAssigned", "principalId": "cccccccc-0000-0000-0000-000000000000"},
                 properties={"nodeResourceGroup": "MC_rg_c1_westeurope",
                             "identityProfile": {"kubeletidentity": {"objectId": PRINCIPAL}}})


def base(auth, **extra):
    args = dict(auth, role="Virtual Machine Contributor", kubelet_identity_of={"name": "c1", "resource_group": "rg"},
                node_resource_group_of={"name": "c1", "resource_group": "rg"})
    args.update(extra)
    return dict((k, v) for k, v in args.items() if v is not None)


@pytest.fixture
def azure(clients):
    clients["containerservice"].managed_clusters.get.return_value = cluster()
    auth_client = clients["authorization"]
    auth_client.role_definitions.list.return_value = [role_def()]
    auth_client.role_definitions.get.return_value = role_def()
    auth_client.role_assignments.list_for_scope.return_value = []
    auth_client.role_assignments.create.side_effect = sdk_answers((201, assignment(name="new")))
    return auth_client


def test_create_with_deterministic_name_and_service_principal_type(run_module, azure, auth):
    result = run_module(role_assignment.main, base(auth), diff=True)
    assert result["changed"] and result["diff"]["before"] == {}
    scope, name, body = azure.role_assignments.create.call_args[0]
    assert scope == SCOPE.lstrip("/")
    assert name == role_assignment.assignment_name(SCOPE, PRINCIPAL, ROLE_GUID)
    sent = json.loads(body.getvalue()) if isinstance(body, io.BytesIO) else body
    assert sent == {"properties": {"roleDefinitionId": ROLE_ID, "principalId": PRINCIPAL, "principalType": "ServicePrincipal"}}
    azure.role_definitions.list.assert_called_once_with(SCOPE.lstrip("/"), filter="roleName eq 'Virtual Machine Contributor'")
    calls = azure.role_assignments.list_for_scope.call_args_list
    assert len(calls) == 2, "the first read and the last look just before the write"
    assert all(c == ((SCOPE.lstrip("/"),), {"filter": "principalId eq '%s'" % PRINCIPAL}) for c in calls)


def test_explicit_principal_sends_no_principal_type(run_module, azure, auth):
    run_module(role_assignment.main, dict(auth, role=ROLE_GUID, principal_id=PRINCIPAL, scope=SCOPE))
    sent = json.loads(azure.role_assignments.create.call_args[0][2].getvalue())
    assert "principalType" not in sent["properties"]


def test_existing_assignment_is_found_even_with_other_role_id_form(run_module, azure, clients, auth):
    azure.role_assignments.list_for_scope.return_value = [
        assignment(scope=SCOPE.lower(), role="/providers/Microsoft.Authorization/roleDefinitions/" + ROLE_GUID.upper()),
    ]
    result = run_module(role_assignment.main, base(auth))
    assert not result["changed"] and clients.writes() == []


def test_inherited_assignment_does_not_count(run_module, azure, auth):
    azure.role_assignments.list_for_scope.return_value = [assignment(scope="/subscriptions/%s" % SUB)]
    assert run_module(role_assignment.main, base(auth))["changed"]


@pytest.mark.parametrize("answer", ["RoleAssignmentExists", 200], ids=["409 under another name", "200 same name"])
def test_assignment_made_meanwhile_is_reported(run_module, azure, auth, azure_error, monkeypatch, answer):
    """Both runs listed no assignment and both PUT: the later one reports the assignment it found, changed=false."""
    warned = record_warnings(monkeypatch)
    theirs = assignment(name="theirs")
    azure.role_assignments.list_for_scope.side_effect = [[], [], [theirs]]
    azure.role_assignments.create.side_effect = sdk_answers(
        azure_error(409, answer, "The role assignment already exists.") if answer == "RoleAssignmentExists" else (200, theirs))
    result = run_module(role_assignment.main, base(auth))
    assert not result.get("failed") and not result["changed"] and result["found_existing"]
    assert result["assignment"]["name"] == "theirs" if answer == "RoleAssignmentExists" else result["assignment"]["id"] == theirs["id"]
    assert any("created meanwhile by another run" in w for w in warned)
    assert azure.role_assignments.create.call_count == 1


def test_assignment_made_before_the_last_look_is_not_written(run_module, azure, clients, auth):
    azure.role_assignments.list_for_scope.side_effect = [[], [assignment(name="theirs")]]
    result = run_module(role_assignment.main, base(auth))
    assert not result["changed"] and result["found_existing"] and clients.writes() == []


def test_principal_not_found_is_retried_then_succeeds(run_module, azure, auth, azure_error, monkeypatch):
    monkeypatch.setattr(deadline.time, "sleep", lambda s: None)
    azure.role_assignments.create.side_effect = sdk_answers(azure_error(400, "PrincipalNotFound"), azure_error(400, "PrincipalNotFound"),
                                                            (201, assignment(name="late")))
    result = run_module(role_assignment.main, base(auth))
    assert result["changed"] and azure.role_assignments.create.call_count == 3


def test_principal_not_found_after_timeout(run_module, azure, auth, azure_error, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(deadline.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    monkeypatch.setattr(deadline.time, "monotonic", lambda: clock[0])
    azure.role_assignments.create.side_effect = azure_error(400, "PrincipalNotFound", "Principal x does not exist")
    result = run_module(role_assignment.main, base(auth, timeout=10))
    assert result["failed"] and "not found in the directory within timeout=10 s" in result["msg"]
    assert "PrincipalNotFound" in result["msg"]


def test_forbidden_is_not_swallowed(run_module, azure, auth, azure_error):
    azure.role_assignments.list_for_scope.side_effect = azure_error(403, "AuthorizationFailed", "no access")
    result = run_module(role_assignment.main, base(auth))
    assert result["failed"] and "AuthorizationFailed" in result["msg"]


def test_check_mode_and_absent(run_module, azure, clients, auth):
    result = run_module(role_assignment.main, base(auth), check_mode=True)
    assert result["changed"] and clients.writes() == []
    azure.role_assignments.list_for_scope.return_value = [assignment(name="a1")]
    result = run_module(role_assignment.main, base(auth, state="absent"), diff=True)
    assert result["changed"] and result["diff"]["after"] == {}
    azure.role_assignments.delete.assert_called_once_with(SCOPE.lstrip("/"), "a1")


@pytest.mark.parametrize("extra, words", [
    ({"principal_id": "not-a-guid", "kubelet_identity_of": None}, "is not an object id"),
    ({"scope": "rg", "node_resource_group_of": None}, "is not a scope id"),
    ({"role": "  "}, "role is empty"),
    ({"kubelet_identity_of": {"name": "-x", "resource_group": "rg"}}, "not a valid AKS cluster name"),
    ({"principal_id": PRINCIPAL}, "mutually exclusive"),
    ({"kubelet_identity_of": None}, "one of the following is required"),
])
def test_bad_input(run_module, azure, clients, auth, extra, words):
    result = run_module(role_assignment.main, base(auth, **extra))
    assert result["failed"] and words in result["msg"] and clients.writes() == []


@pytest.mark.parametrize("check_mode", [False, True])
def test_unknown_role_guid_is_refused_before_any_write(run_module, azure, clients, auth, azure_error, check_mode):
    """A GUID is read (not listed): an unknown one fails naming it, in check mode too, and nothing is written."""
    azure.role_definitions.get.side_effect = azure_error(404, "RoleDefinitionDoesNotExist", "The specified role definition "
                                                         "with ID '%s' does not exist." % ROLE_GUID)
    result = run_module(role_assignment.main, base(auth, role=ROLE_GUID), check_mode=check_mode)
    assert result["failed"] and "role definition %s does not exist at scope %s" % (ROLE_GUID, SCOPE) in result["msg"]
    azure.role_definitions.get.assert_called_once_with(SCOPE.lstrip("/"), ROLE_GUID)
    azure.role_definitions.list.assert_not_called()
    assert clients.writes() == []


def test_unknown_role_and_missing_cluster(run_module, azure, clients, auth, azure_error):
    azure.role_definitions.list.return_value = []
    result = run_module(role_assignment.main, base(auth, role="Nope"))
    assert result["failed"] and "role 'Nope' does not exist" in result["msg"]
    clients["containerservice"].managed_clusters.get.side_effect = azure_error(404, "ResourceNotFound")
    result = run_module(role_assignment.main, base(auth))
    assert result["failed"] and "cluster c1 not found" in result["msg"] and clients.writes() == []
