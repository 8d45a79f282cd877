"""The seed walkthrough's observations, replayed on the lab with plain manifests and the Kubernetes client.

An AKS cluster with 4 nodes over zones 1 and 2 is created through the emulator's ARM API; the
steps then run in the seed's order (they build on each other, so they run in file order):
the kubelet identity's role for the CSI driver, zonal provisioning, a StatefulSet spread over zones, drains, a dead VM recovered with the
out-of-service taint, clones and snapshots, an offline resize and a raw block volume. Data loss
and downtime are read from what the writer put on the disks.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import datetime
import re
import time
import uuid

import pytest
from kubernetes.client.exceptions import ApiException

from lab.admin_client import AdminClient
from lab.tests.conftest import wait_for

GROUP = "kubedisk"
CLUSTER = "kubedisk"
LOCATION = "westeurope"
NODE_NAME = re.compile(r"^aks-nodepool1-\d{8}-vmss[0-9a-z]{6}$")
ZONE = "topology.kubernetes.io/zone"
APP = {"app": "nginx"}
WRITER = {"lab.kubedisk.io/writer": "true"}
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OUT_OF_SERVICE = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}


def admin(lab_env):
    """The emulator's admin API."""
    return AdminClient(lab_env["LAB_ADMIN_URL"], lab_env["LAB_AZURE_CA"])


def disk_lines(lab_env, kube, claim, namespace="default"):
    """The writer's lines on the disk behind a PVC, as (time, pod, node)."""
    pvc = kube["core"].read_namespaced_persistent_volume_claim(claim, namespace)
    handle = kube["core"].read_persistent_volume(pvc.spec.volume_name).spec.csi.volume_handle
    text = admin(lab_env).disk_bytes(handle).rstrip(b"\0").decode()
    lines = []
    for line in text.splitlines():
        stamp, pod, node = line.split(" ")
        lines.append((datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ"), pod, node))
    return lines


def largest_gap(lines, after):
    """The longest pause in writing after a moment (seconds)."""
    times = [when for when, _pod, _node in lines if when >= after]
    return max((b - a).total_seconds() for a, b in zip(times, times[1:]))


def ready(pod):
    """A pod that runs and is Ready (not terminating)."""
    return (pod is not None and pod.metadata.deletion_timestamp is None and pod.status.phase == "Running"
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []))


def get_pod(kube, name, namespace="default"):
    """A pod, or None."""
    try:
        return kube["core"].read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def ready_elsewhere(kube, name, node):
    """The pod, once it is Ready on another node than ``node``; else None."""
    pod = get_pod(kube, name)
    return pod if ready(pod) and pod.spec.node_name != node else None


def node_ready(node):
    """The node's Ready condition is True."""
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def zone_of(kube, node_name):
    """A node's zone label."""
    return kube["core"].read_node(node_name).metadata.labels[ZONE]


def nodes_in_zone(kube, zone):
    """Names of the nodes of a zone."""
    return sorted(n.metadata.name for n in kube["core"].list_node(label_selector=f"{ZONE}={zone}").items)


def attachments_of(kube, pv_name):
    """Nodes the PV has VolumeAttachments to, with their attached flag."""
    return {va.spec.node_name: bool(va.status and va.status.attached)
            for va in kube["storage"].list_volume_attachment().items if va.spec.source.persistent_volume_name == pv_name}


def storage_class(name, binding):
    """The seed's StandardSSD_LRS class, with the given binding mode."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name}, "provisioner": "disk.csi.azure.com",
            "parameters": {"skuName": "StandardSSD_LRS"}, "reclaimPolicy": "Delete", "volumeBindingMode": binding, "allowVolumeExpansion": True}


def claim(name, storage_class_name, size="1Gi", **spec):
    """A ReadWriteOnce PVC."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": dict({"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class_name, "resources": {"requests": {"storage": size}}},
                         **spec)}


def pod_using(name, claim_name, block=False):
    """A writer pod mounting (or, for Block, attaching) a PVC."""
    container = {"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "16M"}}}
    if block:
        container["volumeDevices"] = [{"name": "disk", "devicePath": "/dev/xvda"}]
    else:
        container["volumeMounts"] = [{"name": "disk", "mountPath": "/data"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": WRITER},
            "spec": {"containers": [container], "volumes": [{"name": "disk", "persistentVolumeClaim": {"claimName": claim_name}}]}}


STATEFULSET = {
    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "nginx-statefulset"},
    "spec": {
        "serviceName": "nginx-statefulset", "replicas": 2, "selector": {"matchLabels": APP},
        "template": {
            "metadata": {"labels": APP, "annotations": WRITER},
            "spec": {
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["nginx"]}]}, "topologyKey": ZONE}]}},
                "containers": [{"name": "nginx-azuredisk", "image": "nginx", "volumeMounts": [{"name": "azuredisk", "mountPath": "/usr/share/nginx/html"}],
                                "resources": {"requests": {"cpu": "100m", "memory": "16M"}}}],
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": "azuredisk"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "managed-csi-standard-ssd", "resources": {"requests": {"storage": "1Gi"}}}}],
    },
}


@pytest.fixture(scope="module")
def cluster(azure, kube):
    """The seed's cluster: 4 nodes of Standard_B2s over zones 1 and 2, created through ARM."""
    azure["resources"].resource_groups.create_or_update(GROUP, {"location": LOCATION})
    created = azure["aks"].managed_clusters.begin_create_or_update(GROUP, CLUSTER, {
        "location": LOCATION, "identity": {"type": "SystemAssigned"},
        "properties": {"dnsPrefix": CLUSTER, "agentPoolProfiles": [
            {"name": "nodepool1", "count": 4, "vmSize": "Standard_B2s", "availabilityZones": ["1", "2"], "mode": "System"}]},
    }).result()
    wait_for(lambda: len([n for n in kube["core"].list_node().items if node_ready(n)]) == 4, 60, "4 Ready nodes")
    return created


def test_1_cluster_nodes_look_like_aks(cluster, kube, azure):
    nodes = kube["core"].list_node().items
    assert len(nodes) == 4 and all(node_ready(n) for n in nodes)
    instances = {vm.instance_id: vm for scale_set in azure["compute"].virtual_machine_scale_sets.list(cluster.node_resource_group)
                 for vm in azure["compute"].virtual_machine_scale_set_vms.list(cluster.node_resource_group, scale_set.name)}
    zones = []
    for node in nodes:
        assert NODE_NAME.match(node.metadata.name), node.metadata.name
        instance_id = str(int(node.metadata.name[-6:], 36))
        vm = instances[instance_id]
        assert node.spec.provider_id.lower() == ("azure://" + vm.id).lower()
        labels = node.metadata.labels
        assert labels["kubernetes.azure.com/agentpool"] == "nodepool1" and labels["node.kubernetes.io/instance-type"] == "Standard_B2s"
        assert labels[ZONE] == labels["topology.disk.csi.azure.com/zone"] == f"{LOCATION}-{vm.zones[0]}"
        zones.append(labels[ZONE])
    assert sorted(zones) == [f"{LOCATION}-1", f"{LOCATION}-1", f"{LOCATION}-2", f"{LOCATION}-2"]


def test_2_the_driver_needs_a_role_for_the_kubelet_identity(cluster, kube, azure):
    """AKS's driver signs in as the kubelet identity: Azure refuses its disk until the identity has a role on the node resource group."""
    core = kube["core"]
    kube["storage"].create_storage_class(storage_class("lab-before-role", "Immediate"))
    core.create_namespaced_persistent_volume_claim("default", claim("pvc-before-role", "lab-before-role"))

    def refusal():
        events = core.list_namespaced_event("default", field_selector="involvedObject.name=pvc-before-role").items
        return next((e.message for e in events if e.reason == "ProvisioningFailed" and "AuthorizationFailed" in e.message), None)

    kubelet = cluster.identity_profile["kubeletidentity"]
    assert f"object id '{kubelet.object_id}'" in wait_for(refusal, 60, "the ProvisioningFailed event with AuthorizationFailed")
    assert core.read_namespaced_persistent_volume_claim("pvc-before-role", "default").status.phase == "Pending"
    subscription = cluster.id.split("/")[2]
    azure["authorization"].role_assignments.create(
        f"/subscriptions/{subscription}/resourceGroups/{cluster.node_resource_group}", str(uuid.uuid4()), {"properties": {
            "roleDefinitionId": f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            "principalId": kubelet.object_id, "principalType": "ServicePrincipal"}})
    wait_for(lambda: core.read_namespaced_persistent_volume_claim("pvc-before-role", "default").status.phase == "Bound", 120,
             "the claim bound once the kubelet identity is Contributor")
    core.delete_namespaced_persistent_volume_claim("pvc-before-role", "default")


def test_3_immediate_and_wait_for_first_consumer(cluster, kube):
    storage, core = kube["storage"], kube["core"]
    storage.create_storage_class(storage_class("lab-immediate", "Immediate"))
    storage.create_storage_class(storage_class("managed-csi-standard-ssd", "WaitForFirstConsumer"))
    core.create_namespaced_persistent_volume_claim("default", claim("pvc-immediate", "lab-immediate"))
    bound = wait_for(lambda: core.read_namespaced_persistent_volume_claim("pvc-immediate", "default").spec.volume_name, 30, "the Immediate PVC bound")
    terms = core.read_persistent_volume(bound).spec.node_affinity.required.node_selector_terms
    assert terms[0].match_expressions[0].key == "topology.disk.csi.azure.com/zone"
    assert terms[0].match_expressions[0].values[0] in (f"{LOCATION}-1", f"{LOCATION}-2")

    core.create_namespaced_persistent_volume_claim("default", claim("pvc-azuredisk", "managed-csi-standard-ssd"))
    wait_for(lambda: any(e.reason == "WaitForFirstConsumer" for e in core.list_namespaced_event(
        "default", field_selector="involvedObject.name=pvc-azuredisk").items), 30, "the WaitForFirstConsumer event")
    assert core.read_namespaced_persistent_volume_claim("pvc-azuredisk", "default").status.phase == "Pending"
    core.create_namespaced_pod("default", pod_using("nginx1", "pvc-azuredisk"))
    pod = wait_for(lambda: ready(get_pod(kube, "nginx1")) and get_pod(kube, "nginx1"), 60, "nginx1 Ready")
    pv = core.read_persistent_volume(core.read_namespaced_persistent_volume_claim("pvc-azuredisk", "default").spec.volume_name)
    disk_zone = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0].values[0]
    assert disk_zone == zone_of(kube, pod.spec.node_name)


def test_4_statefulset_replicas_in_different_zones(cluster, kube, lab_env):
    kube["apps"].create_namespaced_stateful_set("default", STATEFULSET)
    for ordinal in (0, 1):
        wait_for(lambda o=ordinal: ready(get_pod(kube, f"nginx-statefulset-{o}")), 90, f"nginx-statefulset-{ordinal} Ready")
    pods = [get_pod(kube, f"nginx-statefulset-{o}") for o in (0, 1)]
    zones = {zone_of(kube, p.spec.node_name) for p in pods}
    assert len(zones) == 2
    volumes = {kube["core"].read_namespaced_persistent_volume_claim(f"azuredisk-nginx-statefulset-{o}", "default").spec.volume_name for o in (0, 1)}
    assert len(volumes) == 2 and None not in volumes
    wait_for(lambda: len(disk_lines(lab_env, kube, "azuredisk-nginx-statefulset-0")) >= 3, 30, "the writer's first lines")


def test_5_drain_moves_the_pod_within_its_zone(cluster, kube, lab_env):
    pod = get_pod(kube, "nginx-statefulset-0")
    source, zone = pod.spec.node_name, zone_of(kube, pod.spec.node_name)
    before = disk_lines(lab_env, kube, "azuredisk-nginx-statefulset-0")
    started = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    began = time.monotonic()
    kube["core"].patch_node(source, {"spec": {"unschedulable": True}})
    kube["core"].create_namespaced_pod_eviction("nginx-statefulset-0", "default", {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "nginx-statefulset-0", "namespace": "default"}})
    moved = wait_for(lambda: ready_elsewhere(kube, "nginx-statefulset-0", source), 90, "pod-0 Ready elsewhere")
    unavailable = time.monotonic() - began
    assert zone_of(kube, moved.spec.node_name) == zone
    time.sleep(3)
    after = disk_lines(lab_env, kube, "azuredisk-nginx-statefulset-0")
    assert after[:len(before)] == before, "lines written before the drain are gone"
    assert {node for _when, _pod, node in after[len(before):]} >= {moved.spec.node_name}
    gap = largest_gap(after, started - datetime.timedelta(seconds=1))
    assert abs(gap - unavailable) < 3.0, f"gap in the data {gap:.1f} s vs measured unavailability {unavailable:.1f} s"


def test_6_draining_the_zones_last_node_strands_the_pod(cluster, kube):
    pod = get_pod(kube, "nginx-statefulset-0")
    node = pod.spec.node_name
    kube["core"].patch_node(node, {"spec": {"unschedulable": True}})
    kube["core"].create_namespaced_pod_eviction("nginx-statefulset-0", "default", {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "nginx-statefulset-0", "namespace": "default"}})

    def messages():
        events = kube["core"].list_namespaced_event("default", field_selector="involvedObject.name=nginx-statefulset-0").items
        return [(e.reason, e.message) for e in events]

    # the seed's Kubernetes said "volume node affinity conflict"; 1.35 says "didn't match PersistentVolume's node affinity"
    conflict = re.compile(r"volume node affinity conflict|didn't match PersistentVolume's node affinity")
    wait_for(lambda: any(reason == "FailedScheduling" and conflict.search(message or "") for reason, message in messages()),
             60, "FailedScheduling with a volume node affinity conflict", seen=messages)
    assert get_pod(kube, "nginx-statefulset-0").status.phase == "Pending"
    for name in nodes_in_zone(kube, zone_of(kube, node)):
        kube["core"].patch_node(name, {"spec": {"unschedulable": False}})
    wait_for(lambda: ready(get_pod(kube, "nginx-statefulset-0")), 90, "pod-0 Ready after uncordon")


def test_7_dead_vm_needs_the_out_of_service_taint(cluster, kube, azure, lab_env):
    pod = get_pod(kube, "nginx-statefulset-1")
    node = pod.spec.node_name
    pv = kube["core"].read_namespaced_persistent_volume_claim("azuredisk-nginx-statefulset-1", "default").spec.volume_name
    scale_set, instance_id = node[:-6], str(int(node[-6:], 36))
    azure["compute"].virtual_machine_scale_set_vms.begin_deallocate(cluster.node_resource_group, scale_set, instance_id).result()
    stopped = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    wait_for(lambda: not node_ready(kube["core"].read_node(node)), 120, f"{node} NotReady", interval=1)
    kube["core"].delete_namespaced_pod("nginx-statefulset-1", "default")
    time.sleep(10)
    stuck = get_pod(kube, "nginx-statefulset-1")
    assert stuck is not None and stuck.metadata.deletion_timestamp is not None and stuck.spec.node_name == node, "the pod should stay Terminating"
    assert attachments_of(kube, pv) == {node: True}, "the disk stays attached to the dead node"
    before = disk_lines(lab_env, kube, "azuredisk-nginx-statefulset-1")
    assert all(when < stopped + datetime.timedelta(seconds=2) for when, _pod, _node in before), "a deallocated VM wrote"

    kube["core"].patch_node(node, {"spec": {"taints": [OUT_OF_SERVICE]}})
    moved = wait_for(lambda: ready_elsewhere(kube, "nginx-statefulset-1", node), 120, "pod-1 Ready on another node")
    assert zone_of(kube, moved.spec.node_name) == zone_of(kube, node)
    assert attachments_of(kube, pv) == {moved.spec.node_name: True}
    time.sleep(2)
    assert disk_lines(lab_env, kube, "azuredisk-nginx-statefulset-1")[:len(before)] == before

    azure["compute"].virtual_machine_scale_set_vms.begin_start(cluster.node_resource_group, scale_set, instance_id).result()
    wait_for(lambda: node_ready(kube["core"].read_node(node)), 60, f"{node} Ready again", interval=1)
    kube["core"].patch_node(node, {"spec": {"taints": None}})


def test_8_clone_and_snapshot_restore_carry_the_data(cluster, kube, lab_env):
    core, custom = kube["core"], kube["custom"]
    source = disk_lines(lab_env, kube, "pvc-azuredisk")
    assert source
    custom.create_cluster_custom_object("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", {
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass", "metadata": {"name": "csi-azuredisk-vsc"},
        "driver": "disk.csi.azure.com", "deletionPolicy": "Delete", "parameters": {"incremental": "true"}})
    core.create_namespaced_persistent_volume_claim("default", claim(
        "pvc-azuredisk-clone", "lab-immediate", dataSource={"kind": "PersistentVolumeClaim", "name": "pvc-azuredisk"}))
    custom.create_namespaced_custom_object("snapshot.storage.k8s.io", "v1", "default", "volumesnapshots", {
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": {"name": "pvc-azuredisk-snapshot"},
        "spec": {"volumeSnapshotClassName": "csi-azuredisk-vsc", "source": {"persistentVolumeClaimName": "pvc-azuredisk"}}})
    wait_for(lambda: (custom.get_namespaced_custom_object("snapshot.storage.k8s.io", "v1", "default", "volumesnapshots", "pvc-azuredisk-snapshot")
                      .get("status") or {}).get("readyToUse"), 60, "the VolumeSnapshot readyToUse")
    core.create_namespaced_persistent_volume_claim("default", claim(
        "pvc-azuredisk-snapshot-restored", "lab-immediate",
        dataSource={"kind": "VolumeSnapshot", "name": "pvc-azuredisk-snapshot", "apiGroup": "snapshot.storage.k8s.io"}))
    for name in ("pvc-azuredisk-clone", "pvc-azuredisk-snapshot-restored"):
        wait_for(lambda n=name: core.read_namespaced_persistent_volume_claim(n, "default").status.phase == "Bound", 60, f"{name} Bound")
        copied = disk_lines(lab_env, kube, name)
        assert copied and copied == disk_lines(lab_env, kube, "pvc-azuredisk")[:len(copied)] and len(copied) >= len(source) - 2


def test_9_resize_needs_the_pod_stopped_when_online_resize_is_off(cluster, kube, lab_env):
    core, apps = kube["core"], kube["apps"]
    admin(lab_env).call("POST", "/config", {"onlineResize": False})
    name = "azuredisk-nginx-statefulset-0"
    core.patch_namespaced_persistent_volume_claim(name, "default", {"spec": {"resources": {"requests": {"storage": "2Gi"}}}})

    def refused():
        events = core.list_namespaced_event("default", field_selector=f"involvedObject.name={name},reason=VolumeResizeFailed").items
        return [e.message for e in events if "OperationNotAllowed" in (e.message or "") or "deallocated" in (e.message or "")]

    assert wait_for(refused, 60, "the Azure error on the PVC")
    before = disk_lines(lab_env, kube, name)
    apps.patch_namespaced_stateful_set_scale("nginx-statefulset", "default", {"spec": {"replicas": 0}})
    pv = core.read_namespaced_persistent_volume_claim(name, "default").spec.volume_name
    wait_for(lambda: not attachments_of(kube, pv), 90, "the disk detached")
    core.patch_namespaced_persistent_volume_claim(name, "default", {"metadata": {"annotations": {"lab.kubedisk.io/retry": str(time.time())}}})
    wait_for(lambda: core.read_persistent_volume(pv).spec.capacity["storage"] == "2Gi", 120, "the controller resize")
    apps.patch_namespaced_stateful_set_scale("nginx-statefulset", "default", {"spec": {"replicas": 2}})
    wait_for(lambda: ready(get_pod(kube, "nginx-statefulset-0")), 90, "pod-0 Ready after the resize")

    def resized():
        status = core.read_namespaced_persistent_volume_claim(name, "default").status
        return status.capacity["storage"] == "2Gi" and not status.conditions

    wait_for(resized, 60, "the PVC at 2Gi without resize conditions", seen=lambda: core.read_namespaced_persistent_volume_claim(name, "default").status)
    time.sleep(2)
    after = disk_lines(lab_env, kube, name)
    assert after[:len(before)] == before and len(after) > len(before)
    admin(lab_env).call("POST", "/config", {"onlineResize": True})


def test_10_raw_block_volume_attaches(cluster, kube):
    kube["core"].create_namespaced_persistent_volume_claim("default", claim("pvc-block", "managed-csi-standard-ssd", volumeMode="Block"))
    kube["core"].create_namespaced_pod("default", pod_using("block-reader", "pvc-block", block=True))
    pod = wait_for(lambda: ready(get_pod(kube, "block-reader")) and get_pod(kube, "block-reader"), 60, "the Block pod Ready")
    pv = kube["core"].read_namespaced_persistent_volume_claim("pvc-block", "default").spec.volume_name
    assert kube["core"].read_persistent_volume(pv).spec.volume_mode == "Block"
    assert attachments_of(kube, pv) == {pod.spec.node_name: True}
