"""The Instance Metadata Service's managed-identity token endpoint, as the nodes of the lab's AKS cluster reach it.

Mirrored behaviour (Azure's "How to use managed identities for Azure resources on an Azure VM to
acquire an access token"):
- ``GET /metadata/identity/oauth2/token?api-version=...&resource=...`` with the header
  ``Metadata: true``, over plain http (on Azure at 169.254.169.254; ``AZURE_POD_IDENTITY_AUTHORITY_HOST``
  points azure-identity's ``ManagedIdentityCredential`` here); ``client_id``, ``object_id`` or
  ``msi_res_id`` chooses one of the VM's user-assigned identities, none the only one it has;
- IMDS is per VM: the lab's machine stands for the nodes of its oldest AKS cluster, so only the
  user-assigned identities attached to a scale set of that cluster's node resource group get tokens
  (the kubelet identity, which AKS attaches to every pool's scale set);
- the answer carries ``access_token``, ``expires_in``, ``expires_on``, ``not_before`` (strings, as
  IMDS sends them), ``resource``, ``token_type`` and ``client_id``; the token's ``oid`` is the
  identity's principalId, so ARM authorizes it by the identity's role assignments;
- 400 ``invalid_request`` for a missing ``Metadata`` header, api-version or resource, "Identity not
  found" for an identity the VM does not have, and for several identities without a selector;
  400 ``invalid_resource`` for a resource the tenant issues no tokens for (it does for ARM and for the AKS server
  application ``6dae42f8-4368-4678-94ff-3960e28e3630``, whose tokens carry the identity's ``groups``).
"""

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from .models import containerservice, vmss

ENDPOINT_PATH = "/metadata/identity/oauth2/token"
# The state database setting that holds the listener's port (kept across restarts and resets).
PORT_SETTING = "imdsPort"
# query parameter -> the attribute of an attached identity it names
SELECTORS = {"client_id": "clientId", "object_id": "principalId", "msi_res_id": "resourceId"}


class ImdsError(Exception):
    """A refused token request, in IMDS's JSON shape."""

    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


def attached_identities(lab):
    """The user-assigned identities of the scale sets of the oldest cluster's node resource group: ``{resourceId, clientId, principalId}``."""
    cluster = containerservice.oldest_cluster(lab)
    if cluster is None:
        return []
    found = {}
    for scale_set in lab.store.children(cluster.internal["nodeGroup"], vmss.VMSS_TYPE):
        for resource_id, identity in ((scale_set.body.get("identity") or {}).get("userAssignedIdentities") or {}).items():
            found[resource_id.lower()] = {"resourceId": resource_id, **identity}
    return list(found.values())


def _choose(identities, query):
    """The identity the query names (or the only one), else ImdsError."""
    named = [(parameter, query[parameter]) for parameter in SELECTORS if query.get(parameter)]
    if len(named) > 1:
        raise ImdsError("invalid_request", "Only one of client_id, object_id and msi_res_id may be given.")
    if not named:
        if len(identities) == 1:
            return identities[0]
        if not identities:
            raise ImdsError("invalid_request", "Identity not found")
        raise ImdsError("invalid_request", "Multiple user assigned identities exist, please specify the clientId / resourceId "
                                           "of the identity in the token request")
    parameter, value = named[0]
    for identity in identities:
        if identity[SELECTORS[parameter]].lower() == value.lower():
            return identity
    raise ImdsError("invalid_request", "Identity not found")


def issue(lab, query, headers):
    """The token answer for one request (``query`` and ``headers`` as mappings), else ImdsError."""
    if headers.get("metadata", "").lower() != "true":
        raise ImdsError("invalid_request", "Required metadata header not specified")
    if not query.get("api-version"):
        raise ImdsError("invalid_request", "Required query variable 'api-version' is missing")
    resource = query.get("resource")
    if not resource:
        raise ImdsError("invalid_request", "Required query variable 'resource' is missing")
    identity = _choose(attached_identities(lab), query)
    if not lab.identity.issues_for(resource):
        raise ImdsError("invalid_resource", f"AADSTS500011: The resource principal named {resource} was not found in the tenant "
                                            f"named {lab.identity.tenant}.")
    claims = lab.identity.issue(resource, identity["clientId"], identity["principalId"], xms_mirid=identity["resourceId"])
    return {"access_token": claims["token"], "refresh_token": "", "client_id": identity["clientId"],
            "expires_in": str(claims["exp"] - claims["iat"]), "expires_on": str(claims["exp"]), "ext_expires_in": str(claims["exp"] - claims["iat"]),
            "not_before": str(claims["nbf"]), "resource": resource, "token_type": "Bearer"}


async def token(request):
    """``GET /metadata/identity/oauth2/token``."""
    try:
        return JSONResponse(issue(request.app.state.lab, request.query_params, request.headers))
    except ImdsError as error:
        return JSONResponse(error.body, status_code=error.status)


def build_app(lab):
    """The plain-http application of the IMDS listener."""
    app = Starlette(routes=[Route(ENDPOINT_PATH, token)])
    app.state.lab = lab
    return app
