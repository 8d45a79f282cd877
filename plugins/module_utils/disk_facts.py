# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts of managed disks and snapshots (from their REST shape) and the source references the disk modules accept."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_diff import norm_zones
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import parse_resource_id
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest

ZRS_SKUS = ("Premium_ZRS", "StandardSSD_ZRS", "Standard_ZRS")
ZONAL_ONLY_SKUS = ("PremiumV2_LRS", "UltraSSD_LRS")
DISK_SKUS = ["Standard_LRS", "StandardSSD_LRS", "Premium_LRS", "StandardSSD_ZRS", "Premium_ZRS", "PremiumV2_LRS", "UltraSSD_LRS"]
SNAPSHOT_SKUS = ["Standard_LRS", "Premium_LRS", "Standard_ZRS"]
# Tag that marks snapshots made by disk_snapshot, with the (lower-cased) source disk id as its value.
SOURCE_TAG = "kubedisk-aks-source"


def is_zrs(sku):
    return (sku or "").lower() in [s.lower() for s in ZRS_SKUS]


def _facts(resource, own):
    """Facts a disk and a snapshot share, plus ``own(rest, properties)``; {} for no resource."""
    res = to_rest(resource)
    if not res:
        return {}
    props = res.get("properties") or {}
    creation = props.get("creationData") or {}
    parsed = parse_resource_id(res.get("id") or "") or {}
    facts = {
        "id": res.get("id"),
        "name": res.get("name"),
        "resource_group": parsed.get("resource_group"),
        "location": res.get("location"),
        "sku": (res.get("sku") or {}).get("name"),
        "tags": dict(res.get("tags") or {}),
        "size_gb": props.get("diskSizeGB"),
        "size_bytes": props.get("diskSizeBytes"),
        "unique_id": props.get("uniqueId"),
        "time_created": props.get("timeCreated"),
        "provisioning_state": props.get("provisioningState"),
        "create_option": creation.get("createOption"),
        "source_resource_id": creation.get("sourceResourceId"),
    }
    facts.update(own(res, props))
    return facts


def disk_facts(disk):
    return _facts(disk, lambda res, props: {
        "zones": norm_zones(res.get("zones")),
        "disk_state": props.get("diskState"),
        "managed_by": res.get("managedBy"),
    })


def snapshot_facts(snapshot):
    return _facts(snapshot, lambda res, props: {
        "incremental": bool(props.get("incremental")),
        "completion_percent": props.get("completionPercent"),
        "incremental_snapshot_family_id": props.get("incrementalSnapshotFamilyId"),
    })


def ref_parts(module, option_id, option_ref, kind):
    """(resource group, name) of a resource given as ``<option_id>`` (an id) or ``<option_ref>`` ({name, resource_group})."""
    params = module.params
    if params.get(option_id):
        parsed = parse_resource_id(params[option_id])
        if not parsed or parsed.get("type", "").lower() != kind or not parsed.get("name"):
            module.fail_json(msg="%s %r is not a %s id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/%s/<name>)"
                                 % (option_id, params[option_id], kind[:-1], kind))
        if parsed["subscription"].lower() != module.subscription_id.lower():
            module.fail_json(msg="%s is in subscription %s, but the module works in %s; set subscription_id to match"
                                 % (option_id, parsed["subscription"], module.subscription_id))
        return parsed["resource_group"], parsed["name"]
    ref = params[option_ref]
    return ref["resource_group"], ref["name"]
