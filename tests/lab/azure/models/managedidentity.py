"""Microsoft.ManagedIdentity: user-assigned identities and their federated credentials.

Mirrored behaviour:
- a user-assigned identity is a service principal in the directory (its ``principalId`` is what
  role assignments name, its ``clientId`` what workload identity asks tokens for); PUT is
  synchronous (201 created, 200 updated); deleting it removes the principal;
- a federated identity credential (issuer, subject, audiences) lets a client exchange a token from
  that issuer for an Entra token of the identity (workload identity).
"""

from ..arm import ArmError, new_guid, resource_id
from ..store import Resource
from . import authorization, resources, rules

IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
FEDERATED_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"


def put_identity(lab, subscription, group, name, body):
    """Create (or update the tags of) a user-assigned identity; returns (resource, created)."""
    rid = resource_id(subscription, group, IDENTITY_TYPE, name)
    existing = lab.store.get(rid)
    if existing:
        rules.merge_tags(existing.body, body)
        lab.store.save(existing)
        return existing, False
    group_resource = resources.writable_group(lab, subscription, group)
    rules.check_new(IDENTITY_TYPE, name, body)
    location = resources.check_location(body.get("location"), IDENTITY_TYPE)
    client_id = new_guid()
    principal = authorization.add_principal(lab, name, "ServicePrincipal", app_id=client_id)
    resource = Resource(rid, IDENTITY_TYPE, group_resource.id, resources.tracked(rid, IDENTITY_TYPE, name, location, body, {
        "properties": {"tenantId": lab.identity.tenant, "principalId": principal.object_id, "clientId": client_id},
    }), {"principal": principal.object_id})
    lab.store.save(resource)
    return resource, True


def get_identity(lab, subscription, group, name):
    """One identity, or ResourceNotFound."""
    return resources.get_resource(lab, subscription, group, IDENTITY_TYPE, name)


def delete_identity(lab, subscription, group, name):
    """Remove an identity (and its federated credentials); returns whether it existed."""
    identity = resources.find_resource(lab, subscription, group, IDENTITY_TYPE, name)
    if identity:
        resources.remove_tree(lab, identity.id)
    return identity is not None


@resources.on_remove(IDENTITY_TYPE)
def _forget_principal(lab, resource):
    lab.store.delete_principal(resource.internal["principal"])


def put_federated_credential(lab, subscription, group, name, credential, body):
    """Add or replace a federated credential of an identity; returns (resource, created)."""
    identity = get_identity(lab, subscription, group, name)
    rules.check_name(FEDERATED_TYPE, credential)
    properties = body.get("properties") or {}
    for key in ("issuer", "subject", "audiences"):
        if not properties.get(key):
            raise ArmError(400, "BadRequest", f"The property '{key}' of the federated identity credential is required.")
    rid = f"{identity.id}/federatedIdentityCredentials/{credential}"
    created = lab.store.get(rid) is None
    resource = Resource(rid, FEDERATED_TYPE, identity.id, {
        "id": rid, "name": credential, "type": FEDERATED_TYPE,
        "properties": {"issuer": properties["issuer"], "subject": properties["subject"], "audiences": list(properties["audiences"])},
    })
    lab.store.save(resource)
    _sync_federation(lab, identity)
    return resource, created


def delete_federated_credential(lab, subscription, group, name, credential):
    """Remove a federated credential; returns whether it existed."""
    identity = get_identity(lab, subscription, group, name)
    rid = f"{identity.id}/federatedIdentityCredentials/{credential}"
    existed = lab.store.get(rid) is not None
    lab.store.delete(rid)
    _sync_federation(lab, identity)
    return existed


def _sync_federation(lab, identity):
    principal = lab.store.principal(identity.internal["principal"])
    principal.federated = [credential.properties for credential in lab.store.children(identity.id, FEDERATED_TYPE)]
    lab.store.add_principal(principal)
