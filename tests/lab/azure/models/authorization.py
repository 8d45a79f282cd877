"""Microsoft.Authorization: built-in role definitions, role assignments, and the principal directory they name.

Mirrored behaviour:
- built-in roles under their real GUIDs, listed at any scope with ``$filter=roleName eq '…'`` or
  ``type eq 'BuiltInRole'``; a role definition id comes back as ``/subscriptions/{s}/providers/…``
  at subscription scope and below, ``/providers/…`` at the root; an unknown GUID is
  ``RoleDefinitionDoesNotExist``;
- role assignment PUT is synchronous (201 created, 200 for an identical repeat); the name must be
  a GUID (``InvalidRoleAssignmentId``); the scope must exist; the same (scope, principal, role)
  under another name is 409 ``RoleAssignmentExists``; an existing name with other content is 409
  ``RoleAssignmentUpdateNotPermitted``; an unknown principal is 400 ``PrincipalNotFound`` — also
  for a principal created less than the replication delay ago, unless the request names its
  ``principalType`` (Azure's documented way round the delay); a wrong ``principalType`` is
  ``UnmatchedPrincipalType``;
- GET of a missing assignment is 404 ``RoleAssignmentNotFound``; DELETE answers 200 with the
  assignment or 204 when there is none;
- listing at a scope returns assignments at, above and below it; ``atScope()`` only at and
  above; ``principalId eq '…'`` / ``assignedTo('…')`` filter by principal.
"""

import json
import os
import re
import time

from ..arm import GUID, ArmError, new_guid, parse_id, resource_not_found, timestamp
from ..store import Principal, Resource
from . import resources, rules

ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions"
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")

# Azure's built-in role definitions (GUID, roleName, description, permissions) as published in the "Azure built-in
# roles" reference; the one table for role definitions, role assignments and the authorization of every ARM call.
with open(os.path.join(os.path.dirname(__file__), "builtin_roles.json"), encoding="utf-8") as _roles:
    BUILTIN_ROLES = json.load(_roles)
ROLES_BY_ID = {role["name"]: role for role in BUILTIN_ROLES}
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
ROLE_CREATED = "2015-02-02T21:55:09.8806423Z"


# the directory
def add_principal(lab, display_name, principal_type="ServicePrincipal", app_id=None, secret=None, object_id=None, federated=None):
    """Register a principal in the directory (it replicates to role assignment checks after the configured delay)."""
    principal = Principal(object_id or new_guid(), app_id, principal_type, display_name, secret, list(federated or []), time.time())
    lab.store.add_principal(principal)
    return principal


def replicated(lab, principal):
    """Whether a principal is visible to role assignment checks yet (the directory replicates with a delay)."""
    return time.time() >= principal.created + float(lab.config("principalReplicationDelaySeconds"))


def seed_owner(lab, object_id):
    """The lab's own service principal is Owner of the subscription."""
    grant(lab, f"/subscriptions/{lab.subscription}", object_id, OWNER, "ServicePrincipal")


def find_role(name_or_guid):
    """A built-in role by its GUID or its roleName (any casing); ValueError when there is none."""
    wanted = name_or_guid.strip().lower()
    for role in BUILTIN_ROLES:
        if wanted in (role["name"], role["roleName"].lower()):
            return role
    raise ValueError(f"no built-in role '{name_or_guid}'; known: {', '.join(role['roleName'] for role in BUILTIN_ROLES)}")


def grant(lab, scope, object_id, guid, principal_type):
    """Assign a role at an existing scope without a caller's request (the lab's own set-up); returns the assignment."""
    return _save_assignment(lab, check_scope(lab, scope), new_guid(), guid, object_id, principal_type, None, object_id)


def assignments_of(lab, object_id):
    """The role assignments that name a principal."""
    return [assignment for assignment in lab.store.of_type(ASSIGNMENT_TYPE)
            if assignment.properties["principalId"].lower() == (object_id or "").lower()]


# scopes
def check_scope(lab, scope):
    """The canonical form of an existing scope: the subscription, a resource group, or a resource."""
    info = parse_id(scope)
    if not scope.strip("/"):
        return ""
    if info["subscription"] is None:
        raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not valid.")
    subscription_scope = f"/subscriptions/{lab.subscription}"
    if info["group"] is None:
        return subscription_scope
    group = resources.get_group(lab, info["subscription"], info["group"])
    if not info["chain"]:
        return group.id
    found = lab.store.get(scope.rstrip("/"))
    if found is None:
        kind, name = info["chain"][-1]
        raise resource_not_found(f"{info['namespace']}/{kind}", name, info["group"])
    return found.id


def covers(outer, inner):
    """Whether scope ``outer`` is ``inner`` or above it."""
    outer, inner = outer.rstrip("/").lower(), inner.rstrip("/").lower()
    return outer == "" or inner == outer or inner.startswith(outer + "/")


# role definitions
def definition_body(scope, role):
    """A built-in role definition as listed at ``scope``."""
    prefix = f"/subscriptions/{parse_id(scope)['subscription']}" if scope else ""
    return {
        "id": f"{prefix}/providers/{DEFINITION_TYPE}/{role['name']}", "name": role["name"], "type": DEFINITION_TYPE,
        "properties": {"roleName": role["roleName"], "type": "BuiltInRole", "description": role["description"], "assignableScopes": ["/"],
                       "permissions": [dict(role["permissions"])],
                       "createdOn": ROLE_CREATED, "updatedOn": ROLE_CREATED, "createdBy": None, "updatedBy": None},
    }


def get_definition(lab, scope, guid):
    """One role definition by GUID."""
    scope = check_scope(lab, scope)
    role = ROLES_BY_ID.get(guid.lower())
    if role is None:
        raise ArmError(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist.")
    return definition_body(scope, role)


_ROLE_FILTER = re.compile(r"^\s*(roleName|type)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


def list_definitions(lab, scope, odata_filter):
    """Role definitions visible at a scope, filtered by ``roleName eq '…'`` or ``type eq '…'``."""
    scope = check_scope(lab, scope)
    roles = BUILTIN_ROLES
    if odata_filter:
        found = _ROLE_FILTER.match(odata_filter)
        if not found:
            raise ArmError(400, "UnsupportedQuery", f"The filter '{odata_filter}' is not supported. Supported filters are "
                                                    "'roleName eq {value}' and 'type eq {value}'.")
        field, value = found.group(1).lower(), found.group(2)
        roles = [role for role in roles if (role["roleName"] if field == "rolename" else "BuiltInRole").lower() == value.lower()]
    return [definition_body(scope, role) for role in roles]


def _role_guid(role_definition_id):
    guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
    if guid not in ROLES_BY_ID:
        raise ArmError(400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist.")
    return guid


# role assignments
def _assignment_id(scope, name):
    return f"{scope}/providers/{ASSIGNMENT_TYPE}/{name}"


def put_assignment(lab, scope, name, body, caller):
    """Create a role assignment; returns (resource, created)."""
    rules.check_name(ASSIGNMENT_TYPE, name)
    scope = check_scope(lab, scope)
    properties = body.get("properties") or {}
    guid = _role_guid(properties.get("roleDefinitionId") or "")
    principal_id = properties.get("principalId") or ""
    principal_type = properties.get("principalType")
    existing = lab.store.get(_assignment_id(scope, name))
    if existing:
        same = (existing.properties["principalId"].lower() == principal_id.lower()
                and existing.properties["roleDefinitionId"].rsplit("/", 1)[-1].lower() == guid)
        if not same:
            raise ArmError(409, "RoleAssignmentUpdateNotPermitted",
                           "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
        return existing, False
    principal = _check_principal(lab, principal_id, principal_type)
    for other in lab.store.children(scope, ASSIGNMENT_TYPE):
        if (other.properties["principalId"].lower() == principal_id.lower()
                and other.properties["roleDefinitionId"].rsplit("/", 1)[-1].lower() == guid):
            raise ArmError(409, "RoleAssignmentExists", f"The role assignment already exists. The ID of the existing role assignment is {other.body['name']}.")
    resource = _save_assignment(lab, scope, name, guid, principal.object_id, principal_type or principal.principal_type,
                                properties, caller)
    return resource, True


def _check_principal(lab, principal_id, principal_type):
    if principal_type and principal_type not in PRINCIPAL_TYPES:
        raise ArmError(400, "InvalidPrincipalType", f"The principal type '{principal_type}' is not valid.")
    principal = lab.store.principal(principal_id) if GUID.fullmatch(principal_id) else None
    if principal is None or (not principal_type and not replicated(lab, principal)):
        raise ArmError(400, "PrincipalNotFound",
                       f"Principal {principal_id.replace('-', '')} does not exist in the directory {lab.identity.tenant}. Check that you have "
                       "the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might "
                       "be related to a replication delay. In this case, set the role assignment principalType property to a value, such as "
                       "ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype")
    if principal_type and principal_type != principal.principal_type:
        raise ArmError(400, "UnmatchedPrincipalType",
                       f"The PrincipalId '{principal_id.replace('-', '')}' has type '{principal.principal_type}' , which is different "
                       f"from specified PrincipalType '{principal_type}'.")
    return principal


def _save_assignment(lab, scope, name, guid, principal_id, principal_type, properties, caller):
    properties = properties or {}
    now = timestamp()
    resource = Resource(_assignment_id(scope, name), ASSIGNMENT_TYPE, scope, {
        "id": _assignment_id(scope, name), "type": ASSIGNMENT_TYPE, "name": name,
        "properties": {
            "roleDefinitionId": f"/subscriptions/{lab.subscription}/providers/{DEFINITION_TYPE}/{guid}",
            "principalId": principal_id, "principalType": principal_type, "scope": scope or "/",
            "condition": properties.get("condition"), "conditionVersion": properties.get("conditionVersion"),
            "description": properties.get("description"), "createdOn": now, "updatedOn": now,
            "createdBy": caller, "updatedBy": caller, "delegatedManagedIdentityResourceId": None,
        },
    })
    lab.store.save(resource)
    return resource


def get_assignment(lab, scope, name):
    """One role assignment, or RoleAssignmentNotFound."""
    scope = check_scope(lab, scope)
    resource = lab.store.get(_assignment_id(scope, name))
    if resource is None:
        raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
    return resource


def delete_assignment(lab, scope, name):
    """Remove a role assignment; returns it, or None when there was none."""
    scope = check_scope(lab, scope)
    resource = lab.store.get(_assignment_id(scope, name))
    if resource:
        lab.store.delete(resource.id)
    return resource


_ASSIGNMENT_FILTER = re.compile(r"^\s*(?:(atScope)\(\)|principalId\s+eq\s+'([^']+)'|assignedTo\('([^']+)'\))\s*$", re.IGNORECASE)


def list_assignments(lab, scope, odata_filter):
    """Role assignments at, above and below a scope, narrowed by ``atScope()`` and/or a principal."""
    scope = check_scope(lab, scope)
    at_scope, principal = False, None
    for term in re.split(r"\s+and\s+", odata_filter or "", flags=re.IGNORECASE):
        if not term.strip():
            continue
        found = _ASSIGNMENT_FILTER.match(term)
        if not found:
            raise ArmError(400, "UnsupportedQuery", f"The filter '{odata_filter}' is not supported. Supported filters are either "
                                                    "'atScope()' or 'principalId eq '{value}'' or 'assignedTo('{value}')'.")
        at_scope = at_scope or bool(found.group(1))
        principal = principal or found.group(2) or found.group(3)
    result = []
    for assignment in lab.store.of_type(ASSIGNMENT_TYPE):
        where = assignment.parent
        if not (covers(where, scope) or (not at_scope and covers(scope, where))):
            continue
        if principal and assignment.properties["principalId"].lower() != principal.lower():
            continue
        result.append(assignment)
    return result
