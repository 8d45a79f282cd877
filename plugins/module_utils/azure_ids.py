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

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$", re.UNICODE)
_AGENT_POOL = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_CLUSTER = re.compile(r"^[a-zA-Z0-9]([-_a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$")
_DISK = re.compile(r"^[a-zA-Z0-9][-\w.]{0,78}\w?$")
_DNS_PREFIX = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,52}[a-zA-Z0-9])?$")

# Fixed namespace for deterministic role assignment names (uuid5 of scope, principal and role).
ASSIGNMENT_NAMESPACE = uuid.UUID("6f6b9c0e-6a0b-5a8e-9d3e-6b75626564aa")

RESOURCE_REF_SPEC = {"type": "dict", "options": {"name": {"type": "str", "required": True},
                                                 "resource_group": {"type": "str", "required": True}}}


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
