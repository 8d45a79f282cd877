"""Long-running operations the way ARM runs them and azure-core's ARMPolling reads them.

An operation is a row with a deadline, not a timer: the server completes every operation whose
deadline has passed before it answers any ARM call and on a background tick, so operations that
were in flight when the process was killed finish after a restart.

Mirrored behaviour:
- PUT/PATCH answer with the resource in a transitional ``provisioningState`` plus an
  ``Azure-AsyncOperation`` header; DELETE and POST actions answer 202 with
  ``Azure-AsyncOperation`` and ``Location`` (resource group deletion: ``Location`` only);
- the operation status resource answers 200 ``{"status": "InProgress|Succeeded|Failed|Canceled"}``
  with an ``error`` when it failed;
- the ``Location`` (operation result) URL answers 202 while running, then 200 with the result or
  204, or the error with its HTTP status when the operation failed;
- ``Retry-After`` is an integer of at least one second;
- a failed operation leaves the resource in ``provisioningState: Failed``.
"""

import contextvars
import logging
import time

from .arm import ArmError, Reply, new_guid, timestamp
from .store import Operation

LOG = logging.getLogger("lab.azure.lro")
NEVER = 1e18

# kind -> function(lab, operation) that applies the operation's effect when its deadline passes.
COMPLETIONS = {}

# The fault (if any) that the fault middleware attached to the request being handled.
REQUEST_FAULT = contextvars.ContextVar("lab_request_fault", default=None)


def completion(kind):
    """Register the step that completes operations of ``kind`` (a latency profile key)."""
    def register(function):
        COMPLETIONS[kind] = function
        return function
    return register


class Operations:
    """Starts, completes and reports long-running operations."""

    def __init__(self, lab):
        self.lab = lab

    def start(self, kind, resource_id, location, params=None, namespace=None):
        """Record an operation that completes after the profile's duration for ``kind``.

        A fault rule matched by the current request can make it end Failed with a given code or
        never end.
        """
        now = time.time()
        params = dict(params or {})
        deadline = now + self.lab.profile.duration(kind)
        fault = REQUEST_FAULT.get()
        if fault and fault["action"] == "lro-fail":
            params["fault"] = {"code": fault.get("code", "InternalServerError"),
                               "message": fault.get("message", "The operation failed (injected by the lab).")}
        elif fault and fault["action"] == "lro-hang":
            deadline = NEVER
        operation = Operation(new_guid(), kind, resource_id, namespace or _namespace(resource_id), location or "global",
                              "InProgress", now, deadline, None, params, None, None)
        self.lab.store.add_operation(operation)
        return operation

    def busy(self, resource_id):
        """The running operations on a resource (for 'another operation in progress' rules)."""
        return self.lab.store.running_operations(resource_id)

    def advance(self, now=None):
        """Complete every operation whose deadline has passed."""
        for operation in self.lab.store.due_operations(now or time.time()):
            self._complete(operation)

    def _complete(self, operation):
        store = self.lab.store
        with store.transaction():
            fault = operation.params.get("fault")
            try:
                if fault:
                    raise ArmError(500, fault["code"], fault["message"])
                COMPLETIONS[operation.kind](self.lab, operation)
                operation.status = "Succeeded"
            except ArmError as error:
                self._fail(operation, error)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # A bug in a completion step must not leave the operation running forever (ARM would answer 500).
                LOG.exception("completing %s %s failed", operation.kind, operation.id)
                self._fail(operation, ArmError(500, "InternalServerError", f"The operation failed: {exc}"))
            operation.ended = time.time()
            store.finish_operation(operation)

    def _fail(self, operation, error):
        operation.status = "Failed"
        operation.error = error.error()
        operation.params["error_status"] = error.status
        self._mark_failed(operation.resource_id)

    def _mark_failed(self, resource_id):
        resource = self.lab.store.get(resource_id)
        if resource and "provisioningState" in resource.properties:
            resource.properties["provisioningState"] = "Failed"
            self.lab.store.save(resource)

    # replies
    def accepted(self, request, operation, status=202, body=None, headers=("Azure-AsyncOperation", "Location")):
        """The answer that starts an operation: ``status`` and ``body`` plus polling headers."""
        subscription = request.params.get("subscription") or _subscription(operation.resource_id)
        base = f"/subscriptions/{subscription}/providers/{operation.namespace}/locations/{operation.location}"
        links = {
            "Azure-AsyncOperation": request.url(f"{base}/operations/{operation.id}"),
            "Location": request.url(f"{base}/operationResults/{operation.id}"),
        }
        if operation.namespace == "Microsoft.Resources":
            links["Location"] = request.url(f"/subscriptions/{subscription}/operationresults/{operation.id}")
        reply_headers = {name: links[name] for name in headers}
        reply_headers.update(self.lab.profile.poll_headers(operation.kind))
        return Reply(status, body, reply_headers)

    def status_reply(self, request):
        """GET of an operation status resource (the Azure-AsyncOperation URL)."""
        operation = self._find(request)
        body = {"id": request.path, "name": operation.id, "status": operation.status, "startTime": timestamp(operation.started)}
        if operation.ended:
            body["endTime"] = timestamp(operation.ended)
        if operation.error:
            body["error"] = operation.error
        headers = self.lab.profile.poll_headers(operation.kind) if operation.status == "InProgress" else {}
        return Reply(200, body, headers)

    def result_reply(self, request):
        """GET of an operation result (the Location URL)."""
        operation = self._find(request)
        if operation.status == "InProgress":
            return Reply(202, None, {"Location": request.url(request.path)} | self.lab.profile.poll_headers(operation.kind))
        if operation.status == "Failed":
            return Reply(operation.params.get("error_status", 500), {"error": operation.error})
        if operation.result is not None:
            return Reply(200, operation.result)
        return Reply(204)

    def _find(self, request):
        operation = self.lab.store.operation(request.params["operation"])
        if operation is None:
            raise ArmError(404, "NotFound", f"The operation '{request.params['operation']}' could not be found.")
        return operation


def _subscription(resource_id):
    parts = resource_id.split("/")
    return parts[2] if len(parts) > 2 else ""


def _namespace(resource_id):
    parts = [part for part in resource_id.split("/") if part]
    lowered = [part.lower() for part in parts]
    if "providers" in lowered:
        return parts[lowered.index("providers") + 1]
    return "Microsoft.Resources"
