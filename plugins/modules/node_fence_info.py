#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_fence_info
short_description: Which AKS nodes are dead, fenced or back, with the StatefulSet pods on each
version_added: 0.2.0
description:
  - Read-only companion of M(kubedisk.aks.node_fence) for recovering from dead nodes.
  - Lists the nodes (all, or those of O(nodes)) with their Ready condition, whether they carry the out-of-service
    taint C(node.kubernetes.io/out-of-service), and the pods of StatefulSets on each.
  - RV(dead) names the NotReady nodes without the taint (what to fence), RV(back) the fenced nodes that are Ready
    again (what to unfence).
  - With O(pods), also reports where those pods run now and how many seconds after O(since) they became Ready
    (for example the StatefulSet pods of a fenced node, once they run elsewhere).
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  nodes:
    description: Only these nodes (names not in the cluster are left out). Empty means every node.
    type: list
    elements: str
    default: []
  pods:
    description: Pods (C(namespace/name)) to report in RV(pods).
    type: list
    elements: str
    default: []
  since:
    description:
      - ISO 8601 time (UTC when it has no offset, for example C(2026-01-01T10:00:00)) that RV(pods[].seconds) counts from.
    type: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - kubedisk.aks.kubernetes.read_only
"""

EXAMPLES = r"""
- name: Which nodes are dead, and which are back
  kubedisk.aks.node_fence_info:
    kubeconfig: ~/.kube/aks-stateful
  register: fence_info

- name: Fence the dead ones
  kubedisk.aks.node_fence:
    name: "{{ item }}"
  loop: "{{ fence_info.dead }}"

- name: Where the pods of the fenced nodes run now
  kubedisk.aks.node_fence_info:
    pods: "{{ fence_info.nodes | selectattr('name', 'in', fence_info.dead) | map(attribute='statefulset_pods') | flatten
              | map(attribute='pod') }}"
    since: "2026-01-01T10:00:00"
"""

RETURN = r"""
nodes:
  description: The nodes, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
      sample: aks-nodepool1-30410574-vmss000002
    ready:
      description: The Ready condition (C(True), C(False) or C(Unknown)).
      type: str
      sample: Unknown
    fenced:
      description: Whether the node carries the out-of-service taint.
      type: bool
    statefulset_pods:
      description: The pods of StatefulSets on the node.
      type: list
      elements: dict
      contains:
        pod:
          description: C(namespace/name).
          type: str
        namespace:
          description: Namespace.
          type: str
        name:
          description: Pod name.
          type: str
      sample: [{pod: default/nginx-statefulset-0, namespace: default, name: nginx-statefulset-0}]
dead:
  description: Names of the NotReady nodes without the out-of-service taint.
  returned: always
  type: list
  elements: str
back:
  description: Names of the nodes with the out-of-service taint that are Ready.
  returned: always
  type: list
  elements: str
pods:
  description: The pods of O(pods), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    pod:
      description: C(namespace/name).
      type: str
    node:
      description: The node it runs on; null when the pod does not exist or is not scheduled.
      type: str
    seconds:
      description: Seconds from O(since) until the pod became Ready; null when it is not Ready or O(since) is not set.
      type: float
  sample: [{pod: default/nginx-statefulset-0, node: aks-nodepool1-30410574-vmss000001, seconds: 41.0}]
"""

import datetime
import traceback


from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import K8S_AUTH_SPEC, K8sError, KubeconfigModule, kube_client
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_scheduling import OUT_OF_SERVICE, has_taint, node_ready, owner

ARGUMENT_SPEC = {
    "nodes": {"type": "list", "elements": "str", "default": []},
    "pods": {"type": "list", "elements": "str", "default": []},
    "since": {"type": "str"},
}
ARGUMENT_SPEC.update(K8S_AUTH_SPEC)
READY_TEXT = {True: "True", False: "False", None: "Unknown"}


def parse_time(text):
    """An aware UTC datetime from ISO 8601 text (``Z``, an offset, or none meaning UTC); ValueError otherwise."""
    moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def pod_ref(pod):
    meta = pod["metadata"]
    return {"pod": "%s/%s" % (meta["namespace"], meta["name"]), "namespace": meta["namespace"], "name": meta["name"]}


def node_entries(nodes, pods, names):
    """One entry per node (of ``names``, or all), with readiness, the taint and its StatefulSet pods."""
    entries = []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        if names and name not in names:
            continue
        entries.append({"name": name, "ready": READY_TEXT[node_ready(node)], "fenced": has_taint(node, OUT_OF_SERVICE),
                        "statefulset_pods": [pod_ref(p) for p in pods
                                             if (p.get("spec") or {}).get("nodeName") == name and owner(p, "StatefulSet")]})
    return entries


def ready_since(pod, since):
    """Seconds from ``since`` until the pod's Ready condition turned True (None when it is not Ready)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True" and cond.get("lastTransitionTime"):
            return (parse_time(cond["lastTransitionTime"]) - since).total_seconds()
    return None


def placement(kube, ref, since):
    """Where the pod ``namespace/name`` runs now and when it became Ready."""
    namespace, dummy, name = ref.partition("/")
    pod = kube.get("Pod", name, namespace) or {}
    return {"pod": ref, "node": (pod.get("spec") or {}).get("nodeName"),
            "seconds": ready_since(pod, since) if pod and since else None}


def main():
    module = KubeconfigModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    bad = [ref for ref in p["pods"] if ref.count("/") != 1 or "" in ref.split("/")]
    if bad:
        module.fail_json(msg="pods must be given as namespace/name, got %s" % ", ".join(repr(b) for b in bad))
    since = None
    if p["since"]:
        try:
            since = parse_time(p["since"])
        except ValueError:
            module.fail_json(msg="since %r is not an ISO 8601 time (e.g. 2026-01-01T10:00:00Z)" % p["since"])
    kube = kube_client(module)
    try:
        nodes = node_entries(kube.list("Node"), kube.list("Pod"), set(p["nodes"]))
        pods = [placement(kube, ref, since) for ref in p["pods"]]
    except K8sError as exc:
        module.fail_json(msg="cannot read the cluster: %s" % exc, exception=traceback.format_exc())
    module.exit_json(changed=False, nodes=nodes, pods=pods,
                     dead=[n["name"] for n in nodes if n["ready"] != "True" and not n["fenced"]],
                     back=[n["name"] for n in nodes if n["ready"] == "True" and n["fenced"]])


if __name__ == "__main__":
    main()
