"""Routes of Microsoft.Resources: subscriptions, locations, providers, resource groups."""

from ..arm import Reply, Route, page, put_reply, resource_group_not_found
from ..models import resources
from .operations import LOCATION, accepted

SUBSCRIPTION = "/subscriptions/{subscription}"
GROUP = SUBSCRIPTION + "/resourcegroups/{group}"


def _put_group(lab, request):
    return put_reply(*resources.put_group(lab, request.params["subscription"], request.params["group"], request.body))


def _get_group(lab, request):
    return Reply(200, resources.get_group(lab, request.params["subscription"], request.params["group"]).body)


def _patch_group(lab, request):
    return Reply(200, resources.patch_group(lab, request.params["subscription"], request.params["group"], request.body).body)


def _delete_group(lab, request):
    operation = resources.delete_group(lab, request.params["subscription"], request.params["group"])
    if operation is None:
        raise resource_group_not_found(request.params["group"])
    return accepted(lab, request, operation, headers=(LOCATION,))


def _list_groups(lab, request):
    return page([group.body for group in resources.list_groups(lab, request.params["subscription"])])


def _group_resources(lab, request):
    return page(resources.resources_in_group(lab, request.params["subscription"], request.params["group"]))


ROUTES = [
    Route("GET", "/subscriptions", lambda lab, _request: page([resources.subscription_body(lab)])),
    Route("GET", SUBSCRIPTION, lambda lab, _request: Reply(200, resources.subscription_body(lab))),
    Route("GET", SUBSCRIPTION + "/locations", lambda lab, _request: page(resources.location_bodies(lab))),
    Route("GET", SUBSCRIPTION + "/providers/{namespace}", lambda lab, request: Reply(200, resources.provider_body(lab, request.params["namespace"]))),
    Route("GET", SUBSCRIPTION + "/resourcegroups", _list_groups),
    Route("PUT", GROUP, _put_group),
    Route("GET", GROUP, _get_group),
    Route("PATCH", GROUP, _patch_group),
    Route("DELETE", GROUP, _delete_group),
    Route("GET", GROUP + "/resources", _group_resources),
]
