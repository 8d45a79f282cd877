#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_fence
short_description: Fence a dead AKS node (out-of-service taint) once Azure confirms its VM is down, and unfence it
version_added: 0.1.0
description:
  - Non-graceful node shutdown for AKS. O(state=fenced) follows the node's C(providerID) to its scale-set VM
    (or standalone VM), reads the VM's power state from Azure and applies the taint
    C(node.kubernetes.io/out-of-service=nodeshutdown:NoExecute) only when the VM is stopped, deallocated or gone
    B(and) the node is NotReady. Kubernetes then force-deletes the node's terminating pods and detaches their
    volumes at once instead of after about 6 minutes, so a StatefulSet pod with an Azure Disk starts on another
    node of its zone.
  - It then waits (within O(timeout)) until the pods that do not tolerate the taint have left the node and the
    VolumeAttachments of their volumes on that node are gone.
  - A running (or starting, stopping) VM is refused with its power state in the message, because the taint on a
    node whose VM still runs can let two pods write one disk. O(force=true) skips the Azure check for operators
    who have made sure otherwise that the machine is down (the node must still be NotReady).
  - The VM counts as gone only when Azure answers 404 C(ResourceNotFound) for the VM itself and its scale set exists.
    Any other 404 (C(ResourceGroupNotFound), a missing scale set, that is a wrong or mis-parsed C(providerID)) is refused.
  - O(state=unfenced) removes the taint once the node is Ready again (it waits for Ready within O(timeout)).
  - Everything is checked before the taint is written; a rerun on a fenced node writes nothing.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  name:
    description: Name of the Kubernetes node (for example C(aks-nodepool1-30410574-vmss000002)).
    type: str
    required: true
  state:
    description: V(fenced) applies the out-of-service taint, V(unfenced) removes it.
    type: str
    default: fenced
    choices: [fenced, unfenced]
  force:
    description:
      - Fence without asking Azure for the VM's power state (for example a hung VM you have isolated yourself,
        or a node whose providerID is not an Azure VM). The node must still be NotReady.
      - Using it on a VM that still runs risks two writers on one disk.
    type: bool
    default: false
  wait:
    description: Wait until the pods have left and their VolumeAttachments are gone (fenced), or until the node is Ready (unfenced).
    type: bool
    default: true
  timeout:
    description: Seconds to wait in all (Azure reads and Kubernetes waits).
    default: 300
notes:
  - The power state is read with C(virtualMachineScaleSets/virtualMachines/instanceView) (or the VM's C(instanceView)),
    which needs C(Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read) on the node resource group.
  - Remove the taint (O(state=unfenced)) when the node is back, or nothing is scheduled on it again.
  - Kubernetes is reached with kubernetes.core's connection options (also set for a play through C(module_defaults) of
    C(group/kubedisk.aks.k8s)), except O(validate_certs), which is about Azure's endpoints here; the Kubernetes API's
    certificate is checked as the kubeconfig, O(ca_cert) or E(K8S_AUTH_VERIFY_SSL) say.
seealso:
  - name: Non-graceful node shutdown
    description: The Kubernetes feature behind the out-of-service taint.
    link: https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#non-graceful-node-shutdown
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubernetes.core.k8s_auth_options
"""

EXAMPLES = r"""
- name: Fence a node whose VM was deallocated
  kubedisk.aks.node_fence:
    name: aks-nodepool1-30410574-vmss000002
    kubeconfig: ~/.kube/config

- name: Let it take pods again once its VM runs
  kubedisk.aks.node_fence:
    name: aks-nodepool1-30410574-vmss000002
    state: unfenced
"""

RETURN = r"""
node:
  description: Name of the node.
  returned: always
  type: str
  sample: aks-nodepool1-30410574-vmss000002
fenced:
  description: Whether the node carries the out-of-service taint when the module returns (or would, in check mode).
  returned: always
  type: bool
power_state:
  description: Power state of the node's VM in Azure (C(running), C(stopped), C(deallocated), C(gone), ...); null with O(force).
  returned: always
  type: str
  sample: deallocated
node_ready:
  description: The node's Ready condition (C(True), C(False) or C(Unknown)).
  returned: always
  type: str
  sample: Unknown
vm_id:
  description: Resource id of the node's VM (from its providerID).
  returned: when the providerID is an Azure VM
  type: str
pods:
  description: Pods (C(namespace/name)) that were on the node and do not tolerate the taint.
  returned: always
  type: list
  elements: str
volume_attachments:
  description: VolumeAttachments of the node that had to go.
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds the module took.
  returned: always
  type: float
"""

import traceback

try:
    from azure.core.exceptions import AzureError, HttpResponseError
except ImportError:  # AzureModule fails first, naming what to install
    pass

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_names import parse_provider_id
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import resource_id
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import AZURE_MODULE_K8S_AUTH_SPEC, K8sError
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import OUT_OF_SERVICE, has_taint, node_ready, tolerates
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import pod_pvc_names

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "fenced", "choices": ["fenced", "unfenced"]},
    "force": {"type": "bool", "default": False},
    "wait": {"type": "bool", "default": True},
}
ARGUMENT_SPEC.update(AZURE_MODULE_K8S_AUTH_SPEC)
DOWN_STATES = ("stopped", "deallocated", "gone")
# ARM codes of a 404 that says the VM itself does not exist (its resource group does).
VM_NOT_FOUND_CODES = ("ResourceNotFound", "NotFound")
READY_TEXT = {True: "True", False: "False", None: "Unknown"}


def power_state(instance_view):
    """``running``, ``stopped``, ``deallocated``, ``starting``, ... from a VM instance view's statuses (None if absent)."""
    statuses = instance_view.get("statuses") if isinstance(instance_view, dict) else None
    for status in statuses or []:
        code = status.get("code") or ""
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return None


def fence_decision(power, ready, force):
    """None when fencing may go ahead, else the reason it must not (what is wrong and what to do)."""
    if not force and power not in DOWN_STATES:
        return ("its VM is %s in Azure, not stopped or deallocated: fencing a node whose machine may still run can let "
                "two pods write one disk. Deallocate or power off the VM first (or, if you know the machine is down, "
                "set force: true)" % (power or "in an unknown power state"))
    if ready is True:
        return ("the node is still Ready (its kubelet reported lately), so Kubernetes does not treat it as dead yet; wait for "
                "the node monitor grace period (about 40-50 s after the VM stopped) until it is NotReady, and rerun")
    return None


def taints_without(node, taint):
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if not (t.get("key") == taint["key"] and t.get("effect") == taint["effect"])]


def leaving(pods, node_name):
    """Pods on the node that the out-of-service taint removes (those not tolerating it, not yet gone)."""
    return [p for p in pods if (p.get("spec") or {}).get("nodeName") == node_name
            and not tolerates((p.get("spec") or {}).get("tolerations"), OUT_OF_SERVICE)
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


class NodeFence(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kube = module.kube()
        self.name = self.params["name"]
        self.result = {"changed": False, "node": self.name, "fenced": False, "power_state": None, "node_ready": None,
                       "pods": [], "volume_attachments": []}

    def fail(self, msg, **extra):
        self.module.fail_partway(msg, self.result, **extra)

    def finish(self):
        self.module.exit_json(elapsed=self.module.elapsed(), **self.result)

    def read_node(self):
        node = self.kube.get("Node", self.name)
        if node is None:
            self.fail("node %s not found in the cluster; check the name with kubectl get nodes (nothing was changed)" % self.name)
        return node

    def vm_power(self, node):
        provider_id = (node.get("spec") or {}).get("providerID")
        try:
            parts = parse_provider_id(provider_id)
        except ValueError:
            self.fail("node %s has providerID %r, which is not an Azure VM: its power state cannot be read from Azure. "
                      "Make sure the machine is down and set force: true (nothing was changed)" % (self.name, provider_id))
        if parts["subscription"].lower() != self.module.subscription_id.lower():
            self.fail("node %s runs in subscription %s, but the module works in %s; set subscription_id to match "
                      "(nothing was changed)" % (self.name, parts["subscription"], self.module.subscription_id))
        compute = self.module.client("compute")
        rg = parts["resource_group"]
        where = dict(subscription=parts["subscription"], resource_group=rg, namespace="Microsoft.Compute")
        if parts.get("vmss"):
            self.result["vm_id"] = resource_id(type="virtualMachineScaleSets", name=parts["vmss"], child_type_1="virtualMachines",
                                               child_name_1=parts["instance_id"], **where)
            what = "scale-set VM %s/%s" % (parts["vmss"], parts["instance_id"])
            view = self.read_view(what, provider_id, compute.virtual_machine_scale_set_vms.get_instance_view, rg, parts["vmss"], parts["instance_id"])
            if view is None:
                self.scale_set_exists(compute, rg, parts["vmss"], provider_id)
        else:
            self.result["vm_id"] = resource_id(type="virtualMachines", name=parts["vm"], **where)
            what = "VM %s" % parts["vm"]
            view = self.read_view(what, provider_id, compute.virtual_machines.instance_view, rg, parts["vm"])
        if view is None:
            return "gone"
        return power_state(to_rest(view)) or "unknown"

    def read_view(self, what, provider_id, func, *args):
        """The instance view, or None when Azure says the VM itself does not exist (404 ResourceNotFound / NotFound).

        Any other 404 (ResourceGroupNotFound, a parent that is not there) means the providerID points nowhere, not that
        the VM is gone: fencing on it could cut off a running machine, so the module refuses.
        """
        try:
            return func(*args)
        except HttpResponseError as exc:
            code = self.module.error_code(exc)
            if getattr(exc, "status_code", None) != 404:
                self.module.fail_json_azure(exc, "reading the power state of %s" % what)
            if code not in VM_NOT_FOUND_CODES:
                self.fail("Azure answers %s (404) for %s of node %s (providerID %s): the providerID does not lead to a VM Azure "
                          "knows, so whether the machine is down cannot be told. Check the providerID, the subscription and "
                          "the resource group; with the machine surely down, set force: true (nothing was changed)"
                          % (code, what, self.name, provider_id))
            return None
        except AzureError as exc:
            self.module.fail_json_azure(exc, "reading the power state of %s" % what)

    def scale_set_exists(self, compute, rg, vmss, provider_id):
        """Refuse unless the scale set of a missing instance exists (a missing instance of a missing scale set is a wrong id)."""
        if self.module.get_or_none("reading scale set %s" % vmss, compute.virtual_machine_scale_sets.get, rg, vmss) is None:
            self.fail("node %s has providerID %s, but scale set %s does not exist in resource group %s: the providerID "
                      "leads nowhere, so whether the machine is down cannot be told. Check it; with the machine surely "
                      "down, set force: true (nothing was changed)" % (self.name, provider_id, vmss, rg))

    def leftovers(self):
        """(pods still to leave, VolumeAttachments of this node still to go) — the fence is complete when both are empty."""
        pods = self.kube.list("Pod", field_selector="spec.nodeName=%s" % self.name)
        gone_pods = leaving(pods, self.name)
        staying = set()
        for pod in pods:
            if pod not in gone_pods:
                ns = pod["metadata"]["namespace"]
                for claim in pod_pvc_names(pod):
                    pvc = self.kube.get("PersistentVolumeClaim", claim, ns) or {}
                    if (pvc.get("spec") or {}).get("volumeName"):
                        staying.add(pvc["spec"]["volumeName"])
        vas = [va for va in self.kube.list("VolumeAttachment", api_version="storage.k8s.io/v1")
               if (va.get("spec") or {}).get("nodeName") == self.name
               and ((va.get("spec") or {}).get("source") or {}).get("persistentVolumeName") not in staying]
        return (["%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"]) for p in gone_pods],
                [va["metadata"]["name"] for va in vas])

    def wait_cleared(self):
        if not self.params["wait"]:
            return

        def check():
            pods, vas = self.leftovers()
            return (not pods and not vas), "pods %s are still there and VolumeAttachments %s are not deleted" % (
                pods or "none", vas or "none")

        self.module.poll_until(check, "clearing fenced node %s (its pods gone, their VolumeAttachments deleted)" % self.name,
                               "Check the kube-controller-manager (pod GC, attach/detach controller) and the CSI attacher, "
                               "then rerun (it only waits)", result=self.result)

    def fenced(self):
        node = self.read_node()
        ready = node_ready(node)
        self.result["node_ready"] = READY_TEXT[ready]
        pods, vas = self.leftovers()
        self.result["pods"], self.result["volume_attachments"] = pods, vas
        if has_taint(node, OUT_OF_SERVICE):
            self.result["fenced"] = True
            if not self.params["force"]:
                self.result["power_state"] = self.vm_power(node)
            self.wait_cleared()
            self.finish()
        power = None if self.params["force"] else self.vm_power(node)
        self.result["power_state"] = power
        problem = fence_decision(power, ready, self.params["force"])
        if problem:
            self.fail("refusing to fence node %s: %s (nothing was changed)" % (self.name, problem))
        taints = (node.get("spec") or {}).get("taints") or []
        after = taints + [dict(OUT_OF_SERVICE)]
        self.result.update(changed=True, fenced=True)
        if self.module.diff_mode:
            self.result["diff"] = {"before": {"taints": taints}, "after": {"taints": after},
                                   "before_header": "node/%s" % self.name, "after_header": "node/%s" % self.name}
        if self.module.check_mode:
            self.finish()
        self.patch_taints(node, after)
        self.wait_cleared()
        self.finish()

    def patch_taints(self, node, taints):
        # resourceVersion makes the merge patch fail on a concurrent change instead of dropping another taint.
        body = {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}, "spec": {"taints": taints or None}}
        try:
            self.kube.patch("Node", self.name, body)
        except K8sError as exc:
            if "Conflict" not in str(exc):
                raise
            fresh = self.read_node()
            wanted = taints_without(fresh, OUT_OF_SERVICE)
            if any(t.get("key") == OUT_OF_SERVICE["key"] for t in taints):
                wanted.append(dict(OUT_OF_SERVICE))
            self.kube.patch("Node", self.name, {"metadata": {"resourceVersion": fresh["metadata"]["resourceVersion"]},
                                                "spec": {"taints": wanted or None}})

    def unfenced(self):
        node = self.read_node()
        self.result["node_ready"] = READY_TEXT[node_ready(node)]
        if not has_taint(node, OUT_OF_SERVICE):
            self.finish()
        self.result["fenced"] = True
        if node_ready(node) is not True:
            if not self.params["wait"] or self.module.check_mode:
                self.fail("node %s is not Ready (Ready=%s): start its VM and wait until the kubelet reports Ready, then rerun; "
                          "the taint stays (nothing was changed)" % (self.name, READY_TEXT[node_ready(node)]))
            ready, dummy = self.module.deadline.poll_until(lambda: (node_ready(self.read_node()) is True, None))
            node = self.read_node()
            if not ready:
                self.fail("node %s did not become Ready within timeout=%d s (Ready=%s): start its VM (it is %s) and rerun; "
                          "the taint stays (nothing was changed)" % (self.name, self.module.timeout, READY_TEXT[node_ready(node)],
                                                                     self.vm_power(node)))
            self.result["node_ready"] = "True"
        after = taints_without(node, OUT_OF_SERVICE)
        self.result.update(changed=True, fenced=False)
        if self.module.diff_mode:
            self.result["diff"] = {"before": {"taints": (node.get("spec") or {}).get("taints") or []}, "after": {"taints": after},
                                   "before_header": "node/%s" % self.name, "after_header": "node/%s" % self.name}
        if not self.module.check_mode:
            self.patch_taints(node, after)
        self.finish()


def main():
    module = AzureModule(ARGUMENT_SPEC, default_timeout=300)
    if not module.params["name"].strip():
        module.fail_json(msg="name must be a node name, got an empty string")
    fence = NodeFence(module)
    try:
        if module.params["state"] == "fenced":
            fence.fenced()
        else:
            fence.unfenced()
    except K8sError as exc:
        fence.fail("Kubernetes API error while handling node %s: %s" % (module.params["name"], exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
