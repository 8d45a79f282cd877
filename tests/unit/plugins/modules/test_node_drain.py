"""node_drain: one preflight of the whole list, cordons up front when that strands no one, evictions, replacements
matched through the watch, settle time, PDB retries, timeout, check mode, diff and idempotence."""

from __future__ import annotations

import itertools
import time

import pytest

from ansible_collections.kubedisk.aks.plugins.modules import node_drain

from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.kube_fakes import FakeKube, node, pod, pv, pvc

ANTI = [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]


class FakePods:
    """The module's ``Pods`` over a FakeKube: an eviction deletes the pod and, as its controller and the scheduler would,
    creates its replacement Ready on the first schedulable node of its volume's zone (none: it stays Pending); the watch
    reports both. ``refusals`` evictions are refused first, as a PodDisruptionBudget does (HTTP 429)."""

    def __init__(self, kube, refusals=0, schedule=True, late=None):
        self.kube = kube
        self.refusals = refusals
        self.schedule = schedule
        self.late = late
        self.queue = []
        self.evictions = []
        self.error = None
        self.uids = itertools.count(100)

    def list(self):
        return self.kube.list("Pod"), "1"

    def watch(self, resource_version):
        assert resource_version == "1"

    def events(self, seconds):
        if not self.queue and seconds > 0:
            time.sleep(min(seconds, 0.05))
        found, self.queue = self.queue, []
        return found

    def evict(self, namespace, name):
        if self.refusals:
            self.refusals -= 1
            self.evictions.append(("refused", name, time.monotonic()))
            return "refused"
        old = self.kube.objects.pop(("Pod", namespace, name))
        self.evictions.append(("evicted", name, time.monotonic()))
        self.queue.append(("DELETED", old))
        new = dict(old, metadata=dict(old["metadata"], uid="uid-%d" % next(self.uids)), spec=dict(old["spec"], nodeName=self.place(old)))
        new["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if new["spec"]["nodeName"] else "False"}]}
        self.kube.objects[("Pod", namespace, name)] = new
        self.queue.append(("ADDED", new))
        if self.late:
            self.kube.objects[("Pod", "default", self.late["metadata"]["name"])] = self.late
            self.queue.append(("ADDED", self.late))
            self.late = None
        return "evicted"

    def place(self, old):
        claim = old["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
        volume = self.kube.get("PersistentVolume", self.kube.get("PersistentVolumeClaim", claim, "default")["spec"]["volumeName"])
        zone = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
        taken = set(p["spec"]["nodeName"] for p in self.kube.list("Pod"))
        for item in self.kube.list("Node"):
            if (self.schedule and not item["spec"].get("unschedulable") and item["metadata"]["labels"]["topology.kubernetes.io/zone"] == zone
                    and item["metadata"]["name"] not in taken):
                return item["metadata"]["name"]
        return None

    def stop(self):
        pass


def web(index, node_name):
    item = pod("web-%d" % index, node_name, ["data-web-%d" % index], labels={"app": "web"}, anti=ANTI, owner=("StatefulSet", "web"))
    item["metadata"]["uid"] = "uid-web-%d" % index
    item["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return item


def seed(zone1=("n0", "n2", "n4")):
    """Zone we-1 with ``zone1``, zone we-2 with n1 and n3; web-0 on n0 (we-1), web-1 on n1 (we-2)."""
    return ([node(n, "we-1") for n in zone1] + [node("n1", "we-2"), node("n3", "we-2")]
            + [web(0, "n0"), web(1, "n1"), pvc("data-web-0", "pv0"), pvc("data-web-1", "pv1"), pv("pv0", "we-1"), pv("pv1", "we-2")])


@pytest.fixture
def lab(monkeypatch):
    """``make(objects, **pods_options)`` -> (FakeKube, FakePods) that the module's kube_client and Pods hand out."""
    def make(objects, **options):
        fake = FakeKube(objects)
        pods = FakePods(fake, **options)
        monkeypatch.setattr(node_drain, "kube_client", lambda module, deadline=None: fake)
        monkeypatch.setattr(node_drain, "Pods", lambda kube: pods)
        return fake, pods
    return make


def cordons(fake):
    return [(w[2], (w[3]["spec"] or {}).get("unschedulable")) for w in fake.writes if w[:2] == ("patch", "Node")]


def test_two_nodes_of_a_zone_cordoned_up_front_so_the_pod_moves_once(lab, run_module):
    fake, pods = lab(seed())
    result = run_module(node_drain.main, {"nodes": ["n0", "n2"]})
    assert result["changed"] and result["cordoned_up_front"], result
    assert cordons(fake) == [("n0", True), ("n2", True)]
    assert [e[:2] for e in pods.evictions] == [("evicted", "web-0")]
    [entry] = result["report"]
    assert entry["pod"] == "default/web-0" and entry["from"] == "n0" and entry["to"] == "n4" and entry["moves"] == 1
    assert entry["zones"] == ["we-1"] and entry["seconds"] >= 0
    assert [(e["pod"], e["batch"], e["target"]) for e in result["plan"]] == [("default/web-0", 0, "n4")]


def test_rerun_changes_nothing_and_writes_nothing(lab, run_module):
    fake, dummy = lab(seed())
    run_module(node_drain.main, {"nodes": ["n0", "n2"]})
    lab(list(fake.objects.values()))
    result = run_module(node_drain.main, {"nodes": ["n0", "n2"]})
    assert not result["changed"] and result["plan"] == [] and result["report"] == []


def test_a_list_that_strands_a_pod_is_refused_before_any_write(lab, run_module):
    fake, pods = lab(seed(zone1=("n0", "n2")))
    result = run_module(node_drain.main, {"nodes": ["n0", "n2"]})
    assert result["failed"] and not result["changed"]
    assert "draining n0, n2 is not safe: pod default/web-0 in zone we-1 would be stranded" in result["msg"], result["msg"]
    assert fake.writes == [] and pods.evictions == []


def test_moving_twice_only_when_the_nodes_come_back_and_after_the_settle_time(lab, run_module):
    fake, pods = lab(seed(zone1=("n0", "n2")))
    result = run_module(node_drain.main, {"nodes": ["n0", "n2"], "uncordon": "after_each", "settle_seconds": 1})
    assert not result["cordoned_up_front"] and result["changed"], result
    assert cordons(fake) == [("n0", True), ("n0", None), ("n2", True), ("n2", None)]
    [entry] = result["report"]
    assert entry["moves"] == 2 and entry["from"] == "n0" and entry["to"] == "n0"
    first, second = [e[2] for e in pods.evictions]
    assert second - first >= 1.0


def test_a_pod_that_lands_on_the_node_during_its_drain_leaves_too(lab, run_module):
    late = web(2, "n0")
    late["metadata"]["uid"] = "uid-late"
    objects = seed() + [pvc("data-web-2", "pv2"), pv("pv2", "we-1")]
    dummy, pods = lab(objects, late=late)
    result = run_module(node_drain.main, {"nodes": ["n0"]})
    assert [e[:2] for e in pods.evictions] == [("evicted", "web-0"), ("evicted", "web-2")]
    assert sorted((e["pod"], e["moves"]) for e in result["report"]) == [("default/web-0", 1), ("default/web-2", 1)]


def test_an_eviction_a_budget_refuses_is_tried_again(lab, run_module):
    dummy, pods = lab(seed(), refusals=1)
    result = run_module(node_drain.main, {"nodes": ["n0"], "pdb_retry_delay": 1})
    assert [e[:2] for e in pods.evictions] == [("refused", "web-0"), ("evicted", "web-0")]
    assert pods.evictions[1][2] - pods.evictions[0][2] >= 1.0
    assert result["report"][0]["to"] in ("n2", "n4")


def test_a_replacement_never_ready_fails_at_the_timeout_and_uncordons(lab, run_module):
    fake, dummy = lab(seed(), schedule=False)
    started = time.monotonic()
    result = run_module(node_drain.main, {"nodes": ["n0"], "timeout": 1, "uncordon": "at_end"})
    assert result["failed"] and time.monotonic() - started < 5
    assert "draining n0 did not finish within timeout=1 s: no Ready replacement outside n0 for default/web-0" in result["msg"]
    assert "the nodes were uncordoned" in result["msg"] and cordons(fake)[-1] == ("n0", None)


def test_check_mode_plans_and_writes_nothing_with_the_cordons_in_the_diff(lab, run_module):
    fake, pods = lab(seed())
    result = run_module(node_drain.main, {"nodes": ["n0", "n2"]}, check_mode=True, diff=True)
    assert result["changed"] and fake.writes == [] and pods.evictions == []
    assert result["diff"] == {"before": {"cordoned": {"n0": False, "n2": False}}, "after": {"cordoned": {"n0": True, "n2": True}}}


@pytest.mark.parametrize("args,msg", [
    ({"nodes": []}, "at least one node"), ({"nodes": ["n0", " "]}, "none of them empty"), ({"nodes": ["n0", "n0"]}, "lists a node twice: n0"),
    ({"nodes": ["nope"]}, "node nope not found"), ({"nodes": ["n0"], "batch_size": 0}, "batch_size must be 1 or more"),
    ({"nodes": ["n0"], "timeout": 100000}, "timeout must be 1 or more and 86400 at most"),
])
def test_bad_inputs_fail_before_any_write(lab, run_module, args, msg):
    fake, dummy = lab(seed())
    result = run_module(node_drain.main, args)
    assert result["failed"] and msg in result["msg"] and fake.writes == []
