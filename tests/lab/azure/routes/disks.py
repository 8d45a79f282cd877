"""Routes of Microsoft.Compute disks and snapshots (PUT/PATCH answer 202, DELETE 202 or 204)."""

from ..arm import Reply, Route, page
from ..models import disks
from .operations import accepted

GROUP_PROVIDER = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute"


def _accepted(lab, request, pair):
    resource, operation = pair
    return accepted(lab, request, operation, 202, resource.body)


def _deleted(lab, request, operation):
    return accepted(lab, request, operation) if operation else Reply(204)


def _put_disk(lab, request):
    params = request.params
    return _accepted(lab, request, disks.put_disk(lab, params["subscription"], params["group"], params["name"], request.body))


def _patch_disk(lab, request):
    params = request.params
    disk = disks.get_disk(lab, params["subscription"], params["group"], params["name"])
    return _accepted(lab, request, disks.update_disk(lab, disk, request.body))


def _get_disk(lab, request):
    params = request.params
    return Reply(200, disks.get_disk(lab, params["subscription"], params["group"], params["name"]).body)


def _delete_disk(lab, request):
    params = request.params
    return _deleted(lab, request, disks.delete_disk(lab, params["subscription"], params["group"], params["name"]))


def _put_snapshot(lab, request):
    params = request.params
    return _accepted(lab, request, disks.put_snapshot(lab, params["subscription"], params["group"], params["name"], request.body))


def _patch_snapshot(lab, request):
    params = request.params
    disks.get_snapshot(lab, params["subscription"], params["group"], params["name"])
    return _put_snapshot(lab, request)


def _get_snapshot(lab, request):
    params = request.params
    return Reply(200, disks.get_snapshot(lab, params["subscription"], params["group"], params["name"]).body)


def _delete_snapshot(lab, request):
    params = request.params
    return _deleted(lab, request, disks.delete_snapshot(lab, params["subscription"], params["group"], params["name"]))


def _lister(kind, in_group):
    def handler(lab, request):
        group = request.params["group"] if in_group else None
        return page([item.body for item in disks.list_of(lab, request.params["subscription"], group, kind)])
    return handler


ROUTES = [
    Route("PUT", GROUP_PROVIDER + "/disks/{name}", _put_disk),
    Route("PATCH", GROUP_PROVIDER + "/disks/{name}", _patch_disk),
    Route("GET", GROUP_PROVIDER + "/disks/{name}", _get_disk),
    Route("DELETE", GROUP_PROVIDER + "/disks/{name}", _delete_disk),
    Route("GET", GROUP_PROVIDER + "/disks", _lister(disks.DISK_TYPE, True)),
    Route("GET", "/subscriptions/{subscription}/providers/Microsoft.Compute/disks", _lister(disks.DISK_TYPE, False)),
    Route("PUT", GROUP_PROVIDER + "/snapshots/{name}", _put_snapshot),
    Route("PATCH", GROUP_PROVIDER + "/snapshots/{name}", _patch_snapshot),
    Route("GET", GROUP_PROVIDER + "/snapshots/{name}", _get_snapshot),
    Route("DELETE", GROUP_PROVIDER + "/snapshots/{name}", _delete_snapshot),
    Route("GET", GROUP_PROVIDER + "/snapshots", _lister(disks.SNAPSHOT_TYPE, True)),
    Route("GET", "/subscriptions/{subscription}/providers/Microsoft.Compute/snapshots", _lister(disks.SNAPSHOT_TYPE, False)),
]
