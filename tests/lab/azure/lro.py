"""Long-running operations the way ARM runs them: started by a request, completed when their time comes.

An operation is a row with a deadline, not a timer: the server completes every operation whose
deadline has passed before it answers any ARM call and on a background tick, so operations that
were in flight when the process was stopped or killed finish after a restart (a client polling
the same address resumes; one an ``lro-hang`` rule left endless then takes its kind's normal
time). Each kind has a completion step
that applies the operation's effect; a failed operation keeps its error and leaves the resource in
``provisioningState: Failed``. How operations are answered and polled over HTTP is in
``routes/operations.py``.
"""

import contextvars
import logging
import time

from .arm import ArmError, new_guid, parse_id
from .store import Operation

LOG = logging.getLogger("lab.azure.lro")
NEVER = 1e18

# kind -> function(lab, operation) that applies the operation's effect when its deadline passes.
COMPLETIONS = {}

# The fault (if any) that the fault middleware attached to the request being handled.
REQUEST_FAULT = contextvars.ContextVar("lab_request_fault", default=None)
# The object id of the principal whose authorized request is being handled: ARM lets the starter of an operation poll it.
REQUEST_PRINCIPAL = contextvars.ContextVar("lab_request_principal", default=None)


def completion(*kinds):
    """Register the step that completes operations of these kinds (latency profile keys)."""
    def register(function):
        for kind in kinds:
            COMPLETIONS[kind] = function
        return function
    return register


class Operations:
    """Starts, completes and reports long-running operations."""

    def __init__(self, lab):
        self.lab = lab

    def start(self, kind, resource_id, location, params=None):
        """Record an operation that completes after the profile's duration for ``kind``.

        A fault rule matched by the current request can make it end Failed with a given code or
        never end.
        """
        now = time.time()
        params = dict(params or {}, caller=REQUEST_PRINCIPAL.get())
        deadline = now + self.lab.profile.duration(kind)
        fault = REQUEST_FAULT.get()
        if fault and fault["action"] == "lro-fail":
            params["fault"] = {"code": fault.get("code", "InternalServerError"),
                               "message": fault.get("message", "The operation failed (injected by the lab).")}
        elif fault and fault["action"] == "lro-hang":
            deadline = NEVER
        namespace = parse_id(resource_id)["namespace"] or "Microsoft.Resources"  # a resource group's operations are ARM's own
        operation = Operation(new_guid(), kind, resource_id, namespace, location or "global", "InProgress", now, deadline, None, params,
                              None, None)
        self.lab.store.add_operation(operation)
        return operation

    def end_hangs(self, now=None):
        """Give the operations a cleared ``lro-hang`` rule left endless their kind's normal duration from ``now``."""
        now = now or time.time()
        with self.lab.store.transaction():
            for operation in self.lab.store.running_operations_not_before(NEVER):
                self.lab.store.reschedule_operation(operation.id, now + self.lab.profile.duration(operation.kind))

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

    def get(self, operation_id):
        """One operation, or ARM's 404."""
        operation = self.lab.store.operation(operation_id)
        if operation is None:
            raise ArmError(404, "NotFound", f"The operation '{operation_id}' could not be found.")
        return operation
