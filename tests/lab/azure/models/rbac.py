"""Azure RBAC on every ARM call: the operation a request performs, and whether the caller's role assignments allow it.

Mirrored behaviour (Azure RBAC: "Understand Azure role definitions", "Track asynchronous Azure operations"):
- the operation of a request as ARM derives it from its path and method: ``{namespace}/{type}[/{childType}...]/{verb}``
  with GET and HEAD ``read``, PUT and PATCH ``write``, DELETE ``delete``; a POST to ``.../{name}/{action}`` is
  ``.../{action}/action``; resource groups are ``Microsoft.Resources/subscriptions/resourceGroups/...``; below nested
  ``providers`` segments (role assignments on a resource) the last provider names the operation;
- the caller is the token's ``oid``, with the groups it is a member of (a role assigned to a group applies to its
  members); a role assignment applies at its scope and below (subscription, resource group,
  resource; ids compared without regard to case); an assignment allows an operation when one of its role's
  ``actions`` matches and none of the same role's ``notActions`` does (``dataActions`` never count on the control
  plane); ``*`` matches any run of characters (``*``, ``*/read``, ``Microsoft.Compute/*``), and ``/*/`` also a single
  ``/`` (``Microsoft.ManagedIdentity/userAssignedIdentities/*/read`` covers ``.../userAssignedIdentities/read``);
- a denial is 403 ``AuthorizationFailed`` with ARM's message naming the client (application id), the object id, the
  operation and the scope (the request's path);
- the status and result URLs of a long-running operation lie outside the resource: the principal who started the
  operation may read them, anyone else needs the provider's ``locations/operations/read`` (``operationResults``;
  for resource group deletions ``Microsoft.Resources/subscriptions/operationresults/read``) at the operation's
  resource group or above;
- listing subscriptions needs no permission (ARM lists those the caller can reach); reading the subscription, its
  locations and a resource provider needs a role assignment somewhere in the subscription.
"""

import functools
import re
from dataclasses import dataclass

from ..arm import ArmError, group_id, parse_id
from ..lro import REQUEST_PRINCIPAL
from . import authorization

VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
OPERATION_COLLECTIONS = ("operations", "operationresults")


@dataclass(frozen=True)
class Need:
    """What a request needs: ``operation`` over ``scope``; ``kind`` says how it is checked.

    ``scoped``: a role assignment at ``scope`` or above; ``subscription``: any role assignment in the subscription;
    ``poll``: the start of operation ``operation_id``, else ``operation`` at its resource group or above;
    ``open``: nothing.
    """

    kind: str
    operation: str = ""
    scope: str = ""
    operation_id: str = ""


def _pattern(permission):
    """A role's action (with ``*`` wildcards) as a case-insensitive regular expression."""
    escaped = re.escape(permission).replace(r"/\*/", "(?:/.*)?/").replace(r"\*", ".*")
    return re.compile(escaped, re.IGNORECASE)


_PATTERNS = {}


def matches(permission, operation):
    """Whether a role's action or notAction (wildcards allowed) covers an operation."""
    if permission not in _PATTERNS:
        _PATTERNS[permission] = _pattern(permission)
    return _PATTERNS[permission].fullmatch(operation) is not None


def allows(role, operation):
    """Whether one role grants an operation: one of its actions matches and none of its notActions does."""
    permissions = role["permissions"]
    return (any(matches(action, operation) for action in permissions["actions"])
            and not any(matches(action, operation) for action in permissions["notActions"]))


def _provider_need(method, parts, at, path):
    """The need of a request below ``providers/{namespace}`` (``at``: index of the last ``providers`` segment)."""
    namespace, tail = parts[at + 1], parts[at + 2:]
    if at == 2 and not tail:
        return Need("subscription", "Microsoft.Resources/subscriptions/providers/read", path)
    lowered = [part.lower() for part in tail]
    if len(tail) == 4 and lowered[0] == "locations" and lowered[2] in OPERATION_COLLECTIONS:
        return Need("poll", f"{namespace}/locations/{tail[2]}/read", path, tail[3])
    if method == "POST":
        if len(tail) % 2:
            types = tail[:-1:2]
            return Need("scoped", "/".join([namespace, *types, tail[-1], "action"]), "/" + "/".join(parts[:-1]))
        return Need("scoped", "/".join([namespace, *tail[0::2], "action"]), path)
    return Need("scoped", "/".join([namespace, *tail[0::2], VERBS[method]]), path)


@functools.lru_cache(maxsize=4096)
def need(method, path):
    """What a request (method and decoded path) needs to be allowed (a pure function of both: worked out once)."""
    parts = [part for part in path.split("/") if part]
    lowered = [part.lower() for part in parts]
    path = "/" + "/".join(parts)
    if "providers" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        if at + 1 < len(parts):
            return _provider_need(method, parts, at, path)
    if lowered[:1] != ["subscriptions"] or len(parts) < 2:
        return Need("open")
    rest, verb = lowered[2:], VERBS.get(method, "action")
    if not rest:
        return Need("subscription", "Microsoft.Resources/subscriptions/read", path)
    if rest[0] == "locations":
        return Need("subscription", "Microsoft.Resources/subscriptions/locations/read", path)
    if rest[0] == "operationresults" and len(rest) == 2:
        return Need("poll", "Microsoft.Resources/subscriptions/operationresults/read", path, parts[3])
    if rest[0] == "resourcegroups":
        children = "/resources" if len(rest) == 3 and rest[2] == "resources" else ""
        return Need("scoped", f"Microsoft.Resources/subscriptions/resourceGroups{children}/{verb}", path)
    return Need("scoped", "/".join(["Microsoft.Resources/subscriptions", *parts[2::2], verb]), path)


def _assignments(lab, object_id):
    """The role assignments that apply to a principal: its own and those of its groups."""
    return [assignment for principal in [object_id or "", *lab.identity.groups(object_id or "")]
            for assignment in authorization.assignments_of(lab, principal)]


def permitted(lab, object_id, operation, scope):
    """Whether a principal's role assignments (its own and its groups') at ``scope`` or above grant ``operation``."""
    for assignment in _assignments(lab, object_id):
        role = authorization.ROLES_BY_ID.get(assignment.properties["roleDefinitionId"].rsplit("/", 1)[-1].lower())
        if role and authorization.covers(assignment.parent, scope) and allows(role, operation):
            return True
    return False


def _in_subscription(lab, object_id, scope):
    subscription = "/" + "/".join(scope.strip("/").split("/")[:2])
    return any(authorization.covers(assignment.parent, subscription) or authorization.covers(subscription, assignment.parent)
               for assignment in _assignments(lab, object_id))


def _poll_allowed(lab, object_id, wanted):
    operation = lab.store.operation(wanted.operation_id)
    if operation is None or operation.params.get("caller") == object_id:
        return True  # an unknown operation is the handler's 404
    info = parse_id(operation.resource_id)
    group = group_id(info["subscription"], info["group"]) if info["group"] else f"/subscriptions/{info['subscription']}"
    return permitted(lab, object_id, wanted.operation, group)


def authorize(lab, method, path, claims):
    """Refuse an ARM call the caller's role assignments do not allow (403 ``AuthorizationFailed``).

    An allowed request's principal is recorded as the starter of the long-running operations it starts.
    """
    object_id = claims.get("oid")
    wanted = need(method, path)
    if wanted.kind == "scoped":
        allowed = permitted(lab, object_id, wanted.operation, wanted.scope)
    elif wanted.kind == "subscription":
        allowed = _in_subscription(lab, object_id, wanted.scope)
    elif wanted.kind == "poll":
        allowed = _poll_allowed(lab, object_id, wanted)
    else:
        allowed = True
    if not allowed:
        raise ArmError(403, "AuthorizationFailed",
                       f"The client '{claims.get('appid') or object_id}' with object id '{object_id}' does not have authorization to "
                       f"perform action '{wanted.operation}' over scope '{wanted.scope}' or the scope is invalid. If access was "
                       "recently granted, please refresh your credentials.")
    REQUEST_PRINCIPAL.set(object_id)
