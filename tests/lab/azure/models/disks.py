"""Microsoft.Compute disks and snapshots, with the rules of Azure managed disks.

Mirrored behaviour:
- disks are created ``Empty`` (``diskSizeGB`` required) or as a ``Copy`` of a disk or snapshot in
  the same region (a restore may change SKU and zone; a snapshot whose cross-region copy is not
  finished cannot be used yet); SKUs Standard_LRS, StandardSSD_LRS, Premium_LRS, StandardSSD_ZRS,
  Premium_ZRS, UltraSSD_LRS, PremiumV2_LRS; ZRS disks take no zone, Ultra and Premium v2 disks
  must be zonal in a region with zones;
- PUT and PATCH answer 202 (200 is also allowed by the SDK, 201 is not) and run as operations;
  DELETE answers 202, or 204 when the disk does not exist; an attached disk cannot be deleted
  (409 ``OperationNotAllowed``); zones cannot change (``PropertyChangeNotAllowed``);
- ``creationData`` is fixed at creation: a PUT over an existing disk or snapshot naming another
  ``createOption`` or ``sourceResourceId`` is refused (400 ``BadRequest`` "Changing property
  '...' is not allowed for existing disk '...'", Compute's wording for snapshots too); Compute
  documents no ``If-None-Match`` on these PUTs, so a repeated PUT with the same source is an update;
- ``diskState`` is Unattached, Attached (VM allocated) or Reserved (VM deallocated); ``managedBy``
  names the VM (``managedByExtended`` all VMs of a shared disk);
- a disk never shrinks; growing an attached disk works online ("expand without downtime") only
  when online resize is on, the disk is not shared, and a Standard HDD/SSD or Premium SSD disk of
  at most 4 TiB does not grow past 4 TiB; otherwise 409 ``OperationNotAllowed`` asks for the VM
  to be deallocated; SKU and maxShares change only when the disk is not attached to a running VM;
- snapshots are full or incremental (incremental ones are always Standard storage, ZRS where the
  region has zones, at most 7 per disk per 5 minutes, of one ``incrementalSnapshotFamilyId`` per
  disk); ``CopyStart`` copies an incremental snapshot to another region in the background and
  reports a growing ``completionPercent``.
"""

import time

from ..arm import ArmError, invalid_parameter, new_guid, resource_id, timestamp
from ..lro import completion
from ..store import Resource
from . import resources, rules

DISK_TYPE = "Microsoft.Compute/disks"
SNAPSHOT_TYPE = "Microsoft.Compute/snapshots"
GIB = 1 << 30
FOUR_TIB_GB = 4095

# SKU -> (tier, zone-redundant, largest size in GiB)
DISK_SKUS = {
    "Standard_LRS": ("Standard", False, 32767), "StandardSSD_LRS": ("StandardSSD", False, 32767),
    "Premium_LRS": ("Premium", False, 32767), "StandardSSD_ZRS": ("StandardSSD", True, 32767),
    "Premium_ZRS": ("Premium", True, 32767), "UltraSSD_LRS": ("Ultra", False, 65536), "PremiumV2_LRS": ("PremiumV2", False, 65536),
}
SNAPSHOT_SKUS = {"Standard_LRS": "Standard", "Premium_LRS": "Premium", "Standard_ZRS": "Standard"}
ZONAL_ONLY = ("UltraSSD_LRS", "PremiumV2_LRS")
INCREMENTAL_LIMIT, INCREMENTAL_WINDOW = 7, 300


def get_disk(lab, subscription, group, name):
    """One disk, or ResourceNotFound."""
    return resources.get_resource(lab, subscription, group, DISK_TYPE, name)


def get_snapshot(lab, subscription, group, name):
    """One snapshot (with its current copy progress), or ResourceNotFound."""
    return render_snapshot(resources.get_resource(lab, subscription, group, SNAPSHOT_TYPE, name))


def list_of(lab, subscription, group, kind):
    """Disks or snapshots of a resource group, or of the subscription when ``group`` is None."""
    found = resources.list_resources(lab, subscription, group, kind)
    return [render_snapshot(item) if kind == SNAPSHOT_TYPE else item for item in found]


def _idle(lab, resource):
    busy = lab.operations.busy(resource.id)
    if busy:
        raise ArmError(409, "AnotherOperationInProgress",
                       f"Another operation ({busy[0].kind}) is in progress on '{resource.body['name']}'. Retry after it completes.")


def _source(lab, creation, location):
    """The disk or snapshot a copy starts from (same region unless CopyStart)."""
    source_id = creation.get("sourceResourceId")
    if not source_id:
        raise invalid_parameter("creationData.sourceResourceId", "Required parameter 'sourceResourceId' is missing (null).")
    source = lab.store.get(source_id)
    if source is None or source.type.lower() not in (DISK_TYPE.lower(), SNAPSHOT_TYPE.lower()):
        raise ArmError(404, "NotFound", f"The source resource '{source_id}' was not found.")
    if creation.get("createOption") != "CopyStart" and source.body["location"] != location:
        raise ArmError(400, "BadRequest",
                       f"The source resource '{source_id}' is in region '{source.body['location']}' and cannot be copied to region "
                       f"'{location}'. Copy a snapshot across regions with createOption CopyStart.")
    if source.type.lower() == SNAPSHOT_TYPE.lower() and _copy_percent(source) < 100:
        raise ArmError(409, "OperationNotAllowed",
                       f"The snapshot '{source.body['name']}' is still being copied (completionPercent {_copy_percent(source):.1f}); "
                       "retry when it reaches 100.")
    return source


def _size_gb(properties, source, maximum):
    size = properties.get("diskSizeGB")
    if size is None:
        if source is None:
            raise invalid_parameter("diskSizeGB", "Required parameter 'diskSizeGB' is missing (null).")
        return source.properties["diskSizeGB"]
    if not isinstance(size, int) or size < 1 or size > maximum:
        raise invalid_parameter("diskSizeGB", f"The value {size} of parameter 'diskSizeGB' is out of range. The value must be between 1 and {maximum}.")
    if source is not None and size < source.properties["diskSizeGB"]:
        raise ArmError(400, "BadRequest", f"The disk size {size} GB is smaller than the size {source.properties['diskSizeGB']} GB "
                                          "of the source; a copy cannot be smaller than its source.")
    return size


def _check_creation_unchanged(resource, body):
    """A PUT over an existing disk or snapshot may not name another source or create option."""
    given = (body.get("properties") or {}).get("creationData") or {}
    have = resource.properties.get("creationData") or {}
    for field in ("createOption", "sourceResourceId"):
        if given.get(field) is not None and str(given[field]).lower() != str(have.get(field) or "").lower():
            raise ArmError(400, "BadRequest", f"Changing property '{field}' is not allowed for existing disk '{resource.body['name']}'.")


# disks
def put_disk(lab, subscription, group, name, body):
    """Create or update a disk; returns (resource, operation)."""
    existing = lab.store.get(resource_id(subscription, group, DISK_TYPE, name))
    if existing:
        _check_creation_unchanged(existing, body)
        return update_disk(lab, existing, body, full=True)
    group_resource = resources.writable_group(lab, subscription, group)
    rules.check_new(DISK_TYPE, name, body)
    location = resources.check_location(body.get("location"), DISK_TYPE)
    sku = (body.get("sku") or {}).get("name", "Standard_LRS")
    if sku not in DISK_SKUS:
        raise invalid_parameter("sku.name", f"The value '{sku}' of parameter 'sku.name' is not valid. Allowed values: {', '.join(DISK_SKUS)}.")
    tier, zone_redundant, maximum = DISK_SKUS[sku]
    zones = list(body.get("zones") or [])
    resources.check_zones(location, zones)
    if zones and zone_redundant:
        raise invalid_parameter("zones", f"Zone-redundant disks ({sku}) cannot be pinned to a zone.")
    if len(zones) > 1:
        raise invalid_parameter("zones", "A disk can be placed in at most one zone.")
    if sku in ZONAL_ONLY and resources.REGIONS[location] and not zones:
        raise invalid_parameter("zones", f"{sku} disks must be created in an availability zone.")
    properties = body.get("properties") or {}
    creation = dict(properties.get("creationData") or {"createOption": "Empty"})
    option = creation.get("createOption")
    if option not in ("Empty", "Copy", "Restore"):
        raise invalid_parameter("creationData.createOption", f"The createOption '{option}' is not supported by the lab; use Empty or Copy.")
    source = None if option == "Empty" else _source(lab, creation, location)
    size = _size_gb(properties, source, maximum)
    max_shares = int(properties.get("maxShares") or 1)
    if max_shares > 1 and sku not in ("Premium_LRS", "Premium_ZRS", "StandardSSD_LRS", "StandardSSD_ZRS", "UltraSSD_LRS", "PremiumV2_LRS"):
        raise invalid_parameter("maxShares", f"Shared disks are not supported for {sku}.")
    unique_id = new_guid()
    if source is None:
        lab.disks.create(unique_id, size * GIB)
    else:
        creation["sourceUniqueId"] = source.properties["uniqueId"]
        lab.disks.copy(source.internal["image"], unique_id, size * GIB)
    rid = resource_id(subscription, group, DISK_TYPE, name)
    extra = {"sku": {"name": sku, "tier": tier}, "properties": {
        "creationData": creation, "diskSizeGB": size, "diskSizeBytes": size * GIB, "uniqueId": unique_id, "timeCreated": timestamp(),
        "provisioningState": "Creating", "diskState": "Unattached", "maxShares": max_shares,
        "diskIOPSReadWrite": min(20000, 500 + 3 * size), "diskMBpsReadWrite": min(900, 60 + size // 4),
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"}, "networkAccessPolicy": properties.get("networkAccessPolicy", "AllowAll"),
        "publicNetworkAccess": properties.get("publicNetworkAccess", "Enabled"),
    }}
    if zones:
        extra["zones"] = zones
    disk = Resource(rid, DISK_TYPE, group_resource.id, resources.tracked(rid, DISK_TYPE, name, location, body, extra),
                    {"image": unique_id})
    lab.store.save(disk)
    return disk, lab.operations.start("disk.create", rid, location)


def update_disk(lab, disk, body, full=False):
    """PUT over an existing disk (``full``) or PATCH: size, SKU, shares, tags; returns (resource, operation)."""
    _idle(lab, disk)
    properties = body.get("properties") or {}
    changes = {}
    if full and body.get("zones") is not None and list(body["zones"]) != disk.body.get("zones", []):
        raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'zones' is not allowed.", target="zones")
    size = properties.get("diskSizeGB")
    if size is not None and size != disk.properties["diskSizeGB"]:
        _check_resize(lab, disk, size)
        changes["diskSizeGB"] = size
    sku = (body.get("sku") or {}).get("name")
    if sku and sku != disk.body["sku"]["name"]:
        if sku not in DISK_SKUS:
            raise invalid_parameter("sku.name", f"The value '{sku}' of parameter 'sku.name' is not valid.")
        _check_offline(disk, "Changing the SKU")
        changes["sku"] = sku
    shares = properties.get("maxShares")
    if shares is not None and int(shares) != disk.properties.get("maxShares", 1):
        _check_offline(disk, "Changing maxShares")
        changes["maxShares"] = int(shares)
    rules.merge_tags(disk.body, body)
    return disk, resources.begin(lab, disk, "Updating", "disk.update", {"changes": changes})


def patch_disk(lab, subscription, group, name, body):
    """PATCH of a disk; returns (resource, operation)."""
    return update_disk(lab, get_disk(lab, subscription, group, name), body)


def _attached_vm(disk):
    return disk.body.get("managedBy") if disk.properties.get("diskState") == "Attached" else None


def _check_offline(disk, what):
    vm = _attached_vm(disk)
    if vm:
        raise ArmError(409, "OperationNotAllowed",
                       f"{what} of disk '{disk.body['name']}' is not allowed while it is attached to running VM '{vm}'. "
                       "Stop (deallocate) the virtual machine or detach the disk and retry.")


def _check_resize(lab, disk, size):
    """No shrinking; growing while attached to an allocated VM only where Azure expands without downtime."""
    name, current = disk.body["name"], disk.properties["diskSizeGB"]
    maximum = DISK_SKUS[disk.body["sku"]["name"]][2]
    if not isinstance(size, int) or size > maximum:
        raise invalid_parameter("diskSizeGB", f"The value {size} of parameter 'diskSizeGB' is out of range. The value must be between 1 and {maximum}.")
    if size < current:
        raise ArmError(400, "BadRequest", f"Disk '{name}' of size {current} GB cannot be resized down to {size} GB. "
                                          "Disks cannot be resized down to prevent data loss.", target="diskSizeGB")
    vm = _attached_vm(disk)
    if not vm:
        return
    crosses = current <= FOUR_TIB_GB < size and disk.body["sku"]["name"] not in ZONAL_ONLY
    if crosses:
        raise ArmError(409, "OperationNotAllowed",
                       f"Disk '{name}' of size {current} GB cannot be resized to {size} GB while it is attached to running VM '{vm}': "
                       "growing a disk of 4 TiB or less past 4 TiB requires the virtual machine to be deallocated. "
                       "Stop (deallocate) the VM and retry.")
    if not lab.config("onlineResize") or disk.properties.get("maxShares", 1) > 1:
        raise ArmError(409, "OperationNotAllowed",
                       f"Cannot resize disk '{name}' while it is attached to running VM '{vm}'. Resizing a disk of an attached VM "
                       "requires the virtual machine to be deallocated. Please stop (deallocate) the VM and retry the operation.")


completion("disk.create", "snapshot.create")(resources.succeed)
completion("disk.delete", "snapshot.delete")(resources.remove_target)


@completion("disk.update")
def _finish_disk_update(lab, operation):
    disk = lab.store.get(operation.resource_id)
    changes = operation.params["changes"]
    if "diskSizeGB" in changes:
        disk.properties["diskSizeGB"] = changes["diskSizeGB"]
        disk.properties["diskSizeBytes"] = changes["diskSizeGB"] * GIB
        lab.disks.grow(disk.internal["image"], changes["diskSizeGB"] * GIB)
    if "sku" in changes:
        disk.body["sku"] = {"name": changes["sku"], "tier": DISK_SKUS[changes["sku"]][0]}
    if "maxShares" in changes:
        disk.properties["maxShares"] = changes["maxShares"]
    disk.properties["provisioningState"] = "Succeeded"
    lab.store.save(disk)


def delete_disk(lab, subscription, group, name):
    """Start deleting a disk; None when it does not exist."""
    disk = resources.find_resource(lab, subscription, group, DISK_TYPE, name)
    if disk is None:
        return None
    if disk.body.get("managedBy") or disk.body.get("managedByExtended"):
        raise ArmError(409, "OperationNotAllowed", f"Disk {name} is attached to VM {disk.body.get('managedBy')}.")
    return _delete(lab, disk, "disk.delete")


def _delete(lab, resource, kind):
    _idle(lab, resource)
    return resources.begin(lab, resource, "Deleting", kind)


@resources.on_remove(DISK_TYPE)
@resources.on_remove(SNAPSHOT_TYPE)
def _delete_image(lab, resource):
    lab.disks.delete(resource.internal["image"])


# attachment bookkeeping used by the scale-set VMs
def attach(lab, disk, vm_id, allocated):
    """Record that a VM holds the disk."""
    holders = disk.body.get("managedByExtended") or ([disk.body["managedBy"]] if disk.body.get("managedBy") else [])
    if vm_id.lower() not in (holder.lower() for holder in holders):
        holders.append(vm_id)
    disk.body["managedBy"] = holders[0]
    if disk.properties.get("maxShares", 1) > 1:
        disk.body["managedByExtended"] = holders
    disk.properties["diskState"] = "Attached" if allocated else "Reserved"
    lab.store.save(disk)


def detach(lab, disk, vm_id):
    """Record that a VM released the disk."""
    holders = [holder for holder in (disk.body.get("managedByExtended") or [disk.body.get("managedBy")])
               if holder and holder.lower() != vm_id.lower()]
    disk.body.pop("managedBy", None)
    disk.body.pop("managedByExtended", None)
    if holders:
        disk.body["managedBy"] = holders[0]
        disk.body["managedByExtended"] = holders
    disk.properties["diskState"] = disk.properties["diskState"] if holders else "Unattached"
    lab.store.save(disk)


def set_allocated(lab, disk, allocated):
    """A VM holding the disk was deallocated (Reserved) or started again (Attached)."""
    disk.properties["diskState"] = "Attached" if allocated else "Reserved"
    lab.store.save(disk)


# snapshots
def _family(lab, disk):
    if "snapshotFamily" not in disk.internal:
        disk.internal["snapshotFamily"] = new_guid()
        lab.store.save(disk)
    return disk.internal["snapshotFamily"]


def put_snapshot(lab, subscription, group, name, body):
    """Create a snapshot (or update its tags); returns (resource, operation)."""
    rid = resource_id(subscription, group, SNAPSHOT_TYPE, name)
    existing = lab.store.get(rid)
    if existing:
        _check_creation_unchanged(existing, body)
        _idle(lab, existing)
        rules.merge_tags(existing.body, body)
        return render_snapshot(existing), resources.begin(lab, existing, "Updating", "snapshot.create")
    group_resource = resources.writable_group(lab, subscription, group)
    rules.check_new(SNAPSHOT_TYPE, name, body)
    location = resources.check_location(body.get("location"), SNAPSHOT_TYPE)
    properties = body.get("properties") or {}
    creation = dict(properties.get("creationData") or {})
    option = creation.get("createOption", "Copy")
    if option not in ("Copy", "CopyStart"):
        raise invalid_parameter("creationData.createOption", f"The createOption '{option}' is not supported for snapshots by the lab.")
    incremental = bool(properties.get("incremental", False))
    source = _source(lab, creation, location)
    internal = {"image": new_guid()}
    extra_properties = {"incremental": incremental}
    if option == "CopyStart":
        if not incremental or source.type.lower() != SNAPSHOT_TYPE.lower() or not source.properties.get("incremental"):
            raise ArmError(400, "BadRequest", "CopyStart copies an incremental snapshot to another region: the source must be an "
                                              "incremental snapshot and 'incremental' must be true.")
        now = time.time()
        internal.update(copyStarted=now, copyEnds=now + lab.profile.duration("snapshot.copy"))
    if incremental and option == "Copy":
        if source.type.lower() != DISK_TYPE.lower():
            raise ArmError(400, "BadRequest", "An incremental snapshot must be taken of a managed disk.")
        _check_incremental_rate(lab, source)
        internal.update(disk=source.properties["uniqueId"], created=time.time())
        extra_properties["incrementalSnapshotFamilyId"] = _family(lab, source)
    elif incremental:
        extra_properties["incrementalSnapshotFamilyId"] = source.properties.get("incrementalSnapshotFamilyId")
    if incremental:
        sku = "Standard_ZRS" if resources.REGIONS[location] else "Standard_LRS"
    else:
        sku = (body.get("sku") or {}).get("name", "Standard_LRS")
        if sku not in SNAPSHOT_SKUS:
            raise invalid_parameter("sku.name", f"The value '{sku}' of parameter 'sku.name' is not valid. Allowed values: {', '.join(SNAPSHOT_SKUS)}.")
    size = source.properties["diskSizeGB"]
    creation["createOption"] = option
    creation["sourceUniqueId"] = source.properties["uniqueId"]
    lab.disks.copy(source.internal["image"], internal["image"], size * GIB)
    extra = {"sku": {"name": sku, "tier": SNAPSHOT_SKUS[sku]}, "properties": {
        "creationData": creation, "diskSizeGB": size, "diskSizeBytes": size * GIB, "uniqueId": internal["image"], "timeCreated": timestamp(),
        "provisioningState": "Creating", "diskState": "Unattached", "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        "networkAccessPolicy": "AllowAll", "publicNetworkAccess": "Enabled", **extra_properties,
    }}
    snapshot = Resource(rid, SNAPSHOT_TYPE, group_resource.id, resources.tracked(rid, SNAPSHOT_TYPE, name, location, body, extra), internal)
    lab.store.save(snapshot)
    return render_snapshot(snapshot), lab.operations.start("snapshot.create", rid, location)


def _check_incremental_rate(lab, disk):
    since = time.time() - INCREMENTAL_WINDOW
    recent = [snapshot for snapshot in lab.store.of_type(SNAPSHOT_TYPE)
              if snapshot.internal.get("disk") == disk.properties["uniqueId"] and snapshot.internal.get("created", 0) >= since]
    if len(recent) >= INCREMENTAL_LIMIT:
        raise ArmError(409, "OperationNotAllowed",
                       f"At most {INCREMENTAL_LIMIT} incremental snapshots can be created per disk every {INCREMENTAL_WINDOW // 60} minutes; "
                       f"disk '{disk.body['name']}' reached the limit. Retry later.")


def _copy_percent(snapshot):
    started, ends = snapshot.internal.get("copyStarted"), snapshot.internal.get("copyEnds")
    if started is None:
        return 100.0
    return round(min(100.0, max(0.0, (time.time() - started) / max(ends - started, 1e-6) * 100)), 1)


def render_snapshot(snapshot):
    """A snapshot with its current ``completionPercent`` (and access state while a copy runs)."""
    if snapshot.internal.get("copyStarted") is not None:
        percent = _copy_percent(snapshot)
        snapshot.properties["completionPercent"] = percent
        snapshot.properties["snapshotAccessState"] = "Available" if percent >= 100 else "Pending"
    elif snapshot.properties.get("incremental"):
        snapshot.properties["completionPercent"] = 100.0
    return snapshot


def patch_snapshot(lab, subscription, group, name, body):
    """PATCH of a snapshot (its tags); returns (resource, operation)."""
    get_snapshot(lab, subscription, group, name)
    return put_snapshot(lab, subscription, group, name, body)


def delete_snapshot(lab, subscription, group, name):
    """Start deleting a snapshot; None when it does not exist."""
    snapshot = resources.find_resource(lab, subscription, group, SNAPSHOT_TYPE, name)
    return _delete(lab, snapshot, "snapshot.delete") if snapshot else None
