#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pvc_resize
short_description: Grow Azure Disk PVCs (of a StatefulSet) online or offline, resumable after an interruption
version_added: 0.1.0
description:
  - Grows PersistentVolumeClaims of the Azure Disk CSI driver to O(size), given as PVC names or as a StatefulSet
    (all its claims, or chosen O(ordinals)). Never shrinks (a smaller size is refused).
  - O(mode=online) patches the claims while the pods run (Azure "expand without downtime").
    O(mode=offline) takes the StatefulSet down first. O(mode=auto) reads each disk from Azure and goes offline
    when online expansion cannot work (shared disk, a disk of up to 4 TiB growing past 4 TiB); it tries online
    otherwise and falls back to offline when the resize controller reports that Azure refused it (for example
    the subscription or region does not expand attached disks).
  - "Offline: everything is checked first (the claims exist and are bound, their StorageClass allows expansion, the
    new size is larger, the StatefulSet's C(persistentVolumeClaimRetentionPolicy.whenScaled) is not C(Delete) because
    scaling to 0 would delete the claims, and no PodDisruptionBudget forbids taking all its pods down unless
    O(ignore_pdb=true)). Then the original replica count and the target are recorded in the annotation
    C(kubedisk.aks/pvc-resize) on the StatefulSet (in the same write as the scale to 0), the module waits until the
    pods are gone, their VolumeAttachments are deleted and Azure reports the disks C(Unattached), patches the claims,
    waits for the controller resize, scales back to the recorded count, waits until the pods are Ready and each claim
    shows the new capacity without a resize condition, and removes the annotation."
  - A rerun after an interruption (the annotation is there) resumes from where the cluster is instead of starting over;
    O(abort=true) undoes it instead. The annotation is written with the StatefulSet's C(resourceVersion), so of two runs
    started together only one takes the StatefulSet down; the other fails naming the resize it found.
  - Every check runs before the first write, check mode included; the size is checked against the largest disk of the
    disk's SKU (read from Azure, else the PV's C(volumeAttributes) or the StorageClass C(skuName) / C(storageaccounttype)).
  - When a run fails after it wrote something, the message and RV(changes) say what it changed. A failed online attempt
    sets the requests of the claims whose disk did not grow back to what they were (when Kubernetes allows it), so the
    resize controller does not retry it forever.
  - O(update_template=true) also re-creates the StatefulSet with its C(volumeClaimTemplates) at the new size
    (deleted with C(propagationPolicy=Orphan), so the pods and claims stay), so new replicas get it too.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  size:
    description:
      - New size of the claims, a Kubernetes quantity (for example C(5Gi)). Azure disks grow in whole GiB, up to the largest
        disk of their SKU (32,767 GiB; 65,536 GiB for C(UltraSSD_LRS) and C(PremiumV2_LRS)).
      - Required unless O(abort=true).
    type: str
  abort:
    description:
      - Undo an interrupted offline resize instead of finishing it. The claims whose disk has not grown yet get their
        previous request back (where Kubernetes allows it, that is above the claim's current capacity, see
        C(RecoverVolumeExpansionFailure)), the StatefulSet is scaled back to the recorded replica count and the annotation
        C(kubedisk.aks/pvc-resize) is removed. Nothing happens when no resize is recorded.
    type: bool
    default: false
  namespace:
    description: Namespace of the claims and the StatefulSet.
    type: str
    default: default
  pvcs:
    description: Names of the claims to grow. Mutually exclusive with O(statefulset).
    type: list
    elements: str
  statefulset:
    description:
      - Grow the claims of this StatefulSet (C(<template>-<statefulset>-<ordinal>)). These are the claims of every ordinal
        below C(spec.replicas) and every existing claim of a higher ordinal (a scaled-down StatefulSet keeps its claims, and
        gets them back on scale-up).
    type: str
  ordinals:
    description: Only these ordinals of O(statefulset) (default all, see O(statefulset)). Offline mode still takes every replica down.
    type: list
    elements: int
  claim_templates:
    description: Only the claims of these C(volumeClaimTemplates) of O(statefulset) (default all).
    type: list
    elements: str
  mode:
    description: V(online) while the pods run, V(offline) with the StatefulSet scaled to 0, V(auto) decides (see above).
    type: str
    default: auto
    choices: [auto, online, offline]
  update_template:
    description: Re-create the StatefulSet (orphan cascade) with its claim templates at O(size).
    type: bool
    default: false
  ignore_pdb:
    description: Go offline even though a PodDisruptionBudget covers the StatefulSet's pods (all of them go down).
    type: bool
    default: false
  timeout:
    description: Seconds the whole resize may take (Azure reads and every wait); a timed-out offline resize resumes on rerun.
    default: 900
notes:
  - Offline mode works on claims used by the pods of one StatefulSet (or by no pod at all); claims of Deployments or
    bare pods are refused offline.
  - The disks are read from Azure (C(Microsoft.Compute/disks/read)) through the PV's C(volumeHandle).
  - Kubernetes is reached with kubernetes.core's connection options (also set for a play through C(module_defaults) of
    C(group/kubedisk.aks.k8s)), except O(validate_certs), which is about Azure's endpoints here; the Kubernetes API's
    certificate is checked as the kubeconfig, O(ca_cert) or E(K8S_AUTH_VERIFY_SSL) say.
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubernetes.core.k8s_auth_options
"""

EXAMPLES = r"""
- name: Grow the disks of a StatefulSet offline, template included
  kubedisk.aks.pvc_resize:
    namespace: default
    statefulset: nginx-statefulset
    size: 5Gi
    mode: offline
    ignore_pdb: true
    update_template: true
  register: resize

- name: Grow one claim, online if Azure can
  kubedisk.aks.pvc_resize:
    namespace: default
    pvcs: [pvc-azuredisk]
    size: 10Gi
"""

RETURN = r"""
mode:
  description: The mode used (V(online) or V(offline)); null when nothing had to grow.
  returned: always
  type: str
mode_reason:
  description: Why that mode (for V(auto)).
  returned: always
  type: str
pvcs:
  description: Per claim, the size before and after, its disk and whether it grew.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Claim name.
      type: str
    before:
      description: Capacity before.
      type: str
    after:
      description: Capacity after (the target in check mode).
      type: str
    disk_id:
      description: Azure disk behind it.
      type: str
    changed:
      description: Whether it grew (or would).
      type: bool
  sample:
    - {name: azuredisk-nginx-statefulset-0, before: 1Gi, after: 5Gi, changed: true,
       disk_id: /subscriptions/.../resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/disks/pvc-1}
statefulset:
  description: The StatefulSet taken down and back (offline), with the recorded replica count.
  returned: when offline mode ran on a StatefulSet
  type: dict
  sample: {name: nginx-statefulset, replicas: 2, resumed: false, template_updated: true}
downtime_seconds:
  description:
    - Seconds the StatefulSet had fewer Ready pods than its replicas, from the scale to 0 until all were Ready again
      (from the recorded start when resumed).
  returned: when offline mode ran
  type: float
changes:
  description: What this run wrote to the cluster, in order (also returned when it fails).
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds the module took.
  returned: always
  type: float
"""

import json
import re
import time
import traceback

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import parse_resource_id
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import AZURE_MODULE_K8S_AUTH_SPEC, K8sConflict, K8sError
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_quantities import GIB, gib_ceil, human_bytes, parse_quantity
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import label_selector_matches, owner
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import (
    azure_disk_handle, csi_driver, disk_sku, pod_pvc_names, pvc_resize_state, size_limit_refusal,
)

ANNOTATION = "kubedisk.aks/pvc-resize"
FOUR_TIB_GB = 4095
NO_4TIB_LIMIT = ("ultrassd_lrs", "premiumv2_lrs")

# Writes of the annotation that lose to another writer are re-read and retried this often.
LOCK_ATTEMPTS = 5

ARGUMENT_SPEC = {
    "size": {"type": "str"},
    "abort": {"type": "bool", "default": False},
    "namespace": {"type": "str", "default": "default"},
    "pvcs": {"type": "list", "elements": "str"},
    "statefulset": {"type": "str"},
    "ordinals": {"type": "list", "elements": "int"},
    "claim_templates": {"type": "list", "elements": "str"},
    "mode": {"type": "str", "default": "auto", "choices": ["auto", "online", "offline"]},
    "update_template": {"type": "bool", "default": False},
    "ignore_pdb": {"type": "bool", "default": False},
}
ARGUMENT_SPEC.update(AZURE_MODULE_K8S_AUTH_SPEC)


class Refused(Exception):
    """A check failed: the run stops here (the message says what it changed before, if anything)."""


def online_blockers(disk, target_gib):
    """Why Azure cannot grow this attached disk without downtime (empty list when it can)."""
    props = disk.get("properties") or {}
    sku = ((disk.get("sku") or {}).get("name") or "").lower()
    current = props.get("diskSizeGB") or 0
    reasons = []
    if (props.get("maxShares") or 1) > 1:
        reasons.append("disk %s is a shared disk (maxShares %s)" % (disk.get("name"), props["maxShares"]))
    if sku not in NO_4TIB_LIMIT and current <= FOUR_TIB_GB < target_gib:
        reasons.append("disk %s grows from %d GiB past 4 TiB" % (disk.get("name"), current))
    return reasons


def retention_refusal(sts):
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    if policy.get("whenScaled") == "Delete":
        return ("StatefulSet %s has persistentVolumeClaimRetentionPolicy.whenScaled: Delete, so scaling it to 0 for an "
                "offline resize would delete its claims and their disks. Set whenScaled: Retain first (or resize online)"
                % sts["metadata"]["name"])
    return None


def pdb_refusal(pdbs, sts, replicas):
    labels = ((((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}
    for pdb in pdbs:
        spec = pdb.get("spec") or {}
        if not label_selector_matches(spec.get("selector"), labels):
            continue
        limit = "minAvailable %s" % spec["minAvailable"] if spec.get("minAvailable") is not None else "maxUnavailable %s" % spec.get("maxUnavailable")
        if spec.get("maxUnavailable") is not None and str(spec["maxUnavailable"]) in ("100%", str(replicas)):
            continue
        if spec.get("minAvailable") is not None and str(spec["minAvailable"]) in ("0", "0%"):
            continue
        return ("an offline resize takes all %d pods of StatefulSet %s down, which PodDisruptionBudget %s (%s) is there to "
                "prevent. Set ignore_pdb: true to accept the downtime, or use mode: online"
                % (replicas, sts["metadata"]["name"], pdb["metadata"]["name"], limit))
    return None


def changes_note(changes):
    """What a failed run changed, for its message."""
    return "(this run changed: %s)" % "; ".join(changes) if changes else "(nothing was changed)"


def read_annotation(sts):
    raw = (((sts or {}).get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    if not raw:
        return None
    try:
        value = json.loads(raw)
        int(value["replicas"])
        return value
    except (ValueError, KeyError, TypeError):
        raise Refused("StatefulSet %s carries annotation %s=%r that is not a resize record; remove it and rerun"
                      % (sts["metadata"]["name"], ANNOTATION, raw))


def template_needs_update(sts, templates, size_bytes):
    for tpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        if tpl["metadata"]["name"] in templates:
            req = parse_quantity((((tpl.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
            if req is None or req < size_bytes:
                return True
    return False


def recreated_statefulset(sts, templates, size):
    meta = sts["metadata"]
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(ANNOTATION, None)
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    spec = json.loads(json.dumps(sts["spec"]))
    for tpl in spec.get("volumeClaimTemplates") or []:
        tpl.pop("status", None)
        if tpl["metadata"]["name"] in templates:
            tpl.setdefault("spec", {}).setdefault("resources", {}).setdefault("requests", {})["storage"] = size
    new_meta = {"name": meta["name"], "namespace": meta["namespace"]}
    if meta.get("labels"):
        new_meta["labels"] = meta["labels"]
    if annotations:
        new_meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": new_meta, "spec": spec}


class PvcResize(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.ns = self.p["namespace"]
        self.kube = module.kube()
        self.result = {"changed": False, "mode": None, "mode_reason": None, "pvcs": [], "changes": []}
        self.size_bytes = self.target_gib = None
        if self.p["size"] is not None:
            try:
                self.size_bytes = parse_quantity(self.p["size"])
            except ValueError as exc:
                module.fail_json(msg="size: %s" % exc)
            if not self.size_bytes or self.size_bytes <= 0:
                module.fail_json(msg="size must be larger than 0, got %r" % self.p["size"])
            self.target_gib = gib_ceil(self.size_bytes)
        self.sts = None
        self.templates = []
        self.record = None
        self.last_error = None

    def waited(self, check, what, advice):
        """Wait for ``check`` within the timeout, or fail with what the resize holds so far."""
        return self.module.poll_until(check, what, advice, result=self.result)

    def wrote(self, what):
        """Note a write, so that a later failure says what this run changed."""
        self.result["changes"].append(what)
        self.result["changed"] = True

    # ----- targets and checks (no writes) ----------------------------------------------------------
    def resolve_targets(self):
        p = self.p
        if p["statefulset"]:
            self.sts = self.kube.get("StatefulSet", p["statefulset"], self.ns, "apps/v1")
            if self.sts is None:
                raise Refused("StatefulSet %s/%s not found" % (self.ns, p["statefulset"]))
            self.record = read_annotation(self.sts)
            names = [t["metadata"]["name"] for t in (self.sts["spec"].get("volumeClaimTemplates") or [])]
            if not names:
                raise Refused("StatefulSet %s/%s has no volumeClaimTemplates: it has no claims to grow" % (self.ns, p["statefulset"]))
            unknown = [t for t in p["claim_templates"] or [] if t not in names]
            if unknown:
                raise Refused("StatefulSet %s has no volumeClaimTemplate %s (it has %s)" % (p["statefulset"], ", ".join(unknown), ", ".join(names)))
            self.templates = p["claim_templates"] or names
            if p["ordinals"] is None:
                replicas = int(self.record["replicas"]) if self.record else int(self.sts["spec"].get("replicas", 1))
                return self.statefulset_claims(replicas)
            bad = [o for o in p["ordinals"] if o < 0]
            if bad:
                raise Refused("ordinals must be 0 or more, got %s" % bad)
            return ["%s-%s-%d" % (t, p["statefulset"], o) for t in self.templates for o in p["ordinals"]]
        return list(p["pvcs"])

    def statefulset_claims(self, replicas):
        """The claims of the templates: every ordinal below ``replicas`` and every existing claim of a higher one.

        A StatefulSet scaled down keeps the claims of the removed ordinals and mounts them again on scale-up.
        """
        existing = [pvc["metadata"]["name"] for pvc in self.kube.list("PersistentVolumeClaim", self.ns)]
        names = []
        for template in self.templates:
            pattern = re.compile(r"^%s-%s-(\d+)$" % (re.escape(template), re.escape(self.p["statefulset"])))
            ordinals = set(range(replicas)) | set(int(m.group(1)) for m in (pattern.match(n) for n in existing) if m)
            names.extend("%s-%s-%d" % (template, self.p["statefulset"], o) for o in sorted(ordinals))
        return names

    def inspect(self, names):
        """Each claim with its PV, disk and what has to happen; raises Refused on anything that blocks."""
        items, classes = [], {}
        missing = []
        for name in names:
            pvc = self.kube.get("PersistentVolumeClaim", name, self.ns)
            if pvc is None:
                missing.append(name)
                continue
            items.append({"name": name, "pvc": pvc})
        if missing:
            raise Refused("PVC%s %s not found in namespace %s" % ("s" if len(missing) > 1 else "", ", ".join(missing), self.ns))
        for item in items:
            pvc, name = item["pvc"], item["name"]
            phase = (pvc.get("status") or {}).get("phase")
            if phase != "Bound":
                raise Refused("PVC %s is %s, not Bound: there is no disk to grow yet" % (name, phase or "without a status"))
            pv = self.kube.get("PersistentVolume", pvc["spec"]["volumeName"])
            item["disk_id"] = azure_disk_handle(pv)
            if item["disk_id"] is None:
                raise Refused("PV %s of PVC %s is not an Azure Disk CSI volume (driver %s)" % (pvc["spec"]["volumeName"], name, csi_driver(pv)))
            item["pv"] = pv
            capacity, conds, alloc = pvc_resize_state(pvc)
            request_text = ((pvc["spec"].get("resources") or {}).get("requests") or {}).get("storage")
            request = parse_quantity(request_text)
            disk_capacity = parse_quantity((pv["spec"].get("capacity") or {}).get("storage")) or 0
            item.update(capacity=capacity, request=request, request_text=request_text, conditions=conds, alloc=alloc,
                        pending_request=(request or 0) > disk_capacity)
            if self.size_bytes < max(capacity or 0, disk_capacity) or (self.size_bytes < (request or 0) and not item["pending_request"]):
                raise Refused("PVC %s is %s (requested %s); the new size %s is smaller and disks never shrink (refused)"
                              % (name, human_bytes(capacity), human_bytes(request), self.p["size"]))
            item["grow"] = (capacity or 0) < self.size_bytes
            if item["grow"] and alloc == "NodeResizePending" and disk_capacity < self.size_bytes:
                raise Refused("PVC %s still waits for a pod to mount it and finish the file system resize to %s "
                              "(NodeResizePending); the resize controller grows it again only after that. Start its pod once "
                              "(scale the StatefulSet up), then rerun" % (name, human_bytes(disk_capacity)))
            sc_name = pvc["spec"].get("storageClassName")
            if sc_name not in classes:
                classes[sc_name] = self.kube.get("StorageClass", sc_name, api_version="storage.k8s.io/v1") if sc_name else None
            item["storage_class"] = classes[sc_name]
            if item["grow"] and (request or 0) < self.size_bytes:
                sc = classes[sc_name]
                if sc is None:
                    raise Refused("PVC %s has StorageClass %s, which does not exist: Kubernetes only expands claims of a "
                                  "class with allowVolumeExpansion: true" % (name, sc_name or "(none)"))
                if not sc.get("allowVolumeExpansion"):
                    raise Refused("StorageClass %s of PVC %s does not allow volume expansion; set allowVolumeExpansion: true "
                                  "on it first" % (sc_name, name))
        return items

    def read_disk(self, disk_id):
        parsed = parse_resource_id(disk_id) or {}
        if not parsed.get("name") or (parsed.get("type") or "").lower() != "disks":
            raise Refused("volumeHandle %r is not an Azure disk id" % disk_id)
        compute = self.module.client("compute")
        disk = self.module.get_or_none("reading disk %s" % parsed["name"], compute.disks.get, parsed["resource_group"], parsed["name"])
        if disk is None:
            raise Refused("disk %s behind the claim does not exist in Azure (resource group %s)" % (parsed["name"], parsed["resource_group"]))
        return to_rest(disk)

    def check_disks(self, grow):
        """Read each disk from Azure, refuse a size its SKU cannot have; the reasons an online resize cannot work."""
        blockers = []
        for item in grow:
            disk = self.read_disk(item["disk_id"])
            item["disk"] = disk
            sku = (disk.get("sku") or {}).get("name") or disk_sku(item["pv"], item["storage_class"])
            refusal = size_limit_refusal(sku, self.target_gib, "the disk of PVC %s" % item["name"])
            if refusal:
                raise Refused("%s; choose a smaller size" % refusal)
            blockers.extend(online_blockers(disk, self.target_gib))
        return blockers

    def workload_of(self, items):
        """The StatefulSet whose pods use the claims (None when no pod uses them); Refused for other owners."""
        if self.sts is not None:
            return self.sts
        names = set(i["name"] for i in items)
        for sts in self.kube.list("StatefulSet", self.ns, api_version="apps/v1"):
            record = read_annotation(sts)
            if record and names & set(record.get("pvcs") or []):
                self.record = record
                return sts
        owners = set()
        for pod in self.kube.list("Pod", self.ns):
            if names & set(pod_pvc_names(pod)):
                ref = owner(pod)
                owners.add((ref["kind"], ref["name"]) if ref else ("Pod", pod["metadata"]["name"]))
        if not owners:
            return None
        if len(owners) > 1 or list(owners)[0][0] != "StatefulSet":
            raise Refused("offline resize needs the claims' pods to belong to one StatefulSet, but they are used by %s; stop "
                          "those pods yourself and rerun" % ", ".join("%s %s" % o for o in sorted(owners)))
        sts = self.kube.get("StatefulSet", list(owners)[0][1], self.ns, "apps/v1")
        self.record = read_annotation(sts)
        return sts

    # ----- run ------------------------------------------------------------------------------------
    def run(self):
        if self.p["abort"]:
            return self.abort()
        names = self.resolve_targets()
        items = self.inspect(names)
        grow = [i for i in items if i["grow"]]
        for item in items:
            self.result["pvcs"].append({"name": item["name"], "before": human_bytes(item["capacity"]),
                                        "after": human_bytes(item["capacity"]), "disk_id": item["disk_id"], "changed": item["grow"]})
        if self.p["mode"] == "offline" or self.record or self.p["update_template"]:
            self.sts = self.workload_of(items)
            if self.p["statefulset"] is None and self.sts is not None:
                self.templates = [t["metadata"]["name"] for t in self.sts["spec"].get("volumeClaimTemplates") or []]
        template_update = bool(self.p["update_template"] and self.sts is not None
                               and template_needs_update(self.sts, self.templates, self.size_bytes))
        if self.p["update_template"] and self.sts is None:
            raise Refused("update_template needs a StatefulSet: name it with statefulset, or target claims its pods use")
        if not grow and not self.record and not template_update:
            self.result["mode_reason"] = "every claim is already %s or larger" % self.p["size"]
            return
        blockers = self.check_disks(grow)
        mode = self.p["mode"]
        if self.record:
            mode, reason = "offline", "resuming the interrupted offline resize recorded on StatefulSet %s" % self.sts["metadata"]["name"]
        elif not grow:
            mode, reason = None, "claims already grown; only the template changes"
        elif mode == "online" and blockers:
            raise Refused("online resize is not possible: %s. Use mode: offline (or auto)" % "; ".join(blockers))
        elif mode == "auto":
            mode, reason = ("offline", "; ".join(blockers)) if blockers else ("online", "Azure can grow these disks while attached")
        else:
            reason = "asked for"
        self.result.update(mode=mode, mode_reason=reason)
        if mode == "offline":
            self.offline_preflight()
        self.result["changed"] = True
        for entry in self.result["pvcs"]:
            if entry["changed"]:
                entry["after"] = human_bytes(self.target_gib * GIB)
        if self.module.diff_mode:
            self.result["diff"] = self.diff(items, template_update)
        if self.module.check_mode:
            return
        if mode == "online":
            self.online(grow)
        elif mode == "offline":
            self.offline(items)
        if template_update:
            self.update_template()
        for entry in self.result["pvcs"]:
            entry["after"] = human_bytes(self.grown_to(entry["name"]))

    def grown_to(self, name):
        """The size a claim's disk has now: its capacity, or its PV's while the file system waits for a pod to mount it."""
        pvc = self.kube.get("PersistentVolumeClaim", name, self.ns)
        pv = self.kube.get("PersistentVolume", pvc["spec"].get("volumeName")) or {}
        return max(pvc_resize_state(pvc)[0] or 0, parse_quantity(((pv.get("spec") or {}).get("capacity") or {}).get("storage")) or 0)

    def diff(self, items, template_update):
        before = {"pvcs": dict((i["name"], human_bytes(i["capacity"])) for i in items)}
        after = {"pvcs": dict((i["name"], human_bytes(self.target_gib * GIB) if i["grow"] else human_bytes(i["capacity"])) for i in items)}
        if self.sts is not None and template_update:
            before["volumeClaimTemplates"] = dict((t, "smaller") for t in self.templates)
            after["volumeClaimTemplates"] = dict((t, self.p["size"]) for t in self.templates)
        return {"before": before, "after": after, "before_header": "namespace/%s" % self.ns, "after_header": "namespace/%s" % self.ns}

    def offline_preflight(self):
        if self.sts is None:
            return
        if self.record:
            if parse_quantity(self.record.get("size")) != self.target_gib * GIB:
                raise Refused("StatefulSet %s records an interrupted resize to %s (annotation %s); rerun with size: %s to finish "
                              "it, or with abort: true to undo it" % (self.sts["metadata"]["name"], self.record.get("size"), ANNOTATION,
                                                                      self.record.get("size")))
            return
        refusal = retention_refusal(self.sts)
        if refusal:
            raise Refused(refusal)
        if not self.p["ignore_pdb"]:
            pdbs = self.kube.list("PodDisruptionBudget", self.ns, api_version="policy/v1")
            refusal = pdb_refusal(pdbs, self.sts, int(self.sts["spec"].get("replicas", 1)))
            if refusal:
                raise Refused(refusal)

    def update_statefulset(self, name, change):
        """Patch StatefulSet ``name`` with ``change(sts)`` at the version ``change`` saw (None: nothing to write).

        When another writer came first (409 Conflict) the StatefulSet is read again and ``change`` decides again,
        so a decision is never written over a state it did not see.
        """
        for dummy in range(LOCK_ATTEMPTS):
            sts = self.kube.get("StatefulSet", name, self.ns, "apps/v1")
            if sts is None:
                raise Refused("StatefulSet %s/%s was deleted while this run worked on it" % (self.ns, name))
            body = change(sts)
            if body is None:
                return sts
            try:
                return self.kube.patch("StatefulSet", name, body, self.ns, "apps/v1", resource_version=sts["metadata"].get("resourceVersion"))
            except K8sConflict:
                continue
        raise Refused("StatefulSet %s/%s changed under each of %d attempts to write it; rerun" % (self.ns, name, LOCK_ATTEMPTS))

    def take_down(self, grow_items):
        """Record the resize and scale to 0 in one write, unless another run recorded one first; the recorded replicas."""
        name = self.sts["metadata"]["name"]
        record = {"size": "%dGi" % self.target_gib, "pvcs": [i["name"] for i in grow_items],
                  "requests": dict((i["name"], i["request_text"]) for i in grow_items), "started": round(time.time(), 3)}

        def record_and_scale(sts):
            found = read_annotation(sts)
            if found:
                raise Refused("another run took StatefulSet %s down first, for a resize to %s (annotation %s); wait until it "
                              "finishes, or rerun with size: %s to join it" % (name, found.get("size"), ANNOTATION, found.get("size")))
            refusal = retention_refusal(sts)
            if refusal:
                raise Refused(refusal)
            record["replicas"] = int(sts["spec"].get("replicas", 1))
            return {"metadata": {"annotations": {ANNOTATION: json.dumps(record, sort_keys=True)}}, "spec": {"replicas": 0}}

        self.sts = self.update_statefulset(name, record_and_scale)
        self.record = record
        self.wrote("StatefulSet %s scaled from %d to 0 replicas, the resize recorded in annotation %s" % (name, record["replicas"], ANNOTATION))
        return record["replicas"]

    def clear_record(self, name, record, body=None):
        """Remove this run's record (with ``body``, in the same write), unless the annotation holds another record now."""
        def without_record(sts):
            found = read_annotation(sts)
            if not found or found.get("started") != record.get("started"):
                raise Refused("the annotation %s of StatefulSet %s no longer holds this resize (%s); another run changed it"
                              % (ANNOTATION, name, json.dumps(found)))
            return dict(body or {}, metadata={"annotations": {ANNOTATION: None}})

        self.update_statefulset(name, without_record)
        self.wrote("annotation %s removed from StatefulSet %s" % (ANNOTATION, name))

    def patch_claims(self, items):
        target = self.target_gib * GIB
        for item in items:
            request = item.get("request") or 0
            if request < target or (request > target and item["pending_request"]):
                self.kube.patch("PersistentVolumeClaim", item["name"],
                                {"spec": {"resources": {"requests": {"storage": "%dGi" % self.target_gib}}}}, self.ns)
                self.wrote("PVC %s request set from %s to %dGi" % (item["name"], item["request_text"], self.target_gib))

    def set_back(self, requests):
        """Give each claim in ``requests`` (name -> previous request) whose disk has not grown its previous request back.

        A request the disk never reached makes the resize controller retry for ever; Kubernetes accepts a lower request
        while it stays above the claim's capacity (RecoverVolumeExpansionFailure). Returns what happened, as text.
        """
        notes = []
        for name, previous in sorted(requests.items()):
            pvc = self.kube.get("PersistentVolumeClaim", name, self.ns)
            if pvc is None:
                continue
            if previous is None:
                notes.append("PVC %s keeps its request: the record holds no earlier one" % name)
                continue
            request = parse_quantity(((pvc["spec"].get("resources") or {}).get("requests") or {}).get("storage"))
            if request <= parse_quantity(previous):
                continue
            pv = self.kube.get("PersistentVolume", pvc["spec"].get("volumeName"))
            grown = parse_quantity((((pv or {}).get("spec") or {}).get("capacity") or {}).get("storage")) or 0
            if grown >= request:
                notes.append("PVC %s keeps %s: its disk has grown" % (name, human_bytes(request)))
                continue
            try:
                self.kube.patch("PersistentVolumeClaim", name, {"spec": {"resources": {"requests": {"storage": previous}}}}, self.ns)
            except K8sError as exc:
                notes.append("PVC %s keeps its request of %s, which its disk has not reached: %s" % (name, human_bytes(request), exc))
                continue
            self.wrote("PVC %s request set back to %s" % (name, previous))
            notes.append("PVC %s request set back to %s" % (name, previous))
        return "; ".join(notes)

    def claims_done(self, names):
        """A check that each claim shows the target capacity without a resize condition (an unmounted claim may wait
        for a pod to finish its file system resize)."""
        def check():
            pending = []
            for name in names:
                pvc = self.kube.get("PersistentVolumeClaim", name, self.ns)
                capacity, conds, alloc = pvc_resize_state(pvc)
                types = [c["type"] for c in conds]
                errors = [c for c in conds if c["type"] in ("ControllerResizeError", "NodeResizeError")]
                if errors:
                    self.last_error = "%s: %s" % (errors[0]["type"], errors[0].get("message"))
                node_pending = "FileSystemResizePending" in types or alloc == "NodeResizePending"
                if node_pending and not errors and not self.used_by_pod(name):
                    continue
                if (capacity or 0) < self.target_gib * GIB or conds or alloc:
                    pending.append("%s at %s%s" % (name, human_bytes(capacity), " (%s)" % ", ".join(types) if types else ""))
            return not pending, "; ".join(pending) + ("; last error %s" % self.last_error if self.last_error else "")
        return check

    def used_by_pod(self, name):
        return any(name in pod_pvc_names(p) and (p.get("status") or {}).get("phase") == "Running" for p in self.kube.list("Pod", self.ns))

    def online(self, grow):
        """Grow the claims while the pods run; with mode auto, go offline when Azure refuses (OperationNotAllowed).

        When that cannot be finished (Azure refuses and offline is not possible, or the timeout ends the wait), the claims
        whose disk did not grow get their previous request back and the failure says what was changed.
        """
        self.patch_claims(grow)
        names = [i["name"] for i in grow]
        previous = dict((i["name"], i["request_text"]) for i in grow)
        check = self.claims_done(names)

        def check_or_refused():
            done, info = check()
            if not done and "OperationNotAllowed" in (self.last_error or ""):
                return True, "refused"
            return done, info

        done, info = self.module.deadline.poll_until(check_or_refused)
        if info == "refused":
            refused = "Azure refused to grow the attached disks (%s)" % self.last_error
            if self.p["mode"] == "online":
                raise Refused("%s; %s. Use mode: offline (or auto)" % (refused, self.set_back(previous)))
            try:
                self.sts = self.workload_of(grow)
                self.offline_preflight()
            except Refused as exc:
                raise Refused("%s and the offline fallback is not possible: %s; %s" % (refused, exc, self.set_back(previous)))
            self.result.update(mode="offline", mode_reason="%s; fell back to offline" % refused)
            self.offline(grow)
        elif not done:
            raise Refused("the online resize of %s did not finish within timeout=%d s (%s); %s. Check the PVC events (kubectl "
                          "describe pvc) and rerun, or use mode: offline"
                          % (", ".join(names), self.module.timeout, info, self.set_back(previous)))

    def offline(self, items):
        grow_names = [i["name"] for i in items if i["grow"]]
        pv_names = set(i["pv"]["metadata"]["name"] for i in items)
        sts = self.sts
        started = time.time()
        if sts is not None:
            name = sts["metadata"]["name"]
            if self.record:
                replicas = int(self.record["replicas"])
                started = float(self.record.get("started") or started)
                self.result["statefulset"] = {"name": name, "replicas": replicas, "resumed": True}
            else:
                replicas = self.take_down([i for i in items if i["grow"]])
                self.result["statefulset"] = {"name": name, "replicas": replicas, "resumed": False}
        resized = self.result.get("statefulset", {}).get("resumed", False) and self.controller_done(pv_names)[0]
        if sts is not None and not resized:
            if self.result["statefulset"]["resumed"] and sts["spec"].get("replicas") != 0:
                self.kube.patch("StatefulSet", name, {"spec": {"replicas": 0}}, self.ns, "apps/v1")
                self.wrote("StatefulSet %s scaled to 0 replicas (resuming)" % name)
            selector = sts["spec"]["selector"]
            self.waited(lambda: self.pods_gone(selector), "scaling StatefulSet %s to 0" % name,
                        "Pods stuck Terminating on a dead node need node_fence; rerun to resume, or rerun with abort: true")
        if not resized:
            self.offline_detach_and_grow(items, pv_names, grow_names)
        if sts is not None:
            self.kube.patch("StatefulSet", name, {"spec": {"replicas": replicas}}, self.ns, "apps/v1")
            self.wrote("StatefulSet %s scaled back to %d replicas" % (name, replicas))
            self.waited(lambda: self.sts_ready(name, replicas), "StatefulSet %s back to %d Ready pods" % (name, replicas),
                        "Rerun to resume (the annotation keeps the replica count)")
            self.result["downtime_seconds"] = round(time.time() - started, 1)
        self.waited(self.claims_done([i["name"] for i in items]),
                    "the claims showing the new capacity", "Rerun to resume")
        if sts is not None:
            self.clear_record(name, self.record)

    def offline_detach_and_grow(self, items, pv_names, grow_names):
        self.waited(lambda: self.attachments_gone(pv_names), "detaching the volumes (VolumeAttachments deleted)",
                    "Check the CSI attacher; rerun to resume")
        disks = [i["disk_id"] for i in items]
        self.waited(lambda: self.disks_unattached(disks), "Azure reporting the disks Unattached", "Rerun to resume")
        self.patch_claims([i for i in items if i["grow"] or (i.get("request") or 0) < self.target_gib * GIB])

        def grown():
            refused = self.resize_refused(grow_names)
            if refused:
                raise Refused("the resize controller gave up growing %s; the StatefulSet stays down. Rerun with abort: true to "
                              "set the claims back and scale it back up" % refused)
            return self.controller_done(pv_names)

        self.waited(grown, "the controller resize of the disks",
                    "Check the PVC events (kubectl describe pvc) and the csi-resizer; rerun to resume, or rerun with abort: true")

    def resize_refused(self, names):
        """The claims whose resize the controller marked infeasible (it will not retry them), with its message."""
        refused = []
        for name in names:
            capacity, conds, alloc = pvc_resize_state(self.kube.get("PersistentVolumeClaim", name, self.ns) or {})
            if alloc == "ControllerResizeInfeasible":
                messages = [c.get("message") for c in conds if c["type"] == "ControllerResizeError" and c.get("message")]
                refused.append("%s (%s)" % (name, "; ".join(messages) or alloc))
        return ", ".join(refused)

    def pods_gone(self, selector):
        pods = [p for p in self.kube.list("Pod", self.ns) if label_selector_matches(selector, p["metadata"].get("labels"))]
        return not pods, ", ".join("%s on %s" % (p["metadata"]["name"], p["spec"].get("nodeName")) for p in pods)

    def attachments_gone(self, pv_names):
        vas = [va for va in self.kube.list("VolumeAttachment", api_version="storage.k8s.io/v1")
               if ((va.get("spec") or {}).get("source") or {}).get("persistentVolumeName") in pv_names]
        return not vas, ", ".join(va["metadata"]["name"] for va in vas)

    def disks_unattached(self, disk_ids):
        attached = []
        for disk_id in disk_ids:
            disk = self.read_disk(disk_id)
            state = (disk.get("properties") or {}).get("diskState")
            if state not in ("Unattached", None):
                attached.append("%s is %s to %s" % (disk.get("name"), state, disk.get("managedBy")))
        return not attached, "; ".join(attached)

    def controller_done(self, pv_names):
        pending = []
        for pv_name in pv_names:
            pv = self.kube.get("PersistentVolume", pv_name)
            capacity = parse_quantity((pv["spec"].get("capacity") or {}).get("storage"))
            if capacity < self.target_gib * GIB:
                pending.append("%s at %s" % (pv_name, human_bytes(capacity)))
        return not pending, ", ".join(pending)

    def sts_ready(self, name, replicas):
        sts = self.kube.get("StatefulSet", name, self.ns, "apps/v1")
        ready = (sts.get("status") or {}).get("readyReplicas") or 0
        return ready >= replicas, "%d of %d Ready" % (ready, replicas)

    def update_template(self):
        sts = self.kube.get("StatefulSet", self.sts["metadata"]["name"], self.ns, "apps/v1")
        body = recreated_statefulset(sts, self.templates, "%dGi" % self.target_gib)
        self.kube.delete("StatefulSet", sts["metadata"]["name"], self.ns, "apps/v1", propagation="Orphan")
        self.wrote("StatefulSet %s deleted with propagationPolicy Orphan (pods and claims stay)" % sts["metadata"]["name"])
        self.waited(lambda: (self.kube.get("StatefulSet", sts["metadata"]["name"], self.ns, "apps/v1") is None, "still there"),
                    "deleting StatefulSet %s (orphan)" % sts["metadata"]["name"],
                    "Its pods and claims stay; re-create it from this definition: %s" % json.dumps(body))
        self.kube.create("StatefulSet", body, self.ns, "apps/v1")
        self.wrote("StatefulSet %s re-created with volumeClaimTemplates at %dGi" % (sts["metadata"]["name"], self.target_gib))
        self.result.setdefault("statefulset", {"name": sts["metadata"]["name"], "replicas": sts["spec"].get("replicas")})
        self.result["statefulset"]["template_updated"] = True

    # ----- abort ----------------------------------------------------------------------------------
    def abort(self):
        """Undo the recorded offline resize: claims set back where their disk did not grow, replicas restored, record removed."""
        if self.p["statefulset"]:
            self.sts = self.kube.get("StatefulSet", self.p["statefulset"], self.ns, "apps/v1")
            if self.sts is None:
                raise Refused("StatefulSet %s/%s not found" % (self.ns, self.p["statefulset"]))
            self.record = read_annotation(self.sts)
        else:
            self.sts = self.workload_of([{"name": n} for n in self.p["pvcs"]])
        if not self.record:
            self.result["mode_reason"] = "no interrupted resize is recorded: nothing to abort"
            return
        name, record = self.sts["metadata"]["name"], self.record
        replicas = int(record["replicas"])
        self.result.update(changed=True, mode="offline", mode_reason="aborting the resize to %s recorded on StatefulSet %s"
                           % (record.get("size"), name),
                           statefulset={"name": name, "replicas": replicas, "resumed": True, "aborted": True})
        if self.module.check_mode:
            return
        requests = record.get("requests") or dict((n, None) for n in record.get("pvcs") or [])
        notes = self.set_back(requests)
        self.clear_record(name, record, {"spec": {"replicas": replicas}})
        self.wrote("StatefulSet %s scaled back to %d replicas" % (name, replicas))
        self.waited(lambda: self.sts_ready(name, replicas), "StatefulSet %s back to %d Ready pods" % (name, replicas),
                    "The resize is no longer recorded; check the pods (kubectl describe pod)")
        for claim in sorted(requests):
            pvc = self.kube.get("PersistentVolumeClaim", claim, self.ns)
            if pvc is not None:
                size = human_bytes(pvc_resize_state(pvc)[0])
                self.result["pvcs"].append({"name": claim, "before": size, "after": size, "disk_id": None, "changed": False})
        if notes:
            self.result["mode_reason"] += "; " + notes


def main():
    module = AzureModule(ARGUMENT_SPEC, default_timeout=900, mutually_exclusive=[("pvcs", "statefulset")],
                         required_one_of=[("pvcs", "statefulset")],
                         required_by={"ordinals": "statefulset", "claim_templates": "statefulset"})
    p = module.params
    if p["pvcs"] is not None and not [n for n in p["pvcs"] if n]:
        module.fail_json(msg="pvcs must name at least one PersistentVolumeClaim")
    if p["abort"] and p["size"] is not None:
        module.fail_json(msg="abort: true undoes the recorded resize and takes no size; leave size out")
    if not p["abort"] and p["size"] is None:
        module.fail_json(msg="size is required (the new size of the claims, e.g. 5Gi), unless abort: true")
    resize = PvcResize(module)
    try:
        resize.run()
    except Refused as exc:
        resize.result.pop("diff", None)
        module.fail_partway("%s %s" % (exc, changes_note(resize.result["changes"])), resize.result)
    except K8sError as exc:
        module.fail_partway("Kubernetes API error: %s %s. Rerun to resume" % (exc, changes_note(resize.result["changes"])),
                            resize.result, exception=traceback.format_exc())
    module.exit_json(elapsed=module.elapsed(), **resize.result)


if __name__ == "__main__":
    main()
