# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure resource ids and names: built and parsed with azure-mgmt-core's tools, names validated by ARM's rules.

``RESOURCE_REF_SPEC`` is the option shape for a resource given by name and resource group.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import uuid

try:
    from azure.mgmt.core.tools import is_valid_resource_id, parse_resource_id as parse_arm_id
    from azure.mgmt.core.tools import resource_id  # pylint: disable=unused-import  # the modules build ids with it
    HAS_AZURE_MGMT_CORE = True
except ImportError:  # AzureModule fails with missing_required_lib before any id is read or made
    is_valid_resource_id = parse_arm_id = resource_id = None
    HAS_AZURE_MGMT_CORE = False

# Whole-string patterns (used with fullmatch: ``$`` would let a trailing newline through).
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_RESOURCE_GROUP = re.compile(r"[-\w._()]{1,90}", re.UNICODE)
_AGENT_POOL = re.compile(r"[a-z][a-z0-9]{0,11}")
_CLUSTER = re.compile(r"[a-zA-Z0-9]([-_a-zA-Z0-9]{0,61}[a-zA-Z0-9])?")
# Disks and snapshots: 1-80 characters, alphanumerics, '_', '-', '.'; start alphanumeric, end alphanumeric or '_'.
_DISK = re.compile(r"[a-zA-Z0-9]([-\w.]{0,78}[a-zA-Z0-9_])?")
_DNS_PREFIX = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,52}[a-zA-Z0-9])?")
# A role definition id: /providers/..., /subscriptions/<s>[/resourceGroups/<rg>...]/providers/... or a management group's.
# A role name as ``roleName eq '...'`` looks it up: no path, quote or control character.
_ROLE_NAME = re.compile(r"[^/\\'\x00-\x1f\x7f]{1,512}")
_ROLE_DEFINITION_ID = re.compile(
    r"(/(subscriptions/[0-9a-f-]{36}(/resourceGroups/[-\w._()]{1,90})?|providers/Microsoft\.Management/managementGroups/[-\w.()]{1,90}))?"
    r"/providers/Microsoft\.Authorization/roleDefinitions/" + _GUID.pattern, re.IGNORECASE)

# Fixed namespace for deterministic role assignment names (uuid5 of scope, principal and role).
ASSIGNMENT_NAMESPACE = uuid.UUID("6f6b9c0e-6a0b-5a8e-9d3e-6b75626564aa")

RESOURCE_REF_SPEC = {"type": "dict", "options": {"name": {"type": "str", "required": True},
                                                 "resource_group": {"type": "str", "required": True}}}


def _whole(pattern, value):
    return isinstance(value, str) and bool(pattern.fullmatch(value))


def is_guid(value):
    return _whole(_GUID, value)


def valid_resource_group(name):
    return _whole(_RESOURCE_GROUP, name) and not name.endswith(".")


def valid_agent_pool(name):
    return _whole(_AGENT_POOL, name)


def valid_cluster_name(name):
    return _whole(_CLUSTER, name)


def valid_disk_name(name):
    return _whole(_DISK, name)


def valid_dns_prefix(name):
    return _whole(_DNS_PREFIX, name)


def valid_role_name(name):
    return _whole(_ROLE_NAME, name) and name == name.strip()


def is_role_definition_id(value):
    """A full role definition id (``/providers/...`` or under a subscription or management group) ending in a GUID."""
    return _whole(_ROLE_DEFINITION_ID, value)


def parse_resource_id(rid):
    """subscription, resource_group, provider, type and name of an ARM id (None when it is not one).

    Only the top-level resource is returned: ``.../virtualMachineScaleSets/v/virtualMachines/1`` gives type
    ``virtualMachineScaleSets``, name ``v``.
    """
    rid = (rid or "").rstrip("/")
    if not is_valid_resource_id(rid):
        return None
    parts = parse_arm_id(rid)
    names = (("subscription", "subscription"), ("resource_group", "resource_group"), ("namespace", "provider"),
             ("type", "type"), ("name", "name"))
    return dict((ours, parts[theirs]) for theirs, ours in names if parts.get(theirs))


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
