"""A SIGKILL loses nothing: resources stay, and operations in flight finish after the restart."""

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from .helpers import Emulator, empty_disk


def test_sigkill_mid_operation(tmp_path):
    emulator = Emulator(tmp_path).start()
    try:
        resources = emulator.client(ResourceManagementClient)
        compute = emulator.client(ComputeManagementClient)
        resources.resource_groups.create_or_update("kept", {"location": "westeurope"})
        compute.disks.begin_create_or_update("kept", "before", empty_disk()).result()
        emulator.admin("POST", f"disks{compute.disks.get('kept', 'before').id}/append", data=b"survives\n")
        emulator.admin("PUT", "profile", json={"name": "fast", "overrides": {"disk.create": 1.5}})
        poller = compute.disks.begin_create_or_update("kept", "in-flight", empty_disk())
        token = poller.continuation_token()
        emulator.kill()
        emulator.start()
        compute = emulator.client(ComputeManagementClient)
        assert compute.disks.get("kept", "before").provisioning_state == "Succeeded"
        assert compute.disks.get("kept", "in-flight").provisioning_state == "Creating"
        resumed = compute.disks.begin_create_or_update("kept", "in-flight", empty_disk(), continuation_token=token).result()
        assert resumed.provisioning_state == "Succeeded"
        before = compute.disks.get("kept", "before")
        assert emulator.admin("GET", f"disks{before.id}/bytes").content == b"survives\n"
    finally:
        emulator.stop()
