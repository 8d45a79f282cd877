"""`python -m lab restart`: the emulator and the kube-apiserver stop and start again under clients that keep running.

A lab of this module's own with Kubernetes (the binaries of make lab-setup); the clients are made before the
restart and used after it unchanged, as the modules, the CSI driver and the bridge use theirs.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import json
import threading

import pytest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from kubernetes import client, config
from urllib3.exceptions import MaxRetryError

from lab.cli.compute import sdk_client
from lab.cli.labdir import read_exports
from lab.kube import controlplane
from lab.tests.conftest import lab_cli, wait_for

pytestmark = pytest.mark.skipif(bool(controlplane.missing_binaries()), reason="lab Kubernetes binaries not built; run make lab-setup")


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    """A whole lab of this module's own."""
    folder = tmp_path_factory.mktemp("restart-lab")
    lab_cli(folder, "up")
    yield folder
    lab_cli(folder, "down")


@pytest.fixture(scope="module")
def exports(lab_dir):
    """The lab's env file."""
    return read_exports(lab_dir / "env")


def _restart(lab_dir, *args):
    return json.loads(lab_cli(lab_dir, "restart", *args))


def test_restart_azure_keeps_port_state_settings_and_operations(lab_dir, exports):
    """Same port, same resources and latency profile; a disk creation polled across the restart completes."""
    resources = sdk_client(ResourceManagementClient, exports)
    resources.resource_groups.create_or_update("restart", {"location": "westeurope"})
    compute = sdk_client(ComputeManagementClient, exports)
    lab_cli(lab_dir, "profile", "realistic")
    port = json.loads((lab_dir / "azure" / "azure.json").read_text())["port"]
    try:
        poller = compute.disks.begin_create_or_update("restart", "restart-d1", {
            "location": "westeurope", "sku": {"name": "Premium_LRS"}, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4}})
        assert not poller.done()
        restarted = _restart(lab_dir, "azure", "--kill", "--down-for", "1")
        assert restarted["server"] == "azure" and restarted["port"] == port and restarted["down_seconds"] >= 1
        assert poller.result().provisioning_state == "Succeeded"
        assert json.loads(lab_cli(lab_dir, "profile"))["name"] == "realistic"
    finally:
        lab_cli(lab_dir, "profile", "fast")
    assert resources.resource_groups.check_existence("restart")
    assert compute.disks.get("restart", "restart-d1").disk_size_gb == 4
    assert lab_cli(lab_dir, "status").startswith(f"azure: running, pid {restarted['pid']}, https://127.0.0.1:{port},")


def test_restart_apiserver_refuses_while_down_and_serves_the_same_cluster_after(lab_dir, exports):
    """Down for the seconds asked (the API refuses connections meanwhile), then the same objects at the same address;
    the controllers that kept running act on new objects again."""
    api = config.new_client_from_config(config_file=exports["KUBECONFIG"])
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "before-restart"}})
    before = {p["name"]: p["pid"] for p in controlplane.status(lab_dir / "kube")["processes"]}
    refused = []

    def probe():
        try:
            core.list_namespace(_request_timeout=2)
        except MaxRetryError as exc:
            refused.append(exc)

    prober = threading.Timer(1.0, probe)
    prober.start()
    restarted = _restart(lab_dir, "apiserver", "--kill", "--down-for", "3")
    prober.join()
    assert restarted["server"] == "apiserver" and restarted["down_seconds"] >= 3 and refused
    after = {p["name"]: (p["pid"], p["alive"]) for p in controlplane.status(lab_dir / "kube")["processes"]}
    assert after.pop("kube-apiserver") == (restarted["pid"], True) and restarted["pid"] != before.pop("kube-apiserver")
    assert after == {name: (pid, True) for name, pid in before.items()}
    assert core.read_namespace("before-restart").metadata.name == "before-restart"
    core.create_namespace({"metadata": {"name": "after-restart"}})
    # The controller-manager gives every new namespace its default ServiceAccount once it watches again.
    wait_for(lambda: core.list_namespaced_service_account("after-restart").items, 60, "the default ServiceAccount after the restart")
    api.close()
