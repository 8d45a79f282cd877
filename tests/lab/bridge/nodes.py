"""Keeps the Kubernetes Nodes in step with the emulated AKS cluster's scale-set instances.

On AKS each scale-set instance registers as a Node named ``<vmss><instance id, base 36, 6 digits>``
with the pool's labels, its zone under ``topology.kubernetes.io/zone`` and the Azure Disk CSI
driver's ``topology.disk.csi.azure.com/zone``, an ``azure://`` providerID, and a CSINode whose
allocatable count is the VM size's data-disk limit. The cloud node manager deletes the Node when
the instance is gone. A VM that is stopped or deallocated has no kubelet: the bridge takes the
node's Lease away from kwok (another holder, a lease that does not expire, no renewal), so nothing
heartbeats any more, the node controller marks the node NotReady, and kwok, no longer holding the
lease, leaves the node and its pods alone (they stay Terminating). When the VM runs again the
bridge deletes that Lease; kwok creates its own and the node comes back Ready, like a kubelet.
"""

from __future__ import annotations

import logging

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..aks_names import node_name
from .kubelet import DRIVER, KWOK_ANNOTATION, KWOK_LIVE, POWER, RUNNING

ZONE_KEY = "topology.disk.csi.azure.com/zone"
NODE_IMAGE = "kubernetes.azure.com/node-image-version"
MANAGED_BY = "lab.kubedisk.io/instance"
LEASE_NAMESPACE = "kube-node-lease"
DEAD_HOLDER = "lab.kubedisk.io/vm-not-running"
DEAD_LEASE_SECONDS = 365 * 24 * 3600
# cores, memory, data-disk attach limit of the sizes the lab's clusters use; others get the driver's default of 16 disks
VM_SIZES = {
    "standard_b2s": (2, "4Gi", 4),
    "standard_b2ms": (2, "8Gi", 4),
    "standard_ds2_v2": (2, "7Gi", 8),
    "standard_d2s_v3": (2, "8Gi", 4),
    "standard_d2s_v5": (2, "8Gi", 4),
    "standard_d4s_v5": (4, "16Gi", 8),
    "standard_d8s_v5": (8, "32Gi", 16),
}
DEFAULT_SIZE = (2, "8Gi", 16)
MAX_PODS = 110

log = logging.getLogger("lab.bridge.nodes")


def node_manifest(cluster: dict, instance: dict) -> dict:
    """The Node a kubelet on this instance would register, plus the bridge's own bookkeeping annotation."""
    name = node_name(instance["vmss"], instance["instanceId"])
    location = cluster["location"].lower()
    zone = "%s-%s" % (location, instance["zone"]) if instance.get("zone") else "0"
    pool = instance["pool"]
    labels = {
        "agentpool": pool,
        "kubernetes.azure.com/agentpool": pool,
        "kubernetes.azure.com/mode": instance.get("mode", "User").lower(),
        "kubernetes.azure.com/cluster": cluster["nodeResourceGroup"],
        "kubernetes.azure.com/role": "agent",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/role": "agent",
        "node.kubernetes.io/instance-type": instance["vmSize"],
        "beta.kubernetes.io/instance-type": instance["vmSize"],
        "topology.kubernetes.io/region": location,
        "topology.kubernetes.io/zone": zone,
        ZONE_KEY: zone,
    }
    if instance.get("nodeImage"):
        labels[NODE_IMAGE] = instance["nodeImage"]
    labels.update(instance.get("labels") or {})
    provider_id = "azure:///subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%s" % (
        cluster["subscription"], cluster["nodeResourceGroup"].lower(), instance["vmss"], instance["instanceId"])
    cores, memory, _disks = VM_SIZES.get(instance["vmSize"].lower(), DEFAULT_SIZE)
    resources = {"cpu": str(cores), "memory": memory, "pods": str(instance.get("maxPods") or MAX_PODS), "ephemeral-storage": "128Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                KWOK_ANNOTATION: KWOK_LIVE,
                POWER: instance["power"],
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "node.alpha.kubernetes.io/ttl": "0",
                MANAGED_BY: provider_id,
            },
        },
        "spec": {"providerID": provider_id, "taints": instance.get("taints") or None},
        "status": {"capacity": resources, "allocatable": resources, "nodeInfo": node_info(instance)},
    }


def node_info(instance: dict) -> dict:
    """What the kubelet reports of itself: its version (the pool's, or the one the instance was reimaged to) and OS."""
    version = "v" + instance["kubeletVersion"] if instance.get("kubeletVersion") else ""
    return {"osImage": "Ubuntu 22.04.5 LTS", "operatingSystem": "linux", "architecture": "amd64", "kubeletVersion": version,
            "kubeProxyVersion": "", "containerRuntimeVersion": "containerd://1.7.27-1", "kernelVersion": "5.15.0-1079-azure",
            "bootID": "", "machineID": "", "systemUUID": ""}


def csinode_manifest(node: dict, uid: str, vm_size: str) -> dict:
    """The CSINode the driver's node plugin registers: topology key and attach limit of the VM size."""
    limit = VM_SIZES.get(vm_size.lower(), DEFAULT_SIZE)[2]
    name = node["metadata"]["name"]
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSINode",
        "metadata": {"name": name, "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]},
        "spec": {"drivers": [{"name": DRIVER, "nodeID": name, "topologyKeys": [ZONE_KEY], "allocatable": {"count": limit}}]},
    }


class NodeBridge:
    """Creates, updates (power) and deletes Nodes and CSINodes so they match the cluster's instances."""

    def __init__(self, core, storage, coordination):
        self.core = core
        self.storage = storage
        self.coordination = coordination

    def reconcile(self, cluster: dict, instances: list) -> None:
        """One pass: ``instances`` are the cluster's scale-set VMs as the emulator reports them."""
        wanted = {node_name(i["vmss"], i["instanceId"]): i for i in instances}
        existing = {n.metadata.name: n for n in self.core.list_node().items if MANAGED_BY in (n.metadata.annotations or {})}
        for name, instance in wanted.items():
            manifest = node_manifest(cluster, instance)
            node = existing.get(name)
            if node is None:
                self._register(manifest, instance)
            else:
                self._update(node, manifest, instance)
            self._kubelet_lease(name, instance["power"] == RUNNING)
        for name in set(existing) - set(wanted):
            log.info("node %s: instance gone, deleting the Node", name)
            try:
                self.core.delete_node(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise

    def _update(self, node, manifest: dict, instance: dict) -> None:
        """Follow the VM's power, and the kubelet version and node image a reimage gave it."""
        name = node.metadata.name
        if node.metadata.annotations.get(POWER) != instance["power"]:
            log.info("node %s: VM %s", name, instance["power"])
            self.core.patch_node(name, {"metadata": {"annotations": {POWER: instance["power"]}}})
        image = manifest["metadata"]["labels"].get(NODE_IMAGE)
        if image and (node.metadata.labels or {}).get(NODE_IMAGE) != image:
            log.info("node %s: node image %s", name, image)
            self.core.patch_node(name, {"metadata": {"labels": {NODE_IMAGE: image}}})
        version = manifest["status"]["nodeInfo"].get("kubeletVersion")
        if version and node.status.node_info is not None and node.status.node_info.kubelet_version != version:
            log.info("node %s: kubelet %s", name, version)
            self.core.patch_node_status(name, {"status": {"nodeInfo": {"kubeletVersion": version}}})

    def _kubelet_lease(self, name: str, running: bool) -> None:
        """Leave the node's Lease to kwok while the VM runs; hold it, never renewed, while it does not."""
        try:
            lease = self.coordination.read_namespaced_lease(name, LEASE_NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
            lease = None
        ours = lease is not None and lease.spec.holder_identity == DEAD_HOLDER
        if running and ours:
            log.info("node %s: VM running, its kubelet takes the lease again", name)
            self.coordination.delete_namespaced_lease(name, LEASE_NAMESPACE)
        elif not running and lease is None:
            self.coordination.create_namespaced_lease(LEASE_NAMESPACE, client.V1Lease(
                metadata=client.V1ObjectMeta(name=name), spec=client.V1LeaseSpec(holder_identity=DEAD_HOLDER, lease_duration_seconds=DEAD_LEASE_SECONDS)))
        elif not running and not ours:
            log.info("node %s: VM not running, its kubelet stops renewing the lease", name)
            self.coordination.patch_namespaced_lease(name, LEASE_NAMESPACE, {"spec": {
                "holderIdentity": DEAD_HOLDER, "leaseDurationSeconds": DEAD_LEASE_SECONDS}})

    def _register(self, manifest: dict, instance: dict) -> None:
        name = manifest["metadata"]["name"]
        log.info("node %s: registering (zone %s, %s)", name, instance.get("zone"), instance["power"])
        created = self.core.create_node(manifest)
        self.core.patch_node_status(name, {"status": manifest["status"]})
        try:
            self.storage.create_csi_node(csinode_manifest(manifest, created.metadata.uid, instance["vmSize"]))
        except ApiException as exc:
            if exc.status != 409:
                raise
