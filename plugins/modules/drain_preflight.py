#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drain_preflight
short_description: Check that draining nodes strands no pod whose disk is pinned to a zone
version_added: 0.1.0
description:
  - Read-only check to run before C(kubernetes.core.k8s_drain). For the nodes about to be drained it finds every pod
    that uses a zonal volume (a PersistentVolume with node affinity, such as an Azure Disk LRS volume) and checks that
    another node of that zone can take it. That node must be Ready and schedulable (not cordoned, not being drained), its taints tolerated,
    the pod's node selector and required node affinity met, enough allocatable cpu and memory left, a free attach slot
    of the CSI driver (CSINode C(allocatable.count) minus the node's VolumeAttachments) and no required pod
    anti-affinity conflict. Pods placed earlier in the plan count against the nodes they take.
  - It also checks the PodDisruptionBudgets of the pods to evict; a budget that allows no disruption now blocks the drain.
  - Returns a plan (one entry per pod to evict). When a pod would be stranded it fails with a message naming the pod,
    its zone and the reason, unless O(fail_on_stranded=false).
  - Pods of DaemonSets, mirror pods and finished pods are not evicted by a drain and are left out.
  - "A pod no controller manages (a bare pod) is not re-created anywhere after a drain, and C(kubectl drain) /
    C(kubernetes.core.k8s_drain) refuse it unless told to delete it (C(force)): it blocks the drain unless O(force=true),
    and is then reported as deleted for good."
  - "The data of a pod's C(emptyDir) volumes is deleted with the pod: such a pod blocks the drain unless
    O(delete_emptydir_data=true), and is then listed in RV(emptydir_data_lost)."
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  nodes:
    description: Names of the nodes about to be drained (together).
    type: list
    elements: str
    required: true
  check_pdb:
    description: Check PodDisruptionBudgets too.
    type: bool
    default: true
  fail_on_stranded:
    description: Fail when a pod would be stranded or a PodDisruptionBudget blocks; with V(false) return the plan with RV(safe=false).
    type: bool
    default: true
  force:
    description: The drain deletes pods no controller manages (C(delete_options.force) of C(kubernetes.core.k8s_drain)).
    type: bool
    default: false
  delete_emptydir_data:
    description: The drain deletes pods with C(emptyDir) volumes and their data (C(delete_options.delete_emptydir_data)).
    type: bool
    default: false
  csi_driver:
    description: CSI driver whose attach slots (CSINode allocatable count) are counted.
    type: str
    default: disk.csi.azure.com
notes:
  - The check is a snapshot of the cluster at the time it runs; pods scheduled between the check and the drain are not in it.
  - Preferred (soft) affinity rules and topology spread constraints are not evaluated.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - kubedisk.aks.kubernetes.read_only
"""

EXAMPLES = r"""
- name: Make sure draining the node strands no zonal disk
  kubedisk.aks.drain_preflight:
    nodes: [aks-nodepool1-30410574-vmss000002]
  register: plan

- name: Drain it
  kubernetes.core.k8s_drain:
    name: aks-nodepool1-30410574-vmss000002
    delete_options:
      ignore_daemonsets: true
      delete_emptydir_data: true
"""

RETURN = r"""
safe:
  description: Whether every pod can move and no PodDisruptionBudget blocks.
  returned: always
  type: bool
plan:
  description: One entry per pod the drain would evict.
  returned: always
  type: list
  elements: dict
  contains:
    pod:
      description: C(namespace/name).
      type: str
    node:
      description: Node it runs on.
      type: str
    zones:
      description: Zones its volumes are pinned to (empty for pods without zonal volumes).
      type: list
      elements: str
    volumes:
      description: Its PVCs.
      type: list
      elements: str
    candidates:
      description: Nodes that could take it (for pods with zonal volumes).
      type: list
      elements: str
    target:
      description: The node the plan counts it on (the first candidate).
      type: str
    ok:
      description: Whether it can move.
      type: bool
    reason:
      description: Why it cannot (null when it can), naming the zone and what rules out each node there.
      type: str
    managed:
      description: Whether a controller manages it (re-creates it elsewhere); a bare pod is deleted for good by a drain.
      type: bool
    owner:
      description: C(kind) and C(name) of its controller (null for a bare pod); its replacement after the drain has the same.
      type: dict
    emptydir:
      description: Its C(emptyDir) volumes, whose data the drain deletes.
      type: list
      elements: str
  sample:
    - pod: default/nginx-statefulset-0
      node: aks-nodepool1-30410574-vmss000002
      zones: [westeurope-1]
      volumes: [azuredisk-nginx-statefulset-0]
      candidates: []
      target: null
      ok: false
      reason: "no other node in zone westeurope-1 can take it: aks-nodepool1-30410574-vmss000000 is cordoned"
stranded:
  description: The plan entries that cannot move.
  returned: always
  type: list
  elements: dict
pdb_blocks:
  description: PodDisruptionBudgets that allow no disruption now, with the pods they cover.
  returned: always
  type: list
  elements: dict
emptydir_data_lost:
  description: The pods (C(namespace/name)) whose C(emptyDir) data the drain deletes, with their volumes.
  returned: always
  type: list
  elements: dict
deleted_for_good:
  description: The pods no controller manages, which the drain deletes (with O(force=true)) and nothing re-creates.
  returned: always
  type: list
  elements: str
nodes:
  description: The drained nodes with their zones.
  returned: always
  type: dict
"""

import traceback

from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import K8S_AUTH_SPEC, K8sError, KubeconfigModule, kube_client
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_drain_plan import (
    Cluster, build_plan, pdb_blocks, read_cluster, refuse_unasked, unsafe_message,
)
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import node_zone
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import CSI_DRIVER

ARGUMENT_SPEC = {
    "nodes": {"type": "list", "elements": "str", "required": True},
    "check_pdb": {"type": "bool", "default": True},
    "fail_on_stranded": {"type": "bool", "default": True},
    "force": {"type": "bool", "default": False},
    "delete_emptydir_data": {"type": "bool", "default": False},
    "csi_driver": {"type": "str", "default": CSI_DRIVER},
}
ARGUMENT_SPEC.update(K8S_AUTH_SPEC)


def main():
    module = KubeconfigModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    names = [n.strip() for n in p["nodes"] if n and n.strip()]
    if not names:
        module.fail_json(msg="nodes must name at least one node to drain")
    if len(set(names)) != len(names):
        module.fail_json(msg="nodes lists a node twice: %s" % ", ".join(sorted(set(n for n in names if names.count(n) > 1))))
    kube = kube_client(module)
    try:
        state = read_cluster(kube, lambda node: node["metadata"]["name"] in names, p["check_pdb"])
    except K8sError as exc:
        module.fail_json(msg="cannot read the cluster: %s" % exc, exception=traceback.format_exc())
    known = dict((n["metadata"]["name"], n) for n in state["nodes"])
    missing = [n for n in names if n not in known]
    if missing:
        module.fail_json(msg="node%s %s not found in the cluster; check the names with kubectl get nodes" % (
            "s" if len(missing) > 1 else "", ", ".join(missing)))

    evicted = state["evicted"]
    cluster = Cluster(state["nodes"], state["pods"], state["csinodes"], state["attachments"], p["csi_driver"])
    plan = build_plan(cluster, names, evicted, state["pvcs"], state["pvs"])
    refuse_unasked(plan, p["force"], p["delete_emptydir_data"])
    lost = [{"pod": e["pod"], "volumes": e["emptydir"]} for e in plan if e["emptydir"] and p["delete_emptydir_data"]]
    deleted = [e["pod"] for e in plan if not e["managed"] and p["force"]]
    if lost:
        module.warn("the drain deletes the emptyDir data of %s" % "; ".join("%s (%s)" % (x["pod"], ", ".join(x["volumes"])) for x in lost))
    if deleted:
        module.warn("the drain deletes %s, which no controller manages: nothing re-creates %s" % (
            ", ".join(deleted), "them" if len(deleted) > 1 else "it"))
    blocks, warnings = pdb_blocks(state["pdbs"], evicted)
    for warning in warnings:
        module.warn(warning)
    stranded = [e for e in plan if not e["ok"]]
    result = {"changed": False, "safe": not stranded and not blocks, "plan": plan, "stranded": stranded, "pdb_blocks": blocks,
              "emptydir_data_lost": lost, "deleted_for_good": deleted,
              "nodes": dict((n, {"zone": node_zone(known[n])}) for n in names)}
    if not result["safe"] and p["fail_on_stranded"]:
        module.fail_json(msg=unsafe_message(names, stranded, blocks), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
