"""The controller signed in as the kubelet identity (through the emulator's IMDS), as AKS's managed driver is: what it may
do is what the identity's role assignments on the node resource group allow. The least-privilege preset of the
kubedisk.aks.kubelet_rbac role suffices for every operation; Reader, and no role, are refused with Azure's
AuthorizationFailed in the CSI error.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import uuid
from pathlib import Path

import grpc
import pytest
import yaml
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from lab.azure.models.authorization import find_role
from lab.azure.tests.helpers import Emulator

from .conftest import CSI_GRPC, LOCATION, VM_SIZE, start_controller, stop_controller
from .test_controller import CSI, GIB, create, create_request, delete, publish, unpublish

KUBELET_RBAC_DEFAULTS = Path(__file__).resolve().parents[4] / "roles" / "kubelet_rbac" / "defaults" / "main.yml"
PRESET = yaml.safe_load(KUBELET_RBAC_DEFAULTS.read_text(encoding="utf-8"))["kubelet_rbac_roles"]


@pytest.fixture(scope="module")
def identity_lab(tmp_path_factory):
    """An emulator of its own: its IMDS serves the nodes of its oldest cluster, which must be this module's."""
    emulator = Emulator(tmp_path_factory.mktemp("kubelet-lab")).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def aks_cluster(identity_lab):
    """An AKS cluster of two nodes in zones 1 and 2; returns the SDK's managed cluster."""
    identity_lab.client(ResourceManagementClient).resource_groups.create_or_update("rg-kubelet", {"location": LOCATION})
    return identity_lab.client(ContainerServiceClient).managed_clusters.begin_create_or_update("rg-kubelet", "kubelet", {
        "location": LOCATION, "identity": {"type": "SystemAssigned"},
        "properties": {"dnsPrefix": "kubelet", "agentPoolProfiles": [{
            "name": "nodepool1", "count": 2, "vmSize": VM_SIZE, "availabilityZones": ["1", "2"], "mode": "System"}]}}).result()


@pytest.fixture(scope="module")
def node(identity_lab, aks_cluster):
    """The node name of the zone-1 instance."""
    compute = identity_lab.client(ComputeManagementClient)
    scale_set = next(iter(compute.virtual_machine_scale_sets.list(aks_cluster.node_resource_group)))
    return next(vm.os_profile.computer_name for vm in compute.virtual_machine_scale_set_vms.list(aks_cluster.node_resource_group, scale_set.name)
                if vm.zones == ["1"])


@pytest.fixture(scope="module")
def csi(identity_lab, aks_cluster, tmp_path_factory):
    """The controller, signed in as the cluster's kubelet identity."""
    kubelet = aks_cluster.identity_profile["kubeletidentity"].client_id
    running = start_controller(tmp_path_factory.mktemp("kubelet-csi"), identity_lab.info, aks_cluster.node_resource_group, kubelet)
    with grpc.insecure_channel(running.endpoint) as channel:
        yield CSI_GRPC.ControllerStub(channel)
    stop_controller(running)


@pytest.fixture(scope="module")
def grant(identity_lab, aks_cluster):
    """``grant(roles)``: the kubelet identity's role assignments on the node resource group become exactly these (by the lab's Owner)."""
    authorization = identity_lab.client(AuthorizationManagementClient)
    subscription = identity_lab.info["subscription_id"]
    scope = f"/subscriptions/{subscription}/resourceGroups/{aks_cluster.node_resource_group}"
    principal = aks_cluster.identity_profile["kubeletidentity"].object_id

    def assign(roles):
        for existing in authorization.role_assignments.list_for_scope(scope, filter=f"principalId eq '{principal}'"):
            authorization.role_assignments.delete_by_id(existing.id)
        for role in roles:
            definition = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{find_role(role)['name']}"
            authorization.role_assignments.create(scope, str(uuid.uuid4()), {"properties": {
                "roleDefinitionId": definition, "principalId": principal, "principalType": "ServicePrincipal"}})

    yield assign
    assign([])


def _expand(volume, size):
    return CSI.ControllerExpandVolumeRequest(volume_id=volume.volume_id, capacity_range=CSI.CapacityRange(required_bytes=size))


def _snapshot_request(volume):
    return CSI.CreateSnapshotRequest(name=f"snapshot-{uuid.uuid4()}", source_volume_id=volume.volume_id)


def _from_snapshot(snapshot):
    return CSI.VolumeContentSource(snapshot=CSI.VolumeContentSource.SnapshotSource(snapshot_id=snapshot.snapshot_id))


def test_preset_suffices_for_every_operation(csi, grant, node):
    assert PRESET, KUBELET_RBAC_DEFAULTS
    grant(PRESET)
    volume = create(csi, size=GIB, preferred=("1",))
    publish(csi, volume, node)
    unpublish(csi, volume, node)
    assert csi.ControllerExpandVolume(_expand(volume, 2 * GIB)).capacity_bytes == 2 * GIB
    snapshot = csi.CreateSnapshot(_snapshot_request(volume)).snapshot
    restored = create(csi, size=2 * GIB, preferred=("1",), source=_from_snapshot(snapshot))
    assert restored.content_source.snapshot.snapshot_id == snapshot.snapshot_id
    csi.DeleteSnapshot(CSI.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id))
    for item in (volume, restored):
        delete(csi, item)


@pytest.mark.parametrize("roles", [["Reader"], []], ids=["reader", "no-role"])
def test_without_the_preset_every_operation_is_refused(csi, grant, node, aks_cluster, roles):
    grant(PRESET)  # what the refused calls would work on, made while allowed
    volume, attached = create(csi, size=GIB, preferred=("1",)), create(csi, size=GIB, preferred=("1",))
    publish(csi, attached, node)
    snapshot = csi.CreateSnapshot(_snapshot_request(volume)).snapshot
    grant(roles)
    kubelet = aks_cluster.identity_profile["kubeletidentity"]
    calls = {
        "create": (csi.CreateVolume, create_request(preferred=("1",))),
        "attach": (csi.ControllerPublishVolume, CSI.ControllerPublishVolumeRequest(
            volume_id=volume.volume_id, node_id=node, volume_capability=create_request().volume_capabilities[0],
            volume_context=volume.volume_context)),
        "detach": (csi.ControllerUnpublishVolume, CSI.ControllerUnpublishVolumeRequest(volume_id=attached.volume_id, node_id=node)),
        "resize": (csi.ControllerExpandVolume, _expand(volume, 2 * GIB)),
        "snapshot": (csi.CreateSnapshot, _snapshot_request(volume)),
        "restore": (csi.CreateVolume, create_request(preferred=("1",), source=_from_snapshot(snapshot))),
        "delete snapshot": (csi.DeleteSnapshot, CSI.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id)),
        "delete": (csi.DeleteVolume, CSI.DeleteVolumeRequest(volume_id=volume.volume_id)),
    }
    refused = {}
    for name, (call, request) in calls.items():
        with pytest.raises(grpc.RpcError) as caught:
            call(request)
        refused[name] = caught.value.details()
    for name, message in refused.items():
        assert "AuthorizationFailed" in message and f"object id '{kubelet.object_id}'" in message, (name, message)
    grant(PRESET)
    unpublish(csi, attached, node)
    csi.DeleteSnapshot(CSI.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id))
    for item in (volume, attached):
        delete(csi, item)
