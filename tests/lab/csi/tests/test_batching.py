"""Attach and detach batching: concurrent requests for one VM go to Azure as one VM update, as the driver sends them."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .test_controller import create, data_disks, delete, publish, unpublish

SLOW_UPDATE = 1.0


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


def test_concurrent_attaches_and_detaches_share_one_vm_update(csi, compute, cluster, lab, slow_vm_updates):
    """One attach runs alone; two arriving while it runs go together in the next VM update; the same for detaches."""
    node = cluster.zones["2"][0]
    first, second, third = (create(csi, preferred=("2",)) for _number in range(3))
    names = {volume.volume_id.rsplit("/", 1)[1] for volume in (first, second, third)}

    def together(call, *volumes):
        """Run ``call`` for the first volume, and for the others at once while its VM update runs; their results."""
        with ThreadPoolExecutor(max_workers=len(volumes)) as pool:
            leading = pool.submit(call, csi, volumes[0], node)
            time.sleep(SLOW_UPDATE / 3)
            gate = threading.Barrier(len(volumes) - 1)

            def after_gate(volume):
                gate.wait()
                return call(csi, volume, node)
            following = [pool.submit(after_gate, volume) for volume in volumes[1:]]
            return [leading.result(timeout=30)] + [future.result(timeout=30) for future in following]

    since = last_request(lab)
    started = time.monotonic()
    luns = together(publish, first, second, third)
    elapsed = time.monotonic() - started
    assert sorted(luns) == ["0", "1", "2"]
    assert set(data_disks(compute, cluster, node)) == names
    assert len(vm_updates(lab, since, node)) == 2, vm_updates(lab, since, node)
    assert elapsed < 3 * SLOW_UPDATE, f"three attaches in two updates took {elapsed:.1f} s"
    operations = [operation for operation in lab.admin("GET", "operations").json()["operations"]
                  if operation["kind"] == "vm.attach" and operation["resourceId"].lower().endswith(
                      f"/virtualmachines/{int(node[-6:], 36)}") and operation["started"] >= time.time() - elapsed - 1]
    assert len(operations) == 2, operations

    since = last_request(lab)
    together(unpublish, first, second, third)
    assert not data_disks(compute, cluster, node)
    assert len(vm_updates(lab, since, node)) == 2, vm_updates(lab, since, node)
    for volume in (first, second, third):
        delete(csi, volume)
