"""k8s_ops: quantities, selectors, taints and tolerations, PV zones, requests, power states, waits."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import k8s_ops as ops


@pytest.mark.parametrize("text,value", [("5Gi", 5 << 30), ("512Mi", 512 << 20), ("1G", 10 ** 9), ("100m", 0.1), ("2", 2),
                                        ("1.5Gi", int(1.5 * (1 << 30))), ("1e3", 1000), (7, 7), ("16M", 16 * 10 ** 6)])
def test_parse_quantity(text, value):
    assert ops.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["five", "5 GB", "-1Gi", "Gi"])
def test_parse_quantity_rejects(text):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        ops.parse_quantity(text)


def test_gib_and_human():
    assert ops.gib_ceil((5 << 30) + 1) == 6
    assert ops.gib_ceil(5 * 10 ** 9) == 5
    assert ops.human_bytes(5 << 30) == "5Gi"
    assert ops.human_bytes(512 << 20) == "512Mi"
    assert ops.human_bytes(None) is None


def test_selectors():
    sel = {"matchLabels": {"app": "nginx"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}
    assert ops.label_selector_matches(sel, {"app": "nginx"})
    assert not ops.label_selector_matches(sel, {"app": "nginx", "tier": "x"})
    assert ops.label_selector_matches({}, {"a": "b"})
    assert not ops.label_selector_matches(None, {"a": "b"})
    terms = [{"matchExpressions": [{"key": "z", "operator": "In", "values": ["1"]}]},
             {"matchExpressions": [{"key": "n", "operator": "Gt", "values": ["3"]}]}]
    assert ops.node_selector_terms_match(terms, {"z": "1"})
    assert ops.node_selector_terms_match(terms, {"n": "4"})
    assert not ops.node_selector_terms_match(terms, {"z": "2", "n": "3"})
    assert ops.node_selector_terms_match([], {})


def test_tolerations():
    oos = ops.OUT_OF_SERVICE
    assert ops.tolerates([{"operator": "Exists"}], oos)
    assert ops.tolerates([{"key": oos["key"], "operator": "Exists", "effect": "NoExecute"}], oos)
    assert not ops.tolerates([{"key": oos["key"], "operator": "Exists", "effect": "NoSchedule"}], oos)
    assert not ops.tolerates([{"key": oos["key"], "value": "other"}], oos)
    assert ops.tolerates([{"key": oos["key"], "value": "nodeshutdown"}], oos)
    assert not ops.tolerates(None, oos)
    node = {"spec": {"taints": [dict(oos), {"key": "a", "effect": "PreferNoSchedule"}]}}
    assert ops.untolerated_taints(node, []) == [oos]
    assert ops.has_taint(node, oos)


def test_pv_zones_and_node_zone():
    pv = {"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "topology.disk.csi.azure.com/zone", "operator": "In", "values": ["westeurope-1"]}]}]}}}}
    assert ops.pv_zones(pv) == ["westeurope-1"]
    assert ops.pv_zones({"spec": {}}) == []
    assert ops.node_zone({"metadata": {"labels": {"topology.kubernetes.io/zone": "westeurope-2"}}}) == "westeurope-2"


def test_requests_ready_power_and_resize_state():
    pod = {"spec": {"containers": [{"resources": {"requests": {"cpu": "100m", "memory": "16Mi"}}}, {}],
                    "initContainers": [{"resources": {"requests": {"cpu": "1"}}}]}}
    assert ops.pod_requests(pod) == {"cpu": 1, "memory": 16 << 20}
    assert ops.node_ready({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}) is None
    assert ops.node_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}) is True
    view = {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/deallocated"}]}
    assert ops.power_state(view) == "deallocated"
    assert ops.power_state({}) is None
    pvc = {"status": {"capacity": {"storage": "1Gi"}, "conditions": [{"type": "FileSystemResizePending", "status": "True"}],
                      "allocatedResourceStatuses": {"storage": "NodeResizePending"}}}
    cap, conds, alloc = ops.pvc_resize_state(pvc)
    assert cap == 1 << 30 and conds[0]["type"] == "FileSystemResizePending" and alloc == "NodeResizePending"


def test_wait_for_times_out_and_returns_info():
    clock = iter([0, 0, 5, 11, 11, 11])
    calls = []
    done, info = ops.wait_for(lambda: (False, "pending"), 10, sleep=calls.append, clock=lambda: next(clock))
    assert not done and info == "pending" and calls
    assert ops.wait_for(lambda: (True, "x"), 0) == (True, "x")


class NotFound(Exception):
    status = 404


def test_kube_maps_404_and_errors():
    class Client:
        def resource(self, kind, version):
            return kind

        def get(self, resource, **kwargs):
            if kwargs.get("name") == "missing":
                raise NotFound()
            raise RuntimeError("boom")

    kube = ops.Kube(Client())
    assert kube.get("Node", "missing") is None
    with pytest.raises(ops.K8sError, match="reading Node n1: boom"):
        kube.get("Node", "n1")
