"""ARM request mechanics shared by every provider: errors, replies, routing, resource ids.

Mirrors Azure Resource Manager's wire behaviour:
- the error envelope ``{"error": {"code", "message", "target"?, "details"?}}``;
- paths matched case-insensitively (``resourcegroups`` and ``resourceGroups`` are the same);
- any ``api-version`` accepted;
- list answers ``{"value": [...]}``; paged lists answer at most a page of items and a ``nextLink``
  (the same URL with an opaque ``$skiptoken``) while more follow, the last page without one.
"""

import base64
import binascii
import functools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

# a GUID, matched whole (``GUID.fullmatch``)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


class ArmError(Exception):
    """An ARM error answer: HTTP status, error code and message (raised by models, rendered by the HTTP layer)."""

    def __init__(self, status, code, message, target=None, headers=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}

    def error(self):
        """The inner ``error`` object (also used for failed long-running operations)."""
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return error


def resource_group_not_found(name):
    """ARM's answer when the resource group of a request does not exist."""
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def resource_not_found(resource_type, name, group):
    """ARM's generic 404 for a missing tracked resource."""
    return ArmError(
        404, "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFound")


def invalid_parameter(target, message):
    """The resource provider's 400 ``InvalidParameter``."""
    return ArmError(400, "InvalidParameter", message, target=target)


@dataclass
class Reply:
    """What a handler answers: status, JSON body (None for no content) and extra headers."""

    status: int
    body: object = None
    headers: dict = field(default_factory=dict)


def page(items):
    """A one-page list answer."""
    return Reply(200, {"value": items})


def paged(request, items, size):
    """The page of ``items`` (in a stable order) that ``request``'s ``$skiptoken`` asks for, at most ``size`` of them.

    ARM leaves page sizes to each provider and marks a continuation only by ``nextLink``; clients follow it until a
    page comes without one.  A token the emulator did not write is ARM's 400 ``InvalidSkipToken``.
    """
    start = _skip_offset(request.query.get("$skiptoken"))
    end = start + size
    body = {"value": items[start:end]}
    if end < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"offset": end}).encode()).decode().rstrip("=")
        body["nextLink"] = f"{request.url(request.path)}&$skiptoken={token}"
    return Reply(200, body)


def _skip_offset(token):
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["offset"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is not valid.")
    return offset


def put_reply(resource, created):
    """A synchronous PUT's answer: the resource, 201 when the PUT created it, else 200."""
    return Reply(201 if created else 200, resource.body)


@dataclass
class ArmRequest:
    """One authenticated ARM call as handlers see it."""

    method: str
    path: str
    params: dict
    query: dict
    body: dict
    base_url: str
    principal: dict

    @property
    def names(self):
        """(subscription, resource group, name) of a request for a resource."""
        return self.params["subscription"], self.params["group"], self.params["name"]

    @property
    def api_version(self):
        """The caller's api-version (any value is accepted)."""
        return self.query.get("api-version", "2025-01-01")

    def url(self, path):
        """An absolute URL on this server for an ARM path, with the caller's api-version."""
        return f"{self.base_url}{path}?api-version={self.api_version}"


class Route:
    """One entry of a provider's routing table.

    ``pattern`` is an ARM path template: ``{name}`` matches one segment and ``{name:path}`` any
    number of segments (role assignment scopes).  Matching ignores case, like ARM.
    """

    def __init__(self, method, pattern, handler):
        self.method = method
        self.pattern = pattern
        self.handler = handler
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>(?:/[^/]+)*?)", pattern.replace(".", r"\."))
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        self.regex = re.compile(f"^{regex}/?$", re.IGNORECASE)


class Router:
    """Finds the handler of a method + path among the providers' routing tables."""

    def __init__(self, routes):
        self.routes = list(routes)
        # a request's route depends on its method and path alone: clients repeat the same few, so they are matched once
        self._find = functools.lru_cache(maxsize=4096)(self._search)

    def match(self, method, path):
        """The handler and path parameters, or an ArmError (404 for unknown paths, 405 for unknown methods)."""
        handler, params = self._find("GET" if method == "HEAD" else method, path)
        return handler, dict(params)

    def _search(self, method, path):
        path_known = False
        for route in self.routes:
            found = route.regex.match(path)
            if found:
                if route.method == method:
                    return route.handler, tuple(found.groupdict().items())
                path_known = True
        if path_known:
            raise ArmError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed for '{path}'.")
        raise ArmError(404, "InvalidResourceType", f"The resource type could not be found for the request path '{path}'.")


def resource_id(subscription, group, namespace_type, name, *children):
    """The canonical id of a resource in a resource group; ``children`` are (type, name) pairs."""
    rid = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace_type}/{name}"
    for child_type, child_name in children:
        rid += f"/{child_type}/{child_name}"
    return rid


def group_id(subscription, group):
    """The canonical id of a resource group."""
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def parse_id(rid):
    """Split a resource id into subscription, resource group, and the (type, name) chain after the provider.

    Returns a dict with ``subscription``, ``group`` (or None), ``namespace`` (or None) and ``chain``:
    the list of (type, name) pairs, e.g. ``[("disks", "d1")]``.
    """
    parts = [part for part in rid.split("/") if part]
    info = {"subscription": None, "group": None, "namespace": None, "chain": []}
    lowered = [part.lower() for part in parts]
    if len(parts) >= 2 and lowered[0] == "subscriptions":
        info["subscription"] = parts[1]
    if len(parts) >= 4 and lowered[2] == "resourcegroups":
        info["group"] = parts[3]
    if "providers" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        if at + 1 < len(parts):
            info["namespace"] = parts[at + 1]
            rest = parts[at + 2:]
            info["chain"] = list(zip(rest[0::2], rest[1::2]))
    return info


def new_guid():
    """A random GUID string."""
    return str(uuid.uuid4())


def timestamp(epoch=None):
    """An ISO 8601 UTC timestamp as ARM writes them."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def dumps(body):
    """Compact JSON for responses."""
    return json.dumps(body, separators=(",", ":")).encode()
