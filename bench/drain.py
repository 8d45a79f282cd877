"""Bench figure ``drain``: maintenance of a zone with StatefulSets on zonal disks, ours against what users write.

Lab: a cluster over 3 zones x 2 nodes, ``STATEFULSETS`` StatefulSets of 3 replicas (one per zone: required zone
anti-affinity), each replica on a zonal disk of its own, a PodDisruptionBudget of maxUnavailable 1 each, the lab's
writer on every pod (a line a second while the pod is Ready). Set up under the fast profile with
``bench/drain_setup.yml`` (the collection's provision, csi and stateful_app), measured under the realistic profile
without its spread, so that every operation takes its kind's nominal time and the floor is the lab's own.

Scenario, once per contender from the same placement (restored under the fast profile in between): drain the node of
zone A with the most replicas (step A), then the nodes of zone B one after the other, cordoned until the zone is done
(steps B1, B2), then uncordon every node. With B1 cordoned, draining B2 strands zone B's replicas: their disks cannot
leave the zone.

Contenders:

- ours: ``playbooks/drain.yml`` (role node_maintenance, module node_drain) with ``[A]``; then with ``[B1, B2]`` in one
  call, the role's way for a zone, which its preflight refuses before any write; then ``[B1]``, what the refusal leaves
  safe to do.
- k8s_drain: ``bench/peers/drain_k8s_core.yml``, kubernetes.core.k8s_drain per node and the k8s_info until-loop
  users write to wait for the StatefulSets (``[A]``, then ``[B1, B2]``).
- kubectl: ``kubectl drain --ignore-daemonsets --delete-emptydir-data`` per node, then ``kubectl rollout status`` of
  each StatefulSet.

The peers' waits are bounded by ``WAIT_BOUND`` seconds per node, as such loops are.

Floor of a drain step, from the lab's profile: ``pod.stop + vm.detach + vm.attach + pod.start + pod.ready``. The
replicas of the drained node can only go to the other node of their zone; the Azure Disk CSI driver (and the lab's)
sends the attaches, and the detaches, that reach it for one VM within its batch delay (1 s) as one VM update, so a
step whose evictions come together costs one detach and one attach; evictions further apart cost one attach per
replica, in a row (``n * vm.attach``, the formula first used here, which kubectl's concurrent evictions beat). The
wall rows compare the work every contender completes, steps A and B1 (ours' refused call included); the floor is
``floor(A) + floor(B1)``.

Measures per contender: wall time; each replica's pauses from the writer's lines (gaps over ``GAP`` seconds; a replica
not writing at the end of the run counts its open pause up to then); replica-seconds down (their sum); replicas left
Pending at the end of the run (stranded); replicas evicted again less than ``SETTLE`` seconds after they became Ready
(a watch of the namespace's pods); ours' timeline (start to first eviction, evictions to the last attach, last Ready
to return); the API requests of the contender, counted by a front of the apiserver its kubeconfig names
(``bench/kube_requests.py``: the lab's apiserver writes no audit log and its metrics carry no user agent).

Goals: ours' wall <= 1.05 x floor and <= kubectl's; no replica stranded; fewer replica-seconds down than either peer;
no replica evicted again within the settle time; no more API requests than the kubernetes.core peer.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# pylint: disable=wrong-import-position  # the bench folder first, as bench/run.py runs figures
from common import REPO, Row, lab, write_result  # noqa: E402
from kube_requests import CountingFront  # noqa: E402
from stateful_lab import stamp  # noqa: E402
from kubernetes import client, watch  # noqa: E402

from lab.cli.data import claim_text  # noqa: E402
from lab.cli.labdir import LabDir  # noqa: E402
from lab.kube import controlplane  # noqa: E402

QUICK = os.environ.get("BENCH_DRAIN_QUICK") == "1"  # one StatefulSet, for trying the figure out
STATEFULSETS = [f"db{index}" for index in range(1 if QUICK else 4)]
NAMESPACE = "kubedisk-demo"  # kubedisk_namespace of tests/demo/inventory.yml
ZONE_LABEL = "topology.kubernetes.io/zone"
SETTLE = 10  # seconds a moved replica should run before it is evicted again (node_maintenance_settle_seconds)
WAIT_BOUND = 120  # seconds the peers wait for the StatefulSets after each node
PEER_DELAY = 5  # the k8s_info until-loop's delay
PEER_RETRIES = WAIT_BOUND // (2 * PEER_DELAY)  # each try also takes the module's run, seconds on a loaded machine
GAP = 3.0  # a pause of the writer longer than this is downtime (it writes every second)
DROPPED = ("AZURE_", "K8S_AUTH_", "LAB_", "KUBECONFIG", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
KUBECTL_PATHS = Path.home() / ".cache" / "kubedisk" / "kube" / "paths.env"


class Broken(RuntimeError):
    """The measurement itself broke (a set-up playbook failed, the lab did not come back)."""


# --- the lab's Kubernetes side ------------------------------------------------------------------------------------


def ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def replicas(api) -> list:
    """The StatefulSets' pods (not the ones being deleted)."""
    return [pod for pod in api.list_namespaced_pod(NAMESPACE).items if not pod.metadata.deletion_timestamp]


def zones(api) -> dict:
    """{zone: [node, ...]} of the cluster, nodes sorted by name."""
    found = {}
    for node in sorted(api.list_node().items, key=lambda node: node.metadata.name):
        found.setdefault(node.metadata.labels.get(ZONE_LABEL), []).append(node.metadata.name)
    return found


def cordon(api, node: str, unschedulable: bool) -> None:
    api.patch_node(node, {"spec": {"unschedulable": unschedulable}})


def wait_all_ready(api, count: int, timeout: float, on_nodes: dict | None = None) -> dict:
    """Wait until ``count`` replicas are Ready (on the nodes ``on_nodes`` names, when given); {pod: node}."""
    deadline = time.monotonic() + timeout
    while True:
        placed = {pod.metadata.name: pod.spec.node_name for pod in replicas(api) if ready(pod)}
        if len(placed) == count and all(placed.get(name) == node for name, node in (on_nodes or {}).items()):
            return placed
        if time.monotonic() > deadline:
            raise Broken(f"only {len(placed)} of {count} replicas Ready where wanted after {timeout} s: {placed}")
        time.sleep(0.5)


def place(api, placement: dict, nodes_by_zone: dict) -> None:
    """Bring every replica back to its node of ``placement``: per node, its zone's other nodes cordoned while the
    replicas that belong on it are deleted and come back there."""
    count = len(placement)
    for zone_nodes in nodes_by_zone.values():
        for node in zone_nodes:
            current = {pod.metadata.name: pod.spec.node_name for pod in replicas(api)}
            moving = [name for name, home in placement.items() if home == node and current.get(name) != node]
            if not moving:
                continue
            others = [other for other in zone_nodes if other != node]
            for other in others:
                cordon(api, other, True)
            for name in moving:
                api.delete_namespaced_pod(name, NAMESPACE)
            wait_all_ready(api, count, 180, {name: node for name in moving})
            for other in others:
                cordon(api, other, False)


class PodWatch:
    """Every replica's life as a watch of the namespace sees it: per pod uid its name, node, when it was first seen
    Ready and when its deletion began (epoch seconds)."""

    def __init__(self, api):
        self.api = api
        self.lives = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self):
        while not self.stopped.is_set():
            try:
                for event in watch.Watch().stream(self.api.list_namespaced_pod, NAMESPACE, timeout_seconds=30):
                    self._see(event["object"])
                    if self.stopped.is_set():
                        return
            except Exception:  # pylint: disable=broad-except  # made again; a lost second shows as a later time
                time.sleep(0.5)

    def _see(self, pod):
        now = time.time()
        life = self.lives.setdefault(pod.metadata.uid, {"pod": pod.metadata.name, "node": None, "ready": None, "deleted": None})
        life["node"] = pod.spec.node_name or life["node"]
        if life["ready"] is None and ready(pod):
            life["ready"] = now
        if life["deleted"] is None and pod.metadata.deletion_timestamp:
            life["deleted"] = now

    def between(self, start: float, end: float) -> list:
        """The lives with a Ready or a deletion between ``start`` and ``end``."""
        return [dict(life) for life in list(self.lives.values())
                if any(moment is not None and start <= moment <= end for moment in (life["ready"], life["deleted"]))]

    def stop(self):
        self.stopped.set()


def evicted_too_soon(lives: list, start: float) -> list:
    """Replicas whose replacement (Ready after ``start``) was deleted less than SETTLE seconds after it became Ready."""
    return [f"{life['pod']} on {life['node']} after {life['deleted'] - life['ready']:.1f} s" for life in lives
            if life["ready"] and life["deleted"] and life["ready"] >= start and life["deleted"] - life["ready"] < SETTLE]


# --- the writer's lines ------------------------------------------------------------------------------------------


def writer_lines(labdir, pod: str) -> list:
    text = claim_text(labdir, f"{NAMESPACE}/azuredisk-{pod}")
    return [line.strip() for line in text.splitlines() if line.strip()]


def pauses(lines: list, since: int, end: float) -> list:
    """The writer's pauses longer than GAP (seconds) from line ``since`` on (1-based: the last line before the run),
    the last one open up to ``end`` when the writer had stopped by then."""
    stamps = [stamp(line) for line in lines[max(since - 1, 0):]]
    found = [after - before for before, after in zip(stamps, stamps[1:]) if after - before > GAP]
    if stamps and end - stamps[-1] > GAP:
        found.append(end - stamps[-1])
    return [round(seconds, 1) for seconds in found]


# --- running the contenders --------------------------------------------------------------------------------------


class Runner:
    """The commands of the contenders against one lab: playbooks as scripts/demo.sh runs them, and kubectl."""

    def __init__(self, bench_lab):
        self.lab = bench_lab
        self.vars_file = bench_lab.vars_file()
        self.admin_kubeconfig = LabDir(bench_lab.root).exports()["KUBECONFIG"]
        self.front = CountingFront(self.admin_kubeconfig)
        self.kubeconfig = self.front.kubeconfig()  # the contenders' requests counted
        env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED)}
        env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), PATH=f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}",
                   ANSIBLE_CALLBACK_PLUGINS=str(REPO / "bench" / "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="task_timeline")
        self.env = env
        self.kubectl = kubectl_binary()
        self.logs = 0

    def playbook(self, path: str, extra: dict) -> dict:
        """Run a playbook; {"rc", "seconds", "start", "end", "output", "timeline"} (timeline: the task_timeline lines)."""
        self.logs += 1
        timeline = self.lab.root / f"timeline-{self.logs}.jsonl"
        command = ["ansible-playbook", path, "-i", "tests/demo/inventory.yml", "-e", f"@{self.vars_file}", "-e", json.dumps(extra)]
        start = time.time()
        done = subprocess.run(command, cwd=REPO, env=dict(self.env, BENCH_TIMELINE=str(timeline)),  # noqa: S603 - our playbooks
                              capture_output=True, text=True, check=False)
        end = time.time()
        tasks = [json.loads(line) for line in timeline.read_text(encoding="utf-8").splitlines()] if timeline.exists() else []
        return {"rc": done.returncode, "seconds": round(end - start, 1), "start": start, "end": end,
                "output": done.stdout + done.stderr, "timeline": tasks}

    def run_kubectl(self, *arguments: str) -> dict:
        start = time.time()
        done = subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, *arguments], capture_output=True,  # noqa: S603
                              text=True, check=False)
        return {"rc": done.returncode, "start": start, "end": time.time(), "output": (done.stdout + done.stderr)[-600:]}


def kubectl_binary() -> str:
    """The kubectl the lab's build made (tests/lab/kube/build.sh, the same Kubernetes version as the apiserver)."""
    for line in KUBECTL_PATHS.read_text(encoding="utf-8").splitlines():
        if line.startswith("KUBECTL="):
            return line.split("=", 1)[1]
    raise Broken(f"no KUBECTL in {KUBECTL_PATHS}: run tests/lab/kube/build.sh")


def ours(runner, node_a: str, zone_b: list) -> dict:
    """node_maintenance with [A], then the zone [B1, B2] (refused), then [B1]."""
    access = {"kubedisk_kubeconfig": runner.kubeconfig}
    runs = {"A": runner.playbook("playbooks/drain.yml", access | {"node_maintenance_nodes": [node_a]}),
            "B refused": runner.playbook("playbooks/drain.yml", access | {"node_maintenance_nodes": zone_b})}
    refusal = refusal_message(runs["B refused"]["output"]) if runs["B refused"]["rc"] else ""
    if refusal:
        runs["B1"] = runner.playbook("playbooks/drain.yml", access | {"node_maintenance_nodes": zone_b[:1]})
    segments = [{"step": step, "start": done["start"], "end": done["end"]} for step, done in runs.items()]
    failures = [f"{step}: {tail(done['output'])}" for step, done in runs.items() if done["rc"] and not (refusal and step == "B refused")]
    if not refusal:
        failures.append("B: the zone's drain was not refused")
    return {"segments": segments, "failures": failures, "refusal": refusal, "compared": segments}


def k8s_drain(runner, node_a: str, zone_b: list) -> dict:
    """bench/peers/drain_k8s_core.yml with [A], then with [B1, B2]; B1's part ends with its wait."""
    extra = {"peer_namespace": NAMESPACE, "peer_kubeconfig": runner.kubeconfig, "peer_wait_delay": PEER_DELAY,
             "peer_wait_retries": PEER_RETRIES}
    step_a = runner.playbook("bench/peers/drain_k8s_core.yml", dict(extra, peer_nodes=[node_a]))
    zone = runner.playbook("bench/peers/drain_k8s_core.yml", dict(extra, peer_nodes=zone_b))
    waits = [task for task in zone["timeline"] if task["task"].startswith("Wait until every StatefulSet")]
    b1_end = waits[0]["end"] if waits else zone["end"]
    segments = [{"step": "A", "start": step_a["start"], "end": step_a["end"]},
                {"step": "B1", "start": zone["start"], "end": b1_end}, {"step": "B2", "start": b1_end, "end": zone["end"]}]
    failures = [f"{name}: {tail(done['output'])}" for name, done in (("A", step_a), ("B", zone)) if done["rc"]]
    return {"segments": segments, "failures": failures, "compared": segments[:2]}


def kubectl(runner, node_a: str, zone_b: list) -> dict:
    """kubectl drain per node, then kubectl rollout status of each StatefulSet within WAIT_BOUND seconds."""
    segments, failures = [], []
    for step, node in zip(("A", "B1", "B2"), [node_a, *zone_b]):
        start = time.time()
        drained = runner.run_kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", f"--timeout={WAIT_BOUND}s")
        if drained["rc"]:
            failures.append(f"{step}: drain: {drained['output']}")
        deadline = time.time() + WAIT_BOUND
        for name in STATEFULSETS:
            left = max(int(deadline - time.time()), 1)
            status = runner.run_kubectl("rollout", "status", f"statefulset/{name}", "-n", NAMESPACE, f"--timeout={left}s")
            if status["rc"]:
                failures.append(f"{step}: rollout status {name}: {status['output']}")
        segments.append({"step": step, "start": start, "end": time.time()})
    return {"segments": segments, "failures": failures, "compared": segments[:2]}


def tail(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return " | ".join(lines[-4:])[-600:]


def refusal_message(output: str) -> str:
    for line in output.splitlines():
        if "is not safe" in line:
            return line.strip()[:600]
    return ""


# --- the figure ---------------------------------------------------------------------------------------------------


def step_floor(durations: dict, moved: int) -> float:
    """One drain step in the lab's model: the pods stop, their disks detach in one batch, attach in one batch, the
    pods start and turn Ready."""
    if not moved:
        return 0.0
    return durations["pod.stop"] + durations["vm.detach"] + durations["vm.attach"] + durations["pod.start"] + durations["pod.ready"]


def set_profile(labdir, name: str) -> dict:
    """Switch the lab's latency profile (the realistic one without spread: each operation its nominal time)."""
    change = {"name": name} | ({"spread": 0} if name == "realistic" else {})
    return labdir.admin().call("PUT", "/profile", change)["durations"]


def measure(contender, runner, api, pods: PodWatch, labdir, start_state: dict) -> dict:
    """One contender's run from the starting placement: its segments, the writers' pauses, stranded and re-evicted."""
    placement, node_a, zone_b = start_state["placement"], start_state["node_a"], start_state["zone_b"]
    since = {pod: len(writer_lines(labdir, pod)) for pod in placement}
    began = time.time()
    result = contender(runner, node_a, zone_b)
    ended = time.time()
    left = api.list_namespaced_pod(NAMESPACE).items
    result["stranded"] = sorted(pod.metadata.name for pod in left if pod.status.phase == "Pending")
    result["pauses"] = {pod: pauses(writer_lines(labdir, pod), since[pod], ended) for pod in placement}
    result["replica_seconds"] = round(sum(sum(found) for found in result["pauses"].values()), 1)
    result["longest_pause"] = max((max(found) for found in result["pauses"].values() if found), default=0.0)
    result["evicted_too_soon"] = evicted_too_soon(pods.between(began, ended), began)
    result["wall"] = round(ended - began, 1)
    result["api_requests"] = len(runner.front.between(began, ended))
    result["api_requests_compared"] = sum(len(runner.front.between(s["start"], s["end"])) for s in result["compared"])
    result["compared_wall"] = round(sum(s["end"] - s["start"] for s in result["compared"]), 1)
    result["lives"] = pods.between(began, ended)
    result["began"] = began
    for segment in result["segments"]:
        segment["seconds"] = round(segment["end"] - segment["start"], 1)
    return result


def timeline_of(result: dict) -> dict:
    """Where a contender spent each compared step: from its start to the first deletion, the deletions to the last
    Ready, the last Ready to its return (seconds)."""
    parts = {}
    for segment in result["compared"]:
        def within(moment, start=segment["start"], end=segment["end"]):
            return moment is not None and start <= moment <= end
        deleted = [life["deleted"] for life in result["lives"] if within(life["deleted"])]
        readied = [life["ready"] for life in result["lives"] if within(life["ready"])]
        if deleted and readied:
            parts[segment["step"]] = {"to_first_eviction": round(min(deleted) - segment["start"], 1),
                                      "evictions_to_last_ready": round(max(readied) - min(deleted), 1),
                                      "last_ready_to_return": round(segment["end"] - max(readied), 1)}
        else:
            parts[segment["step"]] = {"seconds": round(segment["end"] - segment["start"], 1), "moved": 0}
    return parts


def set_up(bench_lab, runner) -> None:
    done = runner.playbook("bench/drain_setup.yml", {"bench_statefulsets": STATEFULSETS})
    if done["rc"]:
        raise Broken(f"bench/drain_setup.yml failed: {tail(done['output'])}")


def starting_state(api) -> dict:
    """The placement and the scenario's nodes: zone A's node with the most replicas, zone B's nodes busiest first, A and
    B the zones whose busiest nodes hold the most replicas."""
    placement = wait_all_ready(api, 3 * len(STATEFULSETS), 300)
    nodes_by_zone = zones(api)
    load = {node: sum(1 for home in placement.values() if home == node) for nodes in nodes_by_zone.values() for node in nodes}
    ordered = sorted(nodes_by_zone, key=lambda zone: (-max(load[node] for node in nodes_by_zone[zone]), zone))
    zone_a, zone_b = ordered[0], ordered[1]
    node_a = max(nodes_by_zone[zone_a], key=lambda node: (load[node], node))
    nodes_b = sorted(nodes_by_zone[zone_b], key=lambda node: (-load[node], node))
    return {"placement": placement, "nodes_by_zone": nodes_by_zone, "load": load, "node_a": node_a, "zone_a": zone_a,
            "zone_b": nodes_b, "zone_b_name": zone_b}


def main() -> int:
    started = time.monotonic()
    contenders = (("ours", ours), ("k8s_drain", k8s_drain), ("kubectl", kubectl))
    results, restores = {}, []
    with lab(profile="fast") as bench_lab:
        labdir = LabDir(bench_lab.root)
        runner = Runner(bench_lab)
        set_up(bench_lab, runner)
        api = client.CoreV1Api(controlplane.api_client(runner.admin_kubeconfig))
        state = starting_state(api)
        print(f"drain: {len(STATEFULSETS)} StatefulSets x 3; node A {state['node_a']}, zone B {state['zone_b']}; "
              f"replicas per node {state['load']}", flush=True)
        pods = PodWatch(api)
        durations = {}
        try:
            for name, contender in contenders:
                durations = set_profile(labdir, "realistic")
                results[name] = measure(contender, runner, api, pods, labdir, state)
                print(f"drain: {name}: wall {results[name]['wall']} s (A + B1 {results[name]['compared_wall']} s), "
                      f"stranded {len(results[name]['stranded'])}, replica-seconds {results[name]['replica_seconds']}, "
                      f"evicted too soon {len(results[name]['evicted_too_soon'])}, failures {results[name]['failures']}", flush=True)
                set_profile(labdir, "fast")
                began = time.monotonic()
                for node in (node for nodes in state["nodes_by_zone"].values() for node in nodes):
                    cordon(api, node, False)
                place(api, state["placement"], state["nodes_by_zone"])
                wait_all_ready(api, len(state["placement"]), 300, state["placement"])
                restores.append(round(time.monotonic() - began, 1))
        finally:
            pods.stop()
            runner.front.stop()
    load = state["load"]
    floor_a, floor_b1 = step_floor(durations, load[state["node_a"]]), step_floor(durations, load[state["zone_b"][0]])
    floor = floor_a + floor_b1
    mine, library, cli = results["ours"], results["k8s_drain"], results["kubectl"]
    rows = [
        Row("A + B1 wall vs floor", "s", mine["compared_wall"], "<=", 1.05, floor=floor,
            note=f"floor A {floor_a:g} + B1 {floor_b1:g}; ours' refused zone call included"),
        Row("A + B1 wall vs kubectl", "s", mine["compared_wall"], "<=", 1.0, peer=cli["compared_wall"], peer_name="kubectl"),
        Row("A + B1 wall vs k8s_drain", "s", mine["compared_wall"], "<=", 1.0, peer=library["compared_wall"], peer_name="k8s_drain"),
        Row("replicas stranded", "pods", len(mine["stranded"]), "==", 0, peer=len(cli["stranded"]), peer_name="kubectl",
            goal_on="value", note=f"k8s_drain {len(library['stranded'])}"),
        Row("replica-seconds down vs best peer", "s", mine["replica_seconds"], "<", 1.0,
            peer=min(library["replica_seconds"], cli["replica_seconds"]),
            peer_name="k8s_drain" if library["replica_seconds"] <= cli["replica_seconds"] else "kubectl",
            note=f"k8s_drain {library['replica_seconds']}, kubectl {cli['replica_seconds']}"),
        Row("longest pause of one replica", "s", mine["longest_pause"], "<=", 1.05, floor=max(floor_a, floor_b1),
            note=f"k8s_drain {library['longest_pause']}, kubectl {cli['longest_pause']}"),
        Row("API requests, A + B1", "requests", mine["api_requests_compared"], "<=", 1.0,
            peer=library["api_requests_compared"], peer_name="k8s_drain",
            note=f"kubectl {cli['api_requests_compared']}; whole runs: ours {mine['api_requests']}, "
                 f"k8s_drain {library['api_requests']}, kubectl {cli['api_requests']}"),
        Row("replicas evicted again within the settle time", "pods", len(mine["evicted_too_soon"]), "==", 0,
            peer=len(cli["evicted_too_soon"]), peer_name="kubectl", goal_on="value",
            note=f"k8s_drain {len(library['evicted_too_soon'])}; settle {SETTLE} s"),
    ]
    started_with = ("placement", "load", "node_a", "zone_a", "zone_b", "zone_b_name")
    details = {"statefulsets": len(STATEFULSETS), "start": {key: state[key] for key in started_with},
               "durations": {kind: durations[kind] for kind in ("pod.stop", "vm.detach", "vm.attach", "pod.start", "pod.ready")},
               "floor": {"A": floor_a, "B1": floor_b1}, "restore_seconds": restores,
               "contenders": {name: {key: value for key, value in result.items() if key not in ("lives", "compared", "began")}
                              | {"timeline": timeline_of(result)} for name, result in results.items()}}
    path = write_result("drain", rows, "realistic", started, details)
    for name, result in results.items():
        print(f"drain: {name} timeline {json.dumps(timeline_of(result))}")
    print(f"drain: floor A {floor_a:g} s + B1 {floor_b1:g} s; result {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Broken as broken:
        print(f"drain: {broken}", file=sys.stderr)
        sys.exit(1)
