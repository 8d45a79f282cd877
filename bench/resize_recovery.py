"""Benchmark: offline resize of a 3-replica StatefulSet and fenced recovery of a dead node, realistic profile.

One lab: a pool over 3 zones with 2 nodes each, the CSI driver, the StatefulSet of ``playbooks/stateful_app.yml``
with 3 replicas (one per zone, zonal disks) whose pods the lab's writer writes through once a second, all set up
under the fast profile; then the lab switches to the realistic profile without its spread (each operation takes its
kind's nominal time, so the floors below are the lab's own times).

(i) ``playbooks/resize.yml`` grows the 3 claims offline (``volume_resize_mode: offline``). Measured: each pod's
downtime (the writer's pause on its disk) and the StatefulSet's (the role's ``downtime_seconds``, the scale to 0 until
every replica is Ready). Floor: the StatefulSet's default ``OrderedReady`` policy stops the pods one at a time from
the highest ordinal and starts them one at a time from 0, each once the one before is Ready; detaches and disk
resizes run in parallel. With N replicas, ordinal i deleted at ``(N-1-i) * pod.stop``::

    detached  = max_i((N-i) * pod.stop + vm.detach_i)
    grown     = detached + max_i(disk.update_i)
    ready(k)  = grown + sum_{j<=k}(vm.attach_j + pod.start + pod.ready)
    floor(pod i) = ready(i) - (N-1-i) * pod.stop;   floor(StatefulSet) = ready(N-1)

Goal: each ratio <= 1.2 (the row shows the pod with the highest ratio).

(ii) The VM of replica 0's node is deallocated (``python -m lab power deallocate``); once the node is NotReady and
Azure reports the VM deallocated (what ``node_fence`` requires before it fences), ``playbooks/recover_node.yml``
fences the node and waits until the pod is Ready on the other node of its zone. Measured: the pod's downtime (the
writer's pause) and the end-to-end time from the deallocation's start in Azure to the playbook's end. Floor::

    fenceable = max(NotReady, deallocated)    # the node's Ready condition turning Unknown (node-monitor grace
                                              # period after the kubelet's lease stopped), the vm.deallocate operation
    floor     = fenceable + vm.detach + vm.attach + pod.start + pod.ready

Peer, modelled (it takes over 6 minutes): Kubernetes' own path, where the attach-detach controller force-detaches the
volume only after ``maxWaitForUnmountDuration`` (6 min), and the pod is replaced only once the node is deleted or
out-of-service: ``NotReady + 360 s + vm.detach + vm.attach + pod.start + pod.ready``, with this run's times, a lower
bound of that path. Goals: downtime / floor <= 1.2, end to end <= 120 s.

    PYTHONPATH=tests python bench/resize_recovery.py
"""

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, Row, lab, write_result  # noqa: E402  # pylint: disable=wrong-import-position
from stateful_lab import (  # noqa: E402  # pylint: disable=wrong-import-position
    core, gaps, line_count, operations, playbook, pod_name, ready_pods, realistic, stateful_cluster, took, vm_operation,
    wait_lines, writer_text)

REPLICAS = 3
ZONES = 3
NODES_PER_ZONE = 2
FORCE_DETACH_SECONDS = 360  # the attach-detach controller's maxWaitForUnmountDuration
ORDINALS = range(REPLICAS)


def resize(started_lab, times: dict) -> tuple:
    """The offline resize: rows and details."""
    before = {ordinal: line_count(writer_text(started_lab, ordinal)) for ordinal in ORDINALS}
    began = time.time()
    facts = playbook(started_lab, "resize", {"volume_resize_size": "2Gi", "volume_resize_mode": "offline",
                                             "volume_resize_ignore_pdb": True})
    ended = operations(started_lab, began)
    finished = time.time()
    stop, start_ready = times["pod.stop"], times["pod.start"] + times["pod.ready"]
    pauses, detaches, attaches = {}, {}, {}
    for ordinal in ORDINALS:
        found = gaps(writer_text(started_lab, ordinal), before[ordinal])
        if len(found) != 1:
            raise RuntimeError(f"{pod_name(ordinal)}: expected one pause of its writer during the resize, found {found}")
        pauses[ordinal] = found[0]
        detaches[ordinal] = took(vm_operation(ended, ("vm.detach",), found[0]["from_node"], began, finished))
        attaches[ordinal] = took(vm_operation(ended, ("vm.attach",), found[0]["to_node"], began, finished))
    updates = [took(operation) for operation in ended if operation["kind"] == "disk.update"]
    if len(updates) != REPLICAS:
        raise RuntimeError(f"expected {REPLICAS} disk.update operations, found {len(updates)}")
    detached = max((REPLICAS - ordinal) * stop + detaches[ordinal] for ordinal in ORDINALS)
    grown = detached + max(updates)
    ready, total = {}, grown
    for ordinal in ORDINALS:
        total += attaches[ordinal] + start_ready
        ready[ordinal] = total
    floors = {ordinal: round(ready[ordinal] - (REPLICAS - 1 - ordinal) * stop, 1) for ordinal in ORDINALS}
    worst = max(ORDINALS, key=lambda ordinal: pauses[ordinal]["seconds"] / floors[ordinal])
    statefulset = facts["volume_resize_result"]["downtime_seconds"]
    downtimes = {pod_name(ordinal): pauses[ordinal]["seconds"] for ordinal in ORDINALS}
    print(f"resize: pod downtimes {downtimes} (floors {[floors[o] for o in ORDINALS]}); StatefulSet {statefulset} s "
          f"(floor {round(ready[REPLICAS - 1], 1)} s)")
    rows = [
        Row("offline resize: pod downtime (worst pod)", "s", pauses[worst]["seconds"], "<=", 1.2,
            floor=floors[worst], note=f"{pod_name(worst)}; OrderedReady stops and starts one pod at a time"),
        Row("offline resize: StatefulSet downtime", "s", statefulset, "<=", 1.2, floor=round(ready[REPLICAS - 1], 1),
            note="the role's downtime_seconds: scale to 0 until every replica is Ready"),
    ]
    details = {"pod_downtime_seconds": downtimes, "pod_floor_seconds": {pod_name(o): floors[o] for o in ORDINALS},
               "statefulset_downtime_seconds": statefulset, "statefulset_floor_seconds": round(ready[REPLICAS - 1], 1),
               "vm_detach_seconds": detaches, "vm_attach_seconds": attaches, "disk_update_seconds": updates,
               "playbook_seconds": round(finished - began, 1)}
    return rows, details


def _ready_condition(node) -> tuple:
    """(status, lastTransitionTime as epoch) of a node's Ready condition."""
    for condition in node.status.conditions or []:
        if condition.type == "Ready":
            return condition.status, condition.last_transition_time.timestamp()
    return None, None


def recovery(started_lab, times: dict) -> tuple:  # pylint: disable=too-many-locals
    """The VM of replica 0's node deallocated, then recover_node.yml: rows and details. Times count from the
    deallocation's start in Azure (its operation)."""
    api = core(started_lab)
    dead = ready_pods(started_lab, [0])[pod_name(0)]
    provider_id = api.read_node(dead).spec.provider_id
    before = line_count(writer_text(started_lab, 0))
    launched = time.time()
    deallocate = [sys.executable, "-m", "lab", "power", "deallocate", provider_id]
    with subprocess.Popen(deallocate, cwd=REPO, env=started_lab.env,  # noqa: S603 - this Python, the lab's own node
                          stdout=subprocess.DEVNULL) as deallocating:
        while _ready_condition(api.read_node(dead))[0] == "True":
            if time.time() - launched > 180:
                raise RuntimeError(f"node {dead} still Ready 180 s after its VM was deallocated")
            time.sleep(0.5)
        if deallocating.wait(timeout=180):
            raise RuntimeError(f"python -m lab power deallocate failed for {provider_id}")
    fencing = time.time()
    playbook(started_lab, "recover_node")
    finished = time.time()
    ended = operations(started_lab, launched)
    deallocation = [operation for operation in ended if operation["kind"] == "vm.deallocate"]
    if not deallocation:
        raise RuntimeError("no vm.deallocate operation in the lab's log")
    off = deallocation[0]["started"]
    found = gaps(writer_text(started_lab, 0), before)
    if len(found) != 1 or found[0]["to_node"] == dead:
        raise RuntimeError(f"{pod_name(0)}: expected one pause of its writer and a move off {dead}, found {found}")
    pause = found[0]
    not_ready = _ready_condition(api.read_node(dead))[1] - off
    deallocated = deallocation[0]["deadline"] - off
    detach = took(vm_operation(ended, ("vm.detach",), dead, launched, finished))
    attach = took(vm_operation(ended, ("vm.attach",), pause["to_node"], launched, finished))
    moved = detach + attach + times["pod.start"] + times["pod.ready"]
    floor = round(max(not_ready, deallocated) + moved, 1)
    unassisted = round(not_ready + FORCE_DETACH_SECONDS + moved, 1)
    end_to_end = round(finished - off, 1)
    print(f"recovery: {pod_name(0)} {dead} -> {pause['to_node']}: downtime {pause['seconds']} s, end to end {end_to_end} s "
          f"(floor {floor} s; NotReady after {not_ready:.1f} s, deallocated after {deallocated:.1f} s, recover_node.yml started "
          f"after {fencing - off:.1f} s, the pod Ready again after {pause['to'] - off:.1f} s; unassisted >= {unassisted} s)")
    rows = [
        Row("fenced recovery: pod downtime", "s", pause["seconds"], "<=", 1.2, peer=unassisted, peer_name="unassisted, modelled",
            floor=floor, note="writer's pause; floor max(NotReady, deallocated) + detach + attach + start + ready"),
        Row("fenced recovery: end to end from VM off", "s", end_to_end, "<=", 120, peer=unassisted,
            peer_name="unassisted, modelled", floor=floor, goal_on="value", note="deallocation's start to recover_node.yml's end"),
    ]
    details = {"node": dead, "to_node": pause["to_node"], "pod_downtime_seconds": {pod_name(0): pause["seconds"]},
               "end_to_end_seconds": end_to_end, "not_ready_after_seconds": round(not_ready, 1),
               "deallocated_after_seconds": round(deallocated, 1), "playbook_started_after_seconds": round(fencing - off, 1),
               "pod_writing_again_after_seconds": round(pause["to"] - off, 1), "playbook_seconds": round(finished - fencing, 1),
               "vm_detach_seconds": detach, "vm_attach_seconds": attach, "floor_seconds": floor, "unassisted_seconds": unassisted,
               "unassisted_formula": f"NotReady + {FORCE_DETACH_SECONDS} + vm.detach + vm.attach + pod.start + pod.ready"}
    return rows, details


def main():
    """Set up under the fast profile, measure both under the realistic one, write the result."""
    started = time.monotonic()
    with lab(profile="fast") as started_lab:
        stateful_cluster(started_lab, ZONES, NODES_PER_ZONE, REPLICAS)
        wait_lines(started_lab, ORDINALS, 3)
        times = realistic(started_lab)
        set_up = round(time.monotonic() - started, 1)
        resize_rows, resize_details = resize(started_lab, times)
        recovery_rows, recovery_details = recovery(started_lab, times)
    kinds = ("vm.attach", "vm.detach", "disk.update", "vm.deallocate", "pod.start", "pod.ready", "pod.stop")
    details = {"set_up_seconds": set_up, "resize": resize_details, "recovery": recovery_details,
               "profile": {kind: times[kind] for kind in kinds}}
    path = write_result("resize_recovery", resize_rows + recovery_rows, "realistic (spread 0)", started, details)
    print(f"resize_recovery: wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
