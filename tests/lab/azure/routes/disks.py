"""Routes of Microsoft.Compute disks and snapshots (PUT/PATCH answer 202, DELETE 202 or 204)."""

from ..arm import Reply, Route, page
from ..models import disks
from .operations import accepted, deleting

SUBSCRIPTION_PROVIDER = "/subscriptions/{subscription}/providers/Microsoft.Compute"
GROUP_PROVIDER = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute"


def _change(model):
    def handler(lab, request):
        resource, operation = model(lab, *request.names, request.body)
        return accepted(lab, request, operation, 202, resource.body)
    return handler


def _routes(collection, resource_type, put, patch, get, delete):
    """The routes of one resource type: item PUT, PATCH, GET, DELETE and the group and subscription lists."""
    item = f"{GROUP_PROVIDER}/{collection}/{{name}}"

    def lister(lab, request):
        return page([resource.body for resource in disks.list_of(lab, request.params["subscription"], request.params.get("group"), resource_type)])

    return [
        Route("PUT", item, _change(put)),
        Route("PATCH", item, _change(patch)),
        Route("GET", item, lambda lab, request: Reply(200, get(lab, *request.names).body)),
        Route("DELETE", item, lambda lab, request: deleting(lab, request, delete(lab, *request.names))),
        Route("GET", f"{GROUP_PROVIDER}/{collection}", lister),
        Route("GET", f"{SUBSCRIPTION_PROVIDER}/{collection}", lister),
    ]


ROUTES = (_routes("disks", disks.DISK_TYPE, disks.put_disk, disks.patch_disk, disks.get_disk, disks.delete_disk)
          + _routes("snapshots", disks.SNAPSHOT_TYPE, disks.put_snapshot, disks.patch_snapshot, disks.get_snapshot, disks.delete_snapshot))
