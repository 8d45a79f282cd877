# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes helpers of pvc_resize, drain_preflight and node_fence (on kubernetes.core's API client).

Pure functions (quantities, taints and tolerations, node selectors, label selectors, pod requests, power
states) are kept apart from the few calls that read, patch and poll objects, so the logic is unit-tested
without a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

OUT_OF_SERVICE = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}
ZONE_LABELS = ("topology.disk.csi.azure.com/zone", "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
POLL = 2.0

_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]i|[kMGTPE]|m|[eE][0-9]+)?\s*$")
_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
_DECIMAL = {"m": 0.001, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}
GIB = 1 << 30


class K8sError(Exception):
    """An API call failed; the message names the call."""


# ----- quantities ------------------------------------------------------------------------------------
def parse_quantity(value):
    """A Kubernetes quantity (``5Gi``, ``500M``, ``100m``, ``1e3``, 12) as a number (float for sub-units)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError("%r is not a Kubernetes quantity (e.g. 5Gi, 512Mi, 100m)" % value)
    number, suffix = match.group(1), match.group(2) or ""
    amount = float(number)
    if suffix in _BINARY:
        amount *= _BINARY[suffix]
    elif suffix in _DECIMAL:
        amount *= _DECIMAL[suffix]
    elif suffix[:1] in ("e", "E"):
        amount *= 10 ** int(suffix[1:])
    return int(amount) if amount == int(amount) else amount


def gib_ceil(num_bytes):
    """Whole GiB needed to hold ``num_bytes`` (Azure disks grow in GiB)."""
    return int(-(-int(num_bytes) // GIB))


def human_bytes(num_bytes):
    """``5Gi`` for whole GiB, else ``<n>Mi`` / bytes."""
    if num_bytes is None:
        return None
    num_bytes = int(num_bytes)
    for unit, size in (("Ti", 1 << 40), ("Gi", GIB), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if num_bytes % size == 0 and num_bytes >= size:
            return "%d%s" % (num_bytes // size, unit)
    return str(num_bytes)


# ----- selectors, taints, tolerations, affinity ------------------------------------------------------
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


def pod_pvc_names(pod):
    return [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
            if v.get("persistentVolumeClaim")]


def owner(obj, kind=None):
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and (kind is None or ref.get("kind") == kind):
            return ref
    return None


def power_state(instance_view):
    """``running``, ``stopped``, ``deallocated``, ``starting``, ... from an instance view's statuses (None if absent)."""
    statuses = instance_view.get("statuses") if isinstance(instance_view, dict) else None
    for status in statuses or []:
        code = status.get("code") or ""
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return None


def pvc_resize_state(pvc):
    """(capacity bytes, [resize conditions], allocatedResourceStatuses.storage) of a PVC."""
    status = pvc.get("status") or {}
    capacity = parse_quantity((status.get("capacity") or {}).get("storage"))
    conds = [c for c in status.get("conditions") or []
             if c.get("type") in ("Resizing", "FileSystemResizePending", "ControllerResizeError", "NodeResizeError")
             and c.get("status", "True") == "True"]
    return capacity, conds, (status.get("allocatedResourceStatuses") or {}).get("storage")


# ----- API access ------------------------------------------------------------------------------------
def to_dict(obj):
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


class Kube(object):
    """Thin reads/patches over kubernetes.core's client; every error becomes K8sError naming the call."""

    def __init__(self, client):
        self.client = client
        self._resources = {}

    def _res(self, kind, api_version):
        key = (kind, api_version)
        if key not in self._resources:
            self._resources[key] = self.client.resource(kind, api_version)
        return self._resources[key]

    def get(self, kind, name, namespace=None, api_version="v1"):
        try:
            return to_dict(self.client.get(self._res(kind, api_version), name=name, namespace=namespace))
        except Exception as exc:  # kubernetes.dynamic errors carry a status
            if getattr(exc, "status", None) == 404:
                return None
            raise K8sError("reading %s %s: %s" % (kind, "/".join(x for x in (namespace, name) if x), _reason(exc)))

    def list(self, kind, namespace=None, api_version="v1", **params):
        try:
            found = to_dict(self.client.get(self._res(kind, api_version), namespace=namespace, **params))
        except Exception as exc:
            raise K8sError("listing %s: %s" % (kind, _reason(exc)))
        return found.get("items") or []

    def patch(self, kind, name, body, namespace=None, api_version="v1"):
        try:
            return to_dict(self.client.patch(self._res(kind, api_version), body, name=name, namespace=namespace,
                                             content_type="application/merge-patch+json"))
        except Exception as exc:
            raise K8sError("patching %s %s: %s" % (kind, "/".join(x for x in (namespace, name) if x), _reason(exc)))

    def create(self, kind, body, namespace=None, api_version="v1"):
        try:
            return to_dict(self.client.create(self._res(kind, api_version), body, namespace=namespace))
        except Exception as exc:
            raise K8sError("creating %s %s: %s" % (kind, body["metadata"]["name"], _reason(exc)))

    def delete(self, kind, name, namespace=None, api_version="v1", propagation=None):
        body = {"propagationPolicy": propagation} if propagation else None
        try:
            return to_dict(self.client.delete(self._res(kind, api_version), name=name, namespace=namespace, body=body))
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise K8sError("deleting %s %s: %s" % (kind, "/".join(x for x in (namespace, name) if x), _reason(exc)))


def _reason(exc):
    body = getattr(exc, "body", None)
    if body:
        try:
            import json  # pylint: disable=import-outside-toplevel
            parsed = json.loads(body if isinstance(body, str) else body.decode("utf-8"))
            return "%s (%s)" % (parsed.get("message"), parsed.get("reason"))
        except (ValueError, AttributeError):
            pass
    return str(exc)


def wait_for(check, deadline, interval=POLL, sleep=time.sleep, clock=time.monotonic):
    """Call ``check()`` until it returns (True, info) or ``deadline`` (monotonic) passes; returns (done, info)."""
    while True:
        done, info = check()
        if done:
            return True, info
        if clock() >= deadline:
            return False, info
        sleep(min(interval, max(0.1, deadline - clock())))
