"""drain_preflight: placement of pods with zonal volumes (zone, cordon, taints, requests, slots, anti-affinity), PDBs."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.modules import drain_preflight

from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.kube_fakes import cluster_factory, node, pod, pv, pvc

ANTI = [{"labelSelector": {"matchLabels": {"app": "nginx"}}, "topologyKey": "topology.kubernetes.io/zone"}]


def seed(**changes):
    nodes = [node("n0", "we-1"), node("n1", "we-2"), node("n2", "we-1"), node("n3", "we-2")]
    for item in nodes:
        item.update(changes.get(item["metadata"]["name"], {}))
    return nodes + [
        pod("web-0", "n0", ["data-web-0"], labels={"app": "nginx"}, anti=ANTI, owner=("StatefulSet", "web")),
        pod("web-1", "n1", ["data-web-1"], labels={"app": "nginx"}, anti=ANTI, owner=("StatefulSet", "web")),
        pod("ds-x", "n0", owner=("DaemonSet", "ds")),
        pvc("data-web-0", "pv0"), pvc("data-web-1", "pv1"), pv("pv0", "we-1"), pv("pv1", "we-2"),
        {"kind": "CSINode", "metadata": {"name": "n2"}, "spec": {"drivers": [{"name": "disk.csi.azure.com", "allocatable": {"count": 4}}]}},
    ]


@pytest.fixture
def cluster(monkeypatch):
    return cluster_factory(monkeypatch, drain_preflight)


def test_safe_drain_plans_the_other_node_of_the_zone(cluster, run_module):
    cluster(seed())
    result = run_module(drain_preflight.main, {"nodes": ["n0"]})
    assert result["safe"] and not result["changed"]
    assert [e["pod"] for e in result["plan"]] == ["default/web-0"]  # the DaemonSet pod is not evicted
    assert result["plan"][0]["target"] == "n2" and result["plan"][0]["zones"] == ["we-1"]


@pytest.mark.parametrize("changes,reason", [
    ({"n2": {"spec": {"unschedulable": True, "taints": [], "providerID": ""}}}, "n2 is cordoned"),
    ({"n2": {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}], "allocatable": {}}}}, "n2 is not Ready"),
    ({"n2": {"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}}, "has taint k=v:NoSchedule"),
    ({"n2": {"status": {"conditions": [{"type": "Ready", "status": "True"}], "allocatable": {"cpu": "50m"}}}}, "not enough cpu"),
])
def test_stranded_names_pod_zone_and_reason(cluster, run_module, changes, reason):
    cluster(seed(**changes))
    result = run_module(drain_preflight.main, {"nodes": ["n0"]})
    assert result["failed"]
    assert "pod default/web-0 in zone we-1 would be stranded" in result["msg"]
    assert reason in result["msg"]


def test_draining_the_whole_zone(cluster, run_module):
    cluster(seed())
    result = run_module(drain_preflight.main, {"nodes": ["n0", "n2"], "fail_on_stranded": False})
    assert not result["safe"] and "n2 is being drained too" in result["stranded"][0]["reason"]


def test_attach_slots_and_anti_affinity(cluster, run_module):
    objects = seed()
    objects += [{"kind": "VolumeAttachment", "metadata": {"name": "va%d" % i},
                 "spec": {"attacher": "disk.csi.azure.com", "nodeName": "n2"}} for i in range(4)]
    cluster(objects)
    result = run_module(drain_preflight.main, {"nodes": ["n0"]})
    assert "no free disk attach slot (4 of 4 used)" in result["msg"]
    objects = seed() + [pod("other", "n2", labels={"app": "nginx"})]
    cluster(objects)
    result = run_module(drain_preflight.main, {"nodes": ["n0"]})
    assert "pod anti-affinity with default/other" in result["msg"]


def test_pdb_blocks_and_warns(cluster, run_module):
    pdb = {"kind": "PodDisruptionBudget", "metadata": {"name": "strict", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "nginx"}}}, "status": {"disruptionsAllowed": 0}}
    cluster(seed() + [pdb])
    result = run_module(drain_preflight.main, {"nodes": ["n0"]})
    assert "PodDisruptionBudget default/strict allows no disruption" in result["msg"]
    assert result["pdb_blocks"][0]["pods"] == ["default/web-0"]
    assert run_module(drain_preflight.main, {"nodes": ["n0"], "check_pdb": False})["safe"]


@pytest.mark.parametrize("nodes,msg", [(["nope"], "node nope not found"), ([], "at least one node"), ([" "], "at least one node"),
                                       (["n0", "n0"], "lists a node twice: n0")])
def test_bad_nodes(cluster, run_module, nodes, msg):
    cluster(seed())
    assert msg in run_module(drain_preflight.main, {"nodes": nodes})["msg"]


def test_pods_without_zonal_volumes_are_unconstrained(cluster, run_module):
    objects = [o for o in seed() if o["metadata"]["name"] != "pv0"] + [pv("pv0")]
    cluster(objects)
    result = run_module(drain_preflight.main, {"nodes": ["n0"]})
    assert result["safe"] and result["plan"][0]["zones"] == [] and result["plan"][0]["target"] is None


def bare_and_scratch():
    scratch = pod("cache-0", "n0", owner=("ReplicaSet", "cache"))
    scratch["spec"]["volumes"].append({"name": "scratch", "emptyDir": {}})
    return seed() + [pod("bare", "n0", ["data-bare"]), pvc("data-bare", "pvb"), pv("pvb", "we-1"), scratch]


def test_bare_pod_with_a_zonal_disk_and_emptydir_data_block_unless_allowed(cluster, run_module):
    cluster(bare_and_scratch())
    result = run_module(drain_preflight.main, {"nodes": ["n0"]})
    assert result["failed"] and not result["safe"]
    assert "pod default/bare in zone we-1 would be stranded: no controller manages it" in result["msg"], result["msg"]
    assert "pod default/cache-0 cannot be drained: its emptyDir volume scratch would lose its data" in result["msg"]
    assert {e["pod"] for e in result["stranded"]} == {"default/bare", "default/cache-0"}


def test_force_and_delete_emptydir_data_report_what_is_lost(cluster, run_module):
    cluster(bare_and_scratch())
    result = run_module(drain_preflight.main, {"nodes": ["n0"], "force": True, "delete_emptydir_data": True})
    assert result["safe"], result
    assert result["deleted_for_good"] == ["default/bare"]
    assert result["emptydir_data_lost"] == [{"pod": "default/cache-0", "volumes": ["scratch"]}]
