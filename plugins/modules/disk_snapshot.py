#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: disk_snapshot
short_description: Snapshot an Azure managed disk (or the disk behind a PVC), copy it to another region, keep the newest N
version_added: 0.1.0
description:
  - Makes sure a snapshot of a managed disk exists (incremental by default) or is gone.
  - The source is a disk id, a disk name and resource group, or a PersistentVolumeClaim of the Azure Disk CSI driver
    (its PV's C(volumeHandle) is read through the Kubernetes API with kubernetes.core's client).
  - With O(target_location) the snapshot is also copied to another region (C(CopyStart)); the task waits until
    the copy reports C(completionPercent) 100, within O(timeout).
  - With O(retain) only the newest O(retain) snapshots of the same source disk that this module made (they carry
    the tag C(kubedisk-aks-source)) are kept; older ones are deleted.
  - Everything is checked before the first write (a missing source disk creates nothing).
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  name:
    description: Snapshot name (1-80 letters, digits, C(_), C(.) and C(-)).
    type: str
    required: true
  resource_group:
    description: Resource group of the snapshot.
    type: str
    required: true
  state:
    description: V(present) creates the snapshot, V(absent) deletes it (and its copy with O(target_location)).
    type: str
    default: present
    choices: [present, absent]
  location:
    description: Region of the snapshot; defaults to the source disk's.
    type: str
  source_disk_id:
    description: Resource id of the disk to snapshot.
    type: str
  source_disk:
    description: The disk to snapshot, by name and resource group.
    type: dict
    suboptions:
      name:
        description: Disk name.
        type: str
        required: true
      resource_group:
        description: Resource group of the disk.
        type: str
        required: true
  source_pvc:
    description: The disk to snapshot, as the PersistentVolumeClaim whose PV it backs.
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
  incremental:
    description: Incremental snapshot (only the changes since the previous one are stored). Cannot change afterwards.
    type: bool
    default: true
  sku:
    description: Storage of a full snapshot. Incremental snapshots are always Standard storage (leave it out).
    type: str
    choices: [Standard_LRS, Premium_LRS, Standard_ZRS]
  tags:
    description: Tags, merged over the existing ones unless O(append_tags=false). The C(kubedisk-aks-source) tag is always set.
  target_location:
    description: Also copy the snapshot to this region (incremental snapshots only) and wait until the copy completes.
    type: str
  copy_name:
    description: Name of the cross-region copy. Defaults to C(<name>-<target_location>).
    type: str
  retain:
    description:
      - Keep only the newest O(retain) snapshots of this source disk in O(resource_group) that carry the
        C(kubedisk-aks-source) tag (this one included); delete the older ones.
    type: int
  timeout:
    description: Seconds to wait for Azure in total (creation, copy completion, deletions, retries).
    default: 1800
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubedisk.aks.azure.tags
  - kubedisk.aks.kubernetes
"""

EXAMPLES = r"""
- name: Nightly snapshot of a StatefulSet volume, keep seven
  kubedisk.aks.disk_snapshot:
    name: "data-db-0-{{ now(utc=true, fmt='%Y%m%d') }}"
    resource_group: rg-backups
    source_pvc:
      namespace: db
      name: data-db-0
    kubernetes:
      kubeconfig: ~/.kube/aks-stateful
    retain: 7

- name: Snapshot a disk and copy it to the paired region
  kubedisk.aks.disk_snapshot:
    name: pvc-1234-before-upgrade
    resource_group: rg-backups
    source_disk:
      name: pvc-1234
      resource_group: MC_rg-stateful_aks-stateful_westeurope
    target_location: northeurope
    tags:
      reason: upgrade
"""

RETURN = r"""
snapshot:
  description: The snapshot after the task (predicted in check mode; empty when absent).
  returned: always
  type: dict
  contains:
    id:
      description: Resource id.
      type: str
    name:
      description: Name.
      type: str
    location:
      description: Region.
      type: str
    incremental:
      description: Whether it is incremental.
      type: bool
    size_gb:
      description: Size of the source disk in GiB.
      type: int
    source_resource_id:
      description: The disk it was taken from.
      type: str
    time_created:
      description: Creation time.
      type: str
    completion_percent:
      description: Copy progress (100 when complete).
      type: float
    tags:
      description: Tags.
      type: dict
copied:
  description: The cross-region copy (with O(target_location)).
  returned: when O(target_location) is set
  type: dict
deleted:
  description: Ids of the older snapshots deleted (or that check mode would delete) because of O(retain).
  returned: always
  type: list
  elements: str
source_disk_id:
  description: Resource id of the source disk (resolved from the PVC with O(source_pvc)).
  returned: when O(state=present)
  type: str
found_existing:
  description:
    - True when another run created the snapshot between this run's first read and its create (at the last read before the
      write, or because Azure refused the create for it); this run then compared it with what was asked instead of
      creating it again, and a warning says so. C(changed) is false unless it differed in something that can be updated.
  returned: when another run created it meanwhile
  type: bool
  sample: true
"""

from functools import partial

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_diff import same_text
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import (
    RESOURCE_REF_SPEC, parse_resource_id, resource_id, same_id, valid_disk_name, valid_resource_group)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_tags import TAGS_SPEC, tags_after
from ansible_collections.kubedisk.aks.plugins.module_utils.disk_facts import SNAPSHOT_SKUS, SOURCE_TAG, ref_parts, snapshot_facts
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import KUBERNETES_SPEC, K8sError
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import CSI_DRIVER, PVC_REF_SPEC, azure_disk_handle, csi_driver

COPY_TAG = "kubedisk-aks-copy-of"

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "resource_group": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "location": {"type": "str"},
    "source_disk_id": {"type": "str"},
    "source_disk": RESOURCE_REF_SPEC,
    "source_pvc": PVC_REF_SPEC,
    "kubernetes": KUBERNETES_SPEC,
    "incremental": {"type": "bool", "default": True},
    "sku": {"type": "str", "choices": SNAPSHOT_SKUS},
    "target_location": {"type": "str"},
    "copy_name": {"type": "str"},
    "retain": {"type": "int"},
}
ARGUMENT_SPEC.update(TAGS_SPEC)


def source_tag_value(disk_id, unique_id=None):
    value = disk_id.lower()
    return value if len(value) <= 256 else (unique_id or value[-256:])


def validate(module):
    p = module.params
    if not valid_disk_name(p["name"]):
        module.fail_json(msg="name %r is not a valid snapshot name: 1-80 letters, digits, '_', '.' and '-', starting with a "
                             "letter or digit" % p["name"])
    if not valid_resource_group(p["resource_group"]):
        module.fail_json(msg="resource_group %r is not a valid resource group name" % p["resource_group"])
    if p["retain"] is not None and p["retain"] < 1:
        module.fail_json(msg="retain must be 1 or more (the snapshot just made is always kept), got %d" % p["retain"])
    if p["incremental"] and p["sku"] and p["sku"] != "Standard_LRS" and p["sku"] != "Standard_ZRS":
        module.fail_json(msg="incremental snapshots are always Standard storage; leave sku out or set incremental: false "
                             "for a %s full snapshot" % p["sku"])
    if p["target_location"] and not p["incremental"]:
        module.fail_json(msg="target_location (cross-region copy) works with incremental snapshots only; set incremental: true")
    if p["target_location"] and p["location"] and same_text(p["target_location"], p["location"]):
        module.fail_json(msg="target_location %s is the snapshot's own location; leave it out or name another region"
                             % p["target_location"])
    if p["copy_name"] and not valid_disk_name(p["copy_name"]):
        module.fail_json(msg="copy_name %r is not a valid snapshot name" % p["copy_name"])
    if p["source_pvc"] and p["source_pvc"]["namespace"] and "/" in p["source_pvc"]["namespace"]:
        module.fail_json(msg="source_pvc.namespace %r is not a namespace name" % p["source_pvc"]["namespace"])


def pvc_disk(module, namespace, name):
    """The disk id behind a bound PVC of the Azure Disk CSI driver; fails naming what is missing or wrong."""
    kube = module.kube()
    try:
        pvc = kube.get("PersistentVolumeClaim", name, namespace)
        if pvc is None:
            module.fail_json(msg="cannot snapshot: PVC %s/%s does not exist" % (namespace, name))
        phase = (pvc.get("status") or {}).get("phase")
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if phase != "Bound" or not pv_name:
            module.fail_json(msg="cannot snapshot: PVC %s/%s is %s, not Bound: there is no disk behind it yet (a "
                                 "WaitForFirstConsumer claim binds when a pod uses it)" % (namespace, name, phase or "without a status"))
        pv = kube.get("PersistentVolume", pv_name)
    except K8sError as exc:
        module.fail_json(msg="cannot snapshot: Kubernetes API error: %s" % exc)
    if pv is None:
        module.fail_json(msg="cannot snapshot: PV %s of PVC %s/%s does not exist" % (pv_name, namespace, name))
    disk_id = azure_disk_handle(pv)
    if disk_id is None:
        module.fail_json(msg="cannot snapshot: PV %s of PVC %s/%s is not an Azure Disk CSI volume (driver %s); only %s volumes "
                             "can be snapshot here" % (pv_name, namespace, name, csi_driver(pv), CSI_DRIVER))
    return disk_id


def resolve_source(module, compute):
    """The source disk as a REST dict (fails before any write when it cannot be found)."""
    p = module.params
    if p["source_pvc"]:
        disk_id = pvc_disk(module, p["source_pvc"]["namespace"], p["source_pvc"]["name"])
        parsed = parse_resource_id(disk_id) or {}
        if not parsed.get("name"):
            module.fail_json(msg="the PV of PVC %s/%s has volumeHandle %r, which is not a disk id"
                                 % (p["source_pvc"]["namespace"], p["source_pvc"]["name"], disk_id))
        rg, name = parsed["resource_group"], parsed["name"]
    else:
        rg, name = ref_parts(module, "source_disk_id", "source_disk", "disks")
    disk = module.get_or_none("reading source disk %s" % name, compute.disks.get, rg, name)
    if disk is None:
        module.fail_json(msg="source disk %s not found in resource group %s; nothing was created" % (name, rg))
    return to_rest(disk)


def wait_copy(module, compute, rg, name):
    """Wait until a CopyStart snapshot reports completionPercent 100, within the timeout; returns it."""
    def check():
        copy = to_rest(module.call("reading copy %s" % name, compute.snapshots.get, rg, name))
        percent = (copy.get("properties") or {}).get("completionPercent")
        if same_text((copy.get("properties") or {}).get("provisioningState"), "Failed"):
            module.fail_json(msg="the cross-region copy %s failed (provisioningState Failed); delete it and rerun" % name)
        if percent is None or float(percent) >= 100:
            return True, copy
        return False, "it is at %s%%" % percent

    return module.poll_until(check, "the cross-region copy %s completing" % name,
                             "Azure carries on: rerun later (it converges) or raise timeout", slow=True)


def retained(module, compute, rg, tag_value, keep_id, unlisted_new=False):
    """Snapshots to delete so that only the newest ``retain`` of this source remain (never ``keep_id``).

    ``unlisted_new``: check mode, the new snapshot is not in the listing but takes one place.
    """
    items = module.call("listing the snapshots of resource group %s" % rg,
                        lambda: [to_rest(s) for s in compute.snapshots.list_by_resource_group(rg)])
    ours = [s for s in items if ((s.get("tags") or {}).get(SOURCE_TAG) or "").lower() == tag_value]
    ours.sort(key=lambda s: ((s.get("properties") or {}).get("timeCreated") or "", s.get("name") or ""), reverse=True)
    keep = [s for s in ours if same_id(s.get("id"), keep_id)]
    others = [s for s in ours if not same_id(s.get("id"), keep_id)]
    room = max(0, module.params["retain"] - len(keep) - (1 if unlisted_new else 0))
    return others[room:]


def converge_existing(module, compute, current, disk_id, wanted_tags, result):
    """The existing snapshot ``current`` with the tags asked for (updated when they differ), as a REST dict.

    Fails, rewriting nothing, when it was taken of another disk or with another ``incremental``: neither can change.
    """
    p = module.params
    name = current["name"]
    props = current.get("properties") or {}
    source = (props.get("creationData") or {}).get("sourceResourceId")
    if not same_id(source, disk_id):
        module.fail_existing(result, "snapshot %s" % name, "from another source (%s, not %s); it was not rewritten: choose "
                             "another name" % (source, disk_id), snapshot=snapshot_facts(current))
    if bool(props.get("incremental")) != p["incremental"]:
        module.fail_existing(result, "snapshot %s" % name, "with incremental=%s; that cannot change: choose another name"
                             % bool(props.get("incremental")), snapshot=snapshot_facts(current))
    tags = tags_after(current.get("tags"), wanted_tags, p["append_tags"])
    if tags == (current.get("tags") or {}):
        return current
    result["changed"] = True
    if module.check_mode:
        return dict(current, tags=tags)
    return to_rest(module.begin("updating the tags of snapshot %s" % name, compute.snapshots.begin_update,
                                p["resource_group"], name, {"tags": tags}))


def main():
    module = AzureModule(
        ARGUMENT_SPEC,
        default_timeout=1800,
        mutually_exclusive=[("source_disk_id", "source_disk", "source_pvc")],
        required_if=[("state", "present", ("source_disk_id", "source_disk", "source_pvc"), True)],
    )
    validate(module)
    p = module.params
    compute = module.client("compute")
    rg, name = p["resource_group"], p["name"]
    copy_name = p["copy_name"] or ("%s-%s" % (name, p["target_location"].lower()) if p["target_location"] else None)
    if copy_name and not valid_disk_name(copy_name):
        module.fail_json(msg="the copy name %r is too long or invalid; set copy_name" % copy_name)
    current = to_rest(module.current("reading snapshot %s" % name, compute.snapshots.get, rg, name))
    before = snapshot_facts(current)
    result = {"changed": False, "deleted": []}

    if p["state"] == "absent":
        targets = [(name, current)]
        if copy_name:
            targets.append((copy_name, to_rest(module.current("reading copy %s" % copy_name, compute.snapshots.get, rg, copy_name))))
        for target, found in targets:
            if found:
                result["changed"] = True
                result["deleted"].append(found["id"])
                if not module.check_mode:
                    module.begin("deleting snapshot %s" % target, compute.snapshots.begin_delete, rg, target)
        result["snapshot"] = {}
        module.exit_with_diff(before, {}, **result)

    disk = resolve_source(module, compute)
    disk_id = disk["id"]
    tag_value = source_tag_value(disk_id, (disk.get("properties") or {}).get("uniqueId"))
    location = p["location"] or disk.get("location")
    if p["target_location"] and same_text(p["target_location"], location):
        module.fail_json(msg="target_location %s is where the snapshot is made; name another region" % location)
    if p["target_location"]:
        module.check_location(p["target_location"], option="target_location")
    result["source_disk_id"] = disk_id
    wanted_tags = dict(p["tags"] or {})
    wanted_tags[SOURCE_TAG] = tag_value

    if current and same_text((current.get("properties") or {}).get("provisioningState"), "Failed"):
        current = None  # a failed creation: the same PUT again replaces it
    creating = current is None
    if creating:
        body = {"location": location, "tags": wanted_tags,
                "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk_id},
                               "incremental": p["incremental"]}}
        if p["sku"]:
            body["sku"] = {"name": p["sku"]}
        result["changed"] = True
        after_rest = dict(body, name=name, id=resource_id(subscription=module.subscription_id, resource_group=rg,
                                                          namespace="Microsoft.Compute", type="snapshots", name=name))
        after_rest["properties"] = dict(body["properties"], diskSizeGB=(disk.get("properties") or {}).get("diskSizeGB"))
        if not module.check_mode:
            made, created = module.create("creating snapshot %s of %s" % (name, disk["name"]), partial(compute.snapshots.get, rg, name),
                                          compute.snapshots.begin_create_or_update, rg, name, body)
            if created:
                after_rest = to_rest(made)
            else:
                result["changed"] = False
                module.found_existing(result, "snapshot %s" % name)
                current = to_rest(made)
    if current:
        after_rest = converge_existing(module, compute, current, disk_id, wanted_tags, result)
    result["snapshot"] = snapshot_facts(after_rest)

    if copy_name:
        copy = to_rest(module.get_or_none("reading copy %s" % copy_name, compute.snapshots.get, rg, copy_name))
        if not copy:
            copy_body = {"location": p["target_location"], "tags": {COPY_TAG: after_rest["id"].lower()[:256]},
                         "properties": {"creationData": {"createOption": "CopyStart", "sourceResourceId": after_rest["id"]},
                                        "incremental": True}}
            copy, copied = dict(copy_body, name=copy_name), True
            if not module.check_mode:
                made, copied = module.create("starting the copy of %s to %s" % (name, p["target_location"]),
                                             partial(compute.snapshots.get, rg, copy_name), compute.snapshots.begin_create_or_update,
                                             rg, copy_name, copy_body)
                if not copied:
                    copy = to_rest(made)
                    module.found_existing(result, "copy %s" % copy_name)
            result["changed"] = result["changed"] or copied
        if not same_id(((copy.get("properties") or {}).get("creationData") or {}).get("sourceResourceId"), after_rest["id"]):
            module.fail_existing(result, "snapshot %s" % copy_name, "but is not a copy of %s; set another copy_name" % name)
        if not module.check_mode:
            copy = wait_copy(module, compute, rg, copy_name)
        result["copied"] = snapshot_facts(copy)

    if p["retain"]:
        doomed = retained(module, compute, rg, tag_value, after_rest.get("id"), unlisted_new=module.check_mode and creating)
        for item in doomed:
            result["changed"] = True
            result["deleted"].append(item["id"])
            if not module.check_mode:
                module.begin("deleting older snapshot %s (retain %d)" % (item["name"], p["retain"]),
                             compute.snapshots.begin_delete, rg, item["name"])
    module.exit_with_diff(before, result["snapshot"], **result)


if __name__ == "__main__":
    main()
