"""The CSI Identity and Controller services of ``disk.csi.azure.com``, as the Azure Disk CSI driver answers them.

Mirrored behaviour (azuredisk-csi-driver v1.34, controller side):
- volume id = the managed disk's ARM id; the disk is named after the request (the PV name); sizes
  are rounded up to whole GiB (at least 1); a second CreateVolume of the same name succeeds when the
  size matches, else ALREADY_EXISTS; ``volume_context`` = the parameters plus ``requestedsizegib``;
- the zone comes from the accessibility requirements (preferred first) for LRS disks, a clone stays in
  its source's zone, ZRS disks are accessible from every zone;
- publish = attach to the node's scale-set VM at the lowest free LUN (publish context ``LUN``),
  idempotent on the same node; unpublish = detach, a no-op when already detached or when the VM is gone;
- attaches (and detaches) for one VM are batched as the driver batches them per node: a request
  joins its VM's queue, and whoever next holds the VM's lock sends every queued change of its kind in
  one VM update, so disks that arrive while an update runs go together in the next one; a request
  that finds the queue empty first waits ``batch_delay`` under the lock for more (the driver's
  ``--attach-detach-initial-delay-ms``, 1000 by default). A failed update fails every request of its
  batch, which the attacher retries;
- a disk (maxShares 1) attached to another node is detached there first and then attached (the
  driver's answer to its DanglingAttachError); a failed detach is INTERNAL "Could not detach volume
  ... from node ...", a second refusal of the attach INTERNAL "Attach volume ... failed with ...";
- expand = disk PATCH, a no-op when already big enough, always asking for node expansion;
- snapshots are incremental by default, in the source disk's resource group unless the class names
  one; DeleteVolume / DeleteSnapshot succeed for ids that are not ARM ids; listing pages use index tokens;
- one operation per volume at a time (ABORTED for a second one, as the driver's volume locks).

Unlike the driver, the attach limit answers RESOURCE_EXHAUSTED and deleting an attached disk
FAILED_PRECONDITION, as the CSI spec lists them. Every call is logged to stderr with its key fields and result code.
"""

import functools
import hashlib
import logging
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime

import grpc
from google.protobuf import timestamp_pb2, wrappers_pb2

from ..aks_names import vm_of_node
from . import nodes, params, protos
from .azureops import DISKS, GIB, SNAPSHOTS, CsiError, parse_id
from .config import ConfigError

CSI, CSI_GRPC = protos.load()
DRIVER_NAME = "disk.csi.azure.com"
VENDOR_VERSION = "v1.34.0-kubedisk-lab"
LOG = logging.getLogger("lab.csi")
MODES = CSI.VolumeCapability.AccessMode
SINGLE_NODE_MODES = (MODES.SINGLE_NODE_WRITER, MODES.SINGLE_NODE_READER_ONLY, MODES.SINGLE_NODE_SINGLE_WRITER, MODES.SINGLE_NODE_MULTI_WRITER)
MULTI_NODE_MODES = (MODES.MULTI_NODE_READER_ONLY, MODES.MULTI_NODE_SINGLE_WRITER, MODES.MULTI_NODE_MULTI_WRITER)
RPC = CSI.ControllerServiceCapability.RPC
CONTROLLER_CAPABILITIES = (RPC.CREATE_DELETE_VOLUME, RPC.PUBLISH_UNPUBLISH_VOLUME, RPC.CREATE_DELETE_SNAPSHOT, RPC.LIST_SNAPSHOTS,
                           RPC.CLONE_VOLUME, RPC.EXPAND_VOLUME, RPC.LIST_VOLUMES, RPC.SINGLE_NODE_MULTI_WRITER)
AZURE_NAME = re.compile(r"^[A-Za-z0-9][-\w.]{0,78}\w$|^[A-Za-z0-9]$")
MAX_LUNS = 64


def rpc(*fields):
    """Log a CSI call (method, key request fields, result code, duration) and turn CsiError into its gRPC status."""
    def decorate(method):
        @functools.wraps(method)
        def handler(self, request, context):
            started = time.monotonic()
            shown = " ".join(f"{name}={_field(request, name)!r}" for name in fields if _field(request, name))
            try:
                response = method(self, request, context)
            except CsiError as error:
                LOG.warning("%s %s -> %s: %s (%.2f s)", method.__name__, shown, error.code.name, error.message, time.monotonic() - started)
                context.abort(error.code, error.message)
            except ConfigError as error:  # no cluster backs the lab yet: the sidecars retry
                LOG.warning("%s %s -> UNAVAILABLE: %s", method.__name__, shown, error)
                context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            except Exception as error:  # pylint: disable=broad-except
                LOG.exception("%s %s -> INTERNAL (%.2f s)", method.__name__, shown, time.monotonic() - started)
                context.abort(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")
            LOG.info("%s %s -> OK (%.2f s)", method.__name__, shown, time.monotonic() - started)
            return response
        return handler
    return decorate


def _field(message, dotted):
    value = message
    for name in dotted.split("."):
        value = getattr(value, name)
    return dict(value) if hasattr(value, "items") else value


def invalid(message):
    """An INVALID_ARGUMENT error."""
    return CsiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def require(*checks):
    """INVALID_ARGUMENT with the message of the first ``(value, message)`` whose value is missing, as the driver checks requests."""
    for value, message in checks:
        if not value:
            raise invalid(message)


def parsed(parse, parameters, what=""):
    """``parse(parameters)``; a malformed parameter is INVALID_ARGUMENT (its message after ``what``)."""
    try:
        return parse(parameters)
    except ValueError as error:
        raise invalid(f"{what}{error}") from error


def not_found(message):
    """A NOT_FOUND error."""
    return CsiError(grpc.StatusCode.NOT_FOUND, message)


def valid_capabilities(capabilities, shares):
    """The driver's rule: known access modes, exactly one access type, multi-node modes only for shared block volumes."""
    for capability in capabilities:
        mode, access_type = capability.access_mode.mode, capability.WhichOneof("access_type")
        if mode not in SINGLE_NODE_MODES + MULTI_NODE_MODES or access_type is None:
            return False
        if mode in MULTI_NODE_MODES and (access_type == "mount" or shares < 2):
            return False
    return True


def disk_name(name):
    """The Azure disk / snapshot name of a CSI name: itself when valid, else cleaned and cut to 71 characters plus a hash of it.

    The driver cuts long names to 80 characters and replaces invalid ones by random names; the hash keeps
    such names both repeatable (idempotent CreateVolume) and apart (``vol+1`` is not ``vol-1``).
    """
    if AZURE_NAME.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    cleaned = re.sub(r"[^-\w.]", "-", name).lstrip("-._")[:71].rstrip("-.")
    return f"{cleaned}-{digest}" if cleaned else f"pvc-disk-{digest}"


def size_gib(capacity_range):
    """Requested bytes rounded up to GiB (at least 1); INVALID_ARGUMENT when that exceeds the limit."""
    required = max(capacity_range.required_bytes, 0)
    gib = max(1, -(-required // GIB))
    limit = -(-capacity_range.limit_bytes // GIB) if capacity_range.limit_bytes > 0 else 0
    if limit and limit < gib:
        raise invalid("After round-up, volume size exceeds the limit specified")
    return gib


def page_start(token):
    """The index a ``starting_token`` names (ABORTED when it is not one)."""
    try:
        start = int(token or 0)
    except ValueError:
        start = -1
    if start < 0:
        raise CsiError(grpc.StatusCode.ABORTED, f"starting token {token!r} is not valid")
    return start


def paged(items, start, max_entries):
    """The page of ``items`` from ``start`` (``max_entries`` 0 = all) and the next token."""
    end = len(items) if max_entries <= 0 else min(len(items), start + max_entries)
    return items[start:end], (str(end) if end < len(items) else "")


def timestamp(value):
    """A protobuf Timestamp of ARM's ``timeCreated`` (string or datetime)."""
    stamp = timestamp_pb2.Timestamp()
    if isinstance(value, datetime):
        stamp.FromDatetime(value)
    elif value:
        stamp.FromJsonString(re.sub(r"(\.\d{1,9})\d*", r"\1", value).replace("+00:00", "Z"))
    return stamp


class AttachedElsewhere(Exception):
    """The disk is attached to another VM and cannot be shared (the driver's DanglingAttachError): detach it there first."""

    def __init__(self, vm_id, message):
        super().__init__(message)
        self.vm_id = vm_id


class DiskChange:  # pylint: disable=too-few-public-methods
    """One attach or detach waiting for its VM's next update; ``vm`` (the VM after it) or ``error`` once ``done``."""

    def __init__(self, volume_id, node_id, attach, ref=None, caching=None):
        self.volume_id, self.node_id, self.attach, self.ref, self.caching = volume_id, node_id, attach, ref, caching
        self.done = threading.Event()
        self.vm = None
        self.changed = False
        self.error = None

    def finish(self, vm=None, changed=False, error=None):
        """Hand the request its outcome."""
        self.vm, self.changed, self.error = vm, changed, error
        self.done.set()


class OperationLocks:
    """One operation per key (volume name or id); a second one is ABORTED, as the driver's volume locks."""

    def __init__(self):
        self._busy = set()
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key):
        """Hold ``key`` for the duration of the block."""
        key = key.lower()
        with self._guard:
            if key in self._busy:
                raise CsiError(grpc.StatusCode.ABORTED, f"An operation with the given ID {key} already exists")
            self._busy.add(key)
        try:
            yield
        finally:
            with self._guard:
                self._busy.discard(key)


class IdentityServicer(CSI_GRPC.IdentityServicer):
    """The Identity service: driver name, controller + topology + online expansion capabilities, always ready."""

    @rpc()
    def GetPluginInfo(self, request, context):
        return CSI.GetPluginInfoResponse(name=DRIVER_NAME, vendor_version=VENDOR_VERSION)

    @rpc()
    def GetPluginCapabilities(self, request, context):
        service = CSI.PluginCapability.Service
        return CSI.GetPluginCapabilitiesResponse(capabilities=[
            CSI.PluginCapability(service=service(type=service.CONTROLLER_SERVICE)),
            CSI.PluginCapability(service=service(type=service.VOLUME_ACCESSIBILITY_CONSTRAINTS)),
            CSI.PluginCapability(volume_expansion=CSI.PluginCapability.VolumeExpansion(type=CSI.PluginCapability.VolumeExpansion.ONLINE)),
        ])

    @rpc()
    def Probe(self, request, context):
        return CSI.ProbeResponse(ready=wrappers_pb2.BoolValue(value=True))


class ControllerServicer(CSI_GRPC.ControllerServicer):
    """The Controller service over the Azure operations of ``azure`` (an ``azureops.Azure``)."""

    def __init__(self, azure, batch_delay=1.0):
        self.azure = azure
        self.config = azure.config
        self.locks = OperationLocks()
        self.batch_delay = batch_delay
        self._queues = {}
        self._queues_guard = threading.Lock()

    # helpers
    @staticmethod
    def _volume(disk, context=None, source=None):
        location, sku = disk["location"], disk["sku"]["name"]
        zone = f"{location}-{disk['zones'][0]}" if disk.get("zones") else ""
        zones = nodes.accessible_zones(location, zone, sku in params.ZRS_SKUS)
        return CSI.Volume(volume_id=disk["id"], capacity_bytes=disk["properties"]["diskSizeGB"] * GIB, volume_context=context or {},
                          content_source=source, accessible_topology=[CSI.Topology(segments={nodes.TOPOLOGY_KEY: z}) for z in zones])

    @staticmethod
    def _snapshot(snapshot):
        properties = snapshot["properties"]
        ready = properties.get("provisioningState") == "Succeeded" and float(properties.get("completionPercent", 100)) >= 100
        return CSI.Snapshot(size_bytes=properties["diskSizeGB"] * GIB, snapshot_id=snapshot["id"],
                            source_volume_id=properties["creationData"].get("sourceResourceId", ""),
                            creation_time=timestamp(properties.get("timeCreated")), ready_to_use=ready)

    @staticmethod
    def _snapshot_ref(snapshot_id, group):
        """(group, name) of a snapshot id: an ARM id, or a bare name in ``group`` (as the driver reads it)."""
        return parse_id(snapshot_id, SNAPSHOTS) or ((group, snapshot_id) if AZURE_NAME.match(snapshot_id) else None)

    def _source(self, content, group, location, zone_redundant):
        """The creation data and zone (None: keep the requested one) of a volume content source."""
        if content.HasField("snapshot"):
            ref = self._snapshot_ref(content.snapshot.snapshot_id, group)
            snapshot = self.azure.get_snapshot(*ref) if ref else None
            if snapshot is None:
                raise not_found(f"source snapshot {content.snapshot.snapshot_id} not found")
            return {"createOption": "Copy", "sourceResourceId": snapshot["id"]}, None
        ref = parse_id(content.volume.volume_id, DISKS)
        source = self.azure.get_disk(*ref) if ref else None
        if source is None:
            raise not_found(f"source volume {content.volume.volume_id} not found")
        keep_zone = source.get("zones") and not zone_redundant and source["sku"]["name"] not in params.ZRS_SKUS
        return {"createOption": "Copy", "sourceResourceId": source["id"]}, (f"{location}-{source['zones'][0]}" if keep_zone else None)

    # volumes
    @rpc("name", "capacity_range.required_bytes", "parameters")
    def CreateVolume(self, request, context):
        wanted = parsed(params.parse_disk_parameters, request.parameters, "Failed parsing disk parameters: ")
        require((request.name, "CreateVolume Name must be provided"),
                (request.volume_capabilities, "CreateVolume Volume capabilities must be provided"))
        if not valid_capabilities(request.volume_capabilities, wanted.max_shares):
            raise invalid("Volume capability not supported")
        gib = size_gib(request.capacity_range)
        location = wanted.location or self.config.location
        group = wanted.resource_group or self.config.resource_group
        zone_redundant = wanted.sku in params.ZRS_SKUS
        zone = "" if zone_redundant else nodes.pick_zone(request.accessibility_requirements, location)
        creation, source_zone = {"createOption": "Empty"}, None
        if request.HasField("volume_content_source"):
            creation, source_zone = self._source(request.volume_content_source, group, location, zone_redundant)
        name = disk_name(request.name)
        with self.locks.hold(name):
            disk = self.azure.get_disk(group, name)
            if disk is not None and disk["properties"]["diskSizeGB"] != gib:
                raise CsiError(grpc.StatusCode.ALREADY_EXISTS, f"disk {disk['id']} already exists with {disk['properties']['diskSizeGB']} GiB, "
                                                               f"not the requested {gib} GiB")
            if disk is None:
                zone = source_zone or zone
                properties = {"creationData": creation, "diskSizeGB": gib, "maxShares": wanted.max_shares,
                              "networkAccessPolicy": wanted.network_access_policy}
                properties.update({key: value for key, value in (("diskIOPSReadWrite", wanted.iops), ("diskMBpsReadWrite", wanted.mbps)) if value})
                body = {"location": location, "sku": {"name": wanted.sku}, "tags": wanted.tags, "properties": properties}
                if zone:
                    body["zones"] = [nodes.zone_number(zone)]
                disk = self.azure.create_disk(group, name, body)
        volume_context = dict(request.parameters, requestedsizegib=str(gib))
        source = request.volume_content_source if request.HasField("volume_content_source") else None
        return CSI.CreateVolumeResponse(volume=self._volume(disk, volume_context, source))

    @rpc("volume_id")
    def DeleteVolume(self, request, context):
        require((request.volume_id, "Volume ID missing in the request"))
        ref = parse_id(request.volume_id, DISKS)
        if ref is None:
            LOG.warning("DeleteVolume: %r is not a managed disk id; nothing to delete", request.volume_id)
            return CSI.DeleteVolumeResponse()
        with self.locks.hold(request.volume_id):
            disk = self.azure.get_disk(*ref)
            if disk is None:
                return CSI.DeleteVolumeResponse()
            if disk.get("managedBy"):
                raise CsiError(grpc.StatusCode.FAILED_PRECONDITION, f"disk {disk['id']} is attached to node "
                                                                    f"{nodes.node_of_vm(disk['managedBy'])}, could not be deleted")
            self.azure.delete_disk(*ref)
        return CSI.DeleteVolumeResponse()

    @rpc("volume_id", "node_id")
    def ControllerPublishVolume(self, request, context):
        require((request.volume_id, "Volume ID not provided"), (request.HasField("volume_capability"), "Volume capability not provided"))
        shares, caching = parsed(params.max_shares, request.volume_context), parsed(params.publish_caching, request.volume_context)
        if not valid_capabilities([request.volume_capability], shares):
            raise invalid("Volume capability not supported")
        ref = parse_id(request.volume_id, DISKS)
        if ref is None or self.azure.get_disk(*ref) is None:
            raise not_found(f"Volume not found: {request.volume_id}")
        require((request.node_id, "Node ID not provided"))
        vm_ref = vm_of_node(request.node_id)
        group = self.config.resource_group or ref[0]
        if vm_ref is None:
            raise not_found(f"failed to get azure instance id for node {request.node_id!r}: not an AKS scale-set node name")
        try:
            lun = self._publish(request, ref, group, vm_ref, caching)
        except AttachedElsewhere as dangling:
            holder = nodes.node_of_vm(dangling.vm_id)
            LOG.warning("volume %s is already attached to node %s, try detach first", request.volume_id, holder)
            self._force_detach(request.volume_id, dangling.vm_id, holder)
            LOG.info("Trying to attach volume %s to node %s again", request.volume_id, request.node_id)
            try:
                lun = self._publish(request, ref, group, vm_ref, caching)
            except AttachedElsewhere as again:
                raise CsiError(grpc.StatusCode.INTERNAL, f"Attach volume {request.volume_id} to instance {request.node_id} failed with "
                                                         f"{again}") from again
        return CSI.ControllerPublishVolumeResponse(publish_context={"LUN": str(lun)})

    def _publish(self, request, ref, group, vm_ref, caching):
        """Attach the disk to the node's VM (in that VM's next batch) unless it is there already; returns its LUN."""
        change = self._batched(group, vm_ref, DiskChange(request.volume_id, request.node_id, True, ref, caching))
        return self._lun(change.vm, request.volume_id)

    def _batched(self, group, vm_ref, change):
        """Queue the change for its VM; the first queued request to get the VM's lock sends the batch. Returns it done."""
        key = (f"{group}/{vm_ref[0]}/{vm_ref[1]}".lower(), change.attach)
        with self._queues_guard:
            queue = self._queues.setdefault(key, [])
            queue.append(change)
            first = len(queue) == 1
        with self.azure.vm_lock(group, *vm_ref):
            if not change.done.is_set():
                if first and self.batch_delay:
                    time.sleep(self.batch_delay)  # wait for more requests on this VM
                with self._queues_guard:
                    batch = self._queues.pop(key, [])
                try:
                    self._update(group, vm_ref, batch)
                except Exception as error:  # e.g. no cluster config yet: every request of the batch gets it
                    for waiting in batch:
                        if not waiting.done.is_set():
                            waiting.finish(error=error)
                    raise
        if change.error is not None:
            raise change.error
        return change

    def _update(self, group, vm_ref, batch):
        """One VM update for a batch of attaches or of detaches; every change of the batch is finished."""
        try:
            vm = self.azure.get_vm(group, *vm_ref)
        except CsiError as error:
            for change in batch:
                change.finish(error=error)
            return
        if vm is None:
            for change in batch:
                change.finish(error=not_found(f"failed to get azure instance id for node {change.node_id!r}: "
                                              f"no VM {vm_ref[0]}_{vm_ref[1]} in {group}") if change.attach else None)
            return
        data_disks = self._data_disks(vm)
        pending = []
        for change in batch:
            try:
                if any(change.volume_id.lower() == other.volume_id.lower() for other in pending):
                    pending.append(change)  # the same volume twice in one batch: one change, one outcome
                elif self._plan(change, vm, data_disks):
                    pending.append(change)
                else:
                    change.finish(vm)
            except (CsiError, AttachedElsewhere) as error:
                change.finish(error=error)
        if not pending:
            return
        volumes = ", ".join(change.volume_id for change in pending)
        what = (f"Attach volume {volumes} to instance {pending[0].node_id}" if pending[0].attach
                else f"Detach volume {volumes} from node {pending[0].node_id}")
        try:
            vm = self.azure.set_data_disks(what, vm, data_disks, attach=pending[0].attach)
        except CsiError as error:
            for change in pending:
                change.finish(error=error)
            return
        for change in pending:
            change.finish(vm, changed=True)

    def _plan(self, change, vm, data_disks):
        """Add the change to the VM's data disk list (in place); False when the VM is already as wanted."""
        if not change.attach:
            if not any(self._is_volume(entry, change.volume_id) for entry in data_disks):
                return False
            data_disks[:] = [dict(entry, toBeDetached=True) if self._is_volume(entry, change.volume_id) else entry for entry in data_disks]
            return True
        if any(self._is_volume(entry, change.volume_id) and not entry.get("toBeDetached") for entry in data_disks):
            return False
        disk = self.azure.get_disk(*change.ref)
        if disk is None:
            raise not_found(f"Volume not found: {change.volume_id}")
        holders = disk.get("managedByExtended") or ([disk["managedBy"]] if disk.get("managedBy") else [])
        others = [holder for holder in holders if holder.lower() != vm["id"].lower()]
        if others and disk["properties"].get("maxShares", 1) <= 1:
            raise AttachedElsewhere(others[0], f"disk({disk['id']}) already attached to node({others[0]}), "
                                               f"could not be attached to node({change.node_id})")
        free = sorted(set(range(MAX_LUNS)) - {entry["lun"] for entry in data_disks})
        if not free:
            raise CsiError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"no free LUN on node {change.node_id}")
        data_disks.append({"lun": free[0], "name": disk["name"], "createOption": "Attach", "caching": change.caching,
                           "managedDisk": {"id": disk["id"]}})
        return True

    def _force_detach(self, volume_id, vm_id, node):
        """Detach the disk from the VM that holds it, as the driver does before attaching it elsewhere; INTERNAL when that fails."""
        found = nodes.VM_ID.search(vm_id)
        if found is None:
            raise CsiError(grpc.StatusCode.INTERNAL, f"Could not detach volume {volume_id} from node {node}: {vm_id} is not a scale-set VM")
        try:
            self._detach(volume_id, vm_id.split("/")[4], (found["vmss"], found["instance"]), node)
        except CsiError as error:
            raise CsiError(grpc.StatusCode.INTERNAL, f"Could not detach volume {volume_id} from node {node}: {error.message}") from error

    @staticmethod
    def _data_disks(vm):
        return list(vm["properties"].get("storageProfile", {}).get("dataDisks") or [])

    @staticmethod
    def _is_volume(entry, volume_id):
        return entry.get("managedDisk", {}).get("id", "").lower() == volume_id.lower()

    def _lun(self, vm, volume_id):
        for entry in self._data_disks(vm):
            if self._is_volume(entry, volume_id) and not entry.get("toBeDetached"):
                return entry["lun"]
        return None

    def _detach(self, volume_id, group, vm_ref, node):
        """Detach the disk from the node's VM (in that VM's next batch), also when an earlier detach of it failed half-way.

        Returns False when the disk is not on the VM or the VM is gone (nothing to do).
        """
        return self._batched(group, vm_ref, DiskChange(volume_id, node, False)).changed

    @rpc("volume_id", "node_id")
    def ControllerUnpublishVolume(self, request, context):
        require((request.volume_id, "Volume ID not provided"), (request.node_id, "Node ID not provided"))
        ref, vm_ref = parse_id(request.volume_id, DISKS), vm_of_node(request.node_id)
        if ref is None or vm_ref is None:
            LOG.warning("ControllerUnpublishVolume: %r on %r names no managed disk on a scale-set VM; nothing to detach",
                        request.volume_id, request.node_id)
            return CSI.ControllerUnpublishVolumeResponse()
        if not self._detach(request.volume_id, self.config.resource_group or ref[0], vm_ref, request.node_id):
            LOG.info("ControllerUnpublishVolume: volume %s is not attached to node %s", request.volume_id, request.node_id)
        return CSI.ControllerUnpublishVolumeResponse()

    @rpc("volume_id")
    def ValidateVolumeCapabilities(self, request, context):
        require((request.volume_id, "Volume ID missing in the request"),
                (request.volume_capabilities, "VolumeCapabilities missing in the request"))
        shares = parsed(params.max_shares, request.parameters)
        ref = parse_id(request.volume_id, DISKS)
        if ref is None or self.azure.get_disk(*ref) is None:
            raise not_found(f"Volume not found: {request.volume_id}")
        if not valid_capabilities(request.volume_capabilities, shares):
            return CSI.ValidateVolumeCapabilitiesResponse(message="VolumeCapabilities are invalid")
        confirmed = CSI.ValidateVolumeCapabilitiesResponse.Confirmed(volume_capabilities=request.volume_capabilities)
        return CSI.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    @rpc("starting_token", "max_entries")
    def ListVolumes(self, request, context):
        start = page_start(request.starting_token)
        disks = sorted(self.azure.list_disks(self.config.resource_group), key=lambda disk: disk["id"].lower())
        chosen, token = paged(disks, start, request.max_entries)
        entries = [CSI.ListVolumesResponse.Entry(volume=CSI.Volume(volume_id=disk["id"], capacity_bytes=disk["properties"]["diskSizeGB"] * GIB))
                   for disk in chosen]
        return CSI.ListVolumesResponse(entries=entries, next_token=token)

    @rpc()
    def ControllerGetCapabilities(self, request, context):
        return CSI.ControllerGetCapabilitiesResponse(capabilities=[
            CSI.ControllerServiceCapability(rpc=CSI.ControllerServiceCapability.RPC(type=kind)) for kind in CONTROLLER_CAPABILITIES])

    @rpc("volume_id", "capacity_range.required_bytes")
    def ControllerExpandVolume(self, request, context):
        require((request.volume_id, "Volume ID missing in the request"),
                (request.capacity_range.required_bytes > 0, "volume capacity range missing in request"))
        ref = parse_id(request.volume_id, DISKS)
        if ref is None:
            raise invalid(f"disk URI({request.volume_id}) is not valid")
        gib = size_gib(request.capacity_range)
        with self.locks.hold(request.volume_id):
            disk = self.azure.get_disk(*ref)
            if disk is None:
                raise not_found(f"Volume not found: {request.volume_id}")
            if disk["properties"]["diskSizeGB"] < gib:
                disk = self.azure.resize_disk(*ref, gib)
        return CSI.ControllerExpandVolumeResponse(capacity_bytes=disk["properties"]["diskSizeGB"] * GIB, node_expansion_required=True)

    # snapshots
    @rpc("name", "source_volume_id", "parameters")
    def CreateSnapshot(self, request, context):
        require((request.source_volume_id, "CreateSnapshot Source Volume ID must be provided"),
                (request.name, "snapshot name must be provided"))
        wanted = parsed(params.parse_snapshot_parameters, request.parameters)
        ref = parse_id(request.source_volume_id, DISKS)
        if ref is None:
            raise invalid(f"could not get resource group from diskURI({request.source_volume_id})")
        group, name = wanted.resource_group or ref[0], disk_name(request.name)
        with self.locks.hold(f"snapshot/{group}/{name}"):
            snapshot = self.azure.get_snapshot(group, name)
            if snapshot is None:
                disk = self.azure.get_disk(*ref)
                if disk is None:
                    raise not_found(f"source volume {request.source_volume_id} not found")
                snapshot = self.azure.create_snapshot(group, name, {
                    "location": disk["location"], "tags": wanted.tags,
                    "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk["id"]}, "incremental": wanted.incremental}})
            elif snapshot["properties"]["creationData"].get("sourceResourceId", "").lower() != request.source_volume_id.lower():
                raise CsiError(grpc.StatusCode.ALREADY_EXISTS, f"snapshot {snapshot['id']} already exists with source "
                                                               f"{snapshot['properties']['creationData'].get('sourceResourceId')}")
        return CSI.CreateSnapshotResponse(snapshot=self._snapshot(snapshot))

    @rpc("snapshot_id")
    def DeleteSnapshot(self, request, context):
        require((request.snapshot_id, "Snapshot ID must be provided"))
        ref = self._snapshot_ref(request.snapshot_id, self.config.resource_group)
        if ref is None:
            LOG.warning("DeleteSnapshot: %r is not a snapshot id; nothing to delete", request.snapshot_id)
            return CSI.DeleteSnapshotResponse()
        with self.locks.hold(f"snapshot/{ref[0]}/{ref[1]}"):
            self.azure.delete_snapshot(*ref)
        return CSI.DeleteSnapshotResponse()

    @rpc("snapshot_id", "source_volume_id", "starting_token", "max_entries")
    def ListSnapshots(self, request, context):
        source = request.source_volume_id.lower()
        if request.snapshot_id:
            ref = self._snapshot_ref(request.snapshot_id, self.config.resource_group)
            snapshots = [snapshot for snapshot in [self.azure.get_snapshot(*ref) if ref else None] if snapshot]
            start = 0
        else:
            start = page_start(request.starting_token)
            snapshots = sorted(self.azure.list_snapshots(self.config.resource_group), key=lambda snapshot: snapshot["id"].lower())
        if source:
            snapshots = [snapshot for snapshot in snapshots if snapshot["properties"]["creationData"].get("sourceResourceId", "").lower() == source]
        chosen, token = paged(snapshots, start, request.max_entries)
        return CSI.ListSnapshotsResponse(entries=[CSI.ListSnapshotsResponse.Entry(snapshot=self._snapshot(item)) for item in chosen],
                                         next_token=token)


def add_to_server(server, azure, batch_delay=1.0):
    """Register the Identity and Controller services of one controller on a gRPC server (``batch_delay``: seconds)."""
    CSI_GRPC.add_IdentityServicer_to_server(IdentityServicer(), server)
    CSI_GRPC.add_ControllerServicer_to_server(ControllerServicer(azure, batch_delay), server)
