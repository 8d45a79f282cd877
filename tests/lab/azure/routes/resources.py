"""Routes of Microsoft.Resources: subscriptions, locations, providers, resource groups."""

from ..arm import Reply, Route, page, resource_group_not_found
from ..models import resources
from .operations import accepted

GROUP = "/subscriptions/{subscription}/resourcegroups/{group}"


def _list_subscriptions(lab, _request):
    return page([resources.subscription_body(lab)])


def _get_subscription(lab, request):
    resources.check_subscription(lab, request.params["subscription"])
    return Reply(200, resources.subscription_body(lab))


def _locations(lab, request):
    resources.check_subscription(lab, request.params["subscription"])
    return page(resources.location_bodies(lab))


def _provider(lab, request):
    resources.check_subscription(lab, request.params["subscription"])
    return Reply(200, resources.provider_body(lab, request.params["namespace"]))


def _put_group(lab, request):
    group, created = resources.put_group(lab, request.params["subscription"], request.params["group"], request.body)
    return Reply(201 if created else 200, group.body)


def _get_group(lab, request):
    return Reply(200, resources.get_group(lab, request.params["subscription"], request.params["group"]).body)


def _patch_group(lab, request):
    return Reply(200, resources.patch_group(lab, request.params["subscription"], request.params["group"], request.body).body)


def _delete_group(lab, request):
    operation = resources.delete_group(lab, request.params["subscription"], request.params["group"])
    if operation is None:
        raise resource_group_not_found(request.params["group"])
    return accepted(lab, request, operation, headers=("Location",))


def _list_groups(lab, request):
    return page([group.body for group in resources.list_groups(lab, request.params["subscription"])])


def _group_resources(lab, request):
    return page(resources.resources_in_group(lab, request.params["subscription"], request.params["group"]))


ROUTES = [
    Route("GET", "/subscriptions", _list_subscriptions),
    Route("GET", "/subscriptions/{subscription}", _get_subscription),
    Route("GET", "/subscriptions/{subscription}/locations", _locations),
    Route("GET", "/subscriptions/{subscription}/providers/{namespace}", _provider),
    Route("GET", "/subscriptions/{subscription}/resourcegroups", _list_groups),
    Route("PUT", GROUP, _put_group),
    Route("GET", GROUP, _get_group),
    Route("PATCH", GROUP, _patch_group),
    Route("DELETE", GROUP, _delete_group),
    Route("GET", GROUP + "/resources", _group_resources),
]
