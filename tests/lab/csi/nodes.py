"""Node name <-> scale-set VM, and the zone topology the driver reports.

Mirrors cloud-provider-azure and the Azure Disk CSI driver on AKS:
- an AKS node is named after its scale-set VM's computer name (see ``lab.aks_names``);
- the topology key is ``topology.disk.csi.azure.com/zone`` with values ``<location>-<zone>``;
  requirements may also use ``topology.kubernetes.io/zone``; preferred topologies are tried before
  requisite ones, and only values of the cluster's location count;
- a zonal (LRS) disk is accessible from its zone; a non-zonal one reports the empty zone (non-zonal
  nodes); a ZRS disk reports zones 1-3 of the location plus the empty zone.
"""

import re

from ..aks_names import node_name

TOPOLOGY_KEY = "topology.disk.csi.azure.com/zone"
WELL_KNOWN_ZONE_KEY = "topology.kubernetes.io/zone"
ZRS_ZONES = ("1", "2", "3")
VM_ID = re.compile(r"/virtualMachineScaleSets/(?P<vmss>[^/]+)/virtualMachines/(?:(?P=vmss)_)?(?P<instance>\d+)$", re.IGNORECASE)


def node_of_vm(vm_id):
    """The node name of a scale-set VM id (``.../virtualMachines/<id>`` or ``..._<id>``); the id itself otherwise."""
    found = VM_ID.search(vm_id or "")
    return node_name(found["vmss"].lower(), found["instance"]) if found else vm_id


def pick_zone(requirements, location):
    """The zone (``<location>-<n>``) of the first preferred, then requisite, topology naming one; ``""`` if none."""
    if requirements is None:
        return ""
    for topology in list(requirements.preferred) + list(requirements.requisite):
        for key in (WELL_KNOWN_ZONE_KEY, TOPOLOGY_KEY):
            zone = topology.segments.get(key, "")
            if zone.startswith(f"{location}-") and len(zone) > len(location) + 1:
                return zone
    return ""


def zone_number(zone):
    """ARM's zone (``"1"``) of a topology zone (``westeurope-1``); None for ``""``."""
    return zone.rsplit("-", 1)[1] if zone else None


def accessible_zones(location, zone, zone_redundant):
    """The topology zone values a disk can be used from."""
    if zone_redundant:
        return [f"{location}-{number}" for number in ZRS_ZONES] + [""]
    return [zone]
