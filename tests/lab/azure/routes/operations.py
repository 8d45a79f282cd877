"""Long-running operations over HTTP, the way azure-core's ARMPolling reads them.

Mirrored behaviour:
- PUT/PATCH answer with the resource in a transitional ``provisioningState`` plus an
  ``Azure-AsyncOperation`` header; DELETE and POST actions answer 202 with
  ``Azure-AsyncOperation`` and ``Location`` (resource group deletion: ``Location`` only);
- the operation status resource answers 200 ``{"status": "InProgress|Succeeded|Failed|Canceled"}``
  with an ``error`` when it failed;
- the ``Location`` (operation result) URL answers 202 with ``Location`` and the poll headers while
  running; once the operation succeeded, 200 with the resource as a GET shows it for an operation a
  PUT or PATCH started (what clients reading the final state "via location" expect, as the disk and
  snapshot specs declare with ``final-state-via: location``), 200 with the action's result for a POST
  that has one, else 204 (DELETE, POST actions without a result); the error with its HTTP status
  when the operation failed;
- ``Retry-After`` is an integer of at least one second (the fast profile sends ``retry-after-ms``
  instead, see ``profiles.py``).
"""

import dataclasses

from ..arm import Reply, Route, parse_id, timestamp

ASYNC_OPERATION, LOCATION = "Azure-AsyncOperation", "Location"
SUBSCRIPTION_OPERATIONS = "/subscriptions/{subscription}/providers/{namespace}/locations/{location}"
# Operation kinds a PUT or PATCH starts: their operation result is the resource they wrote.
RESOURCE_WRITES = frozenset({"disk.create", "disk.update", "snapshot.create", "cluster.create", "cluster.update", "agentPool.create",
                             "agentPool.update", "agentPool.upgrade", "cluster.upgrade", "vm.attach", "vm.detach",
                             "vm.update"})


def poll_headers(lab, kind):
    """Headers telling a client when to poll an operation of ``kind`` next."""
    if lab.profile.poll_ms:
        return {"retry-after-ms": str(lab.profile.poll_ms)}
    return {"Retry-After": str(lab.profile.retry_after(kind))}


def accepted(lab, request, operation, status=202, body=None, headers=(ASYNC_OPERATION, LOCATION)):
    """The answer that starts an operation: ``status`` and ``body`` plus the polling headers named in ``headers``."""
    subscription = request.params.get("subscription") or parse_id(operation.resource_id)["subscription"]
    base = f"/subscriptions/{subscription}/providers/{operation.namespace}/locations/{operation.location}"
    links = {
        ASYNC_OPERATION: request.url(f"{base}/operations/{operation.id}"),
        LOCATION: request.url(f"{base}/operationResults/{operation.id}"),
    }
    if operation.namespace == "Microsoft.Resources":
        links[LOCATION] = request.url(f"/subscriptions/{subscription}/operationresults/{operation.id}")
    return Reply(status, body, {name: links[name] for name in headers} | poll_headers(lab, operation.kind))


def deleting(lab, request, operation):
    """A DELETE's answer: 202 with polling headers, or 204 when there was nothing to delete (no operation)."""
    return accepted(lab, request, operation) if operation else Reply(204)


def _status(lab, request):
    """GET of an operation status resource (the Azure-AsyncOperation URL)."""
    operation = lab.operations.get(request.params["operation"])
    body = {"id": request.path, "name": operation.id, "status": operation.status, "startTime": timestamp(operation.started)}
    if operation.ended:
        body["endTime"] = timestamp(operation.ended)
    if operation.error:
        body["error"] = operation.error
    return Reply(200, body, poll_headers(lab, operation.kind) if operation.status == "InProgress" else {})


def _result_reader(resource_reads):
    """The handler of operation results; ``resource_reads`` routes the GET of a resource a PUT or PATCH wrote."""
    def result(lab, request):
        operation = lab.operations.get(request.params["operation"])
        if operation.status == "InProgress":
            return Reply(202, None, {LOCATION: request.url(request.path)} | poll_headers(lab, operation.kind))
        if operation.status == "Failed":
            return Reply(operation.params.get("error_status", 500), {"error": operation.error})
        if operation.result is not None:
            return Reply(200, operation.result)
        if operation.kind in RESOURCE_WRITES:
            handler, params = resource_reads.match("GET", operation.resource_id)
            return handler(lab, dataclasses.replace(request, method="GET", path=operation.resource_id, params=params, body={}))
        return Reply(204)
    return result


def routes(resource_reads):
    """The operation status and result routes; ``resource_reads``: a router of the providers' resource GETs."""
    result = _result_reader(resource_reads)
    return [
        Route("GET", SUBSCRIPTION_OPERATIONS + "/operations/{operation}", _status),
        Route("GET", SUBSCRIPTION_OPERATIONS + "/operationResults/{operation}", result),
        Route("GET", "/subscriptions/{subscription}/operationresults/{operation}", result),
    ]
