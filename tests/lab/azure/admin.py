"""The lab's admin API under ``/_lab/`` (never under ARM paths; no authentication, loopback only).

- ``GET /_lab/health``
- ``GET /_lab/requests?since=N`` → ``{"requests": [{"seq", "time", "method", "path", "status", "ms"}, …]}`` (``time``: arrival,
  epoch seconds to the millisecond)
- ``GET|POST|DELETE /_lab/faults``, ``DELETE /_lab/faults/{id}``: fault rules (see ``faults.py``)
- ``GET|PUT /_lab/profile`` ``{"name": "fast"|"realistic", "overrides": {"vm.attach": 2.0, …}, "spread": 0.15, "seed": 1}``
- ``GET|POST /_lab/config``: ``kubeconfig``, ``principalReplicationDelaySeconds``, ``onlineResize``,
  ``tokenLifetimeSeconds``, ``armThrottling`` (ARM's token buckets, see ``throttling.py``: a change names only
  what it changes, e.g. ``{"armThrottling": {"subscription": {"reads": {"bucket": 5, "refill": 1}}}}``)
- ``GET|POST /_lab/principals``: the directory (``displayName``, ``principalType``, ``appId``,
  ``secret``, ``objectId``, ``federatedCredentials``, ``roles``); an application (``appId``, or ``secret: true``)
  gets a client secret to sign in with; ``roles: [{"role": "Reader", "scope": "/subscriptions/…/resourceGroups/x"}]``
  assigns built-in roles (by name or GUID; scope default: the subscription); ``groups: [OBJECTID, …]`` makes it a
  member of those directory groups (their object ids go into its tokens for the AKS server application, and roles
  assigned to a group apply to it)
- ``GET /_lab/operations?status=InProgress``: long-running operations
- ``POST /_lab/reset``: forget every resource, operation and principal
- ``POST /_lab/upgrades`` ``{"pool", "step", "index", "outcome": "done"|"blocked", "detail"}``: the bridge's report of a
  Kubernetes step of an AKS pool upgrade (see ``models/aks_upgrade.py``) → ``{"accepted": bool}`` (false: a stale report)
- ``GET /_lab/disks/{ref}/bytes?offset=&length=`` (default: up to the last written byte) and
  ``POST /_lab/disks/{ref}/append`` (raw body): the contents of a disk or snapshot, named by its
  ARM resource id or uniqueId
"""

import json

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .arm import ArmError, new_guid
from .diskfiles import DiskFullError
from .identity import new_secret
from . import profiles
from .models import aks_upgrade, authorization, containerservice
from .throttling import SETTING as THROTTLING, merge_limits


def _lab(request):
    return request.app.state.lab


async def _json(request):
    raw = await request.body()
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from exc


def _bad(message, status=400):
    return JSONResponse({"error": message}, status_code=status)


async def health(_request):
    """Liveness."""
    return JSONResponse({"status": "ok"})


async def requests(request):
    """The request log after ``since``."""
    since = int(request.query_params.get("since", 0))
    return JSONResponse({"requests": request.app.state.request_log.since(since)})


async def faults(request):
    """List, add or clear fault rules."""
    registry = request.app.state.faults
    if request.method == "POST":
        try:
            rule = registry.add(await _json(request))
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return JSONResponse(rule.public(), status_code=201)
    if request.method == "DELETE":
        registry.remove()
    return JSONResponse({"faults": [rule.public() for rule in registry.rules]})


async def fault(request):
    """Remove one fault rule."""
    request.app.state.faults.remove(request.path_params["rule"])
    return Response(status_code=204)


async def profile(request):
    """Show or switch the latency profile."""
    lab = _lab(request)
    if request.method == "PUT":
        try:
            spec = await _json(request)
            lab.set_profile(spec.get("name", lab.profile.name), spec.get("overrides"), spec.get("spread"),
                            spec.get("seed", profiles.DEFAULT_SEED))
        except ValueError as exc:
            return _bad(str(exc))
    return JSONResponse(lab.profile.describe())


async def config(request):
    """Show or change runtime settings."""
    lab = _lab(request)
    if request.method == "POST":
        try:
            settings = await _json(request)
            if THROTTLING in settings:
                settings[THROTTLING] = merge_limits(lab.config(THROTTLING), settings[THROTTLING])
            lab.set_config(settings)
        except ValueError as exc:
            return _bad(str(exc))
    return JSONResponse(lab.all_config())


async def principals(request):
    """List or register directory objects, optionally with built-in roles and a client secret to sign in with."""
    lab = _lab(request)
    if request.method == "GET":
        return JSONResponse({"principals": [principal.public() for principal in lab.store.principals()]})
    try:
        spec = await _json(request)
        roles = [(authorization.find_role(item["role"]), item.get("scope") or f"/subscriptions/{lab.subscription}")
                 for item in spec.get("roles", [])]
    except ValueError as exc:
        return _bad(str(exc))
    except (KeyError, TypeError, AttributeError):
        return _bad('roles is a list of {"role": NAME_OR_GUID, "scope": SCOPE}')
    if not spec.get("displayName"):
        return _bad("displayName is required")
    secret = spec.get("secret") or None
    app_id = spec.get("appId") or (new_guid() if secret else None)
    if app_id and not isinstance(secret, str):
        secret = new_secret()
    principal_type = spec.get("principalType", "ServicePrincipal")
    groups = spec.get("groups") or []
    if not isinstance(groups, list):
        return _bad("groups is a list of group object ids")
    try:
        with lab.store.transaction():
            principal = authorization.add_principal(lab, spec["displayName"], principal_type, app_id=app_id, secret=secret,
                                                    object_id=spec.get("objectId"), federated=spec.get("federatedCredentials"))
            lab.identity.add_to_groups(principal.object_id, groups)
            assignments = [authorization.grant(lab, scope, principal.object_id, role["name"], principal_type).body for role, scope in roles]
    except ArmError as error:
        return _bad(f"{error.code}: {error.message}", error.status)
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse(principal.public() | {"clientId": app_id, "secret": secret, "roleAssignments": assignments,
                                              "groups": lab.identity.groups(principal.object_id)}, status_code=201)


async def operations(request):
    """Long-running operations, optionally of one status."""
    lab = _lab(request)
    status = request.query_params.get("status")
    return JSONResponse({"operations": [
        {"id": operation.id, "kind": operation.kind, "resourceId": operation.resource_id, "status": operation.status,
         "started": operation.started, "deadline": operation.deadline, "ended": operation.ended, "error": operation.error}
        for operation in lab.store.operations(status)]})


async def reset(request):
    """Forget everything but credentials and settings."""
    lab = _lab(request)
    lab.reset()
    request.app.state.faults.remove()
    return JSONResponse({"status": "reset"})


def _image(lab, ref):
    """The image of a disk or snapshot named by its ARM id or its uniqueId."""
    if "/" in ref:
        resource = lab.store.get("/" + ref.lstrip("/"))
        return resource.internal.get("image") if resource else None
    return ref.lower() if lab.store.has_image(ref.lower()) else None


async def disk_bytes(request):
    """Read bytes of a disk or snapshot."""
    lab = _lab(request)
    image = _image(lab, request.path_params["ref"])
    if image is None:
        return _bad("no such disk or snapshot", 404)
    offset = int(request.query_params.get("offset", 0))
    length = request.query_params.get("length")
    data = lab.disks.read(image, offset, int(length) if length is not None else None)
    return Response(data, media_type="application/octet-stream")


async def disk_append(request):
    """Append bytes after the last written byte of a disk."""
    lab = _lab(request)
    image = _image(lab, request.path_params["ref"])
    if image is None:
        return _bad("no such disk or snapshot", 404)
    try:
        end = lab.disks.append(image, await request.body())
    except DiskFullError as exc:
        return _bad(str(exc), 507)
    return JSONResponse({"dataEnd": end})


async def kube(request):
    """The backed AKS cluster and its instances, for the Kubernetes bridge."""
    return JSONResponse(containerservice.kube_view(_lab(request)))


async def upgrades(request):
    """A step of a pool upgrade the bridge carried out in Kubernetes."""
    try:
        step = await _json(request)
        accepted = aks_upgrade.report(_lab(request), step["pool"], step["step"], step["index"], step["outcome"], step.get("detail"))
    except (KeyError, TypeError, ValueError) as exc:
        return _bad(f"an upgrade report needs pool, step, index and outcome: {exc}")
    return JSONResponse({"accepted": accepted})


ROUTES = [
    Route("/_lab/health", health),
    Route("/_lab/requests", requests),
    Route("/_lab/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/_lab/faults/{rule}", fault, methods=["DELETE"]),
    Route("/_lab/profile", profile, methods=["GET", "PUT"]),
    Route("/_lab/config", config, methods=["GET", "POST"]),
    Route("/_lab/principals", principals, methods=["GET", "POST"]),
    Route("/_lab/operations", operations),
    Route("/_lab/reset", reset, methods=["POST"]),
    Route("/_lab/kube", kube),
    Route("/_lab/upgrades", upgrades, methods=["POST"]),
    Route("/_lab/disks/{ref:path}/bytes", disk_bytes),
    Route("/_lab/disks/{ref:path}/append", disk_append, methods=["POST"]),
]
