"""An in-memory stand-in for k8s_client.Kube (objects by kind, namespace, name) and object builders for the tests."""

from __future__ import annotations

import copy

from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import K8sConflict, K8sError

SUB = "00000000-0000-0000-0000-000000000001"
VMSS = "aks-nodepool1-12345678-vmss"
PROVIDER = "azure:///subscriptions/%s/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%d"


class FakeKube:
    """Objects carry a resourceVersion, bumped on each write; a patch at another version raises K8sConflict."""

    def __init__(self, objects):
        self.objects = {}
        self.writes = []
        self.version = 0
        for obj in objects:
            self.objects[(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])] = copy.deepcopy(obj)
            self.bump(self.objects[(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])])

    def bump(self, obj):
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)

    def get(self, kind, name, namespace=None, api_version="v1"):
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj else None

    def list(self, kind, namespace=None, api_version="v1", **params):
        items = [copy.deepcopy(o) for (k, ns, dummy), o in sorted(self.objects.items()) if k == kind and (namespace is None or ns == namespace)]
        selector = params.get("field_selector")
        if selector:
            node = selector.split("=", 1)[1]
            items = [i for i in items if (i.get("spec") or {}).get("nodeName") == node]
        return items

    def patch(self, kind, name, body, namespace=None, api_version="v1", resource_version=None):
        obj = self.objects.get((kind, namespace, name))
        if obj is None:
            raise K8sError("patching %s %s: not found" % (kind, name))
        if resource_version is not None and resource_version != obj["metadata"]["resourceVersion"]:
            raise K8sConflict("patching %s %s: the object has been modified (Conflict)" % (kind, name))
        self.writes.append(("patch", kind, name, body))
        _merge(obj, body)
        self.bump(obj)
        return copy.deepcopy(obj)

    def create(self, kind, body, namespace=None, api_version="v1"):
        self.writes.append(("create", kind, body["metadata"]["name"], body))
        self.objects[(kind, namespace, body["metadata"]["name"])] = dict(copy.deepcopy(body), kind=kind)
        self.bump(self.objects[(kind, namespace, body["metadata"]["name"])])
        return body

    def delete(self, kind, name, namespace=None, api_version="v1", propagation=None):
        self.writes.append(("delete", kind, name, propagation))
        return self.objects.pop((kind, namespace, name), None)


def cluster_factory(monkeypatch, module):
    """``make(objects)`` for a fixture: a FakeKube holding ``objects`` that ``module.kube_client`` hands out."""
    def make(objects):
        fake = FakeKube(objects)
        monkeypatch.setattr(module, "kube_client", lambda ansible_module: fake)
        return fake
    return make


def _merge(target, patch):
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def node(name, zone, ready="True", unschedulable=False, taints=None, instance=0, provider=None, cpu="2", memory="8Gi"):
    return {"kind": "Node", "metadata": {"name": name, "resourceVersion": "1",
                                         "labels": {"topology.kubernetes.io/zone": zone, "topology.disk.csi.azure.com/zone": zone}},
            "spec": {"unschedulable": unschedulable, "taints": taints or [],
                     "providerID": provider if provider is not None else PROVIDER % (SUB, VMSS, instance)},
            "status": {"conditions": [{"type": "Ready", "status": ready}], "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}}}


def pod(name, node_name, claims=(), ns="default", labels=None, anti=None, cpu="100m", owner=None, tolerations=None):
    spec = {"nodeName": node_name, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "16Mi"}}}],
            "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]}
    if anti:
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": anti}}
    if tolerations:
        spec["tolerations"] = tolerations
    meta = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": "Running"}}


def pvc(name, pv_name, size="1Gi", ns="default", sc="managed-csi", phase="Bound", request=None):
    return {"kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
            "spec": {"volumeName": pv_name, "storageClassName": sc, "resources": {"requests": {"storage": request or size}}},
            "status": {"phase": phase, "capacity": {"storage": size}}}


def pv(name, zone=None, size="1Gi", disk=None):
    spec = {"capacity": {"storage": size},
            "csi": {"driver": "disk.csi.azure.com",
                    "volumeHandle": disk or "/subscriptions/%s/resourceGroups/mc_rg/providers/Microsoft.Compute/disks/%s" % (SUB, name)}}
    if zone:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "topology.disk.csi.azure.com/zone", "operator": "In", "values": [zone]}]}]}}
    return {"kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}


def storage_class(name="managed-csi", expansion=True):
    return {"kind": "StorageClass", "metadata": {"name": name}, "allowVolumeExpansion": expansion}
