"""Benchmark: node image upgrade of a 3-zone pool running a zonal StatefulSet, realistic profile.

One lab: a pool of 3 nodes, one in each of 3 zones, the CSI driver and the StatefulSet of ``playbooks/stateful_app.yml``
with 3 replicas (one per zone, zonal disks, a PodDisruptionBudget of one unavailable pod) whose pods the lab's writer
writes through once a second, set up under the fast profile. Then the lab switches to the realistic profile without
its spread (each step takes its kind's nominal time, so the floors below are the lab's own times) and
``playbooks/upgrade.yml`` (role ``cluster_upgrade``) upgrades the pool's node image with max surge 3, the zone count:
a surge node joins in each zone; as AKS does, the old nodes are cordoned and drained in batches of as many nodes as
surge nodes (here all three at once; the PodDisruptionBudget lets one pod go at a time, each to the surge node of its
zone), reimaged together and uncordoned; last the surge nodes are drained (the pods move back) and removed.

Measured: each pod's downtime (the writer's longest pause on its disk; the role's report beside it), the upgrade's
wall time, and at the end every replica Ready with its disk's earlier lines intact and new ones after them (the
figure fails otherwise). Floors, from the profile's times and this run's attach and detach operations::

    move      = pod.stop + vm.detach + vm.attach + pod.start + pod.ready     # one pod to the other node of its zone
    pod floor = the move of the pod's longest pause                          # reimages are not on a pod's path
    wall      = agentPool.surgeNode
                + per batch: its moves out but the last + pod.stop + agentPool.reimage
                + the moves back off the surge nodes

(a batch's drain ends when its last pod is gone, the reimage follows; the budget lets the pods move one at a time, out
and back). Goals: max pod downtime / its floor <= 1.2, as for the other moves of a pod; wall / its floor <= 1.1: the
upgrade is AKS's own sequence of surge, drains and reimages, and what the collection adds to it (the plan and zonal
preflight before the write, ARM's polling interval of up to 15 s, the Ready wait and the checks after it) should stay
within a tenth of it. The details split the wall into the time before AKS's operation, the operation (against the
floor: how close the lab's sequence runs to its modelled times) and the time after it.

    PYTHONPATH=tests python bench/upgrade.py
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, Row, lab, write_result  # noqa: E402  # pylint: disable=wrong-import-position
from stateful_lab import (  # noqa: E402  # pylint: disable=wrong-import-position
    gaps, line_count, operations, playbook, pod_name, ready_pods, realistic, stateful_cluster, took, vm_operation, wait_lines,
    writer_text)

REPLICAS = 3
ZONES = 3
SURGE = ZONES
ORDINALS = range(REPLICAS)


def moves(started_lab, before: dict, ended: list, times: dict) -> dict:
    """{ordinal: the writer's pauses of that replica, each with its move's floor and the operations behind it}."""
    found = {}
    for ordinal in ORDINALS:
        pauses = gaps(writer_text(started_lab, ordinal), line_count(before[ordinal]))
        for pause in pauses:
            window = (pause["from"] - 2, pause["to"])
            pause["vm_detach"] = took(vm_operation(ended, ("vm.detach",), pause["from_node"], *window))
            pause["vm_attach"] = took(vm_operation(ended, ("vm.attach",), pause["to_node"], *window))
            pause["floor"] = round(times["pod.stop"] + pause["vm_detach"] + pause["vm_attach"] + times["pod.start"]
                                   + times["pod.ready"], 1)
        found[ordinal] = pauses
    return found


def wall_floor(found: dict, times: dict) -> float:
    """The upgrade's floor (module docstring) from the pods' moves out (their first pause) and back (their last)."""
    outs = sorted((pauses[0] for pauses in found.values() if pauses), key=lambda pause: pause["from"])
    backs = [pauses[-1] for pauses in found.values() if len(pauses) > 1]
    floor = times["agentPool.surgeNode"]
    for first in range(0, len(outs), SURGE):
        batch = outs[first:first + SURGE]
        floor += sum(pause["floor"] for pause in batch[:-1]) + times["pod.stop"] + times["agentPool.reimage"]
    return round(floor + sum(pause["floor"] for pause in backs), 1)


def intact(started_lab, before: dict) -> dict:
    """{pod: why it is not Ready with its data intact} (empty when every replica is)."""
    ready, problems = ready_pods(started_lab, ORDINALS), {}
    for ordinal in ORDINALS:
        after = writer_text(started_lab, ordinal)
        if pod_name(ordinal) not in ready:
            problems[pod_name(ordinal)] = "not Ready"
        elif not after.startswith(before[ordinal]):
            problems[pod_name(ordinal)] = "lines written before the upgrade are missing or changed"
        elif line_count(after) <= line_count(before[ordinal]):
            problems[pod_name(ordinal)] = "no line written since the upgrade"
    return problems


def main():  # pylint: disable=too-many-locals
    """Set up under the fast profile, upgrade under the realistic one, write the result."""
    started = time.monotonic()
    with lab(profile="fast") as started_lab:
        stateful_cluster(started_lab, ZONES, 1, REPLICAS)
        wait_lines(started_lab, ORDINALS, 3)
        times = realistic(started_lab)
        set_up = round(time.monotonic() - started, 1)
        before = {ordinal: writer_text(started_lab, ordinal) for ordinal in ORDINALS}
        began = time.time()
        facts = playbook(started_lab, "upgrade", {"cluster_upgrade_node_pools": [{"name": "nodepool1", "node_image": True}],
                                                  "cluster_upgrade_settings": {"max_surge": str(SURGE)}})
        wall = round(time.time() - began, 1)
        time.sleep(3)  # a few lines after the last pod turned Ready
        problems = intact(started_lab, before)
        ended = operations(started_lab, began)
        found = moves(started_lab, before, ended, times)
    pool_runs = [operation for operation in ended if operation["kind"] == "agentPool.upgrade"]
    if len(pool_runs) != 1:
        raise SystemExit(f"upgrade: expected one agentPool.upgrade operation, found {len(pool_runs)}")
    azure = pool_runs[0]
    for pauses in found.values():
        for pause in pauses:
            pause.update(paused_after=round(pause["from"] - azure["started"], 1), resumed_after=round(pause["to"] - azure["started"], 1))
    phases = {"before_the_operation": round(azure["started"] - began, 1), "operation": round(azure["ended"] - azure["started"], 1),
              "after_the_operation": round(began + wall - azure["ended"], 1)}
    downtimes = {pod_name(o): max((pause["seconds"] for pause in found[o]), default=0.0) for o in ORDINALS}
    worst = max(ORDINALS, key=lambda ordinal: downtimes[pod_name(ordinal)])
    worst_move = max(found[worst], key=lambda pause: pause["seconds"], default=None)
    if worst_move is None:
        raise SystemExit("upgrade: no replica paused: the upgrade moved no pod")
    floor = wall_floor(found, times)
    report = {entry["pod"].split("/")[-1]: entry["seconds"] for entry in facts.get("cluster_upgrade_report", [])}
    print(f"upgrade: wall {wall} s (floor {floor} s; {phases}); pod downtimes {downtimes} (writer), {report} (the role's report)")
    print(f"upgrade: longest pause {downtimes[pod_name(worst)]} s of {pod_name(worst)}, {worst_move['from_node']} -> "
          f"{worst_move['to_node']} (floor {worst_move['floor']} s); problems: {problems or 'none'}")
    rows = [
        Row("node image upgrade: max pod downtime", "s", downtimes[pod_name(worst)], "<=", 1.2, floor=worst_move["floor"],
            note=f"{pod_name(worst)}: writer's longest pause; floor stop + detach + attach + start + ready"),
        Row("node image upgrade: wall", "s", wall, "<=", 1.1, floor=floor,
            note=f"AKS's operation {phases['operation']} s, the playbook before it {phases['before_the_operation']} s, "
                 f"after it {phases['after_the_operation']} s"),
        Row("node image upgrade: replicas Ready with data intact", "pods", REPLICAS - len(problems), "==", REPLICAS,
            goal_on="value", note="; ".join(f"{pod}: {why}" for pod, why in problems.items())),
    ]
    details = {"set_up_seconds": set_up, "wall_seconds": wall, "wall_floor_seconds": floor, "wall_phases_seconds": phases,
               "pod_downtime_seconds": downtimes, "role_report_seconds": report, "moves": {pod_name(o): found[o] for o in ORDINALS},
               "problems": problems, "profile": {kind: times[kind] for kind in (
                   "agentPool.surgeNode", "agentPool.reimage", "vm.attach", "vm.detach", "pod.start", "pod.ready", "pod.stop")}}
    path = write_result("upgrade", rows, "realistic (spread 0)", started, details)
    print(f"upgrade: wrote {path.relative_to(REPO)}")
    if problems:
        raise SystemExit(f"upgrade: replicas not Ready with their data intact: {problems}")


if __name__ == "__main__":
    main()
