# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How AKS names the things it creates, so modules can go from a Node to its VM and back.

AKS names a scale-set node ``<vmss name><instance id in base 36, 6 digits>`` and sets its
providerID to the scale-set VM's resource id behind ``azure://``; the node resource group is
``MC_<resource group>_<cluster>_<location>`` unless the cluster names one itself.
"""

from __future__ import annotations

import re

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_VMSS_NODE = re.compile(r"^(?P<vmss>.+-vmss)(?P<suffix>[0-9a-z]{6})\Z")
_PROVIDER_ID = re.compile(
    r"^azure:///subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)/providers/Microsoft\.Compute/"
    r"(?:virtualMachineScaleSets/(?P<vmss>[^/]+)/virtualMachines/(?P<instance_id>[^/]+)|virtualMachines/(?P<vm>[^/]+))\Z",
    re.IGNORECASE,
)


def node_resource_group(resource_group: str, cluster: str, location: str) -> str:
    """Default node resource group AKS creates for a cluster."""
    return "MC_%s_%s_%s" % (resource_group, cluster, location)


def zone_label(location: str, zone: str) -> str:
    """Value of ``topology.disk.csi.azure.com/zone`` and ``topology.kubernetes.io/zone`` for a zone."""
    return "%s-%s" % (location.lower(), zone)


def to_base36(number: int) -> str:
    """Lower-case base-36 digits of a non-negative integer."""
    if number < 0:
        raise ValueError("negative instance id: %d" % number)
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if not number:
            return digits


def vmss_node_name(vmss: str, instance_id: str | int) -> str:
    """Node name AKS gives scale-set instance ``instance_id`` of ``vmss``."""
    return vmss + to_base36(int(instance_id)).rjust(6, "0")


def split_vmss_node_name(node: str) -> tuple[str, str]:
    """Scale-set name and instance id (decimal string) of an AKS scale-set node name."""
    match = _VMSS_NODE.match(node)
    if not match:
        raise ValueError("%r is not an AKS scale-set node name (<pool vmss name><6 base-36 digits>)" % node)
    return match.group("vmss"), str(int(match.group("suffix"), 36))


def parse_provider_id(provider_id: str) -> dict:
    """Parts of an Azure node providerID: subscription, resource_group, vmss and instance_id, or vm."""
    match = _PROVIDER_ID.match(provider_id or "")
    if not match:
        raise ValueError("%r is not an Azure providerID (azure:///subscriptions/.../virtualMachineScaleSets/.../virtualMachines/...)" % provider_id)
    return {k: v for k, v in match.groupdict().items() if v is not None}
