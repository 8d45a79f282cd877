# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a pod may run, by Kubernetes' rules: label and node selectors, taints and tolerations, node readiness,
zones, pod requests and controllers. Pure functions on object dicts, unit-tested without a cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_quantities import parse_quantity

# The taint of non-graceful node shutdown: pods that do not tolerate it are deleted and their volumes detached.
OUT_OF_SERVICE = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}
ZONE_LABELS = ("topology.disk.csi.azure.com/zone", "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")


def _expr_match(labels, expr):
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            left, right = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def label_selector_matches(selector, labels):
    """A LabelSelector (matchLabels + matchExpressions) against labels; an empty selector matches everything."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expr_match(labels, e) for e in selector.get("matchExpressions") or [])


def node_selector_terms_match(terms, labels):
    """NodeSelectorTerms are ORed, expressions in a term ANDed; no terms means no constraint."""
    if not terms:
        return True
    labels = labels or {}
    for term in terms:
        exprs = term.get("matchExpressions") or []
        if term.get("matchFields"):
            exprs = exprs + [dict(e, key="metadata.name") for e in term["matchFields"]]
        if exprs and all(_expr_match(labels, e) for e in exprs):
            return True
    return False


def node_zone(node):
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key in ZONE_LABELS:
        if labels.get(key):
            return labels[key]
    return None


def tolerates(tolerations, taint):
    """Whether one of ``tolerations`` tolerates ``taint`` (Kubernetes' rules)."""
    for tol in tolerations or []:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        op = tol.get("operator") or "Equal"
        if not tol.get("key"):
            if op == "Exists":
                return True
            continue
        if tol.get("key") != taint.get("key"):
            continue
        if op == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def untolerated_taints(node, tolerations, effects=("NoSchedule", "NoExecute")):
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") in effects and not tolerates(tolerations, t)]


def has_taint(node, taint):
    return any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"]
               for t in (node.get("spec") or {}).get("taints") or [])


def node_ready(node):
    """True, False or None (Unknown: the kubelet stopped reporting) from the Ready condition."""
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return {"True": True, "False": False}.get(cond.get("status"))
    return None


def pod_requests(pod):
    """cpu (cores) and memory (bytes) a pod requests: max(sum of containers, largest init container)."""
    spec = pod.get("spec") or {}
    total = {"cpu": 0, "memory": 0}
    for container in spec.get("containers") or []:
        req = (container.get("resources") or {}).get("requests") or {}
        for key in total:
            total[key] += parse_quantity(req.get(key) or 0)
    for container in spec.get("initContainers") or []:
        req = (container.get("resources") or {}).get("requests") or {}
        for key in total:
            total[key] = max(total[key], parse_quantity(req.get(key) or 0))
    return total


def owner(obj, kind=None):
    """The controller reference of an object (of ``kind`` when given), or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and (kind is None or ref.get("kind") == kind):
            return ref
    return None
