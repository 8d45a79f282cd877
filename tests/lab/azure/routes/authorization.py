"""Routes of Microsoft.Authorization (role definitions and assignments at any scope) and Microsoft.ManagedIdentity."""

from ..arm import Reply, Route, page
from ..models import authorization, managedidentity

ASSIGNMENTS = "{scope:path}/providers/Microsoft.Authorization/roleAssignments"
DEFINITIONS = "{scope:path}/providers/Microsoft.Authorization/roleDefinitions"
IDENTITY = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"


def _put_assignment(lab, request):
    assignment, created = authorization.put_assignment(lab, request.params["scope"], request.params["name"], request.body,
                                                       request.principal.get("oid"))
    return Reply(201 if created else 200, assignment.body)


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
    params = request.params
    identity, created = managedidentity.put_identity(lab, params["subscription"], params["group"], params["name"], request.body)
    return Reply(201 if created else 200, identity.body)


def _get_identity(lab, request):
    params = request.params
    return Reply(200, managedidentity.get_identity(lab, params["subscription"], params["group"], params["name"]).body)


def _delete_identity(lab, request):
    params = request.params
    existed = managedidentity.delete_identity(lab, params["subscription"], params["group"], params["name"])
    return Reply(200 if existed else 204)


def _put_federated(lab, request):
    params = request.params
    credential, created = managedidentity.put_federated_credential(lab, params["subscription"], params["group"], params["name"],
                                                                   params["credential"], request.body)
    return Reply(201 if created else 200, credential.body)


def _delete_federated(lab, request):
    params = request.params
    existed = managedidentity.delete_federated_credential(lab, params["subscription"], params["group"], params["name"], params["credential"])
    return Reply(200 if existed else 204)


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
    Route("PUT", IDENTITY + "/federatedIdentityCredentials/{credential}", _put_federated),
    Route("DELETE", IDENTITY + "/federatedIdentityCredentials/{credential}", _delete_federated),
]
