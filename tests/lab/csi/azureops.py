"""The controller's Azure calls (azure-mgmt-compute over HTTPS) and how Azure errors become CSI status codes.

Like the real driver, every call goes through the Azure SDK, signed in as the cloud config says: with
the node's managed identity through IMDS (``ManagedIdentityCredential``; AKS's managed driver uses the
kubelet identity, so its role assignments decide what the driver may do) or with a service principal
(``ClientSecretCredential``; for the lab's custom cloud: the emulator as authority, instance discovery
off, the lab CA trusted). The choice follows the config file when it changes. Every call waits for
its long-running operation to finish.
Resources travel as ARM's JSON (``as_dict()`` of the SDK models) so the field names are the REST
API's. Error mapping:

- 404 -> NOT_FOUND; 429 (after the SDK's retries) -> RESOURCE_EXHAUSTED; 409
  ``AnotherOperationInProgress`` -> ABORTED (the sidecars retry);
- ``OperationNotAllowed``: the data-disk limit of the VM size and the incremental-snapshot rate ->
  RESOURCE_EXHAUSTED; anything else (attached elsewhere, attached while resizing, ...) ->
  FAILED_PRECONDITION;
- other 400s -> INVALID_ARGUMENT (OUT_OF_RANGE when the size is out of range); no answer -> UNAVAILABLE;
  the rest -> INTERNAL. An attach that fails otherwise (a disk of another zone, ...) is INTERNAL, as the
  driver answers it ("Attach volume ... failed with ..."). Each message carries Azure's code and message.
"""

import re
import threading

import grpc
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.polling import LROPoller
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.compute import ComputeManagementClient

LRO_TIMEOUT = 600
GIB = 1 << 30
DISKS, SNAPSHOTS = "disks", "snapshots"
COMPUTE_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Compute/(?P<kind>disks|snapshots)/(?P<name>[^/]+)$",
                        re.IGNORECASE)
# Azure messages of limits: data disks per VM size, incremental snapshots per disk and 5 minutes.
EXHAUSTED = ("maximum number of data disks", "incremental snapshots can be created")


class CsiError(Exception):
    """A CSI call's failure: gRPC status code and message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def azure_code(error):
    """Azure's error code of an SDK error (``""`` when the answer had none)."""
    inner = getattr(error, "error", None)
    return getattr(inner, "code", None) or ""


def azure_message(error):
    """``<code>: <message>`` as Azure answered it."""
    inner = getattr(error, "error", None)
    message = getattr(inner, "message", None) or getattr(error, "message", None) or str(error)
    code = azure_code(error)
    return f"{code}: {message}" if code else message


def status_of(error, attach=False):
    """The CSI status code of an Azure SDK error (``attach``: the driver answers INTERNAL for other attach failures)."""
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return grpc.StatusCode.UNAVAILABLE
    if not isinstance(error, HttpResponseError):
        return grpc.StatusCode.INTERNAL
    code, text, status = azure_code(error).lower(), azure_message(error).lower(), error.status_code
    rules = (
        (status == 404 or code in ("resourcenotfound", "notfound", "resourcegroupnotfound"), grpc.StatusCode.NOT_FOUND),
        (status == 429 or any(fragment in text for fragment in EXHAUSTED), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (code == "anotheroperationinprogress", grpc.StatusCode.ABORTED),
        (code == "operationnotallowed" and (not attach or "already attached" in text), grpc.StatusCode.FAILED_PRECONDITION),
        (status == 400 and not attach and "out of range" in text, grpc.StatusCode.OUT_OF_RANGE),
        (status == 400 and not attach, grpc.StatusCode.INVALID_ARGUMENT),
    )
    return next((result for matched, result in rules if matched), grpc.StatusCode.INTERNAL)


def csi_error(error, what, attach=False):
    """A CsiError for an Azure SDK error raised while doing ``what``."""
    return CsiError(status_of(error, attach), f"{what} failed with {azure_message(error)}")


def parse_id(resource_id, kind):
    """(resource group, name) of a ``Microsoft.Compute/<kind>`` ARM id (kind ``disks`` or ``snapshots``), or None."""
    found = COMPUTE_ID.match(resource_id or "")
    return (found["group"], found["name"]) if found and found["kind"].lower() == kind else None


class Azure:
    """Disks, snapshots and scale-set VMs of one subscription, through the SDK (``config``: a ``lab.csi.config.LiveConfig``)."""

    def __init__(self, config):
        self.config = config
        self._clients = {}
        self._clients_guard = threading.Lock()
        self._vm_locks = {}
        self._vm_locks_guard = threading.Lock()

    @property
    def compute(self):
        """The compute client for the config's current sign-in (one per identity, endpoint and subscription)."""
        config = self.config.current()
        signin = (config.user_assigned_identity_id,) if config.use_managed_identity else (config.client_id, config.client_secret)
        key = (config.use_managed_identity, *signin, config.tenant_id, config.authority_host, config.arm_endpoint,
               config.subscription_id, config.ca_bundle)
        with self._clients_guard:
            if key not in self._clients:
                verify = config.ca_bundle or True
                if config.use_managed_identity:
                    credential = ManagedIdentityCredential(client_id=config.user_assigned_identity_id or None)
                else:
                    credential = ClientSecretCredential(
                        config.tenant_id, config.client_id, config.client_secret, authority=config.authority_host,
                        disable_instance_discovery=True, connection_verify=verify)
                self._clients[key] = ComputeManagementClient(
                    credential, config.subscription_id, base_url=config.arm_endpoint,
                    credential_scopes=[f"{config.arm_endpoint}/.default"], connection_verify=verify, polling_interval=1)
            return self._clients[key]

    def _call(self, what, function, *args, attach=False, **kwargs):
        try:
            result = function(*args, **kwargs)
            if isinstance(result, LROPoller):
                result.wait(LRO_TIMEOUT)
                if not result.done():
                    raise CsiError(grpc.StatusCode.DEADLINE_EXCEEDED, f"{what} did not finish within {LRO_TIMEOUT} s")
                result = result.result()
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as error:
            raise csi_error(error, what, attach) from error
        return result.as_dict() if hasattr(result, "as_dict") else result

    def _get(self, what, function, *args):
        """A GET; None when the resource (or its group) does not exist."""
        try:
            return self._call(what, function, *args)
        except CsiError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    # disks
    def get_disk(self, group, name):
        """The disk, or None."""
        return self._get(f"get disk {name} in {group}", self.compute.disks.get, group, name)

    def create_disk(self, group, name, body):
        """Create a disk (PUT) and wait until it is provisioned."""
        return self._call(f"create disk {name} in {group}", self.compute.disks.begin_create_or_update, group, name, body)

    def resize_disk(self, group, name, size_gb):
        """PATCH the disk's size and wait."""
        return self._call(f"resize disk {name} in {group} to {size_gb} GiB", self.compute.disks.begin_update, group, name,
                          {"properties": {"diskSizeGB": size_gb}})

    def delete_disk(self, group, name):
        """Delete the disk and wait (a disk that does not exist is gone already)."""
        self._call(f"delete disk {name} in {group}", self.compute.disks.begin_delete, group, name)

    def list_disks(self, group):
        """The disks of a resource group."""
        return self._call(f"list disks in {group}", lambda: [disk.as_dict() for disk in self.compute.disks.list_by_resource_group(group)])

    # snapshots
    def get_snapshot(self, group, name):
        """The snapshot, or None."""
        return self._get(f"get snapshot {name} in {group}", self.compute.snapshots.get, group, name)

    def create_snapshot(self, group, name, body):
        """Create a snapshot (PUT) and wait until it is provisioned."""
        return self._call(f"create snapshot {name} in {group}", self.compute.snapshots.begin_create_or_update, group, name, body)

    def delete_snapshot(self, group, name):
        """Delete the snapshot and wait."""
        self._call(f"delete snapshot {name} in {group}", self.compute.snapshots.begin_delete, group, name)

    def list_snapshots(self, group):
        """The snapshots of a resource group."""
        return self._call(f"list snapshots in {group}",
                          lambda: [snapshot.as_dict() for snapshot in self.compute.snapshots.list_by_resource_group(group)])

    # scale-set VMs
    def vm_lock(self, group, vmss, instance):
        """The lock serialising attach/detach on one VM (cloud-provider-azure also updates a node's disks one batch at a time)."""
        key = f"{group}/{vmss}/{instance}".lower()
        with self._vm_locks_guard:
            return self._vm_locks.setdefault(key, threading.Lock())

    def get_vm(self, group, vmss, instance):
        """The scale-set VM, or None."""
        return self._get(f"get VM {vmss}_{instance} in {group}", self.compute.virtual_machine_scale_set_vms.get, group, vmss, instance)

    def set_data_disks(self, what, vm, data_disks, attach=False):
        """PUT the VM with a new ``storageProfile.dataDisks`` list (attach / detach) and wait; returns the VM."""
        group, vmss, instance = vm["id"].split("/")[4], vm["id"].split("/")[8], vm["instanceId"]
        body = {"location": vm["location"], "properties": {"storageProfile": {"dataDisks": data_disks}}}
        return self._call(what, self.compute.virtual_machine_scale_set_vms.begin_update, group, vmss, instance, body, attach=attach)
