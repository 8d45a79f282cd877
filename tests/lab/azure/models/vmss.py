"""Microsoft.Compute virtual machine scale sets and their VMs: power states and data disks.

Mirrored behaviour:
- an instance is named ``<vmss>_<instanceId>``, lives in one zone of the scale set, and has an
  instance view with ``ProvisioningState/<state>`` and ``PowerState/running|deallocating|
  deallocated|stopping|stopped|starting``;
- deallocate, start, powerOff and restart (per VM, or per scale set with ``instanceIds``) are
  POST actions answered 202 and run as operations; restarting a deallocated VM is refused;
  deallocating turns the VM's attached disks Reserved, starting turns them Attached again;
- data disks are attached and detached by PUT/PATCH of ``storageProfile.dataDisks`` (a disk left
  out of the list or marked ``toBeDetached`` is detached) or by the ``attachDetachDataDisks``
  action, whose result is the new storage profile;
- attach rules: the disk exists and is in the VM's region; an LRS disk only in the VM's zone
  (ZRS disks in any zone); a disk already attached elsewhere only when ``maxShares`` > 1 and
  not past ``maxShares``; Premium v2 / Ultra disks with caching None only; LUNs unique in
  0-63; at most as many data disks as the VM size allows (unknown sizes: 16);
- one operation at a time per VM (409 ``AnotherOperationInProgress``);
- removing a VM (scale-in, deletion) detaches its disks;
- standalone virtual machines (``Microsoft.Compute/virtualMachines``) are listed per resource group
  or subscription: AKS nodes are scale-set instances, so the list is empty unless the lab holds
  standalone VMs, and a named one is ``ResourceNotFound``.
"""

from ...aks_names import node_name
from ..arm import ArmError, invalid_parameter, new_guid, resource_id, timestamp
from ..lro import completion
from ..store import Resource
from . import disks, resources

VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
STANDALONE_VM_TYPE = "Microsoft.Compute/virtualMachines"
DEFAULT_ATTACH_LIMIT = 16
ATTACH_LIMITS = {
    "standard_b2s": 4, "standard_b2ms": 4, "standard_b4ms": 8,
    "standard_d2s_v3": 4, "standard_d4s_v3": 8, "standard_d8s_v3": 16, "standard_d16s_v3": 32,
    "standard_d2s_v5": 4, "standard_d4s_v5": 8, "standard_d8s_v5": 16, "standard_d16s_v5": 32, "standard_d32s_v5": 32,
    "standard_d2ds_v5": 4, "standard_d4ds_v5": 8, "standard_d8ds_v5": 16,
    "standard_e2s_v5": 4, "standard_e4s_v5": 8, "standard_e8s_v5": 16,
    "standard_ds2_v2": 8, "standard_ds3_v2": 16, "standard_ds4_v2": 32,
}
# action -> (power state while running, power state at the end)
POWER_ACTIONS = {
    "deallocate": ("deallocating", "deallocated"),
    "start": ("starting", "running"),
    "powerOff": ("stopping", "stopped"),
    "restart": ("starting", "running"),
}
POWER_DISPLAY = {"running": "VM running", "deallocating": "VM deallocating", "deallocated": "VM deallocated",
                 "stopping": "VM stopping", "stopped": "VM stopped", "starting": "VM starting"}


def attach_limit(vm_size):
    """Data disks a VM size can hold."""
    return ATTACH_LIMITS.get(vm_size.lower(), DEFAULT_ATTACH_LIMIT)


# scale sets (created by the AKS model)
def create_scale_set(lab, group, name, location, vm_size, zones, count, tags, identity=None):
    """A Uniform scale set with ``count`` running instances spread round-robin over ``zones``."""
    rid = resource_id(lab.subscription, group.body["name"], VMSS_TYPE, name)
    body = resources.tracked(rid, VMSS_TYPE, name, location, {"tags": tags}, {
        "sku": {"name": vm_size, "tier": "Standard", "capacity": 0},
        "properties": {"provisioningState": "Succeeded", "orchestrationMode": "Uniform", "upgradePolicy": {"mode": "Manual"},
                       "singlePlacementGroup": False, "uniqueId": new_guid(), "timeCreated": timestamp(),
                       "virtualMachineProfile": {"osProfile": {"computerNamePrefix": f"{name}", "adminUsername": "azureuser"},
                                                 "storageProfile": {"osDisk": {"createOption": "FromImage", "caching": "ReadOnly",
                                                                               "managedDisk": {"storageAccountType": "Premium_LRS"}}}}},
    })
    if zones:
        body["zones"] = list(zones)
    if identity:
        body["identity"] = identity
    scale_set = Resource(rid, VMSS_TYPE, group.id, body, {"nextInstance": 0})
    lab.store.save(scale_set)
    scale(lab, scale_set, count)
    return scale_set


def scale(lab, scale_set, count, power="running"):
    """Add instances (spread over the zones) or remove the newest ones until there are ``count``."""
    instances = lab.store.children(scale_set.id, VM_TYPE)
    zones = scale_set.body.get("zones") or []
    for vm in instances[count:][::-1]:
        resources.remove_tree(lab, vm.id)
    for _index in range(count - len(instances)):
        _add_instance(lab, scale_set, zones, power)
    scale_set.body["sku"]["capacity"] = count
    lab.store.save(scale_set)


def _add_instance(lab, scale_set, zones, power):
    number = scale_set.internal["nextInstance"]
    scale_set.internal["nextInstance"] = number + 1
    name = scale_set.body["name"]
    instance_id = str(number)
    rid = f"{scale_set.id}/virtualMachines/{instance_id}"
    zone = zones[number % len(zones)] if zones else None
    body = {
        "id": rid, "name": f"{name}_{instance_id}", "type": VM_TYPE, "instanceId": instance_id, "location": scale_set.body["location"],
        "tags": dict(scale_set.body.get("tags") or {}), "sku": {"name": scale_set.body["sku"]["name"], "tier": "Standard"},
        "properties": {
            "latestModelApplied": True, "vmId": new_guid(), "provisioningState": "Succeeded", "timeCreated": timestamp(),
            "hardwareProfile": {"vmSize": scale_set.body["sku"]["name"]},
            "osProfile": {"computerName": node_name(name, number), "adminUsername": "azureuser"},
            "storageProfile": {"osDisk": {"name": f"{name}_{instance_id}_OsDisk_1_{new_guid().replace('-', '')}", "osType": "Linux",
                                          "createOption": "FromImage", "caching": "ReadOnly", "diskSizeGB": 128,
                                          "managedDisk": {"storageAccountType": "Premium_LRS"}},
                               "dataDisks": []},
            "networkProfile": {"networkInterfaces": []},
        },
    }
    if zone:
        body["zones"] = [zone]
    lab.store.save(Resource(rid, VM_TYPE, scale_set.id, body, {"power": power}))


@resources.on_remove(VM_TYPE)
def _release_disks(lab, vm):
    for entry in vm.properties["storageProfile"]["dataDisks"]:
        disk = lab.store.get(entry["managedDisk"]["id"])
        if disk:
            disks.detach(lab, disk, vm.id)


def get_scale_set(lab, subscription, group, name):
    """One scale set, or ResourceNotFound."""
    return resources.get_resource(lab, subscription, group, VMSS_TYPE, name)


def list_scale_sets(lab, subscription, group):
    """Scale sets of a resource group."""
    return lab.store.children(resources.get_group(lab, subscription, group).id, VMSS_TYPE)


def list_vms(lab, subscription, group, name, expand=False):
    """Instances of a scale set (with instance views when ``expand``)."""
    scale_set = get_scale_set(lab, subscription, group, name)
    return [render_vm(vm, expand) for vm in lab.store.children(scale_set.id, VM_TYPE)]


def get_vm(lab, subscription, group, name, instance_id):
    """One instance, or ResourceNotFound."""
    return resources.get_child(lab, group, get_scale_set(lab, subscription, group, name), name, VM_TYPE, instance_id)


def list_standalone_vms(lab, subscription, group):
    """Standalone VMs of a resource group, or of the subscription when ``group`` is None."""
    return resources.list_resources(lab, subscription, group, STANDALONE_VM_TYPE)


def get_standalone_vm(lab, subscription, group, name):
    """One standalone VM, or ResourceNotFound."""
    return resources.get_resource(lab, subscription, group, STANDALONE_VM_TYPE, name)


def instance_view(vm):
    """The instance view: provisioning and power state, and the data disks."""
    state = vm.properties["provisioningState"]
    power = vm.internal["power"]
    now = timestamp()
    return {
        "platformUpdateDomain": 0, "platformFaultDomain": 0, "computerName": vm.properties["osProfile"]["computerName"],
        "osName": "ubuntu", "osVersion": "22.04",
        "disks": [{"name": entry["name"], "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                                        "displayStatus": "Provisioning succeeded", "time": now}]}
                  for entry in vm.properties["storageProfile"]["dataDisks"]],
        "statuses": [
            {"code": f"ProvisioningState/{state.lower()}", "level": "Error" if state == "Failed" else "Info",
             "displayStatus": f"Provisioning {state.lower()}", "time": now},
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": POWER_DISPLAY[power]},
        ],
    }


def render_vm(vm, expand):
    """A VM as GET shows it; ``$expand=instanceView`` adds the instance view."""
    if expand:
        vm.properties["instanceView"] = instance_view(vm)
    return vm


def _idle(lab, *resource_ids):
    for rid in resource_ids:
        busy = lab.operations.busy(rid)
        if busy:
            raise ArmError(409, "AnotherOperationInProgress",
                           f"Operation '{busy[0].kind}' is in progress on '{rid.rsplit('/', 1)[-1]}'; retry after it completes.")


# power
def power_action(lab, scale_set, vms, action):
    """Start a power action on some instances of a scale set; returns the operation."""
    _idle(lab, scale_set.id, *(vm.id for vm in vms))
    during = POWER_ACTIONS[action][0]
    for vm in vms:
        if action == "restart" and vm.internal["power"] == "deallocated":
            raise ArmError(409, "OperationNotAllowed",
                           f"Operation 'restart' is not allowed on VM '{vm.body['name']}' since the VM is deallocated.")
    for vm in vms:
        vm.internal["power"] = during
        vm.properties["provisioningState"] = "Updating"
        lab.store.save(vm)
    target = vms[0].id if len(vms) == 1 else scale_set.id
    return lab.operations.start(f"vm.{action}", target, scale_set.body["location"], {"vms": [vm.id for vm in vms], "action": action})


def set_power(lab, vm, power):
    """Put a VM in a final power state and move its disks between Attached and Reserved."""
    vm.internal["power"] = power
    vm.properties["provisioningState"] = "Succeeded"
    lab.store.save(vm)
    for entry in vm.properties["storageProfile"]["dataDisks"]:
        disk = lab.store.get(entry["managedDisk"]["id"])
        if disk:
            disks.set_allocated(lab, disk, power != "deallocated")


@completion(*(f"vm.{action}" for action in POWER_ACTIONS))
def _finish_power(lab, operation):
    final = POWER_ACTIONS[operation.params["action"]][1]
    for vm_id in operation.params["vms"]:
        vm = lab.store.get(vm_id)
        if vm:
            set_power(lab, vm, final)


def scale_set_action_targets(lab, scale_set, body):
    """The instances a scale-set level action names (``instanceIds``; all when absent)."""
    instances = lab.store.children(scale_set.id, VM_TYPE)
    wanted = (body or {}).get("instanceIds")
    if not wanted:
        return instances
    by_id = {vm.body["instanceId"]: vm for vm in instances}
    missing = [instance for instance in wanted if instance not in by_id]
    if missing:
        raise invalid_parameter("instanceIds", f"The instance ids {', '.join(missing)} are not part of scale set '{scale_set.body['name']}'.")
    return [by_id[instance] for instance in wanted]


# data disks
def update_vm(lab, vm, body):
    """PUT/PATCH of an instance: the data disk list (attach / detach) and tags; returns the operation."""
    _idle(lab, vm.id, vm.parent)
    profile = (body.get("properties") or {}).get("storageProfile") or {}
    if "tags" in body and body["tags"] is not None:
        vm.body["tags"] = dict(body["tags"])
    current = vm.properties["storageProfile"]["dataDisks"]
    if profile.get("dataDisks") is None:
        lab.store.save(vm)
        return _start_update(lab, vm, [], [])
    wanted = [entry for entry in profile["dataDisks"] if not entry.get("toBeDetached")]
    wanted_ids = {(entry.get("managedDisk") or {}).get("id", "").lower() for entry in wanted}
    detaching = [entry["managedDisk"]["id"] for entry in current if entry["managedDisk"]["id"].lower() not in wanted_ids]
    current_ids = {entry["managedDisk"]["id"].lower() for entry in current}
    attaching = []
    for entry in wanted:
        disk_id = (entry.get("managedDisk") or {}).get("id")
        if entry.get("createOption", "Attach") != "Attach" or not disk_id:
            raise invalid_parameter("dataDisks.createOption", "The lab attaches existing managed disks only: createOption must be "
                                                              "'Attach' with managedDisk.id.")
        if disk_id.lower() not in current_ids:
            attaching.append({"diskId": disk_id, "lun": entry.get("lun"), "caching": entry.get("caching")})
    return _start_update(lab, vm, attaching, detaching)


def attach_detach(lab, vm, body):
    """The ``attachDetachDataDisks`` action; returns the operation (its result is the storage profile)."""
    _idle(lab, vm.id, vm.parent)
    attaching = [{"diskId": entry.get("diskId"), "lun": entry.get("lun"), "caching": entry.get("caching")}
                 for entry in body.get("dataDisksToAttach") or []]
    current_ids = {entry["managedDisk"]["id"].lower() for entry in vm.properties["storageProfile"]["dataDisks"]}
    detaching = []
    for entry in body.get("dataDisksToDetach") or []:
        if (entry.get("diskId") or "").lower() not in current_ids:
            raise invalid_parameter("dataDisksToDetach", f"Disk '{entry.get('diskId')}' is not attached to VM '{vm.body['name']}'.")
        detaching.append(entry["diskId"])
    return _start_update(lab, vm, attaching, detaching, with_result=True)


def _start_update(lab, vm, attaching, detaching, with_result=False):
    data_disks = vm.properties["storageProfile"]["dataDisks"]
    remaining = [entry for entry in data_disks if entry["managedDisk"]["id"].lower() not in {d.lower() for d in detaching}]
    if len(remaining) + len(attaching) > attach_limit(vm.properties["hardwareProfile"]["vmSize"]):
        raise ArmError(409, "OperationNotAllowed", "The maximum number of data disks allowed to be attached to a VM of this size is "
                                                   f"{attach_limit(vm.properties['hardwareProfile']['vmSize'])}.", target="dataDisks")
    used = {entry["lun"] for entry in remaining}
    new_entries = []
    for request in attaching:
        disk = _attachable(lab, vm, request)
        lun = request["lun"] if request["lun"] is not None else min(set(range(64)) - used)
        if not isinstance(lun, int) or not 0 <= lun <= 63 or lun in used:
            raise invalid_parameter("dataDisks.lun", f"LUN {lun} is not valid for VM '{vm.body['name']}': LUNs are unique numbers from 0 to 63.")
        used.add(lun)
        new_entries.append((disk, {"lun": lun, "name": disk.body["name"], "createOption": "Attach", "caching": request["caching"] or "None",
                                   "writeAcceleratorEnabled": False, "diskSizeGB": disk.properties["diskSizeGB"], "toBeDetached": False,
                                   "managedDisk": {"id": disk.id, "storageAccountType": disk.body["sku"]["name"]}}))
    allocated = vm.internal["power"] not in ("deallocated", "deallocating")
    for disk, entry in new_entries:
        disks.attach(lab, disk, vm.id, allocated)
        data_disks.append(entry)
    for entry in data_disks:
        if entry["managedDisk"]["id"].lower() in {d.lower() for d in detaching}:
            entry["toBeDetached"] = True
    vm.properties["provisioningState"] = "Updating"
    lab.store.save(vm)
    kind = "vm.attach" if attaching and not detaching else "vm.detach" if detaching and not attaching else "vm.update"
    return lab.operations.start(kind, vm.id, vm.body["location"], {"detach": detaching, "result": with_result})


def _attachable(lab, vm, request):
    """Azure's attach rules for one disk on one VM."""
    disk = lab.store.get(request["diskId"] or "")
    if disk is None or disk.type.lower() != disks.DISK_TYPE.lower():
        raise ArmError(404, "NotFound", f"Disk '{request['diskId']}' was not found.")
    name = disk.body["name"]
    if disk.body["location"] != vm.body["location"]:
        raise ArmError(400, "BadRequest", f"Disk '{name}' in region '{disk.body['location']}' cannot be attached to VM "
                                          f"'{vm.body['name']}' in region '{vm.body['location']}'.")
    if disk.properties.get("provisioningState") != "Succeeded":
        raise ArmError(409, "OperationNotAllowed", f"Disk '{name}' is in provisioning state '{disk.properties.get('provisioningState')}' "
                                                   "and cannot be attached yet.")
    zone_redundant = disks.DISK_SKUS[disk.body["sku"]["name"]][1]
    if not zone_redundant and vm.body.get("zones") and not disk.body.get("zones"):
        # Azure does not attach a regional (unzoned) LRS disk to a VM in an availability zone
        raise ArmError(400, "BadRequest",
                       f"Disk {disk.id} cannot be attached to the VM because it is not in the same zone as the VM. "
                       f"VM zone: '{','.join(vm.body['zones'])}'. Disk zone: ''.")
    if disk.body.get("zones") and not zone_redundant and disk.body["zones"] != vm.body.get("zones"):
        raise ArmError(400, "BadRequest",
                       f"Disk {disk.id} cannot be attached to the VM because it is not in the same zone as the VM. "
                       f"VM zone: '{','.join(vm.body.get('zones') or [])}'. Disk zone: '{','.join(disk.body['zones'])}'.")
    holders = disk.body.get("managedByExtended") or ([disk.body["managedBy"]] if disk.body.get("managedBy") else [])
    if holders and len(holders) >= disk.properties.get("maxShares", 1):
        raise ArmError(409, "OperationNotAllowed",
                       f"Cannot attach disk '{name}' to VM '{vm.body['name']}' because it is already attached to VM '{holders[0]}'. "
                       "A disk can be attached to more than one VM only when maxShares is greater than 1.")
    if disk.body["sku"]["name"] in disks.ZONAL_ONLY and (request["caching"] or "None") != "None":
        raise invalid_parameter("dataDisks.caching", f"Disk '{name}' of SKU {disk.body['sku']['name']} supports host caching 'None' only.")
    return disk


@completion("vm.attach", "vm.detach", "vm.update")
def _finish_update(lab, operation):
    vm = lab.store.get(operation.resource_id)
    detaching = {disk_id.lower() for disk_id in operation.params["detach"]}
    profile = vm.properties["storageProfile"]
    profile["dataDisks"] = [entry for entry in profile["dataDisks"] if entry["managedDisk"]["id"].lower() not in detaching]
    for disk_id in operation.params["detach"]:
        disk = lab.store.get(disk_id)
        if disk:
            disks.detach(lab, disk, vm.id)
    vm.properties["provisioningState"] = "Succeeded"
    lab.store.save(vm)
    if operation.params["result"]:
        operation.result = profile
