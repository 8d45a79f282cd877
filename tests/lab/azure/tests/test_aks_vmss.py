"""Managed clusters, agent pools, scale-set VMs: power operations, data disk attach/detach rules, resize while attached."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import uuid

import pytest
from azure.core.exceptions import HttpResponseError

from .helpers import empty_disk, error_code

POOL = {"name": "nodepool1", "count": 3, "vmSize": "Standard_D2s_v5", "availabilityZones": ["1", "2", "3"], "mode": "System"}


def _cluster_body(**properties):
    return {"location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "lab", "agentPoolProfiles": [dict(POOL)], **properties}}


@pytest.fixture(scope="module")
def cluster(aks, resource_client):
    """One cluster shared by the tests of this module."""
    group = f"rg-aks-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": "westeurope"})
    created = aks.managed_clusters.begin_create_or_update(group, "lab-aks", _cluster_body()).result()
    return group, created


def _scale_set(compute, node_group):
    return next(iter(compute.virtual_machine_scale_sets.list(node_group)))


def test_cluster_shape(compute, resource_client, authorization, subscription, cluster):
    group, created = cluster
    assert created.provisioning_state == "Succeeded" and created.power_state.code == "Running"
    assert created.node_resource_group == f"MC_{group}_lab-aks_westeurope"
    assert resource_client.resource_groups.get(created.node_resource_group).managed_by == created.id
    assert created.fqdn.endswith(".hcp.westeurope.azmk8s.io")
    assert created.storage_profile.disk_csi_driver.enabled and created.storage_profile.snapshot_controller.enabled
    kubelet = created.identity_profile["kubeletidentity"]
    assert kubelet.resource_id.endswith("/userAssignedIdentities/lab-aks-agentpool")
    scale_set = _scale_set(compute, created.node_resource_group)
    assert scale_set.name.startswith("aks-nodepool1-") and scale_set.name.endswith("-vmss") and len(scale_set.name.split("-")[2]) == 8
    vms = list(compute.virtual_machine_scale_set_vms.list(created.node_resource_group, scale_set.name))
    assert [(vm.name, vm.zones) for vm in vms] == [(f"{scale_set.name}_{index}", [str(index + 1)]) for index in range(3)]
    scope = f"/subscriptions/{subscription}/resourceGroups/{group}"
    assignment = authorization.role_assignments.create(scope, str(uuid.uuid4()), {"properties": {
        "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/7efff54f-a5b4-42b5-a1c5-5411624893ce",
        "principalId": kubelet.object_id}})
    assert assignment.principal_id == kubelet.object_id


def test_cluster_rules(aks, cluster):
    group, _created = cluster
    with pytest.raises(HttpResponseError) as caught:
        aks.managed_clusters.begin_create_or_update(group, "bad", _cluster_body(agentPoolProfiles=[dict(POOL, name="Node_Pool")])).result()
    assert error_code(caught) == "InvalidParameter"
    changed = _cluster_body(agentPoolProfiles=[dict(POOL, vmSize="Standard_D4s_v5")])
    with pytest.raises(HttpResponseError) as caught:
        aks.managed_clusters.begin_create_or_update(group, "lab-aks", changed).result()
    assert error_code(caught) == "PropertyChangeNotAllowed"
    with pytest.raises(HttpResponseError) as caught:
        aks.agent_pools.begin_create_or_update(group, "lab-aks", "nodepool1", {"properties": dict(POOL, availabilityZones=["1"])}).result()
    assert error_code(caught) == "PropertyChangeNotAllowed"
    poller = aks.managed_clusters.begin_update_tags(group, "lab-aks", {"tags": {"team": "storage"}})
    with pytest.raises(HttpResponseError) as caught:
        aks.agent_pools.begin_delete(group, "lab-aks", "nodepool1").result()
    assert error_code(caught) == "OperationNotAllowed"
    assert poller.result().tags == {"team": "storage"}


def test_credentials(lab, aks, cluster, tmp_path):
    group, _created = cluster
    placeholder = bytes(aks.managed_clusters.list_cluster_admin_credentials(group, "lab-aks").kubeconfigs[0].value).decode()
    assert "placeholder.invalid" in placeholder and placeholder.startswith("# kubedisk lab")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n# the lab control plane\n")
    lab.admin("POST", "config", json={"kubeconfig": str(kubeconfig)})
    try:
        user = aks.managed_clusters.list_cluster_user_credentials(group, "lab-aks").kubeconfigs[0]
        assert bytes(user.value).decode() == kubeconfig.read_text()
    finally:
        lab.admin("POST", "config", json={"kubeconfig": None})


def test_agent_pools_scale(aks, compute, cluster):
    group, created = cluster
    pool = aks.agent_pools.begin_create_or_update(group, "lab-aks", "user1", {"properties": {
        "count": 2, "vmSize": "Standard_D4s_v5", "availabilityZones": ["1", "2"], "mode": "User"}}).result()
    assert pool.provisioning_state == "Succeeded"
    sets = {item.name: item for item in compute.virtual_machine_scale_sets.list(created.node_resource_group)}
    user_set = next(name for name in sets if name.startswith("aks-user1-"))
    scaled = aks.agent_pools.begin_create_or_update(group, "lab-aks", "user1", {"properties": {"count": 4}}).result()
    assert scaled.count == 4
    zones = [vm.zones[0] for vm in compute.virtual_machine_scale_set_vms.list(created.node_resource_group, user_set)]
    assert zones == ["1", "2", "1", "2"]
    assert {profile.name: profile.count for profile in aks.managed_clusters.get(group, "lab-aks").agent_pool_profiles} == {"nodepool1": 3, "user1": 4}
    aks.agent_pools.begin_create_or_update(group, "lab-aks", "user1", {"properties": {"count": 1}}).result()
    assert len(list(compute.virtual_machine_scale_set_vms.list(created.node_resource_group, user_set))) == 1
    aks.agent_pools.begin_delete(group, "lab-aks", "user1").result()
    assert [item.name for item in aks.agent_pools.list(group, "lab-aks")] == ["nodepool1"]
    assert user_set not in {item.name for item in compute.virtual_machine_scale_sets.list(created.node_resource_group)}


def _power(compute, node_group, scale_set, instance):
    view = compute.virtual_machine_scale_set_vms.get_instance_view(node_group, scale_set, instance)
    return next(status.code for status in view.statuses if status.code.startswith("PowerState/"))


def test_vm_power_operations(compute, cluster):
    _group, created = cluster
    node_group = created.node_resource_group
    scale_set = _scale_set(compute, node_group).name
    assert _power(compute, node_group, scale_set, "2") == "PowerState/running"
    compute.virtual_machine_scale_set_vms.begin_power_off(node_group, scale_set, "2").result()
    assert _power(compute, node_group, scale_set, "2") == "PowerState/stopped"
    compute.virtual_machine_scale_set_vms.begin_deallocate(node_group, scale_set, "2").result()
    vm = compute.virtual_machine_scale_set_vms.get(node_group, scale_set, "2", expand="instanceView")
    assert "PowerState/deallocated" in [status.code for status in vm.instance_view.statuses]
    with pytest.raises(HttpResponseError) as caught:
        compute.virtual_machine_scale_set_vms.begin_restart(node_group, scale_set, "2").result()
    assert error_code(caught) == "OperationNotAllowed"
    compute.virtual_machine_scale_set_vms.begin_start(node_group, scale_set, "2").result()
    compute.virtual_machine_scale_set_vms.begin_restart(node_group, scale_set, "2").result()
    assert _power(compute, node_group, scale_set, "2") == "PowerState/running"


def _attach_put(compute, node_group, scale_set, instance, disk_ids, caching="None"):
    vm = compute.virtual_machine_scale_set_vms.get(node_group, scale_set, instance)
    data_disks = [{"lun": lun, "createOption": "Attach", "caching": caching, "managedDisk": {"id": disk_id}} for lun, disk_id in enumerate(disk_ids)]
    body = {"location": vm.location, "properties": {"storageProfile": {"dataDisks": data_disks}}}
    return compute.virtual_machine_scale_set_vms.begin_update(node_group, scale_set, instance, body).result()


def test_attach_detach_and_zone_rules(compute, cluster):
    group, created = cluster
    node_group = created.node_resource_group
    scale_set = _scale_set(compute, node_group).name
    zone1 = compute.disks.begin_create_or_update(group, "z1", empty_disk(zones=["1"])).result()
    zone2 = compute.disks.begin_create_or_update(group, "z2", empty_disk(zones=["2"])).result()
    zrs = compute.disks.begin_create_or_update(group, "zrs", empty_disk(sku="Premium_ZRS")).result()
    vm = _attach_put(compute, node_group, scale_set, "0", [zone1.id, zrs.id])
    assert [entry.managed_disk.id for entry in vm.storage_profile.data_disks] == [zone1.id, zrs.id]
    attached = compute.disks.get(group, "z1")
    assert attached.disk_state == "Attached" and attached.managed_by.endswith(f"{scale_set}/virtualMachines/0")
    with pytest.raises(HttpResponseError) as caught:
        _attach_put(compute, node_group, scale_set, "0", [zone1.id, zrs.id, zone2.id])
    assert error_code(caught) == "BadRequest" and "same zone" in caught.value.error.message
    regional = compute.disks.begin_create_or_update(group, "regional", empty_disk()).result()
    with pytest.raises(HttpResponseError) as caught:
        _attach_put(compute, node_group, scale_set, "0", [zone1.id, zrs.id, regional.id])
    assert error_code(caught) == "BadRequest" and "same zone" in caught.value.error.message, "an unzoned LRS disk on a zonal VM"
    with pytest.raises(HttpResponseError) as caught:
        _attach_put(compute, node_group, scale_set, "1", [zrs.id])
    assert error_code(caught) == "OperationNotAllowed", "a disk attaches to one VM unless maxShares > 1"
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_delete(group, "z1").result()
    assert error_code(caught) == "OperationNotAllowed"
    _attach_put(compute, node_group, scale_set, "0", [zrs.id])
    assert compute.disks.get(group, "z1").disk_state == "Unattached"
    profile = compute.virtual_machine_scale_set_vms.begin_attach_detach_data_disks(node_group, scale_set, "1", {
        "dataDisksToAttach": [{"diskId": zone2.id, "lun": 3}]}).result()
    assert [(entry.lun, entry.managed_disk.id) for entry in profile.data_disks] == [(3, zone2.id)]
    compute.virtual_machine_scale_set_vms.begin_deallocate(node_group, scale_set, "1").result()
    assert compute.disks.get(group, "z2").disk_state == "Reserved"
    compute.virtual_machine_scale_set_vms.begin_start(node_group, scale_set, "1").result()
    assert compute.disks.get(group, "z2").disk_state == "Attached"
    profile = compute.virtual_machine_scale_set_vms.begin_attach_detach_data_disks(node_group, scale_set, "1", {
        "dataDisksToDetach": [{"diskId": zone2.id}]}).result()
    assert profile.data_disks == []
    assert compute.disks.get(group, "z2").managed_by is None


def test_attach_limit_and_caching(compute, cluster):
    group, created = cluster
    node_group = created.node_resource_group
    scale_set = _scale_set(compute, node_group).name
    ids = [compute.disks.begin_create_or_update(group, f"many{index}", empty_disk(zones=["3"])).result().id for index in range(5)]
    with pytest.raises(HttpResponseError) as caught:
        _attach_put(compute, node_group, scale_set, "2", ids)
    assert error_code(caught) == "OperationNotAllowed" and "maximum number of data disks" in caught.value.error.message
    v2 = compute.disks.begin_create_or_update(group, "v2", empty_disk(sku="PremiumV2_LRS", zones=["3"])).result()
    with pytest.raises(HttpResponseError) as caught:
        _attach_put(compute, node_group, scale_set, "2", [v2.id], caching="ReadOnly")
    assert error_code(caught) == "InvalidParameter"
    shared = compute.disks.begin_create_or_update(group, "shared", empty_disk(sku="Premium_ZRS", maxShares=2)).result()
    _attach_put(compute, node_group, scale_set, "2", [shared.id])
    _attach_put(compute, node_group, scale_set, "1", [shared.id])
    assert len(compute.disks.get(group, "shared").managed_by_extended) == 2
    _attach_put(compute, node_group, scale_set, "1", [])
    _attach_put(compute, node_group, scale_set, "2", [])


def test_resize_while_attached(lab, compute, cluster):
    group, created = cluster
    node_group = created.node_resource_group
    scale_set = _scale_set(compute, node_group).name
    disk = compute.disks.begin_create_or_update(group, "online", empty_disk(size=64, zones=["3"])).result()
    _attach_put(compute, node_group, scale_set, "2", [disk.id])
    assert compute.disks.begin_update(group, "online", {"properties": {"diskSizeGB": 128}}).result().disk_size_gb == 128
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_update(group, "online", {"properties": {"diskSizeGB": 8192}}).result()
    assert error_code(caught) == "OperationNotAllowed" and "4 TiB" in caught.value.error.message
    lab.admin("POST", "config", json={"onlineResize": False})
    try:
        with pytest.raises(HttpResponseError) as caught:
            compute.disks.begin_update(group, "online", {"properties": {"diskSizeGB": 256}}).result()
        assert error_code(caught) == "OperationNotAllowed" and "deallocated" in caught.value.error.message
    finally:
        lab.admin("POST", "config", json={"onlineResize": True})
    compute.virtual_machine_scale_set_vms.begin_deallocate(node_group, scale_set, "2").result()
    assert compute.disks.begin_update(group, "online", {"properties": {"diskSizeGB": 8192}}).result().disk_size_gb == 8192
    compute.virtual_machine_scale_set_vms.begin_start(node_group, scale_set, "2").result()
    _attach_put(compute, node_group, scale_set, "2", [])


def test_stop_start_and_delete_cluster(aks, compute, resource_client, cluster):
    group, created = cluster
    scale_set = _scale_set(compute, created.node_resource_group).name
    aks.managed_clusters.begin_stop(group, "lab-aks").result()
    assert aks.managed_clusters.get(group, "lab-aks").power_state.code == "Stopped"
    assert _power(compute, created.node_resource_group, scale_set, "0") == "PowerState/deallocated"
    aks.managed_clusters.begin_start(group, "lab-aks").result()
    assert _power(compute, created.node_resource_group, scale_set, "0") == "PowerState/running"
    aks.managed_clusters.begin_delete(group, "lab-aks").result()
    assert resource_client.resource_groups.check_existence(created.node_resource_group) is False
    assert [item.name for item in aks.managed_clusters.list_by_resource_group(group)] == []
