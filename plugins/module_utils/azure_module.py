# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``AzureModule``: the base every kubedisk.aks Azure module is built on.

It merges the shared auth options and the ``timeout`` option (at least 1 second) into the module's spec,
checks the SDK once with a clean ``missing_required_lib`` message and keeps an inline kubeconfig's
credentials out of every result. Everything the module waits for is bounded by one ``Deadline`` of
``timeout`` seconds: azure-core's retries of each request (``DeadlineRetryPolicy``), long-running operations
(the SDK paces its polls by ``Retry-After``), ``retry`` of an Azure answer that needs time to go away and
``poll_until`` of a state to reach. Azure errors are reported with their ARM code, message and request id,
and ``--diff`` output is built without secrets. ``create`` makes a resource without rewriting one that a run beside
this one made meanwhile.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_auth import (
    AUTH_ARG_SPEC,
    AzureAuthError,
    build_credential,
    resolve_cloud,
    tls_verify,
)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_diff import make_diff
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_errors import error_code, error_details, format_error
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import HAS_AZURE_MGMT_CORE, is_guid
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_retry import DeadlineRetryPolicy
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_tags import tags_problem
from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import KubeconfigModule, kube_client

try:
    from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
    from azure.core.rest import HttpRequest
    HAS_AZURE_CORE = True
    AZURE_CORE_IMPORT_ERROR = None
except ImportError:
    HAS_AZURE_CORE = False
    AZURE_CORE_IMPORT_ERROR = traceback.format_exc()

    class AzureError(Exception):  # type: ignore[no-redef]
        """Placeholder so ``except`` clauses work without azure-core (the module fails before any call)."""

    class HttpResponseError(AzureError):  # type: ignore[no-redef]
        """Placeholder."""

    class ResourceNotFoundError(HttpResponseError):  # type: ignore[no-redef]
        """Placeholder."""

    class ClientAuthenticationError(HttpResponseError):  # type: ignore[no-redef]
        """Placeholder."""

    HttpRequest = None

USER_AGENT = "kubedisk.aks/0.1.0"
# Used only when a poll response carries no Retry-After (ARM nearly always sends one).
FALLBACK_POLL_INTERVAL = 5
# Waits for Azure states that take minutes (directory replication, cross-region copies) double up to this.
SLOW_STATE_MAX_WAIT = 20.0
# A 404 with one of these codes says the resource asked for is not there; any other 404 (SubscriptionNotFound,
# an unknown parent, a wrong path) is an error: treating it as "absent" would report success for nothing done.
ABSENT_CODES = frozenset(["resourcenotfound", "resourcegroupnotfound", "notfound", "parentresourcenotfound",
                          "roleassignmentnotfound", "roledefinitiondoesnotexist"])
# provisioningState values after which nothing more happens until someone writes again.
TERMINAL_STATES = frozenset(["succeeded", "failed", "canceled", "cancelled"])
LOCATIONS_API_VERSION = "2022-12-01"
# 409 codes of a write refused while another operation runs on the resource (AKS says OperationNotAllowed "... in
# progress ...").
IN_PROGRESS_CODES = frozenset(["AnotherOperationInProgress", "OperationPreempted"])
# Codes of a create refused because what it asks for exists already under another name.
EXISTS_CODES = frozenset(["RoleAssignmentExists"])

# name -> (python module, class, PyPI package, takes a subscription id)
CLIENTS = {
    "resource": ("azure.mgmt.resource.resources", "ResourceManagementClient", "azure-mgmt-resource"),
    "containerservice": ("azure.mgmt.containerservice", "ContainerServiceClient", "azure-mgmt-containerservice"),
    "compute": ("azure.mgmt.compute", "ComputeManagementClient", "azure-mgmt-compute"),
    "authorization": ("azure.mgmt.authorization", "AuthorizationManagementClient", "azure-mgmt-authorization"),
}


def _import_client_class(name):
    module_name, class_name, package = CLIENTS[name]
    try:
        module = __import__(module_name, fromlist=[class_name])
        return getattr(module, class_name), None, package
    except ImportError:
        return None, traceback.format_exc(), package


def is_absent(exc):
    """Whether an Azure error says that the resource read is not there (a 404 with an ``ABSENT_CODES`` code)."""
    if getattr(exc, "status_code", None) != 404:
        return False
    code = (error_code(exc) or "").lower()
    return code in ABSENT_CODES or (not code and isinstance(exc, ResourceNotFoundError))


def operation_in_progress(exc):
    """Whether Azure refused a write because another operation is running on the resource (409)."""
    if getattr(exc, "status_code", None) != 409:
        return False
    code = error_code(exc) or ""
    return code in IN_PROGRESS_CODES or (code == "OperationNotAllowed" and "in progress" in str(exc).lower())


def made_meanwhile(exc):
    """Whether Azure refused a create because someone else made the resource since it was read as absent.

    Their operation still runs on it (409 in progress), the same thing exists under another name (``EXISTS_CODES``), or
    it exists with creation properties other than ours (Compute: 400 ``BadRequest`` "Changing property '...' is not
    allowed for existing disk ...").
    """
    if operation_in_progress(exc):
        return True
    code = error_code(exc) or ""
    if code in EXISTS_CODES:
        return True
    message = (error_details(exc).get("message") or "").lower()
    return code in ("BadRequest", "PropertyChangeNotAllowed") and "changing property" in message


def _status_and_result(pipeline_response, deserialized, headers):  # pylint: disable=unused-argument
    """``cls`` of a synchronous SDK call: its HTTP status beside its result."""
    return pipeline_response.http_response.status_code, deserialized


def provisioning_state(resource):
    """provisioningState of an SDK model or REST dict (None when it has none)."""
    if resource is None:
        return None
    if isinstance(resource, dict):
        props = resource.get("properties") if isinstance(resource.get("properties"), dict) else resource
        return props.get("provisioningState") or props.get("provisioning_state")
    state = getattr(resource, "provisioning_state", None)
    if state is None:
        state = getattr(getattr(resource, "properties", None), "provisioning_state", None)
    return str(getattr(state, "value", state)) if state is not None else None


class AzureModule(object):
    """Wrapper around AnsibleModule for Azure Resource Manager modules.

    ``argument_spec`` is the module's own spec; the auth options and ``timeout`` (default ``default_timeout``
    seconds) are merged in.
    """

    def __init__(self, argument_spec, default_timeout, **kwargs):
        spec = copy.deepcopy(AUTH_ARG_SPEC)
        spec["timeout"] = {"type": "int", "default": default_timeout}
        spec.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        self.module = KubeconfigModule(argument_spec=spec, **kwargs)
        self._cloud = None
        self._credential = None
        self._clients = {}
        self._kube = None
        if not HAS_AZURE_CORE:
            self.fail_json(msg=missing_required_lib("azure-core and azure-identity"), exception=AZURE_CORE_IMPORT_ERROR)
        if not HAS_AZURE_MGMT_CORE:
            self.fail_json(msg=missing_required_lib("azure-mgmt-core"))
        if self.timeout is None or self.timeout < 1:
            self.fail_json(msg="timeout must be at least 1 second, got %s" % self.timeout)
        self.deadline = Deadline(self.timeout)
        self._locations = None
        self._check_shared_options()

    def _check_shared_options(self):
        """Refuse, before any call, a subscription id that is not a GUID and tags Azure would refuse."""
        sub = self.params.get("subscription_id")
        if sub is not None and not is_guid(sub):
            self.fail_json(msg="subscription_id %r is not a subscription id (a GUID such as "
                               "00000000-0000-0000-0000-000000000000)" % sub)
        problem = tags_problem(self.params.get("tags"))
        if problem:
            self.fail_json(msg="tags: %s" % problem)

    # ----- AnsibleModule passthrough --------------------------------------------------------------
    @property
    def params(self):
        return self.module.params

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def diff_mode(self):
        return bool(getattr(self.module, "_diff", False))

    def warn(self, msg):
        self.module.warn(msg)

    def fail_json(self, **kwargs):
        self.module.fail_json(**kwargs)

    def exit_json(self, **kwargs):
        self.module.exit_json(**kwargs)

    def fail_partway(self, msg, result, **extra):
        """Fail with what ``result`` holds so far (without ``changed``), ``extra`` and the seconds taken."""
        details = dict(result, **extra)
        details.pop("changed", None)
        details.pop("msg", None)
        self.fail_json(msg=msg, elapsed=self.elapsed(), **details)

    # ----- time budget ----------------------------------------------------------------------------
    @property
    def timeout(self):
        return self.params["timeout"]

    def elapsed(self):
        """Seconds since the module started, to a tenth."""
        return round(self.deadline.elapsed(), 1)

    def poll_until(self, check, what, advice="", result=None, slow=False):
        """Call ``check()`` -> ``(done, info)`` until done, within the deadline; returns ``info``.

        When the deadline comes first the module fails: ``<what> did not happen within timeout=N s (<info>).
        <advice>``, with ``result`` so far. ``slow``: a state that takes minutes (the waits double up to 20 s).
        """
        done, info = self.deadline.poll_until(check, max_interval=SLOW_STATE_MAX_WAIT if slow else None)
        if not done:
            self.fail_partway("%s did not happen within timeout=%d s (%s). %s" % (what, self.timeout, info, advice),
                              result or {})
        return info

    def retry(self, func, retry_on_codes, gave_up):
        """``func()``, again with waits doubling up to 20 s while Azure answers an ARM code in ``retry_on_codes``.

        Other errors are raised to the caller. When the deadline ends the chain the module fails with
        ``gave_up`` and Azure's last answer (code, HTTP status, request id).
        """
        def retryable(exc):
            return isinstance(exc, HttpResponseError) and error_code(exc) in retry_on_codes

        try:
            return self.deadline.retry(func, retryable, max_interval=SLOW_STATE_MAX_WAIT)
        except HttpResponseError as exc:
            if not retryable(exc):
                raise
            self.fail_json_azure(exc, gave_up)

    # ----- auth and clients -----------------------------------------------------------------------
    @property
    def subscription_id(self):
        sub = self.params.get("subscription_id")
        if not sub:
            self.fail_json(msg="subscription_id is required: set it (or AZURE_SUBSCRIPTION_ID), e.g. once per play "
                               "with module_defaults: {group/kubedisk.aks.azure: {subscription_id: ...}}")
        return sub

    @property
    def cloud(self):
        if self._cloud is None:
            try:
                self._cloud = resolve_cloud(self.params)
            except AzureAuthError as exc:
                self.fail_json(msg=str(exc))
        return self._cloud

    @property
    def credential(self):
        if self._credential is None:
            try:
                self._credential = build_credential(self.params, self.cloud, retry_policy=self.retry_policy)
            except AzureAuthError as exc:
                self.fail_json(msg=str(exc))
            except ImportError:
                self.fail_json(msg=missing_required_lib("azure-identity"), exception=traceback.format_exc())
            except ValueError as exc:
                self.fail_json(msg="cannot build the Azure credential: %s" % exc)
        return self._credential

    def retry_policy(self, **kwargs):
        """azure-core's RetryPolicy for ARM and the token endpoint: 429/408/5xx and dropped connections, Retry-After
        honoured, exponential backoff otherwise; each request and each wait bounded by what is left of the deadline."""
        settings = dict(retry_total=10, retry_status=6, retry_backoff_factor=0.8, retry_backoff_max=60, timeout=self.timeout)
        settings.update(kwargs)
        return DeadlineRetryPolicy(self.deadline, **settings)

    def client_kwargs(self):
        """Keyword arguments for a management client: endpoint, scopes, TLS, retries and poll pacing."""
        return {
            "base_url": self.cloud["resource_manager"].rstrip("/"),
            "credential_scopes": [self.cloud["scope"]],
            "connection_verify": tls_verify(self.params),
            "retry_policy": self.retry_policy(),
            "polling_interval": FALLBACK_POLL_INTERVAL,
            "user_agent": USER_AGENT,
        }

    def client(self, name):
        """The management client ``name`` (resource, containerservice, compute, authorization), built once."""
        if name not in self._clients:
            cls, trace, package = _import_client_class(name)
            if cls is None:
                self.fail_json(msg=missing_required_lib(package), exception=trace)
            self._clients[name] = cls(self.credential, self.subscription_id, **self.client_kwargs())
        return self._clients[name]

    def kube(self):
        """The Kubernetes API of the ``kubernetes`` option (``Kube``), connected once."""
        if self._kube is None:
            self._kube = kube_client(self.module, self.deadline)
        return self._kube

    # ----- errors ---------------------------------------------------------------------------------
    def fail_json_azure(self, exc, what, **kwargs):
        """Fail with ``what`` plus the ARM code, message and request id of ``exc``."""
        details = error_details(exc)
        if isinstance(exc, ClientAuthenticationError):  # includes azure-identity's CredentialUnavailableError
            msg = format_error("%s: Azure authentication failed" % what, details)
            msg += " (check auth_source, client_id, secret/certificate, tenant, cloud_environment and authority_host)"
        else:
            msg = format_error(what, details)
        msg += self._cut_short_note(details.get("retry_after"))
        self.fail_json(msg=msg, error=details, **kwargs)

    def _cut_short_note(self, retry_after):
        """Why a throttled call was not retried: the wait Azure asked for reaches past the deadline."""
        try:
            wait = float(retry_after)
        except (TypeError, ValueError):
            return ""
        left = self.deadline.remaining()
        if wait < left:
            return ""
        return " (Azure asked to retry after %g s, more than the %d s left of timeout=%d s: rerun later or raise " \
               "timeout)" % (wait, left, self.timeout)

    @staticmethod
    def error_code(exc):
        return error_code(exc)

    def call(self, what, func, *args, **kwargs):
        """``func(*args, **kwargs)``; an Azure error fails the module with ``what`` as context."""
        try:
            return func(*args, **kwargs)
        except AzureError as exc:  # HTTP errors, auth errors, connection errors, retry budget exhausted
            self.fail_json_azure(exc, what)

    def get_or_none(self, what, func, *args, **kwargs):
        """Like ``call`` but a 404 saying the resource is not there (``ABSENT_CODES``) returns None.

        Any other 404 (SubscriptionNotFound above all) fails the module: it is no answer about the resource.
        """
        try:
            return func(*args, **kwargs)
        except AzureError as exc:
            if is_absent(exc):
                return None
            self.fail_json_azure(exc, what)

    def current(self, what, func, *args, **kwargs):
        """The resource ``func`` reads (None when absent), once no operation is running on it any more.

        A resource still ``Creating``, ``Updating``, ``Deleting``... (an earlier run that outlived its timeout, or
        a run beside this one) is read again until its provisioningState is terminal, within the deadline: only
        then can it be compared with what is wanted. A resource that is deleted meanwhile gives None.
        """
        def settled():
            found = self.get_or_none(what, func, *args, **kwargs)
            state = provisioning_state(found)
            return found is None or state is None or state.lower() in TERMINAL_STATES, (found, state)

        done, (found, state) = self.deadline.poll_until(settled, max_interval=SLOW_STATE_MAX_WAIT)
        if not done:
            self.fail_json(msg="%s: an operation on it is still running (provisioningState %s) after timeout=%d s; rerun "
                               "later (it converges) or raise timeout" % (what, state, self.timeout),
                           provisioning_state=state, elapsed=self.elapsed())
        return found

    # ----- locations ------------------------------------------------------------------------------
    def locations(self):
        """``{name: [zones]}`` of the regions the subscription offers (``GET /subscriptions/{id}/locations``), read once.

        This also proves the subscription exists before anything is written (a wrong one answers SubscriptionNotFound).
        """
        if self._locations is None:
            client = self.client("resource")
            request = HttpRequest("GET", "/subscriptions/%s/locations" % self.subscription_id,
                                  params={"api-version": LOCATIONS_API_VERSION})

            def read():
                response = client.send_request(request)
                response.raise_for_status()
                return response.json().get("value") or []

            found = {}
            for item in self.call("listing the locations of subscription %s" % self.subscription_id, read):
                zones = [str(z.get("logicalZone")) for z in item.get("availabilityZoneMappings") or [] if z.get("logicalZone")]
                found[(item.get("name") or "").lower()] = sorted(zones)
            self._locations = found
        return self._locations

    def check_location(self, location, zones=None, option="location"):
        """Fail before any write when ``location`` is not a region of the subscription or lacks one of ``zones``."""
        regions = self.locations()
        name = (location or "").replace(" ", "").lower()
        if name not in regions:
            self.fail_json(msg="%s %r is not a region of subscription %s; it offers %s" % (
                option, location, self.subscription_id, ", ".join(sorted(regions)) or "none"))
        missing = [str(z) for z in zones or [] if str(z) not in regions[name]]
        if missing:
            self.fail_json(msg="%s %s has no availability zone %s (its zones: %s)" % (
                option, name, ", ".join(missing), ", ".join(regions[name]) or "none"))

    # ----- long-running operations ----------------------------------------------------------------
    def begin(self, what, func, *args, **kwargs):
        """Start a long-running operation and wait for it within the module's timeout; returns its result.

        While Azure refuses the request because another operation runs on the resource (a run beside this one), the
        request is made again once that one may have ended, within the deadline: ARM writes are idempotent.
        """
        try:
            poller = self.deadline.retry(lambda: func(*args, **kwargs), operation_in_progress, max_interval=SLOW_STATE_MAX_WAIT)
        except AzureError as exc:
            self.fail_json_azure(exc, "%s (request)" % what)
        return self.wait(poller, what)

    def create(self, what, read, func, *args, **kwargs):
        """Create a resource that was read as absent; returns ``(resource, True)``, or ``(what is there, False)``.

        A run beside this one may create the same name since the first read. So ``read()`` (None when absent) is made
        once more just before the write (a resource found Failed there is replaced by the create, as a rerun does),
        and a create that Azure refuses because the resource was made meanwhile (``made_meanwhile``) is not repeated:
        either way the resource is read once it has settled (``current``, within the deadline) and handed back for the
        module to compare with what it asks for (and to say so with ``found_existing``); this run's only write is the
        refused request. ``func`` starts a long-running operation (a poller, waited for) or is a synchronous call.
        """
        reading = "%s: reading it again" % what
        found = self.current(reading, read)
        if found is not None and (provisioning_state(found) or "").lower() != "failed":  # a failed one, the create replaces
            return found, False
        try:
            outcome = func(*args, **kwargs)
        except AzureError as exc:
            if not made_meanwhile(exc):
                self.fail_json_azure(exc, "%s (request)" % what)
            found = self.current(reading, read)
            if found is None:
                self.fail_json_azure(exc, "%s (request; refused, yet nothing of the name is there)" % what)
            return found, False
        if callable(getattr(outcome, "done", None)):
            return self.wait(outcome, what), True
        return outcome, True

    def create_synchronous(self, what, read, func, *args, **kwargs):
        """``create`` for a synchronous SDK call. Azure has no conditional create for these (resource groups, role
        assignments): a PUT answered 200 rather than 201 Created landed on the resource made meanwhile, with the same
        body, and counts as found too."""
        kwargs["cls"] = _status_and_result
        made, created = self.create(what, read, func, *args, **kwargs)
        if not created:
            return made, False
        status, result = made
        return result, status == 201

    def found_existing(self, result, what):
        """Say in ``result`` that ``what`` was made meanwhile by another run, and this run did not create it again."""
        result["found_existing"] = True
        self.warn("%s was created meanwhile by another run; this run found it and compared it with what was asked "
                  "instead of creating it again" % what)

    def fail_existing(self, result, what, problem, **details):
        """Fail because the existing ``what`` differs from what was asked in ``problem``, which cannot change.

        The message says whether it was there already or made meanwhile by another run (``found_existing``).
        """
        if result.get("found_existing"):
            self.fail_json(msg="%s was made meanwhile by another run %s" % (what, problem), found_existing=True, **details)
        self.fail_json(msg="%s already exists %s" % (what, problem), **details)

    def wait(self, poller, what):
        """Wait for ``poller`` until done or until the module's ``timeout`` runs out.

        The SDK polls at the pace the service asks for (``Retry-After``); we only bound the total.
        On timeout the operation carries on in Azure: the message says so and how to converge.
        """
        try:
            poller.wait(timeout=self.deadline.remaining())
            if not poller.done():
                self.fail_json(msg="%s did not finish within timeout=%s s; Azure carries on with it. Rerun the task "
                                   "later (it converges) or raise timeout." % (what, self.timeout),
                               status=poller.status() if hasattr(poller, "status") else None)
            return poller.result(timeout=0)
        except AzureError as exc:
            self.fail_json_azure(exc, "%s failed" % what)

    # ----- diff -----------------------------------------------------------------------------------
    @staticmethod
    def diff(before, after):
        return make_diff(before, after)

    def exit_with_diff(self, before, after, **result):
        """Exit with ``result``, and with the ``--diff`` of ``before`` and ``after`` when it is asked for."""
        if self.diff_mode:
            result["diff"] = self.diff(before, after)
        self.exit_json(**result)
