# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure resource ids and names: build, parse, validate (no SDK needed)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import uuid

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$", re.UNICODE)
_AGENT_POOL = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_CLUSTER = re.compile(r"^[a-zA-Z0-9]([-_a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$")
_DISK = re.compile(r"^[a-zA-Z0-9][-\w.]{0,78}\w?$")
_DNS_PREFIX = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,52}[a-zA-Z0-9])?$")

# Fixed namespace for deterministic role assignment names (uuid5 of scope, principal and role).
ASSIGNMENT_NAMESPACE = uuid.UUID("6f6b9c0e-6a0b-5a8e-9d3e-6b75626564aa")


def is_guid(value):
    return bool(value) and bool(_GUID.match(str(value)))


def valid_resource_group(name):
    return bool(name) and bool(_RESOURCE_GROUP.match(name)) and not name.endswith(".")


def valid_agent_pool(name):
    return bool(name) and bool(_AGENT_POOL.match(name))


def valid_cluster_name(name):
    return bool(name) and bool(_CLUSTER.match(name))


def valid_disk_name(name):
    return bool(name) and bool(_DISK.match(name))


def valid_dns_prefix(name):
    return bool(name) and bool(_DNS_PREFIX.match(name))


def resource_group_id(subscription_id, resource_group):
    return "/subscriptions/%s/resourceGroups/%s" % (subscription_id, resource_group)


def resource_id(subscription_id, resource_group, provider, kind, name):
    return "%s/providers/%s/%s/%s" % (resource_group_id(subscription_id, resource_group), provider, kind, name)


def parse_resource_id(rid):
    """subscription, resource_group, provider, type and name of an ARM resource id (None when it is not one).

    Only the top-level resource is returned: ``.../disks/d1`` gives type ``disks``, name ``d1``.
    """
    if not rid or not rid.startswith("/"):
        return None
    parts = rid.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    result = {"subscription": parts[1]}
    if len(parts) >= 4 and parts[2].lower() == "resourcegroups":
        result["resource_group"] = parts[3]
        if len(parts) >= 8 and parts[4].lower() == "providers":
            result["provider"] = parts[5]
            result["type"] = parts[6]
            result["name"] = parts[7]
        elif len(parts) != 4:
            return None
    elif len(parts) != 2:
        return None
    return result


def same_id(left, right):
    """ARM ids compare case-insensitively."""
    return bool(left) and bool(right) and left.rstrip("/").lower() == right.rstrip("/").lower()


def trailing_guid(rid):
    """The last path segment of an id (role definition ids may be /providers/... or /subscriptions/...)."""
    return (rid or "").rstrip("/").rsplit("/", 1)[-1].lower()


def assignment_name(scope, principal_id, role_definition_guid):
    """Deterministic role assignment name: the same (scope, principal, role) always gives the same GUID."""
    key = "%s|%s|%s" % (scope.rstrip("/").lower(), principal_id.lower(), role_definition_guid.lower())
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, key))
