"""Unit tests for the AKS naming rules the modules rely on to map Nodes to scale-set VMs."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import aks_names


@pytest.mark.parametrize(
    "vmss, instance_id, node",
    [
        ("aks-nodepool1-12345678-vmss", 0, "aks-nodepool1-12345678-vmss000000"),
        ("aks-nodepool1-12345678-vmss", "10", "aks-nodepool1-12345678-vmss00000a"),
        ("aks-system-87654321-vmss", 36, "aks-system-87654321-vmss000010"),
        ("aks-big-11111111-vmss", 36 ** 6 - 1, "aks-big-11111111-vmsszzzzzz"),
    ],
)
def test_node_name_round_trip(vmss, instance_id, node):
    assert aks_names.vmss_node_name(vmss, instance_id) == node
    assert aks_names.split_vmss_node_name(node) == (vmss, str(int(instance_id)))


@pytest.mark.parametrize("node", ["aks-nodepool1-12345678-vmss0000A", "worker-1", "aks-nodepool1-12345678-vmss00000"])
def test_split_refuses_non_aks_names(node):
    with pytest.raises(ValueError, match="not an AKS scale-set node name"):
        aks_names.split_vmss_node_name(node)


def test_to_base36_refuses_negative():
    with pytest.raises(ValueError):
        aks_names.to_base36(-1)


def test_parse_scale_set_provider_id_is_case_insensitive():
    pid = ("azure:///subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourcegroups/mc_rg_kubedisk_westeurope"
           "/providers/microsoft.compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss/virtualMachines/10")
    assert aks_names.parse_provider_id(pid) == {
        "subscription": "0b1f6471-1bf0-4dda-aec3-111122223333",
        "resource_group": "mc_rg_kubedisk_westeurope",
        "vmss": "aks-nodepool1-12345678-vmss",
        "instance_id": "10",
    }


def test_parse_standalone_vm_provider_id():
    pid = "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/node-1"
    assert aks_names.parse_provider_id(pid) == {"subscription": "s", "resource_group": "rg", "vm": "node-1"}


@pytest.mark.parametrize("pid", ["", None, "kwok://node-1", "azure:///subscriptions/s/resourceGroups/rg"])
def test_parse_provider_id_refuses_others(pid):
    with pytest.raises(ValueError, match="not an Azure providerID"):
        aks_names.parse_provider_id(pid)


def test_resource_group_and_zone_names():
    assert aks_names.node_resource_group("kubedisk", "kubedisk", "westeurope") == "MC_kubedisk_kubedisk_westeurope"
    assert aks_names.zone_label("WestEurope", "2") == "westeurope-2"
