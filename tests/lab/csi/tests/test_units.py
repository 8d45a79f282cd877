"""The controller's pure parts: node names, zones, parameters, names, configuration, the entry point's errors."""

import os
import subprocess
import sys

import pytest

from lab import aks_names
from lab.csi import config, nodes, params, servicer

from .conftest import TESTS_ROOT

CSI = servicer.CSI
ENV = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_SECRET": "s", "AZURE_SUBSCRIPTION_ID": "sub",
       "AZURE_RESOURCE_GROUP": "MC_rg_c_westeurope", "AZURE_LOCATION": "westeurope",
       "AZURE_CLOUD_ENVIRONMENT": "https://127.0.0.1:8443/", "AZURE_AUTHORITY_HOST": "https://127.0.0.1:8443"}


def test_node_names():
    """AKS node name <-> scale set and base-36 instance id, both ways."""
    assert aks_names.vm_of_node("aks-nodepool1-12345678-vmss00000a") == ("aks-nodepool1-12345678-vmss", "10")
    assert aks_names.vm_of_node("AKS-POOL-12345678-VMSS0000ZZ") == ("aks-pool-12345678-vmss", str(35 * 36 + 35))
    assert aks_names.vm_of_node("fake-node-id-1234") is None and aks_names.vm_of_node("") is None
    vmss = "/subscriptions/s/resourceGroups/mc/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss"
    assert nodes.node_of_vm(f"{vmss}/virtualMachines/10") == "aks-nodepool1-12345678-vmss00000a"
    assert nodes.node_of_vm(f"{vmss}/virtualMachines/aks-nodepool1-12345678-vmss_36") == "aks-nodepool1-12345678-vmss000010"


def test_pick_zone():
    """Preferred before requisite, either topology key, only the cluster's location."""
    def topologies(*pairs):
        return [CSI.Topology(segments={key: value}) for key, value in pairs]
    requirement = CSI.TopologyRequirement(
        requisite=topologies((nodes.TOPOLOGY_KEY, "westeurope-1"), (nodes.TOPOLOGY_KEY, "westeurope-2")),
        preferred=topologies((nodes.TOPOLOGY_KEY, "northeurope-3"), (nodes.WELL_KNOWN_ZONE_KEY, "westeurope-2")))
    assert nodes.pick_zone(requirement, "westeurope") == "westeurope-2"
    assert nodes.pick_zone(CSI.TopologyRequirement(requisite=topologies((nodes.TOPOLOGY_KEY, ""))), "westeurope") == ""
    assert nodes.pick_zone(None, "westeurope") == "" and nodes.zone_number("westeurope-3") == "3"
    assert nodes.accessible_zones("westeurope", "", True) == ["westeurope-1", "westeurope-2", "westeurope-3", ""]


def test_disk_parameters():
    """Case-insensitive keys, the driver's defaults, caching rules, tags."""
    default = params.parse_disk_parameters({})
    assert (default.sku, default.caching_mode, default.fs_type, default.max_shares) == ("StandardSSD_LRS", "ReadOnly", "ext4", 1)
    shared = params.parse_disk_parameters({"SKUNAME": "Premium_ZRS", "MaxShares": "2", "Tags": "a=1, b = 2", "zoned": "true"})
    assert (shared.sku, shared.caching_mode, shared.max_shares) == ("Premium_ZRS", "None", 2)
    assert shared.tags == {"a": "1", "b": "2", "k8s-azure-created-by": "kubernetes-azure-dd"}
    assert params.parse_disk_parameters({"skuName": "PremiumV2_LRS"}).caching_mode == "None"
    assert params.publish_caching({"skuname": "Premium_LRS", "requestedsizegib": "4"}) == "ReadOnly"
    assert params.publish_caching({"cachingMode": "ReadWrite"}) == "ReadWrite"
    with pytest.raises(ValueError):
        params.parse_tags("a=1,broken")
    snapshot = params.parse_snapshot_parameters({"incremental": "false", "resourceGroup": "rg", "csi.storage.k8s.io/volumesnapshot/name": "s"})
    assert (snapshot.incremental, snapshot.resource_group) == (False, "rg")
    with pytest.raises(ValueError):
        params.parse_snapshot_parameters({"location": "northeurope"})


def test_names_and_sizes():
    """Valid Azure names (80 characters at most) and GiB rounding."""
    assert servicer.disk_name("pvc-1") == "pvc-1"
    assert len(servicer.disk_name("x" * 128)) == 80 and servicer.disk_name("x" * 128) != servicer.disk_name("x" * 127)
    assert servicer.disk_name("a/b c.").startswith("a-b-c-") and servicer.disk_name("vol+1") != servicer.disk_name("vol-1")
    assert servicer.disk_name("+") == servicer.disk_name("+") and servicer.disk_name("+").startswith("pvc-disk-")
    assert servicer.size_gib(CSI.CapacityRange()) == 1
    assert servicer.size_gib(CSI.CapacityRange(required_bytes=(1 << 30) + 1)) == 2
    assert servicer.paged(list("abcde"), 2, 2) == (["c", "d"], "4") and servicer.paged(list("abc"), 1, 0) == (["b", "c"], "")


def test_config(tmp_path):
    """File keys win over the environment; gaps are errors; endpoints must be https."""
    loaded = config.load(environ=ENV)
    assert (loaded.client_secret, loaded.arm_endpoint, loaded.resource_group) == ("s", "https://127.0.0.1:8443", "MC_rg_c_westeurope")
    path = tmp_path / "azure.json"
    path.write_text('{"resourceGroup": "MC_other", "location": "northeurope"}')
    assert (config.load(path, environ=ENV).resource_group, config.load(path, environ=ENV, location="uksouth").location) == ("MC_other", "uksouth")
    with pytest.raises(config.ConfigError, match="tenant_id"):
        config.load(environ={key: value for key, value in ENV.items() if key != "AZURE_TENANT_ID"})
    with pytest.raises(config.ConfigError, match="https"):
        config.load(environ=dict(ENV, AZURE_CLOUD_ENVIRONMENT="AzureCloud"))


def test_config_with_managed_identity(tmp_path):
    """``useManagedIdentityExtension`` (a JSON true) signs in as the node's identity: no client id or secret needed."""
    path = tmp_path / "azure.json"
    path.write_text('{"useManagedIdentityExtension": true, "userAssignedIdentityID": "kubelet-client-id"}')
    without_secret = {key: value for key, value in ENV.items() if key not in ("AZURE_CLIENT_ID", "AZURE_SECRET")}
    loaded = config.load(path, environ=without_secret)
    assert (loaded.use_managed_identity, loaded.user_assigned_identity_id) == (True, "kubelet-client-id")
    path.write_text('{"useManagedIdentityExtension": "yes"}')
    assert not config.load(path, environ=ENV).use_managed_identity
    with pytest.raises(config.ConfigError, match="lacks client_id, client_secret"):
        config.load(path, environ=without_secret)


def test_live_config_follows_the_file(tmp_path):
    """Before the bridge writes the cluster's cloud config the node resource group is an error; then it follows the file."""
    path = tmp_path / "cloud-config.json"
    live = config.LiveConfig(str(path), environ={key: value for key, value in ENV.items() if key not in ("AZURE_RESOURCE_GROUP", "AZURE_LOCATION")})
    assert live.client_id == ENV["AZURE_CLIENT_ID"]
    with pytest.raises(config.ConfigError, match="no AKS cluster backs the lab"):
        live.resource_group  # pylint: disable=pointless-statement
    path.write_text('{"resourceGroup": "MC_a", "location": "westeurope"}')
    assert (live.resource_group, live.location) == ("MC_a", "westeurope")
    path.write_text('{"resourceGroup": "MC_b", "location": "northeurope"}')
    os.utime(path, ns=(1, 10 ** 18))
    assert (live.resource_group, live.location) == ("MC_b", "northeurope")


def test_entry_point_refuses_bad_config(tmp_path):
    """A configuration error is a clear message and exit code 2."""
    (tmp_path / "bad.json").write_text("{not json")
    command = [sys.executable, "-m", "lab.csi", "--endpoint", f"unix://{tmp_path}/csi.sock", "--config", str(tmp_path / "bad.json")]
    result = subprocess.run(command,  # noqa: S603 - the lab's own argv, no shell
                            env=dict(os.environ, PYTHONPATH=str(TESTS_ROOT)), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "cannot read cloud config" in result.stderr
