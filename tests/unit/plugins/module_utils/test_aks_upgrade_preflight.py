"""aks_upgrade_preflight: the drains of a pool upgrade played on a cluster of three zones with a zonal StatefulSet."""

from __future__ import annotations

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_upgrade_preflight import upgrade_problems, upgrade_refusal
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_drain_plan import read_cluster
from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.kube_fakes import FakeKube, node, pod, pv, pvc

ZONES = ("westeurope-1", "westeurope-2", "westeurope-3")
ANTI = [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "topology.kubernetes.io/zone"}]


def pool_node(name, zone, pool="data"):
    item = node(name, zone)
    item["metadata"]["labels"].update({"kubernetes.azure.com/agentpool": pool, "kubernetes.io/hostname": name})
    return item


def state(extra_nodes=(), pdb_allowed=None):
    objects = [pool_node("data-%d" % i, zone) for i, zone in enumerate(ZONES)] + list(extra_nodes)
    for i, zone in enumerate(ZONES):
        objects += [pod("web-%d" % i, "data-%d" % i, ["data-web-%d" % i], labels={"app": "web"}, anti=ANTI, owner=("StatefulSet", "web")),
                    pvc("data-web-%d" % i, "pv%d" % i), pv("pv%d" % i, zone)]
    objects.append({"kind": "CSINode", "metadata": {"name": "data-0"},
                    "spec": {"drivers": [{"name": "disk.csi.azure.com", "allocatable": {"count": 4}}]}})
    if pdb_allowed is not None:
        objects.append({"kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "default"},
                        "spec": {"selector": {"matchLabels": {"app": "web"}}}, "status": {"disruptionsAllowed": pdb_allowed}})
    kube = FakeKube(objects)
    return read_cluster(kube, lambda n: n["metadata"]["labels"].get("kubernetes.azure.com/agentpool") == "data")


def test_one_surge_node_strands_the_pods_of_the_zones_it_may_miss():
    stranded, blocks, per_zone = upgrade_problems(state(), "data", 1, "disk.csi.azure.com")
    assert per_zone == dict((z, (0, 1)) for z in ZONES) and not blocks
    assert [(s["pod"], s["zone"], s["node"], s["surge_in_zone"]) for s in stranded] == [
        ("default/web-%d" % i, zone, "data-%d" % i, 0) for i, zone in enumerate(ZONES)]
    assert "no other node there can take it" in stranded[0]["reason"]


def test_a_surge_node_per_zone_moves_every_pod_and_back():
    stranded, blocks, per_zone = upgrade_problems(state(), "data", 3, "disk.csi.azure.com")
    assert stranded == [] and blocks == [] and per_zone == dict((z, (1, 1)) for z in ZONES)


def test_a_spare_node_of_another_pool_in_the_zone_is_enough_there():
    spare = pool_node("other-0", "westeurope-1", pool="other")
    stranded, dummy, dummy2 = upgrade_problems(state([spare]), "data", 1, "disk.csi.azure.com")
    assert [s["pod"] for s in stranded] == ["default/web-1", "default/web-2"]


def test_refusal_names_pod_zone_and_the_smallest_surge_that_works():
    refusal, plan = upgrade_refusal(state(), "data", "1", 1, "disk.csi.azure.com", str)
    assert "max surge 1 puts no surge node for certain in zone westeurope-1, where pod default/web-0 has its disk" in refusal
    assert "set upgrade_settings.max_surge to at least 3 (the pool's zone count)" in refusal
    assert plan["surge_nodes_per_zone"]["westeurope-1"] == {"fewest": 0, "most": 1}
    assert upgrade_refusal(state(), "data", "3", 3, "disk.csi.azure.com", str)[0] is None


def test_refusal_when_no_surge_helps_and_when_a_budget_blocks():
    tainted = state()
    for item in tainted["nodes"]:
        item["spec"]["taints"] = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
    refusal, dummy = upgrade_refusal(tainted, "data", "3", 3, "disk.csi.azure.com", str)
    assert "max surge 3 puts 1 surge node(s) in zone westeurope-1" in refusal
    assert "has taint dedicated=x:NoSchedule" in refusal and "no larger max_surge helps" in refusal
    refusal, plan = upgrade_refusal(state(pdb_allowed=0), "data", "3", 3, "disk.csi.azure.com", str)
    assert "PodDisruptionBudget default/web allows no disruption now" in refusal and plan["stranded"] == []


def two_zone_state():
    """Pool data: data-0 and data-1 in zone 1, data-2 and data-3 in zone 2; each fits one of the pods, which run on the
    zone 1 nodes with their disks there."""
    objects = [pool_node("data-%d" % i, ZONES[i // 2]) for i in range(4)]
    for i in range(2):
        objects += [pod("web-%d" % i, "data-%d" % i, ["data-web-%d" % i], labels={"app": "web"}, cpu="1500m", owner=("StatefulSet", "web")),
                    pvc("data-web-%d" % i, "pv%d" % i), pv("pv%d" % i, ZONES[0])]
    return read_cluster(FakeKube(objects), lambda n: n["metadata"]["labels"].get("kubernetes.azure.com/agentpool") == "data")


def test_a_batch_of_as_many_nodes_as_surge_nodes_is_drained_at_once():
    stranded, dummy, per_zone = upgrade_problems(two_zone_state(), "data", 2, "disk.csi.azure.com")
    assert per_zone == {"westeurope-1": (1, 1), "westeurope-2": (1, 1)}
    # data-0 and data-1 are drained together: their two pods have one node of zone 1 left, the surge node
    assert [(s["pod"], s["node"], s["surge_in_zone"]) for s in stranded] == [("default/web-1", "data-1", 1)]
    assert "data-0 is being drained too" in stranded[0]["reason"]
    assert "data-0-surge-westeurope-1-0 has not enough cpu left" in stranded[0]["reason"]


def test_refusal_names_the_surge_that_gives_the_batch_room():
    refusal, plan = upgrade_refusal(two_zone_state(), "data", "2", 2, "disk.csi.azure.com", str)
    assert "when node data-1 is drained" in refusal and "set upgrade_settings.max_surge to at least 4" in refusal
    assert upgrade_refusal(two_zone_state(), "data", "4", 4, "disk.csi.azure.com", str)[0] is None
