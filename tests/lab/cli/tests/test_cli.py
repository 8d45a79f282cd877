"""The lab's command line on a lab of its own without Kubernetes (LAB_KUBE=0): the verbs tests and the demo call."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import json
import os
import stat
import time

import pytest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from lab.cli.compute import sdk_client
from lab.cli.data import report
from lab.cli.labdir import read_exports
from lab.tests.conftest import lab_cli


def test_report_reads_downtime_from_the_lines():
    """The longest pause between two lines (from line N on) and the line before it, as a step's downtime is read."""
    seconds = ("00.000000", "01.000000", "05.000000", "06.000000", "10.250000", "11.000000")
    text = "".join(f"2026-01-01T00:00:{second}Z default/web-0 node\n" for second in seconds)
    assert report(text) == {"lines": 6, "first": "2026-01-01T00:00:00.000000Z default/web-0 node",
                            "last": "2026-01-01T00:00:11.000000Z default/web-0 node", "max_gap": 4.2,
                            "gap_at": "2026-01-01T00:00:06.000000Z default/web-0 node"}
    assert report(text, since=5) == dict(report(text), max_gap=0.8, gap_at="2026-01-01T00:00:10.250000Z default/web-0 node")
    assert report("") == {"lines": 0, "first": None, "last": None, "max_gap": 0.0, "gap_at": None}


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    """An emulator-only lab of this module's own."""
    folder = tmp_path_factory.mktemp("cli-lab")
    lab_cli(folder, "up", LAB_KUBE="0")
    yield folder
    lab_cli(folder, "down")


@pytest.fixture(scope="module")
def exports(lab_dir):
    """The lab's env file."""
    return read_exports(lab_dir / "env")


def test_status_and_vars(lab_dir, exports, tmp_path):
    """`vars --output` writes the module_defaults, the exports and how to run the command line, for the owner only."""
    assert lab_cli(lab_dir, "status").startswith("azure: running")
    output = tmp_path / "vars.json"
    lab_cli(lab_dir, "vars", "--output", str(output))
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    settings = json.loads(output.read_text())
    assert settings == json.loads(lab_cli(lab_dir, "vars"))
    assert settings["lab_azure"] == {
        "auth_source": "credential", "subscription_id": exports["AZURE_SUBSCRIPTION_ID"], "tenant": exports["AZURE_TENANT_ID"],
        "client_id": exports["AZURE_CLIENT_ID"], "secret": exports["AZURE_CLIENT_SECRET"], "cloud_environment": exports["AZURE_CLOUD_ENVIRONMENT"],
        "authority_host": exports["AZURE_AUTHORITY_HOST"], "ca_bundle": exports["REQUESTS_CA_BUNDLE"]}
    assert settings["lab_env"] == exports  # an emulator-only lab exports nothing but AZURE_*, LAB_* and the CA bundles
    assert settings["lab_dir"] == str(lab_dir) and os.path.isfile(os.path.join(settings["lab_pythonpath"], "lab", "__main__.py"))


def test_counts_faults_disks_and_latency(lab_dir, exports, tmp_path):
    """A disk made through the SDK past an injected 503, counted from a mark, and the time from its operation's end."""
    sdk_client(ResourceManagementClient, exports).resource_groups.create_or_update("cli", {"location": "westeurope"})
    mark = lab_cli(lab_dir, "requests", "mark").strip()
    rule = json.loads(lab_cli(lab_dir, "fault", "add", json.dumps({"action": "503", "method": "PUT", "path": "/disks/cli-d1$"})))
    assert rule["action"] == "503" and rule["count"] == 1
    disk_id = lab_cli(lab_dir, "disk", "create", "cli", "cli-d1", "--size", "8", "--sku", "Premium_LRS", "--zone", "1").strip()
    returned = time.time()
    assert disk_id == f"/subscriptions/{exports['AZURE_SUBSCRIPTION_ID']}/resourceGroups/cli/providers/Microsoft.Compute/disks/cli-d1"
    record = tmp_path / "counts.jsonl"
    counts = json.loads(lab_cli(lab_dir, "requests", "count", mark, "--record", str(record), "disk", "create"))
    assert counts["writes"] == 1 and counts["write_attempts"] == 2 and counts["reads"] >= 1
    arrived, method, path, _status = counts["writes_list"][0].split()
    assert method == "PUT" and path == disk_id and 0 <= returned - float(arrived) < 60, "the accepted write, with its arrival time"
    assert json.loads(record.read_text()) == {"module": "disk", "phase": "create", "reads": counts["reads"], "writes": 1}
    lab_cli(lab_dir, "fault", "clear")
    ended = json.loads(lab_cli(lab_dir, "operations", "--since", mark))
    assert [operation["kind"] for operation in ended if operation["resourceId"] == disk_id] == ["disk.create"]
    latency = tmp_path / "latency.txt"
    deltas = json.loads(lab_cli(lab_dir, "latency", str(returned), "--record", str(latency)))
    assert len(deltas) == 1 and 0 <= deltas[0] < 60 and latency.read_text() == f"{deltas[0]}\n"


def test_settings_profile_and_principals(lab_dir):
    """Runtime settings and the latency profile are changed and shown; a new principal has an object id."""
    assert json.loads(lab_cli(lab_dir, "config", json.dumps({"onlineResize": False})))["onlineResize"] is False
    assert json.loads(lab_cli(lab_dir, "config", json.dumps({"onlineResize": True})))["onlineResize"] is True
    assert json.loads(lab_cli(lab_dir, "profile", "realistic"))["name"] == "realistic"
    tuned = json.loads(lab_cli(lab_dir, "profile", "realistic", "--set", "vm.attach=5", "--set", "vm.detach=4.5"))
    assert tuned["overrides"] == {"vm.attach": 5.0, "vm.detach": 4.5} and tuned["durations"]["vm.attach"] == 5.0
    assert json.loads(lab_cli(lab_dir, "profile", "fast"))["overrides"] == {}
    assert len(lab_cli(lab_dir, "principal", "cli-sp").strip()) == 36


def test_power_of_a_node_vm(lab_dir, exports):
    """`power ACTION PROVIDER_ID` runs the scale-set VM power operation a node's providerID names."""
    aks = sdk_client(ContainerServiceClient, exports)
    cluster = aks.managed_clusters.begin_create_or_update("cli", "cli-aks", {"location": "westeurope", "properties": {
        "agentPoolProfiles": [{"name": "nodepool1", "count": 1, "mode": "System", "availabilityZones": ["1"]}]}}).result()
    compute = sdk_client(ComputeManagementClient, exports)
    scale_set = next(iter(compute.virtual_machine_scale_sets.list(cluster.node_resource_group)))
    vm = next(iter(compute.virtual_machine_scale_set_vms.list(cluster.node_resource_group, scale_set.name)))
    for action, state in (("deallocate", "deallocated"), ("start", "running"), ("power_off", "stopped"), ("restart", "running")):
        assert json.loads(lab_cli(lab_dir, "power", action, f"azure://{vm.id}")) == {"action": action, "vm": f"azure://{vm.id}"}
        view = compute.virtual_machine_scale_set_vms.get_instance_view(cluster.node_resource_group, scale_set.name, vm.instance_id)
        assert f"PowerState/{state}" in [status.code for status in view.statuses]
