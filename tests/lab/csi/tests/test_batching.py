"""Attach and detach batching: concurrent requests for one VM go to Azure as one VM update, as the driver sends them."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from .conftest import CSI_GRPC, start_controller, stop_controller
from .test_controller import create, data_disks, delete, publish, unpublish

SLOW_UPDATE = 1.0
INITIAL_DELAY = 1.0  # the controller's --attach-detach-initial-delay-ms default (AKS's), which these tests time


@pytest.fixture(scope="module")
def csi(lab, cluster, tmp_path_factory):
    """A controller of this module's own, batching with the driver's default initial delay."""
    running = start_controller(tmp_path_factory.mktemp("batching-csi"), lab.info, cluster.node_group,
                               initial_delay_ms=int(INITIAL_DELAY * 1000))
    with grpc.insecure_channel(running.endpoint) as channel:
        yield CSI_GRPC.ControllerStub(channel)
    stop_controller(running)


def vm_updates(lab, since, node):
    """The accepted PUTs of the node's VM after request ``since``."""
    vmss, instance = node[:-6], int(node[-6:], 36)
    path = f"/virtualMachineScaleSets/{vmss}/virtualMachines/{instance}"
    return [entry for entry in lab.admin("GET", "requests", params={"since": since}).json()["requests"]
            if entry["method"] == "PUT" and entry["path"].endswith(path) and entry["status"] < 400]


def last_request(lab):
    """The sequence number of the emulator's last logged request."""
    entries = lab.admin("GET", "requests").json()["requests"]
    return entries[-1]["seq"] if entries else 0


@pytest.fixture
def slow_vm_updates(lab):
    """VM attach and detach take SLOW_UPDATE seconds, so requests arriving meanwhile queue for the next update."""
    lab.admin("PUT", "profile", json={"name": "fast", "overrides": {"vm.attach": SLOW_UPDATE, "vm.detach": SLOW_UPDATE}})
    yield
    lab.admin("PUT", "profile", json={"name": "fast"})


def staggered(call, csi, node, volumes, lag):
    """Run ``call`` for the first volume, and ``lag`` seconds later for the others at once; their results in order."""
    with ThreadPoolExecutor(max_workers=len(volumes)) as pool:
        leading = pool.submit(call, csi, volumes[0], node)
        time.sleep(lag)
        gate = threading.Barrier(len(volumes) - 1)

        def after_gate(volume):
            gate.wait()
            return call(csi, volume, node)
        following = [pool.submit(after_gate, volume) for volume in volumes[1:]]
        return [leading.result(timeout=30)] + [future.result(timeout=30) for future in following]


def vm_operations(lab, node, kind, since):
    """The emulator's operations of ``kind`` on the node's VM that started after epoch ``since``."""
    suffix = f"/virtualmachines/{int(node[-6:], 36)}"
    return [operation for operation in lab.admin("GET", "operations").json()["operations"]
            if operation["kind"] == kind and operation["resourceId"].lower().endswith(suffix) and operation["started"] >= since]


def test_requests_within_the_initial_delay_share_one_vm_update(csi, compute, cluster, lab, slow_vm_updates):
    """Attaches arriving while the first one waits its initial delay go in its VM update: one PUT, one operation; detaches too."""
    node = cluster.zones["2"][0]
    volumes = [create(csi, preferred=("2",)) for _number in range(3)]
    since, began = last_request(lab), time.time()
    luns = staggered(publish, csi, node, volumes, INITIAL_DELAY / 3)
    assert sorted(luns) == ["0", "1", "2"]
    assert set(data_disks(compute, cluster, node)) == {volume.volume_id.rsplit("/", 1)[1] for volume in volumes}
    assert len(vm_updates(lab, since, node)) == 1, vm_updates(lab, since, node)
    assert len(vm_operations(lab, node, "vm.attach", began)) == 1

    since, began = last_request(lab), time.time()
    staggered(unpublish, csi, node, volumes, INITIAL_DELAY / 3)
    assert not data_disks(compute, cluster, node)
    assert len(vm_updates(lab, since, node)) == 1, vm_updates(lab, since, node)
    assert len(vm_operations(lab, node, "vm.detach", began)) == 1
    for volume in volumes:
        delete(csi, volume)


def test_requests_during_an_update_go_together_in_the_next(csi, compute, cluster, lab, slow_vm_updates):
    """Attaches arriving while a VM update runs wait for it and then share the next update: two PUTs for three disks."""
    node = cluster.zones["2"][0]
    volumes = [create(csi, preferred=("2",)) for _number in range(3)]
    since = last_request(lab)
    started = time.monotonic()
    staggered(publish, csi, node, volumes, INITIAL_DELAY + SLOW_UPDATE / 2)
    elapsed = time.monotonic() - started
    assert len(data_disks(compute, cluster, node)) == 3
    assert len(vm_updates(lab, since, node)) == 2, vm_updates(lab, since, node)
    assert elapsed < 2 * (INITIAL_DELAY + SLOW_UPDATE) + 1.5, f"three attaches in two updates took {elapsed:.1f} s"
    for volume in volumes:
        unpublish(csi, volume, node)
        delete(csi, volume)


def test_the_same_volume_twice_in_a_batch_gets_one_lun(csi, compute, cluster, lab):
    """Two publishes of one volume queued together share its attach: the same LUN for both, one VM update."""
    node = cluster.zones["2"][0]
    volumes = [create(csi, preferred=("2",)) for _number in range(2)]
    since = last_request(lab)
    luns = staggered(publish, csi, node, [volumes[0], volumes[0], volumes[1]], INITIAL_DELAY / 3)
    assert luns[0] == luns[1] and sorted(set(luns)) == ["0", "1"], luns
    assert len(data_disks(compute, cluster, node)) == 2
    assert len(vm_updates(lab, since, node)) == 1, vm_updates(lab, since, node)
    for volume in volumes:
        unpublish(csi, volume, node)
        delete(csi, volume)
