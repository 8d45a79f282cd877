#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: aks_upgrade
short_description: Upgrade an AKS cluster's control plane and node pools in AKS's order, safely for zonal disks
version_added: 0.2.0
description:
  - Upgrades the control plane to O(kubernetes_version), then each node pool to its O(node_pools[].orchestrator_version)
    (or the control plane's version), one pool after the other, and upgrades node images alone with O(node_pools[].node_image)
    (C(upgradeNodeImageVersion)). Sets each pool's O(upgrade_settings) (max surge, drain timeout, soak time, undrainable
    node behaviour) with its upgrade.
  - "A module apart from M(kubedisk.aks.aks_cluster): that one declares a state and writes it in one go, while an upgrade is
    a sequence AKS orders (control plane before pools, one minor version at a time, a pool never newer than the control
    plane), each step a long operation that moves pods and may be interrupted; this module plans the whole sequence from
    the cluster's upgrade profiles before the first write, shows it in check mode and diff, checks that the pods with
    zonal disks can move before each pool upgrade, and resumes an upgrade in progress rather than starting another."
  - A version two minor versions ahead is refused (naming the version to upgrade to first) rather than planned as two
    upgrades, so a playbook names each version the cluster goes through.
  - "Before a pool upgrade starts (O(zonal_preflight=true)) it plays AKS's drains of that upgrade on the cluster as it
    is: surge nodes added in the zones Azure surely puts them, then the old nodes drained in batches of as many nodes as
    surge nodes (AKS drains a batch at the same time), then the surge nodes. A pod whose disk is pinned to a zone must
    find a node of that zone outside its batch each time (capacity, taints, attach slots, required anti-affinity), and no
    PodDisruptionBudget may block. Otherwise the module fails before any write, naming the pod, its
    zone and the setting to change (the smallest O(upgrade_settings.max_surge) that works)."
  - An upgrade already running (provisioningState C(Upgrading), for example after an earlier run hit its O(timeout)) is
    waited for, then the plan is made again from what it left; a rerun at the target changes nothing.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  name:
    description: Cluster name.
    type: str
    required: true
  resource_group:
    description: Resource group of the cluster.
    type: str
    required: true
  kubernetes_version:
    description:
      - Control plane version, V(1.34) (the newest patch AKS offers) or V(1.34.2). Left out, the control plane is not
        upgraded and pools follow its current version.
      - It must be offered by the cluster's upgrade profile (C(upgradeProfiles/default)); at most one minor version ahead.
    type: str
  node_pools:
    description:
      - Pools to upgrade after the control plane, in this order. Left out, every pool of the cluster (by name) follows the
        control plane, unless O(control_plane_only=true).
    type: list
    elements: dict
    suboptions:
      name:
        description: Pool name.
        type: str
        required: true
      orchestrator_version:
        description:
          - Version of the pool, never newer than the control plane (a pool several minor versions behind may go
            straight to the control plane's version, as AKS allows).
          - Defaults to the control plane's version (after its upgrade).
        type: str
      node_image:
        description:
          - Upgrade the nodes to the newest node image (C(latestNodeImageVersion) of the pool's upgrade profile) when the
            version does not change; a version upgrade brings the newest image anyway.
        type: bool
        default: false
      upgrade_settings:
        description: This pool's upgrade settings, over O(upgrade_settings) key by key.
        type: dict
        suboptions:
          max_surge:
            description: See O(upgrade_settings.max_surge).
            type: str
          drain_timeout_in_minutes:
            description: See O(upgrade_settings.drain_timeout_in_minutes).
            type: int
          node_soak_duration_in_minutes:
            description: See O(upgrade_settings.node_soak_duration_in_minutes).
            type: int
          undrainable_node_behavior:
            description: See O(upgrade_settings.undrainable_node_behavior).
            type: str
            choices: [Schedule, Cordon]
  control_plane_only:
    description: Upgrade the control plane alone; O(node_pools) must then be left out.
    type: bool
    default: false
  upgrade_settings:
    description:
      - The C(upgradeSettings) of every upgraded pool (a pool keeps its own for what is left out here and in
        O(node_pools[].upgrade_settings)). Written with the pool's upgrade; when only they change, a pool update writes them.
    type: dict
    suboptions:
      max_surge:
        description:
          - Extra nodes AKS adds during the upgrade, a count (V(3)) or a percent of the pool's nodes (V(33%), rounded up);
            AKS also drains and reimages that many old nodes at the same time.
          - With zonal disks it must put a surge node in every zone that holds such pods and has no spare node, which
            takes at least the pool's zone count (Azure spreads surge nodes over the zones with the fewest nodes).
        type: str
      drain_timeout_in_minutes:
        description: How long AKS waits for the evictions of one node (PodDisruptionBudgets) before the upgrade fails.
        type: int
      node_soak_duration_in_minutes:
        description: How long AKS waits after reimaging a node before the next one.
        type: int
      undrainable_node_behavior:
        description:
          - V(Cordon) leaves a node AKS cannot drain cordoned and goes on; V(Schedule) fails the upgrade.
          - Needs azure-mgmt-containerservice 36.0.0 or later (API version 2025-03-01); with an older one the module
            fails before any write.
        type: str
        choices: [Schedule, Cordon]
  zonal_preflight:
    description:
      - Check before each pool upgrade (version or node image) that its drains strand no pod with a zonal disk and that no
        PodDisruptionBudget blocks them; needs access to the cluster's Kubernetes API.
    type: bool
    default: true
  csi_driver:
    description: CSI driver whose attach slots the preflight counts.
    type: str
    default: disk.csi.azure.com
  timeout:
    default: 3600
notes:
  - Check mode reads the cluster, its upgrade profiles and (for the preflight) its Kubernetes objects, and writes nothing;
    RV(plan) and the diff show the steps. Reads need C(Microsoft.ContainerService/managedClusters/read) and
    C(.../agentPools/read); the upgrades C(.../managedClusters/write), C(.../agentPools/write) and
    C(.../agentPools/upgradeNodeImageVersion/action).
  - The preflight is a snapshot; it counts only the surge nodes Azure surely puts in a zone, places only pods with
    zonal volumes, and takes the old nodes in the order of their names (their scale set instances' order) for its
    batches.
  - Kubernetes is reached with kubernetes.core's connection options (also set for a play through C(module_defaults) of
    C(group/kubedisk.aks.k8s)), except O(validate_certs), which is about Azure's endpoints here.
seealso:
  - name: Upgrade options for AKS clusters
    description: AKS's upgrade order, surge and drain settings.
    link: https://learn.microsoft.com/azure/aks/upgrade-cluster
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubernetes.core.k8s_auth_options
"""

EXAMPLES = r"""
- name: Show the plan (pools, from -> to, surge nodes per zone)
  kubedisk.aks.aks_upgrade:
    name: aks-stateful
    resource_group: rg-stateful
    kubernetes_version: "1.34"
    upgrade_settings:
      max_surge: "3"
  check_mode: true
  diff: true
  register: upgrade_plan

- name: Control plane, then every pool, with a surge node in each of three zones
  kubedisk.aks.aks_upgrade:
    name: aks-stateful
    resource_group: rg-stateful
    kubernetes_version: "1.34"
    upgrade_settings:
      max_surge: "3"
      drain_timeout_in_minutes: 30
    kubeconfig: ~/.kube/aks-stateful

- name: Newest node image on the data pool only
  kubedisk.aks.aks_upgrade:
    name: aks-stateful
    resource_group: rg-stateful
    node_pools:
      - name: data
        node_image: true
"""

RETURN = r"""
plan:
  description: The steps, in order (done, or to do in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    step:
      description: V(control_plane), V(node_pool) (version and settings) or V(node_image).
      type: str
    pool:
      description: The pool (pool steps).
      type: str
    from:
      description: Version (or node image) before.
      type: str
    to:
      description: Version (or node image) after.
      type: str
    upgrade_settings:
      description: The pool's upgradeSettings with the step (pool steps).
      type: dict
    surge_nodes:
      description: Surge nodes AKS adds (pool upgrades).
      type: int
    surge_nodes_per_zone:
      description: Per zone the fewest and most surge nodes Azure puts there (pool upgrades, with the preflight).
      type: dict
  sample:
    - {step: control_plane, from: 1.33.6, to: 1.34.2}
    - step: node_pool
      pool: data
      from: 1.33.6
      to: 1.34.2
      surge_nodes: 3
      surge_nodes_per_zone: {westeurope-1: {fewest: 1, most: 1}}
operations:
  description: The writes done (or that check mode would do), in order.
  returned: always
  type: list
  elements: str
waited_for:
  description: Operations found running (an upgrade an earlier run started) and waited for before planning.
  returned: always
  type: list
  elements: str
versions:
  description: The control plane's and each pool's version after the task (predicted in check mode).
  returned: always
  type: dict
"""

from functools import partial

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_upgrade_plan import (
    SETTINGS_KEYS, Refused, control_plane_body, control_plane_target, matches, pool_body, pool_target, settings_change, surge_count)
from ansible_collections.kubedisk.aks.plugins.module_utils.aks_upgrade_preflight import POOL_LABEL, upgrade_refusal
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import TERMINAL_STATES, AzureModule, provisioning_state
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_client import AZURE_MODULE_K8S_AUTH_SPEC, K8sError
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_drain_plan import read_cluster
from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import CSI_DRIVER

try:
    from azure.mgmt.containerservice.models import AgentPoolUpgradeSettings
except ImportError:
    AgentPoolUpgradeSettings = None  # the client's import reports the missing library

SETTINGS_SPEC = {
    "max_surge": {"type": "str"},
    "drain_timeout_in_minutes": {"type": "int"},
    "node_soak_duration_in_minutes": {"type": "int"},
    "undrainable_node_behavior": {"type": "str", "choices": ["Schedule", "Cordon"]},
}
ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "resource_group": {"type": "str", "required": True},
    "kubernetes_version": {"type": "str"},
    "node_pools": {"type": "list", "elements": "dict", "options": {
        "name": {"type": "str", "required": True},
        "orchestrator_version": {"type": "str"},
        "node_image": {"type": "bool", "default": False},
        "upgrade_settings": {"type": "dict", "options": SETTINGS_SPEC},
    }},
    "control_plane_only": {"type": "bool", "default": False},
    "upgrade_settings": {"type": "dict", "options": SETTINGS_SPEC},
    "zonal_preflight": {"type": "bool", "default": True},
    "csi_driver": {"type": "str", "default": CSI_DRIVER},
}
ARGUMENT_SPEC.update(AZURE_MODULE_K8S_AUTH_SPEC)
# AKS surges by 10 % of a pool when its upgradeSettings name no maxSurge.
DEFAULT_MAX_SURGE = "10%"


def _pool_version(pool):
    props = pool.get("properties") or {}
    return props.get("currentOrchestratorVersion") or props.get("orchestratorVersion")


def merged_settings(params, listed):
    settings = dict((k, v) for k, v in (params["upgrade_settings"] or {}).items() if v is not None)
    settings.update((k, v) for k, v in ((listed or {}).get("upgrade_settings") or {}).items() if v is not None)
    return settings


class Upgrade(object):
    """Reads the cluster, plans the steps, checks them and makes them, within the module's deadline."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = module.client("containerservice")
        self.rg, self.name = self.params["resource_group"], self.params["name"]
        self.waited_for = []

    def settled(self, what, read):
        """The resource ``read`` gives once no operation runs on it (an upgrade an earlier run started, or another
        client's); says so in ``waited_for`` when one did."""
        state = provisioning_state(to_rest(self.module.get_or_none(what, read)))
        if state and state.lower() not in TERMINAL_STATES:
            self.waited_for.append("%s (%s)" % (what, state))
        return to_rest(self.module.current(what, read))

    def read(self):
        mc = self.client.managed_clusters
        cluster = self.settled("cluster %s" % self.name, partial(mc.get, self.rg, self.name))
        if cluster is None:
            self.module.fail_json(msg="cluster %s not found in resource group %s" % (self.name, self.rg))
        pools = {}
        for item in self.module.call("listing the node pools of %s" % self.name, lambda: list(self.client.agent_pools.list(self.rg, self.name))):
            pool_name = to_rest(item)["name"]
            pools[pool_name] = self.settled("node pool %s" % pool_name, partial(self.client.agent_pools.get, self.rg, self.name, pool_name))
        return cluster, pools

    def profile(self, pool=None):
        if pool is None:
            found = self.module.call("reading the upgrade profile of cluster %s" % self.name,
                                     self.client.managed_clusters.get_upgrade_profile, self.rg, self.name)
            control = (to_rest(found).get("properties") or {}).get("controlPlaneProfile") or {}
            return [u["kubernetesVersion"] for u in control.get("upgrades") or []], None
        found = to_rest(self.module.call("reading the upgrade profile of node pool %s" % pool,
                                         self.client.agent_pools.get_upgrade_profile, self.rg, self.name, pool))
        props = found.get("properties") or {}
        return [u["kubernetesVersion"] for u in props.get("upgrades") or []], props.get("latestNodeImageVersion")

    def available(self):
        found = to_rest(self.module.call("reading the available node pool versions of %s" % self.name,
                                         self.client.agent_pools.get_available_agent_pool_versions, self.rg, self.name))
        return [v["kubernetesVersion"] for v in (found.get("properties") or {}).get("agentPoolVersions") or []]

    def plan(self, cluster, pools):
        """The steps ``(kind, pool, payload, entry)`` in AKS's order; raises Refused before any write."""
        params = self.params
        props = cluster.get("properties") or {}
        control = props.get("currentKubernetesVersion") or props.get("kubernetesVersion")
        steps = []
        if params["kubernetes_version"]:
            offers = [] if matches(control, params["kubernetes_version"]) else self.profile()[0]
            target = control_plane_target(cluster, params["kubernetes_version"], offers)
            if target:
                steps.append(("control_plane", None, control_plane_body(cluster, target),
                              {"step": "control_plane", "from": control, "to": target}))
                control = target
        if params["control_plane_only"]:
            return steps, control
        listed = params["node_pools"]
        if listed is None:
            listed = [{"name": n, "orchestrator_version": None, "node_image": False, "upgrade_settings": None} for n in sorted(pools)]
        unknown = [p["name"] for p in listed if p["name"] not in pools]
        if unknown:
            raise Refused("cluster %s has no node pool %s (its pools: %s)" % (self.name, ", ".join(unknown), ", ".join(sorted(pools))))
        available = None
        control_plane_step = bool(steps)
        for item in listed:
            pool = pools[item["name"]]
            have = _pool_version(pool)
            want = item["orchestrator_version"] or control
            moves = not matches(have, want)
            upgrades, latest_image = self.profile(item["name"]) if (item["node_image"] or moves) else ([], None)
            if moves and available is None and not control_plane_step:
                available = self.available()
            target = pool_target(pool, want, control, upgrades, available)
            settings = settings_change(pool, merged_settings(params, item))
            if settings is not None:
                self.check_surge(settings)
            count = (pool.get("properties") or {}).get("count") or 0
            effective = settings or (pool.get("properties") or {}).get("upgradeSettings") or {}
            surge = surge_count(effective.get("maxSurge") or DEFAULT_MAX_SURGE, count)
            if target or settings is not None:
                entry = {"step": "node_pool", "pool": item["name"], "from": have, "to": target or have, "upgrade_settings": effective}
                if target:
                    entry["surge_nodes"] = surge
                steps.append(("node_pool", item["name"], pool_body(pool, target, settings), entry))
            image = (pool.get("properties") or {}).get("nodeImageVersion")
            if item["node_image"] and not target and latest_image and latest_image != image:
                steps.append(("node_image", item["name"], None, {"step": "node_image", "pool": item["name"], "from": image,
                                                                 "to": latest_image, "upgrade_settings": effective,
                                                                 "surge_nodes": surge}))
        return steps, control

    @staticmethod
    def check_surge(settings):
        if settings.get("maxSurge") is not None:
            surge_count(settings["maxSurge"], 1)

    def preflight(self, steps, pools):
        """Fail before any write when a pool upgrade's drains would strand a pod with a zonal disk or a budget blocks."""
        upgrading = [(pool, entry) for kind, pool, dummy, entry in steps if "surge_nodes" in entry]
        if not upgrading or not self.params["zonal_preflight"]:
            return
        kube = self.module.kube()
        for pool, entry in upgrading:
            try:
                state = read_cluster(kube, lambda node, name=pool: ((node.get("metadata") or {}).get("labels") or {}).get(POOL_LABEL) == name)
            except K8sError as exc:
                self.module.fail_json(msg="zonal preflight of node pool %s: cannot read the cluster: %s" % (pool, exc))
            settings = entry.get("upgrade_settings") or {}
            count = (pools[pool].get("properties") or {}).get("count") or 0
            max_surge = settings.get("maxSurge") or DEFAULT_MAX_SURGE
            percent = str(max_surge).endswith("%")

            def surge_for(nodes, count=count, percent=percent):
                return "%d%%" % -(-nodes * 100 // count) if percent and count else str(nodes)

            refusal, found = upgrade_refusal(state, pool, max_surge, entry["surge_nodes"], self.params["csi_driver"], surge_for)
            entry["surge_nodes_per_zone"] = found["surge_nodes_per_zone"]
            if refusal:
                self.module.fail_json(msg="upgrading node pool %s of cluster %s would strand pods with zonal disks, so nothing "
                                          "was changed: %s" % (pool, self.name, refusal),
                                      plan=[s[3] for s in steps], stranded=found["stranded"], pdb_blocks=found["pdb_blocks"])

    def apply(self, steps):
        mc, ap = self.client.managed_clusters, self.client.agent_pools
        for kind, pool, payload, entry in steps:
            if kind == "control_plane":
                self.module.begin("upgrading the control plane of %s to %s" % (self.name, entry["to"]),
                                  mc.begin_create_or_update, self.rg, self.name, payload)
            elif kind == "node_pool":
                self.module.begin("upgrading node pool %s to %s" % (pool, entry["to"]), ap.begin_create_or_update,
                                  self.rg, self.name, pool, payload)
            else:
                self.module.begin("upgrading the node image of node pool %s" % pool, ap.begin_upgrade_node_image_version,
                                  self.rg, self.name, pool)
                self.module.current("node pool %s" % pool, ap.get, self.rg, self.name, pool)


def describe(entry):
    if entry["step"] == "control_plane":
        return "upgrade the control plane from %s to %s" % (entry["from"], entry["to"])
    if entry["step"] == "node_image":
        return "upgrade the node image of node pool %s from %s to %s" % (entry["pool"], entry["from"], entry["to"])
    if entry["from"] == entry["to"]:
        return "set the upgrade settings of node pool %s" % entry["pool"]
    return "upgrade node pool %s from %s to %s (max surge %s: %d surge node(s))" % (
        entry["pool"], entry["from"], entry["to"], entry["upgrade_settings"].get("maxSurge") or DEFAULT_MAX_SURGE, entry["surge_nodes"])


def versions(control, pools, steps=()):
    """``{control_plane, node_pools: {name: {version, node_image, upgrade_settings}}}`` after ``steps``."""
    found = {"control_plane": control, "node_pools": dict(
        (name, {"version": _pool_version(p), "node_image": (p.get("properties") or {}).get("nodeImageVersion"),
                "upgrade_settings": (p.get("properties") or {}).get("upgradeSettings") or {}}) for name, p in pools.items())}
    for kind, pool, dummy, entry in steps:
        if kind == "node_pool":
            found["node_pools"][pool].update(version=entry["to"], upgrade_settings=entry["upgrade_settings"])
        elif kind == "node_image":
            found["node_pools"][pool]["node_image"] = entry["to"]
    return found


def unsendable_settings(names):
    """The upgrade settings among ``names`` the installed azure-mgmt-containerservice has no field for in its API version:
    its models would drop them from the request unsent (undrainableNodeBehavior is in API 2025-03-01, SDK 36.0.0, on)."""
    if AgentPoolUpgradeSettings is None:
        return []
    model = AgentPoolUpgradeSettings()
    return sorted(name for name in names if not hasattr(model, name))


def main():
    module = AzureModule(ARGUMENT_SPEC, default_timeout=3600)
    params = module.params
    if params["control_plane_only"] and (params["node_pools"] is not None or not params["kubernetes_version"]):
        module.fail_json(msg="control_plane_only needs kubernetes_version and no node_pools")
    asked = set()
    for settings in [params["upgrade_settings"]] + [p["upgrade_settings"] for p in params["node_pools"] or []]:
        try:
            Upgrade.check_surge(dict((SETTINGS_KEYS[k], v) for k, v in (settings or {}).items() if v is not None))
        except Refused as exc:
            module.fail_json(msg=str(exc))
        asked.update(k for k, v in (settings or {}).items() if v is not None)
    unsendable = unsendable_settings(asked)
    if unsendable:
        module.fail_json(msg="upgrade_settings %s: the installed azure-mgmt-containerservice's API version has no such field and "
                             "would drop it unsent; it needs azure-mgmt-containerservice 36.0.0 or later" % ", ".join(unsendable))
    upgrade = Upgrade(module)
    cluster, pools = upgrade.read()
    props = cluster.get("properties") or {}
    before = versions(props.get("currentKubernetesVersion") or props.get("kubernetesVersion"), pools)
    try:
        steps, control = upgrade.plan(cluster, pools)
    except Refused as exc:
        module.fail_json(msg="cannot upgrade cluster %s: %s" % (upgrade.name, exc), versions=before, waited_for=upgrade.waited_for)
    upgrade.preflight(steps, pools)
    result = {"changed": bool(steps), "plan": [s[3] for s in steps], "operations": [describe(s[3]) for s in steps],
              "waited_for": upgrade.waited_for}
    if steps and not module.check_mode:
        upgrade.apply(steps)
        cluster, pools = upgrade.read()
        props = cluster.get("properties") or {}
        after = versions(props.get("currentKubernetesVersion") or props.get("kubernetesVersion"), pools)
    else:
        after = versions(control, pools, steps)
    result["versions"] = after
    module.exit_with_diff(before, after, **result)


if __name__ == "__main__":
    main()
