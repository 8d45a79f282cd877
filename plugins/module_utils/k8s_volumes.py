# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PVC / PV work of the disk modules through kubernetes.core's API client (no second Kubernetes client).

The ``kubernetes`` option of a module takes a subset of kubernetes.core's connection options under the same
names, with the same ``K8S_AUTH_*`` environment fallbacks (kubernetes.core reads those itself).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_names import zone_label

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
    HAS_K8S_CORE = True
    K8S_CORE_IMPORT_ERROR = None
except ImportError:
    HAS_K8S_CORE = False
    K8S_CORE_IMPORT_ERROR = traceback.format_exc()

    class CoreException(Exception):  # type: ignore[no-redef]
        """Placeholder."""

CSI_DRIVER = "disk.csi.azure.com"
ZONE_KEY = "topology.disk.csi.azure.com/zone"

# kubernetes.core option names (its AUTH_ARG_SPEC); values left unset fall back to K8S_AUTH_* in kubernetes.core.
K8S_AUTH_SPEC = {
    "kubeconfig": {"type": "raw", "no_log": False},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"]},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"]},
    "client_cert": {"type": "path", "aliases": ["cert_file"]},
    "client_key": {"type": "path", "aliases": ["key_file"]},
}


class VolumeError(Exception):
    """A Kubernetes object is missing or not what the module needs; the message says which and why."""


def api_client(module, auth):
    """kubernetes.core's API client for the ``kubernetes`` option (None values fall back to K8S_AUTH_*)."""
    if not HAS_K8S_CORE:
        module.fail_json(msg="the kubernetes.core collection (and the kubernetes Python package) is needed for PVC and PV "
                             "work: install kubernetes.core", exception=K8S_CORE_IMPORT_ERROR)
    kwargs = dict((k, v) for k, v in (auth or {}).items() if v is not None)
    try:
        return get_api_client(**kwargs)
    except CoreException as exc:
        module.fail_json(msg="cannot connect to Kubernetes: %s (check the kubernetes options or K8S_AUTH_*)" % exc)
    except Exception as exc:  # kubernetes config errors come in several types
        module.fail_json(msg="cannot connect to Kubernetes: %s (check the kubernetes options or K8S_AUTH_*)" % exc,
                         exception=traceback.format_exc())


def _resource(client, kind):
    return client.resource(kind, "v1")


def _get(client, kind, name, namespace=None):
    """The object as a dict, or None when it does not exist."""
    try:
        found = client.get(_resource(client, kind), name=name, namespace=namespace)
    except Exception as exc:  # kubernetes.dynamic NotFoundError without importing it
        if getattr(exc, "status", None) == 404:
            return None
        raise
    return found.to_dict() if hasattr(found, "to_dict") else found


def pvc_disk(client, namespace, name):
    """(disk resource id, PV name) behind a bound PVC of the Azure Disk CSI driver."""
    pvc = _get(client, "PersistentVolumeClaim", name, namespace)
    if pvc is None:
        raise VolumeError("PVC %s/%s does not exist" % (namespace, name))
    status = (pvc.get("status") or {}).get("phase")
    pv_name = (pvc.get("spec") or {}).get("volumeName")
    if status != "Bound" or not pv_name:
        raise VolumeError("PVC %s/%s is %s, not Bound: there is no disk behind it yet (a WaitForFirstConsumer claim binds "
                          "when a pod uses it)" % (namespace, name, status or "without a status"))
    pv = _get(client, "PersistentVolume", pv_name)
    if pv is None:
        raise VolumeError("PV %s of PVC %s/%s does not exist" % (pv_name, namespace, name))
    csi = (pv.get("spec") or {}).get("csi") or {}
    if csi.get("driver") != CSI_DRIVER or not csi.get("volumeHandle"):
        raise VolumeError("PV %s of PVC %s/%s is not an Azure Disk CSI volume (driver %s); only %s volumes can be snapshot "
                          "here" % (pv_name, namespace, name, csi.get("driver"), CSI_DRIVER))
    return csi["volumeHandle"], pv_name


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
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "%dGi" % size_gb}},
                     "storageClassName": storage_class, "volumeName": pv_name, "volumeMode": "Filesystem"}}


def ensure(client, definition, check_mode, same):
    """Create ``definition`` unless it exists; an existing object must satisfy ``same(existing)``.

    Returns (changed, object dict). Raises VolumeError when an object of that name is something else.
    """
    meta = definition["metadata"]
    existing = _get(client, definition["kind"], meta["name"], meta.get("namespace"))
    if existing is not None:
        problem = same(existing)
        if problem:
            raise VolumeError("%s %s exists but %s; delete it or choose another name" % (
                definition["kind"], "/".join(x for x in (meta.get("namespace"), meta["name"]) if x), problem))
        return False, existing
    if check_mode:
        return True, definition
    created = client.create(_resource(client, definition["kind"]), definition, namespace=meta.get("namespace"))
    return True, created.to_dict() if hasattr(created, "to_dict") else created


def pv_problem(disk_id):
    def check(existing):
        handle = ((existing.get("spec") or {}).get("csi") or {}).get("volumeHandle")
        if (handle or "").lower() != disk_id.lower():
            return "points at %s, not %s" % (handle, disk_id)
        return None
    return check


def pvc_problem(pv_name):
    def check(existing):
        volume = (existing.get("spec") or {}).get("volumeName")
        if volume != pv_name:
            return "is bound to %s, not %s" % (volume or "no volume", pv_name)
        return None
    return check
