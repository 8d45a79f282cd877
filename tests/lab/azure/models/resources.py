"""Microsoft.Resources: subscriptions, locations, resource groups, and removal of resource trees.

Mirrored behaviour:
- one subscription per lab (a GUID); any request under another GUID is ``SubscriptionNotFound``,
  under a malformed one ``InvalidSubscriptionId`` (checked before routing, as ARM's front door does);
- ``GET /subscriptions/{id}/locations`` lists the lab regions, zonal ones with their zone mappings;
  a PUT naming another region is ``LocationNotAvailableForResourceType`` (for a resource group
  ``LocationNotAvailableForResourceGroup``), with the list of available regions;
- resource group PUT is synchronous: 201 when created, 200 when it existed; a different location
  for an existing group is ``InvalidResourceGroupLocation``; names and tags follow ``rules.py``;
- resource group DELETE is a long-running operation polled through ``Location`` only; meanwhile
  the group is ``Deleting`` and new resources in it are refused (``ResourceGroupBeingDeleted``);
  at the end everything in it goes (cascade);
- every resource type can register what must happen when a resource of that type is removed
  (disk images deleted, attached disks released, identities leave the directory…).
"""

from ..arm import GUID, ArmError, group_id, resource_group_not_found, resource_id, resource_not_found
from ..lro import completion
from ..store import Resource
from . import rules

GROUP_TYPE = "Microsoft.Resources/resourceGroups"

# Regions the lab knows, with their availability zones (an empty list: a region without zones).
REGIONS = {
    "westeurope": ["1", "2", "3"], "northeurope": ["1", "2", "3"], "swedencentral": ["1", "2", "3"],
    "francecentral": ["1", "2", "3"], "germanywestcentral": ["1", "2", "3"], "uksouth": ["1", "2", "3"],
    "eastus": ["1", "2", "3"], "eastus2": ["1", "2", "3"], "westus2": ["1", "2", "3"], "westus3": ["1", "2", "3"],
    "centralus": ["1", "2", "3"], "southeastasia": ["1", "2", "3"], "japaneast": ["1", "2", "3"],
    "westcentralus": [], "northcentralus": [], "ukwest": [], "francesouth": [],
}
# region -> (display name, geography group)
REGION_NAMES = {
    "westeurope": ("West Europe", "Europe"), "northeurope": ("North Europe", "Europe"), "swedencentral": ("Sweden Central", "Europe"),
    "francecentral": ("France Central", "Europe"), "germanywestcentral": ("Germany West Central", "Europe"),
    "uksouth": ("UK South", "Europe"), "eastus": ("East US", "US"), "eastus2": ("East US 2", "US"), "westus2": ("West US 2", "US"),
    "westus3": ("West US 3", "US"), "centralus": ("Central US", "US"), "southeastasia": ("Southeast Asia", "Asia Pacific"),
    "japaneast": ("Japan East", "Asia Pacific"), "westcentralus": ("West Central US", "US"),
    "northcentralus": ("North Central US", "US"), "ukwest": ("UK West", "Europe"), "francesouth": ("France South", "Europe"),
}

# type -> function(lab, resource) run when a resource of that type is removed.
ON_REMOVE = {}


def on_remove(resource_type):
    """Register a clean-up step for removed resources of one type."""
    def register(function):
        ON_REMOVE[resource_type.lower()] = function
        return function
    return register


def check_subscription(lab, subscription):
    """Only the lab subscription exists."""
    if not GUID.fullmatch(subscription):
        raise ArmError(400, "InvalidSubscriptionId", f"The provided subscription identifier '{subscription}' is malformed or invalid.")
    if subscription.lower() != lab.subscription.lower():
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")


def subscription_body(lab):
    """The subscription as ``GET /subscriptions/{id}`` shows it."""
    return {
        "id": f"/subscriptions/{lab.subscription}", "authorizationSource": "RoleBased", "subscriptionId": lab.subscription,
        "tenantId": lab.identity.tenant, "displayName": "kubedisk lab", "state": "Enabled",
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
    }


def check_path_subscription(lab, path):
    """The subscription a request path names (``/subscriptions/{id}/…``) must be the lab's."""
    parts = path.split("/", 3)
    if len(parts) > 2 and parts[1].lower() == "subscriptions" and parts[2]:
        check_subscription(lab, parts[2])


def location_bodies(lab):
    """``GET /subscriptions/{id}/locations`` (``Subscriptions_ListLocations``): the lab regions, zonal ones with their zones."""
    bodies = []
    for name, zones in REGIONS.items():
        display, geography = REGION_NAMES[name]
        body = {"id": f"/subscriptions/{lab.subscription}/locations/{name}", "subscriptionId": lab.subscription, "name": name,
                "type": "Region", "displayName": display, "regionalDisplayName": f"({geography}) {display}",
                "metadata": {"regionType": "Physical", "regionCategory": "Recommended" if zones else "Other", "geographyGroup": geography}}
        if zones:
            body["availabilityZoneMappings"] = [{"logicalZone": zone, "physicalZone": f"{name}-az{zone}"} for zone in zones]
        bodies.append(body)
    return bodies


def check_location(location, resource_type):
    """A known region, normalised (``West Europe`` → ``westeurope``)."""
    name = (location or "").replace(" ", "").lower()
    if name in REGIONS:
        return name
    if resource_type == GROUP_TYPE:
        raise ArmError(400, "LocationNotAvailableForResourceGroup", f"The provided location '{location}' is not available for resource "
                                                                    f"group. List of available regions is '{','.join(REGIONS)}'.")
    raise ArmError(400, "LocationNotAvailableForResourceType",
                   f"The provided location '{location}' is not available for resource type '{resource_type}'. "
                   f"List of available regions for the resource type is '{','.join(REGIONS)}'.")


def check_zones(location, zones, target="zones"):
    """Zones must exist in the region (regions without zones take none)."""
    for zone in zones or []:
        if zone not in REGIONS[location]:
            raise ArmError(400, "InvalidParameter" if REGIONS[location] else "AvailabilityZoneNotSupported",
                           f"The zone(s) '{zone}' for resource in location '{location}' are not supported. "
                           f"The supported zones for location '{location}' are '{','.join(REGIONS[location])}'.", target=target)


def get_group(lab, subscription, name):
    """The resource group, or ResourceGroupNotFound."""
    group = lab.store.get(group_id(subscription, name))
    if group is None:
        raise resource_group_not_found(name)
    return group


def find_resource(lab, subscription, group, resource_type, name):
    """A top-level resource of an existing resource group, or None."""
    get_group(lab, subscription, group)
    return lab.store.get(resource_id(subscription, group, resource_type, name))


def get_resource(lab, subscription, group, resource_type, name):
    """A top-level resource of a resource group, or ResourceNotFound."""
    resource = find_resource(lab, subscription, group, resource_type, name)
    if resource is None:
        raise resource_not_found(resource_type, name, group)
    return resource


def get_child(lab, group, parent, parent_name, resource_type, name):
    """A child resource of ``parent`` (the last segment of its type names the collection), or ResourceNotFound."""
    child = lab.store.get(f"{parent.id}/{resource_type.rsplit('/', 1)[1]}/{name}")
    if child is None:
        raise resource_not_found(resource_type, f"{parent_name}/{name}", group)
    return child


def list_resources(lab, subscription, group, resource_type):
    """The resources of a type in a resource group, or in the subscription when ``group`` is None."""
    if group is None:
        return lab.store.of_type(resource_type)
    return lab.store.children(get_group(lab, subscription, group).id, resource_type)


def begin(lab, resource, state, kind, params=None, location=None):
    """Put a resource in a transitional ``provisioningState`` and start the operation that ends it."""
    resource.properties["provisioningState"] = state
    lab.store.save(resource)
    return lab.operations.start(kind, resource.id, location or resource.body["location"], params)


def succeed(lab, operation):
    """Completion step of operations whose only effect is their resource's ``provisioningState: Succeeded``."""
    resource = lab.store.get(operation.resource_id)
    resource.properties["provisioningState"] = "Succeeded"
    lab.store.save(resource)


@completion("resourceGroup.delete")
def remove_target(lab, operation):
    """Completion step of deletions: the resource and everything under it go."""
    remove_tree(lab, operation.resource_id)


def writable_group(lab, subscription, name):
    """A resource group new resources can be put in (it exists and is not being deleted)."""
    group = get_group(lab, subscription, name)
    if group.properties.get("provisioningState") == "Deleting":
        raise ArmError(409, "ResourceGroupBeingDeleted",
                       f"The resource group '{group.body['name']}' is in deprovisioning state and cannot perform this operation.")
    return group


def put_group(lab, subscription, name, body, managed_by=None):
    """Create or update a resource group; returns (resource, created)."""
    rules.check_name(GROUP_TYPE, name)
    location = check_location(body.get("location"), GROUP_TYPE)
    tags = rules.checked_tags(body.get("tags"))
    existing = lab.store.get(group_id(subscription, name))
    if existing:
        if existing.body["location"] != location:
            raise ArmError(409, "InvalidResourceGroupLocation",
                           f"Invalid resource group location '{location}'. The Resource group already exists in location "
                           f"'{existing.body['location']}'.")
        writable_group(lab, subscription, name)
        existing.body["tags"] = tags
        lab.store.save(existing)
        return existing, False
    group = Resource(group_id(subscription, name), GROUP_TYPE, f"/subscriptions/{subscription}", {
        "id": group_id(subscription, name), "name": name, "type": GROUP_TYPE, "location": location,
        "tags": tags, "properties": {"provisioningState": "Succeeded"},
    })
    if managed_by or body.get("managedBy"):
        group.body["managedBy"] = managed_by or body["managedBy"]
    lab.store.save(group)
    return group, True


def patch_group(lab, subscription, name, update):
    """PATCH of a resource group (tags)."""
    group = get_group(lab, subscription, name)
    rules.merge_tags(group.body, update)
    lab.store.save(group)
    return group


def list_groups(lab, subscription):
    """Resource groups of the subscription."""
    return lab.store.children(f"/subscriptions/{subscription}", GROUP_TYPE)


def delete_group(lab, subscription, name):
    """Start deleting a resource group; returns the operation, or None when it does not exist."""
    group = lab.store.get(group_id(subscription, name))
    return begin(lab, group, "Deleting", "resourceGroup.delete", location="global") if group else None


def remove_tree(lab, rid):
    """Remove a resource and everything under its id, running each type's clean-up step."""
    resource = lab.store.get(rid)
    for child in lab.store.under(rid):
        _remove(lab, child)
    if resource:
        _remove(lab, resource)


def _remove(lab, resource):
    if lab.store.get(resource.id) is None:
        return
    cleanup = ON_REMOVE.get(resource.type.lower())
    lab.store.delete(resource.id)
    if cleanup:
        cleanup(lab, resource)


def resources_in_group(lab, subscription, name):
    """``GET …/resourceGroups/{rg}/resources``: top-level resources in the group."""
    group = get_group(lab, subscription, name)
    return [{key: resource.body.get(key) for key in ("id", "name", "type", "location", "tags", "sku", "zones", "managedBy")
             if resource.body.get(key) is not None}
            for resource in lab.store.under(group.id) if resource.parent.lower() == group.id.lower()]


def provider_body(lab, namespace):
    """``GET /subscriptions/{id}/providers/{namespace}``: every provider is registered in the lab."""
    return {"id": f"/subscriptions/{lab.subscription}/providers/{namespace}", "namespace": namespace,
            "registrationState": "Registered", "registrationPolicy": "RegistrationRequired", "resourceTypes": []}


def tracked(rid, resource_type, name, location, body, extra=None):
    """The common body of a tracked resource created from a request ``body`` (whose tags ``rules.check_new`` passed)."""
    result = {"id": rid, "name": name, "type": resource_type, "location": location, "tags": dict(body.get("tags") or {})}
    result.update(extra or {})
    return result
