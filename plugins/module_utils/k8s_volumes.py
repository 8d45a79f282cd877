# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PersistentVolumes and claims of the Azure Disk CSI driver: the disk behind a PV, the zone a PV is pinned
to, the resize state of a claim, and the static PV / PVC definitions for a restored disk. Pure functions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_names import zone_label
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_quantities import parse_quantity
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import ZONE_LABELS

CSI_DRIVER = "disk.csi.azure.com"
ZONE_KEY = "topology.disk.csi.azure.com/zone"
RESIZE_CONDITIONS = ("Resizing", "FileSystemResizePending", "ControllerResizeError", "NodeResizeError")
# Largest disk Azure makes, per SKU (GiB); the driver's default SKU is StandardSSD_LRS.
DEFAULT_SKU = "StandardSSD_LRS"
MAX_DISK_GIB = {"standard_lrs": 32767, "standardssd_lrs": 32767, "premium_lrs": 32767, "premium_zrs": 32767,
                "standardssd_zrs": 32767, "ultrassd_lrs": 65536, "premiumv2_lrs": 65536}
# The StorageClass parameter / PV volumeAttribute names of the SKU (the driver reads either, in any case).
SKU_KEYS = ("skuname", "storageaccounttype")
# The option shape for a claim given by name and namespace.
PVC_REF_SPEC = {"type": "dict", "options": {"name": {"type": "str", "required": True},
                                            "namespace": {"type": "str", "required": True}}}


def azure_disk_handle(pv):
    """The disk id (CSI volumeHandle) of an Azure Disk CSI PV; None for any other volume."""
    csi = ((pv or {}).get("spec") or {}).get("csi") or {}
    if csi.get("driver") != CSI_DRIVER:
        return None
    return csi.get("volumeHandle") or None


def _sku_of(params):
    for key, value in (params or {}).items():
        if key.lower() in SKU_KEYS and value:
            return value
    return None


def disk_sku(pv, storage_class=None):
    """The disk SKU a PV was made with: its CSI volumeAttributes, else its StorageClass parameters, else the default."""
    attrs = (((pv or {}).get("spec") or {}).get("csi") or {}).get("volumeAttributes")
    return _sku_of(attrs) or _sku_of((storage_class or {}).get("parameters")) or DEFAULT_SKU


def size_limit_refusal(sku, size_gib, what):
    """Why Azure cannot make ``what`` ``size_gib`` GiB in ``sku`` (None when it can)."""
    limit = MAX_DISK_GIB.get((sku or DEFAULT_SKU).lower())
    if limit is not None and size_gib > limit:
        return "%s would be %d GiB, but the largest %s disk Azure makes is %d GiB" % (what, size_gib, sku, limit)
    return None


def csi_driver(pv):
    return (((pv or {}).get("spec") or {}).get("csi") or {}).get("driver")


def pv_node_terms(pv):
    return (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []


def pv_zones(pv):
    """Zone values a PV is pinned to by its node affinity (empty for ZRS / unconstrained volumes)."""
    zones = []
    for term in pv_node_terms(pv):
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") in ZONE_LABELS and expr.get("operator") == "In":
                zones.extend(v for v in expr.get("values") or [] if v not in zones)
    return zones


def pod_pvc_names(pod):
    return [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
            if v.get("persistentVolumeClaim")]


def pvc_resize_state(pvc):
    """(capacity bytes, [resize conditions], allocatedResourceStatuses.storage) of a PVC."""
    status = pvc.get("status") or {}
    capacity = parse_quantity((status.get("capacity") or {}).get("storage"))
    conds = [c for c in status.get("conditions") or []
             if c.get("type") in RESIZE_CONDITIONS and c.get("status", "True") == "True"]
    return capacity, conds, (status.get("allocatedResourceStatuses") or {}).get("storage")


def pv_definition(name, disk_id, size_gb, location, zone, sku, fs_type, storage_class, claim, reclaim_policy):
    """A static PV for a managed disk (zone affinity for LRS disks, none for ZRS)."""
    spec = {
        "capacity": {"storage": "%dGi" % size_gb},
        "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": reclaim_policy,
        "storageClassName": storage_class,
        "volumeMode": "Filesystem",
        "csi": {"driver": CSI_DRIVER, "volumeHandle": disk_id, "fsType": fs_type,
                "volumeAttributes": {"skuName": sku}},
    }
    if zone and not sku.upper().endswith("_ZRS"):
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": ZONE_KEY, "operator": "In", "values": [zone_label(location, zone)]}]}]}}
    if claim:
        spec["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1]}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": {"kubedisk.aks/restored": "true"}},
            "spec": spec}


def pvc_definition(name, namespace, pv_name, size_gb, storage_class):
    """A claim bound to ``pv_name`` from the start."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "%dGi" % size_gb}},
                     "storageClassName": storage_class, "volumeName": pv_name, "volumeMode": "Filesystem"}}
