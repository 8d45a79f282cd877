"""Kubernetes objects without a cluster: quantities, selectors, taints and tolerations, PV zones, requests, resize state."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import k8s_quantities as quantities
from ansible_collections.kubedisk.aks.plugins.module_utils import k8s_scheduling as scheduling
from ansible_collections.kubedisk.aks.plugins.module_utils import k8s_volumes as volumes


@pytest.mark.parametrize("text,value", [("5Gi", 5 << 30), ("512Mi", 512 << 20), ("1G", 10 ** 9), ("100m", 0.1), ("2", 2),
                                        ("1.5Gi", int(1.5 * (1 << 30))), ("1e3", 1000), (7, 7), ("16M", 16 * 10 ** 6)])
def test_parse_quantity(text, value):
    parsed = quantities.parse_quantity(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["five", "5 GB", "-1Gi", "Gi", "inf", "NaN", "5Qi"])
def test_parse_quantity_rejects(text):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantities.parse_quantity(text)


def test_gib_and_human():
    assert quantities.gib_ceil((5 << 30) + 1) == 6
    assert quantities.gib_ceil(5 * 10 ** 9) == 5
    assert quantities.human_bytes(5 << 30) == "5Gi"
    assert quantities.human_bytes(512 << 20) == "512Mi"
    assert quantities.human_bytes(None) is None
    assert quantities.parse_quantity(None) is None


def test_selectors():
    sel = {"matchLabels": {"app": "nginx"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}
    assert scheduling.label_selector_matches(sel, {"app": "nginx"})
    assert not scheduling.label_selector_matches(sel, {"app": "nginx", "tier": "x"})
    assert scheduling.label_selector_matches({}, {"a": "b"})
    assert not scheduling.label_selector_matches(None, {"a": "b"})
    terms = [{"matchExpressions": [{"key": "z", "operator": "In", "values": ["1"]}]},
             {"matchExpressions": [{"key": "n", "operator": "Gt", "values": ["3"]}]}]
    assert scheduling.node_selector_terms_match(terms, {"z": "1"})
    assert scheduling.node_selector_terms_match(terms, {"n": "4"})
    assert not scheduling.node_selector_terms_match(terms, {"z": "2", "n": "3"})
    assert scheduling.node_selector_terms_match([], {})


def test_tolerations():
    oos = scheduling.OUT_OF_SERVICE
    assert scheduling.tolerates([{"operator": "Exists"}], oos)
    assert scheduling.tolerates([{"key": oos["key"], "operator": "Exists", "effect": "NoExecute"}], oos)
    assert not scheduling.tolerates([{"key": oos["key"], "operator": "Exists", "effect": "NoSchedule"}], oos)
    assert not scheduling.tolerates([{"key": oos["key"], "value": "other"}], oos)
    assert scheduling.tolerates([{"key": oos["key"], "value": "nodeshutdown"}], oos)
    assert not scheduling.tolerates(None, oos)
    node = {"spec": {"taints": [dict(oos), {"key": "a", "effect": "PreferNoSchedule"}]}}
    assert scheduling.untolerated_taints(node, []) == [oos]
    assert scheduling.has_taint(node, oos)


def test_pv_zones_and_node_zone():
    pv = {"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "topology.disk.csi.azure.com/zone", "operator": "In", "values": ["westeurope-1"]}]}]}}}}
    assert volumes.pv_zones(pv) == ["westeurope-1"]
    assert volumes.pv_zones({"spec": {}}) == []
    assert scheduling.node_zone({"metadata": {"labels": {"topology.kubernetes.io/zone": "westeurope-2"}}}) == "westeurope-2"


def test_requests_ready_and_resize_state():
    pod = {"spec": {"containers": [{"resources": {"requests": {"cpu": "100m", "memory": "16Mi"}}}, {}],
                    "initContainers": [{"resources": {"requests": {"cpu": "1"}}}]}}
    assert scheduling.pod_requests(pod) == {"cpu": 1, "memory": 16 << 20}
    assert scheduling.node_ready({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}) is None
    assert scheduling.node_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}) is True
    pvc = {"status": {"capacity": {"storage": "1Gi"}, "conditions": [{"type": "FileSystemResizePending", "status": "True"}],
                      "allocatedResourceStatuses": {"storage": "NodeResizePending"}}}
    cap, conds, alloc = volumes.pvc_resize_state(pvc)
    assert cap == 1 << 30 and conds[0]["type"] == "FileSystemResizePending" and alloc == "NodeResizePending"


def test_azure_disk_handle_only_for_the_disk_driver():
    pv = {"spec": {"csi": {"driver": "disk.csi.azure.com", "volumeHandle": "/subscriptions/s/x/disks/d"}}}
    assert volumes.azure_disk_handle(pv) == "/subscriptions/s/x/disks/d"
    assert volumes.azure_disk_handle({"spec": {"csi": {"driver": "file.csi.azure.com", "volumeHandle": "h"}}}) is None
    assert volumes.azure_disk_handle(None) is None and volumes.csi_driver({"spec": {}}) is None
