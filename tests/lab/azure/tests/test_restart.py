"""A restart loses nothing: resources stay, and operations in flight finish (or fail cleanly) after it."""

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient

from .helpers import empty_disk, error_code


def _slow(emulator, seconds):
    emulator.admin("PUT", "profile", json={"name": "fast", "overrides": {"disk.create": seconds}})


def test_sigkill_mid_operation(emulator):
    compute = emulator.client(ComputeManagementClient)
    compute.disks.begin_create_or_update("kept", "before", empty_disk()).result()
    emulator.admin("POST", f"disks{compute.disks.get('kept', 'before').id}/append", data=b"survives\n")
    _slow(emulator, 5)
    started = time.monotonic()
    poller = compute.disks.begin_create_or_update("kept", "in-flight", empty_disk())
    token = poller.continuation_token()
    emulator.kill()
    emulator.start()
    compute = emulator.client(ComputeManagementClient)
    assert compute.disks.get("kept", "before").provisioning_state == "Succeeded"
    state = compute.disks.get("kept", "in-flight").provisioning_state
    assert state == "Creating" or time.monotonic() - started >= 5, "still creating unless its time passed during the restart"
    resumed = compute.disks.begin_create_or_update("kept", "in-flight", empty_disk(), continuation_token=token).result()
    assert resumed.provisioning_state == "Succeeded"
    before = compute.disks.get("kept", "before")
    assert emulator.admin("GET", f"disks{before.id}/bytes").content == b"survives\n"


def test_poller_completes_across_a_graceful_restart(emulator):
    """What ``python -m lab down --keep`` then ``up`` does to a client polling an operation: it keeps polling, then succeeds."""
    compute = emulator.client(ComputeManagementClient)
    _slow(emulator, 5)
    started = time.monotonic()
    poller = compute.disks.begin_create_or_update("kept", "across", empty_disk())
    emulator.stop()
    emulator.start()
    assert not poller.done() or time.monotonic() - started >= 5, "the operation outlived the old process"
    assert poller.result(timeout=30).provisioning_state == "Succeeded"
    operations = emulator.admin("GET", "operations").json()["operations"]
    assert [operation["status"] for operation in operations if operation["resourceId"].endswith("/disks/across")] == ["Succeeded"]


def test_failing_operation_fails_cleanly_across_a_restart(emulator):
    compute = emulator.client(ComputeManagementClient)
    _slow(emulator, 2)
    emulator.admin("POST", "faults", json={"method": "PUT", "path": "/disks/doomed$", "action": "lro-fail", "code": "InternalDiskManagementError"})
    poller = compute.disks.begin_create_or_update("kept", "doomed", empty_disk())
    emulator.stop()
    emulator.start()
    with pytest.raises(HttpResponseError) as caught:
        poller.result(timeout=30)
    assert error_code(caught) == "InternalDiskManagementError"
    assert compute.disks.get("kept", "doomed").provisioning_state == "Failed"
    assert compute.disks.begin_delete("kept", "doomed").result() is None, "a failed disk can be deleted"


def test_restart_ends_an_endless_operation(emulator):
    """An ``lro-hang`` rule dies with the process; the operation it held then takes its normal time instead of blocking the disk forever."""
    compute = emulator.client(ComputeManagementClient)
    emulator.admin("POST", "faults", json={"method": "PUT", "path": "/disks/stuck$", "action": "lro-hang"})
    poller = compute.disks.begin_create_or_update("kept", "stuck", empty_disk())
    poller.wait(timeout=0.5)
    assert not poller.done()
    emulator.stop()
    emulator.start()
    assert poller.result(timeout=30).provisioning_state == "Succeeded"
    assert compute.disks.begin_update("kept", "stuck", {"properties": {"diskSizeGB": 16}}).result().disk_size_gb == 16
