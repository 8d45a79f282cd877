#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: disk_restore
short_description: Restore a managed disk from a snapshot (or clone a disk), optionally with a PV and bound PVC
version_added: 0.1.0
description:
  - Makes sure a managed disk created from a snapshot, or cloned from another disk, exists in the chosen zone,
    SKU and size (at least the source's), or is gone.
  - Optionally creates a PersistentVolume of the Azure Disk CSI driver for it (with zone affinity for LRS disks)
    and a PVC bound to that PV, so a workload can mount the restored data. Kubernetes objects are made with
    kubernetes.core's client.
  - Idempotent; a rerun makes no write call. Impossible requests (a smaller size, a zone change, a zone for a ZRS
    disk, a clone into another zone) fail before the first write.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  name:
    description: Name of the disk to create.
    type: str
    required: true
  resource_group:
    description: Resource group of the disk (for AKS, usually the node resource group).
    type: str
    required: true
  state:
    description: V(present) creates the disk (and PV/PVC), V(absent) deletes the disk (an attached disk is refused).
    type: str
    default: present
    choices: [present, absent]
  location:
    description: Region; defaults to the source's.
    type: str
  source_snapshot_id:
    description: Resource id of the snapshot to restore.
    type: str
  source_snapshot:
    description: Snapshot to restore, by name and resource group.
    type: dict
    suboptions: &resource_ref
      name:
        description: Its name.
        type: str
        required: true
      resource_group:
        description: Its resource group.
        type: str
        required: true
  source_disk_id:
    description: Resource id of a disk to clone.
    type: str
  source_disk:
    description: Disk to clone, by name and resource group.
    type: dict
    suboptions: *resource_ref
  zone:
    description:
      - Availability zone (V(1), V(2), V(3)) of an LRS disk. Not for ZRS SKUs. Cannot change after creation.
      - A clone stays in its source disk's zone.
    type: str
  sku:
    description: Disk SKU; defaults to V(StandardSSD_LRS), or the source disk's for a clone.
    type: str
    choices: [Standard_LRS, StandardSSD_LRS, Premium_LRS, StandardSSD_ZRS, Premium_ZRS, PremiumV2_LRS, UltraSSD_LRS]
  size_gb:
    description: Size in GiB, at least the source's (the default). A larger value on an existing disk grows it.
    type: int
  pv:
    description: Create a PersistentVolume for the disk.
    type: dict
    suboptions:
      name:
        description: PV name.
        type: str
        required: true
      storage_class:
        description: Storage class name written on the PV (and the PVC). The empty string binds statically.
        type: str
        default: ""
      fs_type:
        description: File system type.
        type: str
        default: ext4
        choices: [ext4, ext3, ext2, xfs, btrfs]
      reclaim_policy:
        description: What Kubernetes does with the disk when the PVC goes.
        type: str
        default: Retain
        choices: [Retain, Delete]
  pvc:
    description: Create a PVC bound to O(pv.name) (needs O(pv)).
    type: dict
    suboptions:
      name:
        description: PVC name.
        type: str
        required: true
      namespace:
        description: PVC namespace.
        type: str
        required: true
  timeout:
    default: 900
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubedisk.aks.azure.tags
  - kubedisk.aks.kubernetes
"""

EXAMPLES = r"""
- name: Restore last night's snapshot into zone 2 and hand it to the workload as a PVC
  kubedisk.aks.disk_restore:
    name: data-db-0-restored
    resource_group: MC_rg-stateful_aks-stateful_westeurope
    source_snapshot:
      name: data-db-0-20260101
      resource_group: rg-backups
    zone: "2"
    sku: Premium_LRS
    size_gb: 128
    pv:
      name: data-db-0-restored
      storage_class: managed-csi-premium
    pvc:
      name: data-db-0-restored
      namespace: db
    kubernetes:
      kubeconfig: ~/.kube/aks-stateful

- name: Clone a disk (the clone stays in the source disk's zone)
  kubedisk.aks.disk_restore:
    name: pvc-1234-clone
    resource_group: MC_rg-stateful_aks-stateful_westeurope
    source_disk:
      name: pvc-1234
      resource_group: MC_rg-stateful_aks-stateful_westeurope
"""

RETURN = r"""
disk:
  description: The disk after the task (predicted in check mode; empty when absent).
  returned: always
  type: dict
  contains:
    id:
      description: Resource id (the CSI volumeHandle).
      type: str
    name:
      description: Name.
      type: str
    location:
      description: Region.
      type: str
    zones:
      description: Zones.
      type: list
      elements: str
    sku:
      description: SKU.
      type: str
    size_gb:
      description: Size in GiB.
      type: int
    disk_state:
      description: Unattached, Attached, Reserved, ...
      type: str
    source_resource_id:
      description: Snapshot or disk it was made from.
      type: str
pv:
  description: The PersistentVolume (with O(pv)).
  returned: when O(pv) is set
  type: dict
pvc:
  description: The PersistentVolumeClaim (with O(pvc)).
  returned: when O(pvc) is set
  type: dict
found_existing:
  description:
    - True when another run created the disk between this run's first read and its create (at the last read before the
      write, or because Azure refused the create for it); this run then compared it with what was asked instead of
      creating it again, and a warning says so. C(changed) is false unless it differed in something that can be updated.
  returned: when another run created it meanwhile
  type: bool
  sample: true
"""

from functools import partial

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_diff import norm_zones, same_text
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import (
    RESOURCE_REF_SPEC, resource_id, same_id, valid_disk_name, valid_resource_group)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_tags import TAGS_SPEC, tags_after
from ansible_collections.kubedisk.aks.plugins.module_utils.disk_facts import DISK_SKUS, ZONAL_ONLY_SKUS, disk_facts, is_zrs, ref_parts
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import KUBERNETES_SPEC, K8sError
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import PVC_REF_SPEC, pv_definition, pvc_definition

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "resource_group": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "location": {"type": "str"},
    "source_snapshot_id": {"type": "str"},
    "source_snapshot": RESOURCE_REF_SPEC,
    "source_disk_id": {"type": "str"},
    "source_disk": RESOURCE_REF_SPEC,
    "zone": {"type": "str"},
    "sku": {"type": "str", "choices": DISK_SKUS},
    "size_gb": {"type": "int"},
    "pv": {"type": "dict", "options": {
        "name": {"type": "str", "required": True},
        "storage_class": {"type": "str", "default": ""},
        "fs_type": {"type": "str", "default": "ext4", "choices": ["ext4", "ext3", "ext2", "xfs", "btrfs"]},
        "reclaim_policy": {"type": "str", "default": "Retain", "choices": ["Retain", "Delete"]},
    }},
    "pvc": PVC_REF_SPEC,
    "kubernetes": KUBERNETES_SPEC,
}
ARGUMENT_SPEC.update(TAGS_SPEC)
SOURCES = ("source_snapshot_id", "source_snapshot", "source_disk_id", "source_disk")


def validate(module):
    p = module.params
    if not valid_disk_name(p["name"]):
        module.fail_json(msg="name %r is not a valid disk name: 1-80 letters, digits, '_', '.' and '-'" % p["name"])
    if not valid_resource_group(p["resource_group"]):
        module.fail_json(msg="resource_group %r is not a valid resource group name" % p["resource_group"])
    if p["zone"] is not None and p["zone"] not in ("1", "2", "3"):
        module.fail_json(msg="zone %r is not an availability zone; use 1, 2 or 3" % p["zone"])
    if p["zone"] and is_zrs(p["sku"]):
        module.fail_json(msg="sku %s is zone-redundant and takes no zone; leave zone out or use an LRS sku" % p["sku"])
    if p["sku"] in ZONAL_ONLY_SKUS and not p["zone"]:
        module.fail_json(msg="sku %s disks are zonal: set zone" % p["sku"])
    if p["size_gb"] is not None and not 1 <= p["size_gb"] <= 65536:
        module.fail_json(msg="size_gb %d is out of range 1-65536" % p["size_gb"])
    if p["pvc"] and not p["pv"]:
        module.fail_json(msg="pvc needs pv: the claim is bound to the PV made for the disk")


def resolve_source(module, compute):
    """(kind, REST dict) of the snapshot or disk to restore from; fails before any write when it is missing."""
    p = module.params
    if p["source_snapshot_id"] or p["source_snapshot"]:
        rg, name = ref_parts(module, "source_snapshot_id", "source_snapshot", "snapshots")
        found = module.get_or_none("reading snapshot %s" % name, compute.snapshots.get, rg, name)
        kind = "snapshot"
    else:
        rg, name = ref_parts(module, "source_disk_id", "source_disk", "disks")
        found = module.get_or_none("reading source disk %s" % name, compute.disks.get, rg, name)
        kind = "disk"
    if found is None:
        module.fail_json(msg="source %s %s not found in resource group %s; nothing was created" % (kind, name, rg))
    found = to_rest(found)
    props = found.get("properties") or {}
    if kind == "snapshot" and props.get("completionPercent") is not None and float(props["completionPercent"]) < 100:
        module.fail_json(msg="snapshot %s is still being copied (%s%%); wait for it (disk_snapshot does) and rerun"
                             % (name, props["completionPercent"]))
    return kind, found


def desired_disk(module, kind, source):
    p = module.params
    props = source.get("properties") or {}
    source_size = props.get("diskSizeGB")
    if p["size_gb"] is not None and source_size and p["size_gb"] < source_size:
        module.fail_json(msg="size_gb %d is smaller than the source's %d GiB: Azure disks cannot shrink; use size_gb >= %d"
                             % (p["size_gb"], source_size, source_size))
    sku = p["sku"] or ((source.get("sku") or {}).get("name") if kind == "disk" else None) or "StandardSSD_LRS"
    zones = [p["zone"]] if p["zone"] else []
    if kind == "disk":
        source_zones = norm_zones(source.get("zones"))
        if source_zones and zones and zones != source_zones:
            module.fail_json(msg="a clone stays in its source disk's zone %s; zone %s is not possible: snapshot the disk and "
                                 "restore the snapshot into zone %s instead" % (source_zones[0], zones[0], zones[0]))
        if not zones and source_zones and not is_zrs(sku):
            zones = source_zones
    if zones and is_zrs(sku):
        module.fail_json(msg="sku %s is zone-redundant and takes no zone (the source is zonal); pick an LRS sku or leave "
                             "zone out" % sku)
    body = {"location": p["location"] or source.get("location"), "sku": {"name": sku}, "tags": dict(p["tags"] or {}),
            "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source["id"]},
                           "diskSizeGB": p["size_gb"] or source_size}}
    if zones:
        body["zones"] = zones
    return body


def compare_existing(module, current, body, result):
    """Update payload for an existing disk (None when nothing changes); fails on what cannot change, rewriting nothing."""
    p = module.params
    props = current.get("properties") or {}
    source = (props.get("creationData") or {}).get("sourceResourceId")
    want_source = body["properties"]["creationData"]["sourceResourceId"]
    problems = []
    if not same_id(source, want_source):
        problems.append("it was made from %s, not %s (choose another name)" % (source, want_source))
    if p["zone"] and norm_zones(current.get("zones")) != [p["zone"]]:
        problems.append("it is in zone %s; zone %s cannot change (restore a new disk in that zone)"
                        % (",".join(norm_zones(current.get("zones"))) or "none", p["zone"]))
    if p["location"] and not same_text(p["location"], current.get("location")):
        problems.append("it is in %s, not %s" % (current.get("location"), p["location"]))
    if p["size_gb"] is not None and props.get("diskSizeGB") and p["size_gb"] < props["diskSizeGB"]:
        problems.append("it has %d GiB; size_gb %d would shrink it, which Azure does not allow" % (props["diskSizeGB"], p["size_gb"]))
    if problems:
        module.fail_existing(result, "disk %s" % p["name"], "but %s; it was not rewritten" % "; ".join(problems), disk=disk_facts(current))
    update = {}
    if p["size_gb"] is not None and p["size_gb"] > (props.get("diskSizeGB") or 0):
        update.setdefault("properties", {})["diskSizeGB"] = p["size_gb"]
    if p["sku"] and not same_text(p["sku"], (current.get("sku") or {}).get("name")):
        if is_zrs(p["sku"]) != is_zrs((current.get("sku") or {}).get("name")) or p["sku"] in ZONAL_ONLY_SKUS:
            module.fail_json(msg="disk %s: sku %s -> %s changes its redundancy or type, which needs a new disk"
                                 % (p["name"], (current.get("sku") or {}).get("name"), p["sku"]))
        update["sku"] = {"name": p["sku"]}
    tags = tags_after(current.get("tags"), p["tags"], p["append_tags"])
    if tags is not None and tags != (current.get("tags") or {}):
        update["tags"] = tags
    if update and (update.get("sku") or update.get("properties")) and (props.get("diskState") or "").lower() in ("attached", "reserved"):
        module.fail_json(msg="disk %s is %s; its size or sku changes only while unattached (detach it first)"
                             % (p["name"], props.get("diskState")))
    return update or None


def converge_existing(module, compute, current, body, result):
    """The existing disk ``current`` updated to what is asked (size, sku, tags), as a REST dict; fails on what cannot change."""
    update = compare_existing(module, current, body, result)
    if not update:
        return current
    result["changed"] = True
    merged = dict(current, **dict((k, v) for k, v in update.items() if k != "properties"))
    merged["properties"] = dict(current.get("properties") or {}, **(update.get("properties") or {}))
    if module.check_mode:
        return merged
    return to_rest(module.begin("updating disk %s" % current["name"], compute.disks.begin_update,
                                module.params["resource_group"], current["name"], update))


class Taken(Exception):
    """An object of the name the module would create exists and is something else; the message says what."""


def ensure(module, definition, problem):
    """Create ``definition`` unless an object of its name exists, which must then pass ``problem`` (None).

    Returns (changed, object dict).
    """
    meta = definition["metadata"]
    existing = module.kube().get(definition["kind"], meta["name"], meta.get("namespace"))
    if existing is not None:
        wrong = problem(existing)
        if wrong:
            raise Taken("%s %s exists but %s; delete it or choose another name" % (
                definition["kind"], "/".join(x for x in (meta.get("namespace"), meta["name"]) if x), wrong))
        return False, existing
    if module.check_mode:
        return True, definition
    return True, module.kube().create(definition["kind"], definition, meta.get("namespace"))


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


def kubernetes_preflight(module, disk_id):
    """Before the disk is written: Kubernetes answers, and the PV and PVC names are free or already this disk's."""
    p = module.params
    checks = [("PersistentVolume", p["pv"]["name"], None, pv_problem(disk_id))]
    if p["pvc"]:
        checks.append(("PersistentVolumeClaim", p["pvc"]["name"], p["pvc"]["namespace"], pvc_problem(p["pv"]["name"])))
    try:
        for kind, obj_name, namespace, problem in checks:
            existing = module.kube().get(kind, obj_name, namespace)
            wrong = problem(existing) if existing is not None else None
            if wrong:
                module.fail_json(msg="%s %s exists but %s; delete it or choose another name. Nothing was created." % (
                    kind, "/".join(x for x in (namespace, obj_name) if x), wrong))
    except K8sError as exc:
        module.fail_json(msg="cannot reach Kubernetes to check the PV/PVC names before creating disk %s: %s. Nothing was "
                             "created." % (p["name"], exc))


def kubernetes_objects(module, disk):
    """Ensure the PV (and PVC); returns (changed, result additions)."""
    p = module.params
    facts = disk_facts(disk)
    zone = (facts.get("zones") or [None])[0]
    claim = (p["pvc"]["namespace"], p["pvc"]["name"]) if p["pvc"] else None
    pv = pv_definition(p["pv"]["name"], facts["id"], facts["size_gb"], facts["location"], zone, facts["sku"] or "",
                       p["pv"]["fs_type"], p["pv"]["storage_class"], claim, p["pv"]["reclaim_policy"])
    changed = False
    out = {}
    try:
        made, obj = ensure(module, pv, pv_problem(facts["id"]))
        changed |= made
        out["pv"] = {"name": p["pv"]["name"], "volume_handle": facts["id"],
                     "node_affinity_zone": zone if zone and "nodeAffinity" in pv["spec"] else None}
        if claim:
            pvc = pvc_definition(claim[1], claim[0], p["pv"]["name"], facts["size_gb"], p["pv"]["storage_class"])
            made, obj = ensure(module, pvc, pvc_problem(p["pv"]["name"]))
            changed |= made
            out["pvc"] = {"name": claim[1], "namespace": claim[0], "volume_name": p["pv"]["name"],
                          "phase": (obj.get("status") or {}).get("phase")}
    except Taken as exc:
        module.fail_json(msg=str(exc), disk=facts)
    except K8sError as exc:
        module.fail_json(msg="Kubernetes API error while creating the PV/PVC for disk %s: %s" % (facts["name"], exc), disk=facts)
    return changed, out


def main():
    module = AzureModule(ARGUMENT_SPEC, default_timeout=900, mutually_exclusive=[SOURCES],
                         required_if=[("state", "present", SOURCES, True)])
    validate(module)
    p = module.params
    compute = module.client("compute")
    rg, name = p["resource_group"], p["name"]
    current = to_rest(module.current("reading disk %s" % name, compute.disks.get, rg, name))
    before = disk_facts(current)
    result = {"changed": False}
    if p["state"] == "absent":
        if current:
            if current.get("managedBy") or (current.get("properties") or {}).get("diskState", "").lower() == "attached":
                module.fail_json(msg="disk %s is attached to %s; detach it (delete the pod or PV first) before deleting"
                                     % (name, current.get("managedBy")), disk=before)
            result["changed"] = True
            if not module.check_mode:
                module.begin("deleting disk %s" % name, compute.disks.begin_delete, rg, name)
        result["disk"] = {}
        module.exit_with_diff(before, {}, **result)

    kind, source = resolve_source(module, compute)
    body = desired_disk(module, kind, source)
    if p["pv"]:
        kubernetes_preflight(module, resource_id(subscription=module.subscription_id, resource_group=rg,
                                                 namespace="Microsoft.Compute", type="disks", name=name))
    if current and same_text((current.get("properties") or {}).get("provisioningState"), "Failed"):
        current = None  # a failed creation: the same PUT again replaces it
    if current:
        after = converge_existing(module, compute, current, body, result)
    else:
        result["changed"] = True
        module.check_location(body["location"], body.get("zones"))
        after = dict(body, name=name, id=resource_id(subscription=module.subscription_id, resource_group=rg,
                                                     namespace="Microsoft.Compute", type="disks", name=name))
        if not module.check_mode:
            made, created = module.create("creating disk %s from %s %s" % (name, kind, source.get("name")),
                                          partial(compute.disks.get, rg, name), compute.disks.begin_create_or_update, rg, name, body)
            after = to_rest(made)
            if not created:
                result["changed"] = False
                module.found_existing(result, "disk %s" % name)
                after = converge_existing(module, compute, after, body, result)
    result["disk"] = disk_facts(after)
    if p["pv"]:
        changed, extra = kubernetes_objects(module, after)
        result["changed"] |= changed
        result.update(extra)
    module.exit_with_diff(before, result["disk"], **result)


if __name__ == "__main__":
    main()
