"""Routes of Microsoft.Authorization (role definitions and assignments at any scope) and Microsoft.ManagedIdentity."""

from ..arm import Reply, Route, page, put_reply
from ..models import authorization, managedidentity

ASSIGNMENTS = "{scope:path}/providers/Microsoft.Authorization/roleAssignments"
DEFINITIONS = "{scope:path}/providers/Microsoft.Authorization/roleDefinitions"
IDENTITY = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
FEDERATED = IDENTITY + "/federatedIdentityCredentials/{credential}"


def _deleted(existed):
    """A synchronous DELETE's answer: 200 when it removed the resource, 204 when there was none."""
    return Reply(200 if existed else 204)


def _put_assignment(lab, request):
    return put_reply(*authorization.put_assignment(lab, request.params["scope"], request.params["name"], request.body,
                                                   request.principal.get("oid")))


def _get_assignment(lab, request):
    return Reply(200, authorization.get_assignment(lab, request.params["scope"], request.params["name"]).body)


def _delete_assignment(lab, request):
    assignment = authorization.delete_assignment(lab, request.params["scope"], request.params["name"])
    return Reply(200, assignment.body) if assignment else Reply(204)


def _list_assignments(lab, request):
    return page([item.body for item in authorization.list_assignments(lab, request.params["scope"], request.query.get("$filter"))])


def _get_definition(lab, request):
    return Reply(200, authorization.get_definition(lab, request.params["scope"], request.params["name"]))


def _list_definitions(lab, request):
    return page(authorization.list_definitions(lab, request.params["scope"], request.query.get("$filter")))


def _put_identity(lab, request):
    return put_reply(*managedidentity.put_identity(lab, *request.names, request.body))


def _get_identity(lab, request):
    return Reply(200, managedidentity.get_identity(lab, *request.names).body)


def _delete_identity(lab, request):
    return _deleted(managedidentity.delete_identity(lab, *request.names))


def _put_federated(lab, request):
    return put_reply(*managedidentity.put_federated_credential(lab, *request.names, request.params["credential"], request.body))


def _delete_federated(lab, request):
    return _deleted(managedidentity.delete_federated_credential(lab, *request.names, request.params["credential"]))


ROUTES = [
    Route("GET", ASSIGNMENTS, _list_assignments),
    Route("PUT", ASSIGNMENTS + "/{name}", _put_assignment),
    Route("GET", ASSIGNMENTS + "/{name}", _get_assignment),
    Route("DELETE", ASSIGNMENTS + "/{name}", _delete_assignment),
    Route("GET", DEFINITIONS, _list_definitions),
    Route("GET", DEFINITIONS + "/{name}", _get_definition),
    Route("PUT", IDENTITY, _put_identity),
    Route("GET", IDENTITY, _get_identity),
    Route("DELETE", IDENTITY, _delete_identity),
    Route("PUT", FEDERATED, _put_federated),
    Route("DELETE", FEDERATED, _delete_federated),
]
