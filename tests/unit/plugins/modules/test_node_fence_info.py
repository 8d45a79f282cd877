"""node_fence_info: dead and back nodes, the StatefulSet pods on each, where given pods run and since when they are Ready."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.modules import node_fence_info
from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.kube_fakes import cluster_factory, node, pod

OOS = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}


def ready_pod(name, node_name, since):
    item = pod(name, node_name, owner=("StatefulSet", "web"))
    item["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": since}]
    return item


@pytest.fixture
def cluster(monkeypatch):
    return cluster_factory(monkeypatch, node_fence_info)


def seed():
    return [node("n0", "we-1", ready="Unknown"), node("n1", "we-1", taints=[OOS]), node("n2", "we-2"),
            node("n3", "we-2", ready="False", taints=[OOS]),
            pod("web-0", "n0", owner=("StatefulSet", "web")), pod("rs-x", "n0", owner=("ReplicaSet", "rs")),
            ready_pod("web-1", "n2", "2026-01-01T10:00:41Z")]


def test_dead_back_and_statefulset_pods(cluster, run_module):
    cluster(seed())
    result = run_module(node_fence_info.main, {})
    assert not result["changed"]
    assert result["dead"] == ["n0"] and result["back"] == ["n1"]
    n0 = result["nodes"][0]
    assert n0 == {"name": "n0", "ready": "Unknown", "fenced": False,
                  "statefulset_pods": [{"pod": "default/web-0", "namespace": "default", "name": "web-0"}]}
    assert [n["fenced"] for n in result["nodes"]] == [False, True, False, True]


def test_only_the_nodes_asked_for(cluster, run_module):
    cluster(seed())
    result = run_module(node_fence_info.main, {"nodes": ["n1", "n2", "gone"]})
    assert [n["name"] for n in result["nodes"]] == ["n1", "n2"] and result["dead"] == [] and result["back"] == ["n1"]


def test_where_the_pods_run_and_seconds_to_ready(cluster, run_module):
    cluster(seed())
    result = run_module(node_fence_info.main, {"pods": ["default/web-1", "default/web-0", "default/nope"],
                                               "since": "2026-01-01T10:00:00"})
    assert result["pods"] == [{"pod": "default/web-1", "node": "n2", "seconds": 41.0},
                              {"pod": "default/web-0", "node": "n0", "seconds": None},
                              {"pod": "default/nope", "node": None, "seconds": None}]
    later = run_module(node_fence_info.main, {"pods": ["default/web-1"], "since": "2026-01-01T11:00:30+01:00"})
    assert later["pods"][0]["seconds"] == 11.0
    assert run_module(node_fence_info.main, {"pods": ["default/web-1"]})["pods"][0]["seconds"] is None


@pytest.mark.parametrize("args,msg", [({"pods": ["web-1"]}, "namespace/name"), ({"pods": ["a/b/c"]}, "namespace/name"),
                                      ({"since": "yesterday"}, "not an ISO 8601 time")])
def test_bad_input(cluster, run_module, args, msg):
    cluster(seed())
    result = run_module(node_fence_info.main, args)
    assert result["failed"] and msg in result["msg"]
