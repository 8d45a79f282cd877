# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The steps of an AKS upgrade, in the order AKS requires, from the cluster, its pools and their upgrade profiles.

AKS upgrades the control plane first (``kubernetesVersion`` of the managed cluster), one minor version at a time, then
each pool (``orchestratorVersion`` of the agent pool), never past the control plane (a pool behind by several minors may
go straight to the control plane's version); a node image upgrade alone is ``upgradeNodeImageVersion``. Pure functions
on REST dicts; whatever Azure would refuse is raised as ``Refused`` before anything is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

VERSION = re.compile(r"^\d+\.\d+(\.\d+)?\Z")
SURGE = re.compile(r"^([1-9]\d*)(%?)\Z")
SETTINGS_KEYS = {"max_surge": "maxSurge", "drain_timeout_in_minutes": "drainTimeoutInMinutes",
                 "node_soak_duration_in_minutes": "nodeSoakDurationInMinutes",
                 "undrainable_node_behavior": "undrainableNodeBehavior"}
# Read-only properties a PUT must not carry back.
READ_ONLY_CLUSTER = ("provisioningState", "powerState", "fqdn", "azurePortalFQDN", "privateFQDN", "currentKubernetesVersion",
                     "maxAgentPools", "resourceUID")
READ_ONLY_POOL = ("provisioningState", "powerState", "currentOrchestratorVersion", "nodeImageVersion", "eTag")


class Refused(Exception):
    """What was asked cannot be done (AKS would refuse it); nothing has been written."""


def version_key(version):
    return tuple(int(part) for part in version.split("."))


def matches(have, want):
    """Whether version ``have`` is ``want`` (``want`` as ``major.minor`` matches any patch of it)."""
    return bool(have) and (have == want or have.startswith(want + "."))


def check_version(want, option):
    if not VERSION.match(want or ""):
        raise Refused("%s %r is not a Kubernetes version such as 1.34 or 1.34.2" % (option, want))


def surge_count(max_surge, node_count):
    """The number of surge nodes ``max_surge`` (a count such as ``3`` or a percent such as ``33%``) gives a pool of
    ``node_count`` nodes: a percent of the count, rounded up (AKS's rule), at least one."""
    found = SURGE.match(str(max_surge))
    if not found:
        raise Refused("upgrade_settings.max_surge %r is neither a node count (such as 3) nor a percent of the pool's "
                      "nodes (such as 33%%)" % (max_surge,))
    number = int(found.group(1))
    if found.group(2):
        if number > 100:
            raise Refused("upgrade_settings.max_surge %s is over 100%%" % max_surge)
        return max(1, int(math.ceil(node_count * number / 100.0)))
    return number


def surge_per_zone(surge, nodes_per_zone):
    """``{zone: (fewest, most)}`` surge nodes each zone gets when ``surge`` nodes are added to a zonal scale set.

    Azure places a zonal scale set's new instances in the zones with the fewest instances; between zones that tie
    it may pick any, so a zone that ties for the last nodes may get one or not (``fewest`` < ``most``).
    """
    zones = sorted(nodes_per_zone)
    if not zones:
        return {}
    level = min(nodes_per_zone.values())
    while sum(max(0, level + 1 - nodes_per_zone[z]) for z in zones) <= surge:
        level += 1
    sure = dict((z, max(0, level - nodes_per_zone[z])) for z in zones)
    left = surge - sum(sure.values())
    tied = [z for z in zones if nodes_per_zone[z] + sure[z] == level]
    return dict((z, (sure[z], sure[z] + (1 if left and z in tied else 0))) for z in zones)


def offered(versions, want):
    """The version of ``versions`` that ``want`` names: itself, or the newest patch of a ``major.minor``."""
    found = sorted((v for v in versions if matches(v, want)), key=version_key)
    return found[-1] if found else None


def one_minor_at_a_time(have, want, what, offers):
    """Refuse skipping a minor version, naming the version to upgrade to first."""
    have_minor, want_minor = version_key(have)[:2], version_key(want)[:2]
    if want_minor[0] != have_minor[0] or want_minor[1] > have_minor[1] + 1:
        step = "%d.%d" % (have_minor[0], have_minor[1] + 1)
        offered = " (offered: %s)" % ", ".join(offers) if offers else ""
        raise Refused("%s runs %s and %s is more than one minor version ahead: AKS upgrades one minor version at a time. "
                      "Upgrade to %s first%s, then to %s" % (what, have, want, step, offered, want))


def control_plane_target(cluster, want, upgrades):
    """The control plane version to upgrade to (None when it runs ``want`` already).

    ``upgrades``: the versions the cluster's upgrade profile offers. A target two minor versions ahead is refused
    rather than planned as two upgrades: each minor upgrade is a step of its own, the pools following it, so the
    playbook says which versions the cluster goes through.
    """
    props = cluster.get("properties") or {}
    have = props.get("currentKubernetesVersion") or props.get("kubernetesVersion")
    check_version(want, "kubernetes_version")
    if matches(have, want):
        return None
    if version_key(want) < version_key(have)[:len(version_key(want))]:
        raise Refused("kubernetes_version %s is older than the control plane's %s: AKS does not downgrade" % (want, have))
    one_minor_at_a_time(have, want, "the control plane", upgrades)
    target = offered(upgrades, want)
    if target is None:
        raise Refused("AKS offers no upgrade of the control plane from %s to %s (offered: %s)"
                      % (have, want, ", ".join(upgrades) or "none"))
    return target


def pool_target(pool, want, control_plane, upgrades, available):
    """The version pool ``pool`` (REST dict) upgrades to (None when it runs ``want`` already).

    ``control_plane``: the control plane's version once its step is done; ``upgrades``: the pool's upgrade profile;
    ``available``: the versions pools of the cluster can run (``availableAgentPoolVersions``), None when the control
    plane is upgraded first (AKS lists a pool's upgrades and versions only up to the control plane's current version, so
    its new version is a target before any list offers it).
    """
    name = pool["name"]
    props = pool.get("properties") or {}
    have = props.get("currentOrchestratorVersion") or props.get("orchestratorVersion")
    check_version(want, "node_pools[%s].orchestrator_version" % name)
    if matches(have, want):
        return None
    if version_key(want) < version_key(have)[:len(version_key(want))]:
        raise Refused("node pool %s: orchestrator_version %s is older than its %s: AKS does not downgrade" % (name, want, have))
    if version_key(want)[:2] > version_key(control_plane)[:2] or (want.count(".") == 2 and version_key(want) > version_key(control_plane)):
        raise Refused("node pool %s: orchestrator_version %s is newer than the control plane's %s: a pool is never newer "
                      "than the control plane; upgrade the control plane first (kubernetes_version)" % (name, want, control_plane))
    target = control_plane if matches(control_plane, want) else offered(upgrades, want)
    if target is None or (available is not None and target not in available):
        raise Refused("AKS offers no upgrade of node pool %s from %s to %s (offered: %s)"
                      % (name, have, want, ", ".join(upgrades) or "none"))
    return target


def settings_change(pool, settings):
    """The pool's ``upgradeSettings`` with ``settings`` (module option names, None left out) applied, or None when
    nothing changes."""
    have = dict((pool.get("properties") or {}).get("upgradeSettings") or {})
    want = dict(have)
    for option, key in SETTINGS_KEYS.items():
        value = (settings or {}).get(option)
        if value is not None:
            want[key] = str(value) if option == "max_surge" else value
    return None if want == have else want


def control_plane_body(cluster, version):
    """The managed cluster PUT that upgrades the control plane alone: every pool keeps its ``orchestratorVersion``."""
    body = dict((k, v) for k, v in cluster.items() if k not in ("id", "name", "type", "systemData"))
    props = dict((k, v) for k, v in (cluster.get("properties") or {}).items() if k not in READ_ONLY_CLUSTER)
    props["kubernetesVersion"] = version
    props["agentPoolProfiles"] = [
        dict([(k, v) for k, v in p.items() if k not in READ_ONLY_POOL],
             orchestratorVersion=p.get("currentOrchestratorVersion") or p.get("orchestratorVersion"))
        for p in props.get("agentPoolProfiles") or []]
    body["properties"] = props
    if isinstance(body.get("identity"), dict):
        body["identity"] = dict((k, v) for k, v in body["identity"].items() if k not in ("principalId", "tenantId"))
    return body


def pool_body(pool, version, settings):
    """The agent pool PUT body: its properties with ``orchestratorVersion`` and ``upgradeSettings`` as wanted."""
    props = dict((k, v) for k, v in (pool.get("properties") or {}).items() if k not in READ_ONLY_POOL)
    if version:
        props["orchestratorVersion"] = version
    if settings is not None:
        props["upgradeSettings"] = settings
    return {"properties": props}
