"""Fixtures: the ARM emulator (the emulator tests' own session fixture), an AKS cluster on it whose scale set has
instances in zones 1 and 2, the CSI controller as a process on a unix socket, and gRPC stubs.

The controllers wait the fast lab's attach/detach batching delay (100 ms) rather than the driver's default 1 s; the
batching tests, which time that delay, start one of their own with the default.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

# The emulator's session fixtures (emulator process, SDK clients), reused rather than duplicated.
from lab.azure.tests.conftest import aks, compute, lab, resource_client  # noqa: F401  pylint: disable=unused-import
from lab.cluster import BATCH_DELAY_MS
from lab.csi import protos

CSI, CSI_GRPC = protos.load()
LOCATION = "westeurope"
VM_SIZE = "Standard_D2s_v5"
ATTACH_LIMIT = 4  # data disks of that size
TESTS_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Cluster:
    """The AKS cluster the controller works for."""

    group: str
    node_group: str
    zones: dict  # zone ("1") -> node names


@dataclass
class Controller:
    """A running controller process."""

    endpoint: str
    log: Path
    process: subprocess.Popen


@pytest.fixture(scope="session")
def cluster(aks, resource_client, compute):  # noqa: F811  pylint: disable=redefined-outer-name
    """An AKS cluster with one pool of 4 nodes over zones 1 and 2."""
    group = f"rg-csi-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": LOCATION})
    managed = aks.managed_clusters.begin_create_or_update(group, "csi", {
        "location": LOCATION, "identity": {"type": "SystemAssigned"},
        "properties": {"dnsPrefix": "csi", "agentPoolProfiles": [{
            "name": "nodepool1", "count": 4, "vmSize": VM_SIZE, "availabilityZones": ["1", "2"], "mode": "System",
            "type": "VirtualMachineScaleSets", "osType": "Linux"}]}}).result()
    zones = {}
    for scale_set in compute.virtual_machine_scale_sets.list(managed.node_resource_group):
        for vm in compute.virtual_machine_scale_set_vms.list(managed.node_resource_group, scale_set.name):
            zones.setdefault(vm.zones[0], []).append(vm.os_profile.computer_name)
    return Cluster(group, managed.node_resource_group, zones)


def start_controller(folder, info, node_group, managed_identity=None, initial_delay_ms=BATCH_DELAY_MS["fast"]):
    """Start ``python -m lab.csi`` on a unix socket in ``folder`` with a cloud config file; wait until it answers Probe.

    managed_identity: the client id of a node identity to sign in as through the emulator's IMDS (as AKS's managed
    driver signs in as the kubelet identity), instead of the lab's service principal.
    initial_delay_ms: how long the first attach or detach of a VM waits for more to batch.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "azure.json"
    signin = {"aadClientId": info["client_id"], "aadClientSecret": info["client_secret"]}
    if managed_identity:
        signin = {"useManagedIdentityExtension": True, "userAssignedIdentityID": managed_identity}
    config.write_text(json.dumps({
        "tenantId": info["tenant"], **signin,
        "subscriptionId": info["subscription_id"], "resourceGroup": node_group, "location": LOCATION,
        "resourceManagerEndpoint": info["url"], "activeDirectoryAuthorityHost": info["authority"], "caBundle": info["ca"]}))
    socket_path = folder / "csi.sock"
    log = folder / "csi.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # noqa: S603 - the lab's own argv, no shell
            [sys.executable, "-m", "lab.csi", "--endpoint", f"unix://{socket_path}", "--config", str(config),
             "--attach-detach-initial-delay-ms", str(initial_delay_ms)],
            env=dict(os.environ, PYTHONPATH=str(TESTS_ROOT), AZURE_POD_IDENTITY_AUTHORITY_HOST=info["imds_url"]), stdout=handle,
            stderr=subprocess.STDOUT)
    started = Controller(f"unix://{socket_path}", log, process)
    deadline = time.monotonic() + 30
    with grpc.insecure_channel(started.endpoint) as probe_channel:
        probe = CSI_GRPC.IdentityStub(probe_channel)
        while True:
            try:
                if probe.Probe(CSI.ProbeRequest(), timeout=2).ready.value:
                    return started
            except grpc.RpcError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the CSI controller did not start:\n{log.read_text()}")
            time.sleep(0.1)


def stop_controller(running):
    """SIGTERM; the controller stops gracefully with exit code 0."""
    running.process.terminate()
    assert running.process.wait(timeout=15) == 0, running.log.read_text()


@pytest.fixture(scope="session")
def controller(lab, cluster, tmp_path_factory):  # noqa: F811  pylint: disable=redefined-outer-name
    """The controller process for the session's cluster."""
    running = start_controller(tmp_path_factory.mktemp("csi"), lab.info, cluster.node_group)
    yield running
    stop_controller(running)


@pytest.fixture(scope="session")
def channel(controller):  # pylint: disable=redefined-outer-name
    """A gRPC channel to the controller."""
    with grpc.insecure_channel(controller.endpoint) as opened:
        yield opened


@pytest.fixture(scope="session")
def identity(channel):  # pylint: disable=redefined-outer-name
    """Identity service stub."""
    return CSI_GRPC.IdentityStub(channel)


@pytest.fixture(scope="session")
def csi(channel):  # pylint: disable=redefined-outer-name
    """Controller service stub."""
    return CSI_GRPC.ControllerStub(channel)
