"""The CSI controller end to end: gRPC calls in, Azure SDK calls to the ARM emulator out, Azure state checked through the SDK."""

import uuid

import grpc
import pytest

from lab.csi import protos

from .conftest import LOCATION

CSI = protos.load()[0]
GIB = 1 << 30
TOPOLOGY_KEY = "topology.disk.csi.azure.com/zone"
MODES = CSI.VolumeCapability.AccessMode


def capability(mode=MODES.SINGLE_NODE_WRITER, block=False):
    """A volume capability (mount ext4 unless ``block``)."""
    if block:
        return CSI.VolumeCapability(block=CSI.VolumeCapability.BlockVolume(), access_mode=CSI.VolumeCapability.AccessMode(mode=mode))
    return CSI.VolumeCapability(mount=CSI.VolumeCapability.MountVolume(fs_type="ext4"), access_mode=CSI.VolumeCapability.AccessMode(mode=mode))


def zone_topology(*zones):
    """Topologies for zone numbers."""
    return [CSI.Topology(segments={TOPOLOGY_KEY: f"{LOCATION}-{zone}"}) for zone in zones]


def create_request(*, name=None, size=GIB, parameters=None, preferred=(), requisite=(), source=None, mode=MODES.SINGLE_NODE_WRITER, block=False):
    """A CreateVolumeRequest as the external-provisioner sends it."""
    request = CSI.CreateVolumeRequest(
        name=name or f"pvc-{uuid.uuid4()}", capacity_range=CSI.CapacityRange(required_bytes=size), parameters=parameters or {},
        volume_capabilities=[capability(mode, block)])
    if preferred or requisite:
        request.accessibility_requirements.CopyFrom(CSI.TopologyRequirement(
            preferred=zone_topology(*preferred), requisite=zone_topology(*(requisite or preferred))))
    if source is not None:
        request.volume_content_source.CopyFrom(source)
    return request


def create(csi, **kwargs):
    """CreateVolume; returns the volume."""
    return csi.CreateVolume(create_request(**kwargs)).volume


def publish(csi, volume, node, block=False):
    """ControllerPublishVolume; returns the LUN."""
    response = csi.ControllerPublishVolume(CSI.ControllerPublishVolumeRequest(
        volume_id=volume.volume_id, node_id=node, volume_capability=capability(block=block), volume_context=volume.volume_context))
    return response.publish_context["LUN"]


def unpublish(csi, volume, node):
    """ControllerUnpublishVolume."""
    csi.ControllerUnpublishVolume(CSI.ControllerUnpublishVolumeRequest(volume_id=volume.volume_id, node_id=node))


def delete(csi, volume):
    """DeleteVolume."""
    csi.DeleteVolume(CSI.DeleteVolumeRequest(volume_id=volume.volume_id))


def fails(code, call, *args):
    """Call a stub method expecting a gRPC error with ``code``; returns its message."""
    with pytest.raises(grpc.RpcError) as caught:
        call(*args)
    assert caught.value.code() == code, caught.value.details()
    return caught.value.details()


def disk_of(compute, volume):
    """The Azure disk behind a volume, read through the SDK."""
    parts = volume.volume_id.split("/")
    return compute.disks.get(parts[4], parts[8])


def data_disks(compute, cluster, node):
    """The data disks of a node's VM (disk name -> entry)."""
    vmss, instance = node[:-6], str(int(node[-6:], 36))
    vm = compute.virtual_machine_scale_set_vms.get(cluster.node_group, vmss, instance)
    return {entry.name: entry for entry in vm.storage_profile.data_disks}


def topology_zones(volume):
    """The zone values of a volume's accessible topology."""
    return sorted(topology.segments[TOPOLOGY_KEY] for topology in volume.accessible_topology)


def test_identity(identity):
    """Driver name, controller + topology + online expansion capabilities, ready."""
    info = identity.GetPluginInfo(CSI.GetPluginInfoRequest())
    assert info.name == "disk.csi.azure.com" and info.vendor_version
    capabilities = identity.GetPluginCapabilities(CSI.GetPluginCapabilitiesRequest()).capabilities
    services = {item.service.type for item in capabilities if item.HasField("service")}
    assert services == {CSI.PluginCapability.Service.CONTROLLER_SERVICE, CSI.PluginCapability.Service.VOLUME_ACCESSIBILITY_CONSTRAINTS}
    assert [item.volume_expansion.type for item in capabilities if item.HasField("volume_expansion")] == [CSI.PluginCapability.VolumeExpansion.ONLINE]
    assert identity.Probe(CSI.ProbeRequest()).ready.value


def test_controller_capabilities(csi):
    """The capabilities the sidecars look for."""
    rpc = CSI.ControllerServiceCapability.RPC
    kinds = {item.rpc.type for item in csi.ControllerGetCapabilities(CSI.ControllerGetCapabilitiesRequest()).capabilities}
    assert {rpc.CREATE_DELETE_VOLUME, rpc.PUBLISH_UNPUBLISH_VOLUME, rpc.CREATE_DELETE_SNAPSHOT, rpc.LIST_SNAPSHOTS, rpc.CLONE_VOLUME,
            rpc.EXPAND_VOLUME, rpc.LIST_VOLUMES} <= kinds


def test_create_zonal_lrs(csi, compute, cluster, lab):
    """Preferred zone first, size rounded up to GiB, parameters applied, idempotent by name, ALREADY_EXISTS on another size."""
    name = f"pvc-{uuid.uuid4()}"
    parameters = {"skuname": "Premium_LRS", "tags": "team=storage,env=lab", "cachingMode": "None", "fsType": "xfs",
                  "csi.storage.k8s.io/pvc/name": "data-web-0", "csi.storage.k8s.io/pvc/namespace": "shop"}
    volume = create(csi, name=name, size=GIB + GIB // 2, parameters=parameters, preferred=("2",), requisite=("1", "2"))
    assert volume.volume_id == f"/subscriptions/{lab.info['subscription_id']}/resourceGroups/{cluster.node_group}" \
                               f"/providers/Microsoft.Compute/disks/{name}"
    assert volume.capacity_bytes == 2 * GIB
    assert topology_zones(volume) == [f"{LOCATION}-2"]
    assert volume.volume_context["requestedsizegib"] == "2" and volume.volume_context["skuname"] == "Premium_LRS"
    disk = disk_of(compute, volume)
    assert (disk.zones, disk.sku.name, disk.disk_size_gb, disk.location) == (["2"], "Premium_LRS", 2, LOCATION)
    assert disk.tags == {"team": "storage", "env": "lab", "k8s-azure-created-by": "kubernetes-azure-dd",
                         "kubernetes.io-created-for-pvc-name": "data-web-0", "kubernetes.io-created-for-pvc-namespace": "shop"}
    again = create(csi, name=name, size=2 * GIB, parameters=parameters, preferred=("1",))
    assert again.volume_id == volume.volume_id and topology_zones(again) == [f"{LOCATION}-2"]
    fails(grpc.StatusCode.ALREADY_EXISTS, csi.CreateVolume, create_request(name=name, size=5 * GIB, parameters=parameters))
    delete(csi, volume)


def test_create_zrs_and_regional(csi, compute):
    """ZRS disks take no zone and are accessible from every zone; without requirements an LRS disk is regional."""
    zrs = create(csi, parameters={"skuName": "StandardSSD_ZRS"}, preferred=("1",))
    assert disk_of(compute, zrs).zones is None
    assert topology_zones(zrs) == ["", f"{LOCATION}-1", f"{LOCATION}-2", f"{LOCATION}-3"]
    regional = create(csi)
    assert disk_of(compute, regional).sku.name == "StandardSSD_LRS" and disk_of(compute, regional).zones is None
    assert topology_zones(regional) == [""]
    for volume in (zrs, regional):
        delete(csi, volume)


@pytest.mark.parametrize("parameters", [
    {"foo": "bar"}, {"skuName": "premium_lrs"}, {"tags": "novalue"}, {"maxShares": "0"},
    {"skuName": "PremiumV2_LRS", "cachingMode": "ReadOnly"}, {"cachingMode": "WriteBack"},
])
def test_create_refuses_bad_parameters(csi, parameters):
    """Unknown keys and invalid values are INVALID_ARGUMENT, as the driver's strict parameter parsing."""
    fails(grpc.StatusCode.INVALID_ARGUMENT, csi.CreateVolume, create_request(parameters=parameters, preferred=("1",)))


def test_create_refuses_bad_requests(csi):
    """Missing name or capabilities, multi-node mount access, a limit below the rounded size."""
    fails(grpc.StatusCode.INVALID_ARGUMENT, csi.CreateVolume, CSI.CreateVolumeRequest(volume_capabilities=[capability()]))
    request = create_request()
    del request.volume_capabilities[:]
    fails(grpc.StatusCode.INVALID_ARGUMENT, csi.CreateVolume, request)
    fails(grpc.StatusCode.INVALID_ARGUMENT, csi.CreateVolume, create_request(mode=MODES.MULTI_NODE_MULTI_WRITER))
    request = create_request(size=GIB + 1)
    request.capacity_range.limit_bytes = GIB
    fails(grpc.StatusCode.INVALID_ARGUMENT, csi.CreateVolume, request)


def test_publish_unpublish(csi, compute, cluster):
    """Attach at the lowest free LUN with the class's caching, idempotent publish and unpublish."""
    node = cluster.zones["1"][0]
    first = create(csi, parameters={"skuName": "Premium_LRS"}, preferred=("1",))
    second = create(csi, parameters={"skuName": "Premium_LRS", "cachingMode": "None"}, preferred=("1",))
    assert publish(csi, first, node) == "0"
    assert publish(csi, first, node) == "0"
    assert publish(csi, second, node, block=True) == "1"
    attached = data_disks(compute, cluster, node)
    assert {name: (entry.lun, entry.caching) for name, entry in attached.items()} == {
        first.volume_id.rsplit("/", 1)[1]: (0, "ReadOnly"), second.volume_id.rsplit("/", 1)[1]: (1, "None")}
    assert disk_of(compute, first).disk_state == "Attached"
    unpublish(csi, first, node)
    unpublish(csi, first, node)
    assert list(data_disks(compute, cluster, node)) == [second.volume_id.rsplit("/", 1)[1]]
    assert publish(csi, first, node) == "0"
    for volume in (first, second):
        unpublish(csi, volume, node)
        delete(csi, volume)
    assert not data_disks(compute, cluster, node)


def test_publish_errors(csi, cluster):
    """Wrong zone (the driver's INTERNAL with Azure's message), unknown node or volume."""
    zone1, zone2 = cluster.zones["1"], cluster.zones["2"]
    volume = create(csi, preferred=("1",))
    message = fails(grpc.StatusCode.INTERNAL, publish, csi, volume, zone2[0])
    assert "not in the same zone" in message and "Attach volume" in message
    publish(csi, volume, zone1[0])
    fails(grpc.StatusCode.NOT_FOUND, publish, csi, volume, "fake-node-id")
    fails(grpc.StatusCode.NOT_FOUND, publish, csi, volume, zone1[0][:-6] + "zzzzzz")
    missing = CSI.Volume(volume_id=volume.volume_id + "-missing")
    fails(grpc.StatusCode.NOT_FOUND, publish, csi, missing, zone1[0])
    unpublish(csi, volume, zone1[0])
    unpublish(csi, volume, "fake-node-id")
    unpublish(csi, missing, zone1[0])
    delete(csi, volume)


def vm_id(compute, cluster, node):
    """The ARM id of a node's scale-set VM."""
    return compute.virtual_machine_scale_set_vms.get(cluster.node_group, node[:-6], str(int(node[-6:], 36))).id


def test_publish_detaches_from_the_other_node_first(csi, compute, cluster, lab):
    """A disk attached to another node is detached there, then attached; a failed detach is INTERNAL and changes nothing."""
    first, second = cluster.zones["1"][:2]
    volume = create(csi, preferred=("1",))
    name = volume.volume_id.rsplit("/", 1)[1]
    publish(csi, volume, first)
    lun = publish(csi, volume, second)
    assert data_disks(compute, cluster, second)[name].lun == int(lun)
    assert name not in data_disks(compute, cluster, first)
    assert disk_of(compute, volume).managed_by.lower() == vm_id(compute, cluster, second).lower()

    vmss, instance = second[:-6], int(second[-6:], 36)
    lab.admin("POST", "faults", json={"method": "PUT", "path": f"/{vmss}/virtualMachines/{instance}$", "action": "lro-fail",
                                      "code": "InternalExecutionError"})
    message = fails(grpc.StatusCode.INTERNAL, publish, csi, volume, first)
    assert f"Could not detach volume {volume.volume_id} from node {second}" in message and "InternalExecutionError" in message
    assert name not in data_disks(compute, cluster, first)
    assert disk_of(compute, volume).managed_by.lower() == vm_id(compute, cluster, second).lower()

    # the fault is spent: the next publish detaches again over the half-done detach and attaches
    lun = publish(csi, volume, first)
    assert data_disks(compute, cluster, first)[name].lun == int(lun)
    assert name not in data_disks(compute, cluster, second)
    unpublish(csi, volume, second)
    unpublish(csi, volume, first)
    assert disk_of(compute, volume).disk_state == "Unattached"
    delete(csi, volume)


def test_attach_limit(csi, cluster):
    """A Standard_D2s_v5 VM holds 4 data disks; the 5th attach is RESOURCE_EXHAUSTED."""
    node = cluster.zones["2"][1]
    volumes = [create(csi, preferred=("2",)) for number in range(5)]
    assert [publish(csi, volume, node) for volume in volumes[:4]] == ["0", "1", "2", "3"]
    message = fails(grpc.StatusCode.RESOURCE_EXHAUSTED, publish, csi, volumes[4], node)
    assert "maximum number of data disks" in message
    for volume in volumes:
        unpublish(csi, volume, node)
        delete(csi, volume)


def test_expand(csi, compute, cluster, lab):
    """With online resize off: refused while attached (Azure's message), done once detached; never shrinks."""
    node = cluster.zones["1"][1]
    volume = create(csi, size=4 * GIB, preferred=("1",))
    publish(csi, volume, node)
    request = CSI.ControllerExpandVolumeRequest(volume_id=volume.volume_id, capacity_range=CSI.CapacityRange(required_bytes=6 * GIB))
    assert lab.admin("POST", "config", json={"onlineResize": False}).ok
    try:
        message = fails(grpc.StatusCode.FAILED_PRECONDITION, csi.ControllerExpandVolume, request)
        assert "OperationNotAllowed" in message and "deallocate" in message
        unpublish(csi, volume, node)
        response = csi.ControllerExpandVolume(request)
    finally:
        lab.admin("POST", "config", json={"onlineResize": True})
    assert (response.capacity_bytes, response.node_expansion_required) == (6 * GIB, True)
    assert disk_of(compute, volume).disk_size_gb == 6
    smaller = CSI.ControllerExpandVolumeRequest(volume_id=volume.volume_id, capacity_range=CSI.CapacityRange(required_bytes=2 * GIB))
    assert csi.ControllerExpandVolume(smaller).capacity_bytes == 6 * GIB
    fails(grpc.StatusCode.INVALID_ARGUMENT, csi.ControllerExpandVolume, CSI.ControllerExpandVolumeRequest(volume_id=volume.volume_id))
    fails(grpc.StatusCode.NOT_FOUND, csi.ControllerExpandVolume,
          CSI.ControllerExpandVolumeRequest(volume_id=volume.volume_id + "x", capacity_range=CSI.CapacityRange(required_bytes=GIB)))
    delete(csi, volume)


def test_online_expand(csi, compute, cluster):
    """With online resize on (the emulator's default), an attached disk grows."""
    node = cluster.zones["2"][0]
    volume = create(csi, size=GIB, preferred=("2",))
    publish(csi, volume, node)
    request = CSI.ControllerExpandVolumeRequest(volume_id=volume.volume_id, capacity_range=CSI.CapacityRange(required_bytes=3 * GIB))
    assert csi.ControllerExpandVolume(request).capacity_bytes == 3 * GIB
    assert disk_of(compute, volume).disk_size_gb == 3
    unpublish(csi, volume, node)
    delete(csi, volume)


def test_delete(csi, cluster):
    """Refused while attached, idempotent, a non-ARM id is a no-op."""
    node = cluster.zones["1"][0]
    volume = create(csi, preferred=("1",))
    publish(csi, volume, node)
    message = fails(grpc.StatusCode.FAILED_PRECONDITION, delete, csi, volume)
    assert node in message
    unpublish(csi, volume, node)
    delete(csi, volume)
    delete(csi, volume)
    csi.DeleteVolume(CSI.DeleteVolumeRequest(volume_id="not-an-arm-id"))
    fails(grpc.StatusCode.INVALID_ARGUMENT, csi.DeleteVolume, CSI.DeleteVolumeRequest())


def test_snapshots(csi, compute):
    """Incremental by default, idempotent by name, ALREADY_EXISTS for another source, listed by id / source / pages, deleted."""
    source = create(csi, size=2 * GIB, preferred=("1",))
    name = f"snapshot-{uuid.uuid4()}"
    request = CSI.CreateSnapshotRequest(name=name, source_volume_id=source.volume_id, parameters={"tags": "kind=backup"})
    snapshot = csi.CreateSnapshot(request).snapshot
    assert snapshot.ready_to_use and snapshot.size_bytes == 2 * GIB and snapshot.source_volume_id == source.volume_id
    assert snapshot.creation_time.seconds > 0
    azure_snapshot = compute.snapshots.get(snapshot.snapshot_id.split("/")[4], name)
    assert azure_snapshot.incremental and azure_snapshot.tags == {"kind": "backup"}
    assert csi.CreateSnapshot(request).snapshot.snapshot_id == snapshot.snapshot_id
    other = create(csi, preferred=("1",))
    fails(grpc.StatusCode.ALREADY_EXISTS, csi.CreateSnapshot, CSI.CreateSnapshotRequest(name=name, source_volume_id=other.volume_id))
    second = csi.CreateSnapshot(CSI.CreateSnapshotRequest(name=f"snapshot-{uuid.uuid4()}", source_volume_id=other.volume_id)).snapshot

    by_id = csi.ListSnapshots(CSI.ListSnapshotsRequest(snapshot_id=snapshot.snapshot_id)).entries
    assert [entry.snapshot.snapshot_id for entry in by_id] == [snapshot.snapshot_id]
    by_source = csi.ListSnapshots(CSI.ListSnapshotsRequest(source_volume_id=other.volume_id)).entries
    assert [entry.snapshot.snapshot_id for entry in by_source] == [second.snapshot_id]
    assert not csi.ListSnapshots(CSI.ListSnapshotsRequest(snapshot_id="no-such-snapshot")).entries
    everything = [entry.snapshot.snapshot_id for entry in csi.ListSnapshots(CSI.ListSnapshotsRequest()).entries]
    paged, token = [], ""
    while True:
        page = csi.ListSnapshots(CSI.ListSnapshotsRequest(max_entries=1, starting_token=token))
        paged += [entry.snapshot.snapshot_id for entry in page.entries]
        token = page.next_token
        if not token:
            break
    assert paged == everything and {snapshot.snapshot_id, second.snapshot_id} <= set(everything)
    fails(grpc.StatusCode.ABORTED, csi.ListSnapshots, CSI.ListSnapshotsRequest(starting_token="bogus"))  # noqa: S106 - a page token

    for item in (snapshot, second):
        csi.DeleteSnapshot(CSI.DeleteSnapshotRequest(snapshot_id=item.snapshot_id))
    csi.DeleteSnapshot(CSI.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id))
    csi.DeleteSnapshot(CSI.DeleteSnapshotRequest(snapshot_id="reallyfakesnapshotid"))
    assert not csi.ListSnapshots(CSI.ListSnapshotsRequest(snapshot_id=snapshot.snapshot_id)).entries
    for volume in (source, other):
        delete(csi, volume)


def test_restore_and_clone(csi, compute):
    """A restore may change SKU and zone (Copy of the snapshot); a clone stays in its source's zone; a missing source is NOT_FOUND."""
    source = create(csi, size=2 * GIB, parameters={"skuName": "Premium_LRS"}, preferred=("1",))
    snapshot = csi.CreateSnapshot(CSI.CreateSnapshotRequest(name=f"snapshot-{uuid.uuid4()}", source_volume_id=source.volume_id)).snapshot
    from_snapshot = CSI.VolumeContentSource(snapshot=CSI.VolumeContentSource.SnapshotSource(snapshot_id=snapshot.snapshot_id))
    restored = create(csi, size=2 * GIB, parameters={"skuName": "StandardSSD_LRS"}, preferred=("2",), source=from_snapshot)
    assert restored.content_source.snapshot.snapshot_id == snapshot.snapshot_id and topology_zones(restored) == [f"{LOCATION}-2"]
    restored_disk = disk_of(compute, restored)
    assert (restored_disk.creation_data.create_option, restored_disk.creation_data.source_resource_id) == ("Copy", snapshot.snapshot_id)
    assert restored_disk.sku.name == "StandardSSD_LRS"
    from_volume = CSI.VolumeContentSource(volume=CSI.VolumeContentSource.VolumeSource(volume_id=source.volume_id))
    clone = create(csi, size=2 * GIB, parameters={"skuName": "Premium_LRS"}, preferred=("2",), source=from_volume)
    assert disk_of(compute, clone).zones == ["1"] and topology_zones(clone) == [f"{LOCATION}-1"]
    for missing in (CSI.VolumeContentSource(snapshot=CSI.VolumeContentSource.SnapshotSource(snapshot_id="non-existing-snapshot-id")),
                    CSI.VolumeContentSource(volume=CSI.VolumeContentSource.VolumeSource(volume_id=source.volume_id + "-gone"))):
        fails(grpc.StatusCode.NOT_FOUND, csi.CreateVolume, create_request(source=missing))
    csi.DeleteSnapshot(CSI.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id))
    for volume in (source, restored, clone):
        delete(csi, volume)


def test_list_volumes(csi):
    """Pages with index tokens; an invalid token is ABORTED."""
    created = [create(csi) for number in range(3)]
    everything = [entry.volume.volume_id for entry in csi.ListVolumes(CSI.ListVolumesRequest()).entries]
    assert {volume.volume_id for volume in created} <= set(everything)
    first = csi.ListVolumes(CSI.ListVolumesRequest(max_entries=2))
    rest = csi.ListVolumes(CSI.ListVolumesRequest(starting_token=first.next_token))
    assert [entry.volume.volume_id for entry in list(first.entries) + list(rest.entries)] == everything
    fails(grpc.StatusCode.ABORTED, csi.ListVolumes, CSI.ListVolumesRequest(starting_token="-1"))  # noqa: S106 - a page token
    for volume in created:
        delete(csi, volume)


def test_validate_volume_capabilities(csi):
    """Confirmed for single-node modes, refused for multi-node mounts, NOT_FOUND for unknown volumes."""
    volume = create(csi)
    confirmed = csi.ValidateVolumeCapabilities(CSI.ValidateVolumeCapabilitiesRequest(volume_id=volume.volume_id,
                                                                                     volume_capabilities=[capability()]))
    assert list(confirmed.confirmed.volume_capabilities) == [capability()]
    refused = csi.ValidateVolumeCapabilities(CSI.ValidateVolumeCapabilitiesRequest(
        volume_id=volume.volume_id, volume_capabilities=[capability(MODES.MULTI_NODE_MULTI_WRITER)]))
    assert not refused.HasField("confirmed") and refused.message
    fails(grpc.StatusCode.NOT_FOUND, csi.ValidateVolumeCapabilities,
          CSI.ValidateVolumeCapabilitiesRequest(volume_id="fake-vol-id", volume_capabilities=[capability()]))
    delete(csi, volume)


def test_every_call_is_logged(csi, controller):
    """The controller's stderr names each call, its key fields and its result code."""
    delete(csi, create(csi, name="pvc-logged"))
    fails(grpc.StatusCode.NOT_FOUND, csi.ValidateVolumeCapabilities,
          CSI.ValidateVolumeCapabilitiesRequest(volume_id="logged-volume", volume_capabilities=[capability()]))
    log = controller.log.read_text()
    assert "ValidateVolumeCapabilities volume_id='logged-volume' -> NOT_FOUND" in log
    assert "CreateVolume name='pvc-logged' capacity_range.required_bytes=1073741824 -> OK" in log
    assert "DeleteVolume volume_id='/subscriptions/" in log
