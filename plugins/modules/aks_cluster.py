#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: aks_cluster
short_description: Create, update or delete an AKS cluster built for stateful workloads
version_added: 0.1.0
description:
  - Makes sure an Azure Kubernetes Service managed cluster exists with the given version, identity,
    node pools spread over availability zones, network profile and storage profile (Azure Disk CSI driver,
    Azure Files CSI driver, snapshot controller, Blob CSI driver), or is gone.
  - Idempotent after normalising what the service fills in (zone order, casing, defaults); options left
    out are not compared, so a rerun with the same options makes no write call.
  - Node pools not listed in O(node_pools) are never deleted unless O(prune_node_pools=true).
  - Changes Azure does not allow on an existing cluster (location, DNS prefix, network profile, kubelet identity)
    or an existing pool (zones, VM size, OS disk size, max pods, OS type) fail before any write, naming the field
    and the way forward.
  - New pools are added and changed pools updated through the agent pools API; cluster settings through one
    managed cluster update; tags alone through a tags update.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  name:
    description: Cluster name (1-63 letters, digits, C(-) and C(_), starting and ending with a letter or digit).
    type: str
    required: true
  resource_group:
    description: Resource group of the cluster.
    type: str
    required: true
  state:
    description: V(present) creates or updates the cluster, V(absent) deletes it (and its node resource group).
    type: str
    default: present
    choices: [present, absent]
  location:
    description: Azure region. Required to create; cannot change afterwards.
    type: str
  kubernetes_version:
    description:
      - Kubernetes version, V(1.33) or V(1.33.2). A V(major.minor) value matches any patch of it.
      - Azure picks its default version when omitted. Downgrades fail before any call.
    type: str
  dns_prefix:
    description: DNS prefix of the API server FQDN. Defaults to O(name) on creation; cannot change afterwards.
    type: str
  identity:
    description: Identity of the cluster (control plane).
    type: dict
    suboptions:
      type:
        description: V(SystemAssigned) or V(UserAssigned).
        type: str
        default: SystemAssigned
        choices: [SystemAssigned, UserAssigned]
      user_assigned_identity:
        description: Resource id of the user-assigned managed identity; required with O(identity.type=UserAssigned).
        type: str
  kubelet_identity:
    description:
      - Bring-your-own kubelet identity (a user-assigned managed identity), instead of the C(<cluster>-agentpool)
        identity AKS creates in the node resource group. Needs O(identity.type=UserAssigned).
      - Cannot change after creation.
    type: dict
    suboptions:
      resource_id:
        description: Resource id of the user-assigned identity.
        type: str
        required: true
      client_id:
        description: Its client id.
        type: str
        required: true
      object_id:
        description: Its object (principal) id.
        type: str
        required: true
  node_pools:
    description:
      - Node pools. Required to create the cluster; one at least must have O(node_pools[].mode=System).
      - On an existing cluster, listed pools are created or updated; unlisted pools are left alone
        unless O(prune_node_pools=true).
    type: list
    elements: dict
    suboptions:
      name:
        description: Pool name, 1-12 lower-case letters and digits, starting with a letter.
        type: str
        required: true
      vm_size:
        description:
          - VM size of the nodes; V(Standard_D4s_v5) when a pool is created without it.
          - Cannot change on an existing pool (add a new pool instead).
        type: str
      count:
        description:
          - Number of nodes (the initial number with autoscaling); 3 when a pool is created without it.
          - Left out, an existing pool keeps its count.
        type: int
      zones:
        description:
          - Availability zones the nodes are spread over, for example V([1, 2, 3]). Order does not matter.
          - Cannot change on an existing pool (add a new pool instead).
        type: list
        elements: str
      mode:
        description: V(System) pools run the system pods; V(User) pools (the default for a new pool) run workloads only.
        type: str
        choices: [System, User]
      os_type:
        description: Operating system of the nodes; V(Linux) when a pool is created without it. Cannot change.
        type: str
        choices: [Linux, Windows]
      max_pods:
        description: Maximum pods per node. Cannot change on an existing pool.
        type: int
      os_disk_size_gb:
        description: OS disk size in GiB. Cannot change on an existing pool.
        type: int
      labels:
        description: Kubernetes labels of the nodes (the complete set when given).
        type: dict
      taints:
        description: Taints of the nodes as C(key=value:Effect) strings (the complete set when given).
        type: list
        elements: str
      enable_autoscaling:
        description:
          - Let the cluster autoscaler size the pool between O(node_pools[].min_count) and O(node_pools[].max_count).
          - Off when a pool is created without it; left out, an existing pool keeps its setting.
        type: bool
      min_count:
        description: Minimum nodes with autoscaling.
        type: int
      max_count:
        description: Maximum nodes with autoscaling.
        type: int
  prune_node_pools:
    description: Delete pools of the cluster that O(node_pools) does not list. Never deletes the last System pool.
    type: bool
    default: false
  network_profile:
    description: Network profile; set at creation, cannot change afterwards (a different value fails).
    type: dict
    suboptions:
      network_plugin:
        description: V(azure), V(kubenet) or V(none).
        type: str
        choices: [azure, kubenet, none]
      network_plugin_mode:
        description: V(overlay) for Azure CNI overlay.
        type: str
      network_policy:
        description: V(azure), V(calico) or V(cilium).
        type: str
      pod_cidr:
        description: Pod CIDR (kubenet, overlay).
        type: str
      service_cidr:
        description: Service CIDR.
        type: str
      dns_service_ip:
        description: Cluster DNS service IP (inside O(network_profile.service_cidr)).
        type: str
      load_balancer_sku:
        description: Load balancer SKU.
        type: str
        choices: [standard, basic]
      outbound_type:
        description: Outbound routing, for example V(loadBalancer) or V(userDefinedRouting).
        type: str
  storage_profile:
    description: CSI drivers and the snapshot controller. Options left out keep what the cluster has.
    type: dict
    suboptions:
      disk_csi_driver:
        description: Azure Disk CSI driver.
        type: bool
      file_csi_driver:
        description: Azure Files CSI driver.
        type: bool
      snapshot_controller:
        description: CSI snapshot controller (VolumeSnapshot support).
        type: bool
      blob_csi_driver:
        description: Azure Blob CSI driver.
        type: bool
  disable_local_accounts:
    description:
      - Disable local accounts (the admin kubeconfig); Entra ID sign-in only. Azure allows it only on a cluster with
        Entra ID integration (O(entra_id)).
    type: bool
  entra_id:
    description:
      - AKS-managed Microsoft Entra ID integration (C(aadProfile)). The API server then accepts Entra ID tokens for the
        AKS server application, and the user kubeconfig signs in with kubelogin (see O(kubeconfig.login)).
      - Once on, Azure does not turn it off; leaving the option out keeps what the cluster has.
      - Kubernetes RBAC authorizes the users (Azure RBAC for Kubernetes authorization is not managed by this module).
    type: dict
    suboptions:
      admin_group_object_ids:
        description:
          - Object ids of the Entra ID groups whose members are cluster admins (AKS binds them to C(cluster-admin)).
          - The complete list when given (order and casing do not matter); left out, the cluster keeps its groups.
        type: list
        elements: str
      tenant_id:
        description: Tenant of the users who sign in; Azure uses the subscription's tenant when it is not given.
        type: str
  sku_tier:
    description: Control plane tier.
    type: str
    choices: [Free, Standard, Premium]
  timeout:
    default: 3600
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubedisk.aks.azure.tags
  - kubedisk.aks.azure.kubeconfig_file
"""

EXAMPLES = r"""
- name: A zone-spread cluster with the disk CSI driver and snapshot controller
  kubedisk.aks.aks_cluster:
    name: aks-stateful
    resource_group: rg-stateful
    location: westeurope
    kubernetes_version: "1.33"
    sku_tier: Standard
    node_pools:
      - name: system
        mode: System
        vm_size: Standard_D4s_v5
        count: 3
        zones: [1, 2, 3]
      - name: data
        vm_size: Standard_D8s_v5
        count: 3
        zones: [1, 2, 3]
        labels:
          workload: stateful
        taints:
          - workload=stateful:NoSchedule
    storage_profile:
      disk_csi_driver: true
      snapshot_controller: true
    kubeconfig:
      path: ~/.kube/aks-stateful
      credential: admin
  register: cluster

- name: Entra ID sign-in only, for an admin group; a kubeconfig with a token for a controller without kubelogin
  kubedisk.aks.aks_cluster:
    name: aks-stateful
    resource_group: rg-stateful
    entra_id:
      admin_group_object_ids: [0b1f6e5c-2a4d-4a53-9c1e-5b2b3a0d8f11]
    disable_local_accounts: true
    kubeconfig:
      path: ~/.kube/aks-stateful
      login: token

- name: Kubelet identity to grant roles to
  ansible.builtin.debug:
    msg: "{{ cluster.cluster.kubelet_identity.object_id }}"

- name: Delete the cluster
  kubedisk.aks.aks_cluster:
    name: aks-stateful
    resource_group: rg-stateful
    state: absent
"""

RETURN = r"""
cluster:
  description: Facts of the cluster after the task (predicted in check mode; empty when absent). No credentials.
  returned: always
  type: dict
  contains:
    id:
      description: Resource id.
      type: str
    name:
      description: Name.
      type: str
    resource_group:
      description: Resource group.
      type: str
    location:
      description: Region.
      type: str
    kubernetes_version:
      description: Requested Kubernetes version.
      type: str
      sample: "1.33"
    current_kubernetes_version:
      description: Running Kubernetes version.
      type: str
      sample: 1.33.2
    dns_prefix:
      description: DNS prefix.
      type: str
    fqdn:
      description: API server FQDN.
      type: str
      sample: aks-stateful-1a2b3c4d.hcp.westeurope.azmk8s.io
    node_resource_group:
      description: Resource group holding the nodes, disks of the CSI driver and the kubelet identity.
      type: str
      sample: MC_rg-stateful_aks-stateful_westeurope
    provisioning_state:
      description: Provisioning state.
      type: str
    power_state:
      description: Running or Stopped.
      type: str
    sku_tier:
      description: Control plane tier.
      type: str
    disable_local_accounts:
      description: Whether local accounts are off.
      type: bool
    entra_id:
      description: Entra ID integration (managed, admin_group_object_ids, tenant_id, azure_rbac); null without it.
      type: dict
      sample: {managed: true, admin_group_object_ids: [0b1f6e5c-2a4d-4a53-9c1e-5b2b3a0d8f11], tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47,
               azure_rbac: false}
    identity:
      description: Cluster identity (type, principal_id, tenant_id, user_assigned_identities).
      type: dict
    kubelet_identity:
      description: Kubelet identity (resource_id, client_id, object_id); object_id is the principal to grant roles to.
      type: dict
    storage_profile:
      description: Whether each CSI driver and the snapshot controller are on.
      type: dict
      sample: {disk_csi_driver: true, file_csi_driver: true, snapshot_controller: true, blob_csi_driver: false}
    network_profile:
      description: Network profile.
      type: dict
    tags:
      description: Tags.
      type: dict
    node_pools:
      description: Every pool of the cluster, sorted by name (name, vm_size, count, zones, mode, labels, taints, ...).
      type: list
      elements: dict
kubeconfig_path:
  description: Where the kubeconfig was written (with O(kubeconfig)). Its content, and the token of O(kubeconfig.login=token), are never returned.
  returned: when O(kubeconfig) is set
  type: str
operations:
  description: The write operations done (or that check mode would do), in order.
  returned: always
  type: list
  elements: str
  sample: ["create cluster aks-stateful"]
found_existing:
  description:
    - True when another run created the cluster between this run's first read and its create (at the last read before the
      write, or because Azure refused the create for it); this run then compared it with what was asked instead of
      creating it again, and a warning says so. C(changed) is false unless it differed in something that can be updated.
  returned: when another run created it meanwhile
  type: bool
  sample: true
"""

import copy
import re
from functools import partial

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_facts import (
    KUBECONFIG_FILE_SPEC, cluster_facts, cluster_kubeconfig, write_private_file)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_diff import norm_zones, same_text
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import (
    is_guid, same_id, valid_agent_pool, valid_cluster_name, valid_dns_prefix, valid_resource_group)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_tags import TAGS_SPEC, tags_after

TAINT = re.compile(r"^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)\Z")
VERSION = re.compile(r"^\d+\.\d+(\.\d+)?\Z")
STORAGE_KEYS = {"disk_csi_driver": "diskCSIDriver", "file_csi_driver": "fileCSIDriver",
                "snapshot_controller": "snapshotController", "blob_csi_driver": "blobCSIDriver"}
NETWORK_KEYS = {"network_plugin": "networkPlugin", "network_plugin_mode": "networkPluginMode", "network_policy": "networkPolicy",
                "pod_cidr": "podCidr", "service_cidr": "serviceCidr", "dns_service_ip": "dnsServiceIP",
                "load_balancer_sku": "loadBalancerSku", "outbound_type": "outboundType"}
READ_ONLY_CLUSTER = ("provisioningState", "powerState", "fqdn", "azurePortalFQDN", "privateFQDN", "currentKubernetesVersion",
                     "maxAgentPools", "resourceUID")
READ_ONLY_POOL = ("provisioningState", "powerState", "currentOrchestratorVersion", "nodeImageVersion", "eTag")
IMMUTABLE_POOL = (("zones", "availabilityZones"), ("vm_size", "vmSize"), ("os_disk_size_gb", "osDiskSizeGB"),
                  ("max_pods", "maxPods"), ("os_type", "osType"))

POOL_SPEC = {
    "name": {"type": "str", "required": True},
    "vm_size": {"type": "str"},
    "count": {"type": "int"},
    "zones": {"type": "list", "elements": "str"},
    "mode": {"type": "str", "choices": ["System", "User"]},
    "os_type": {"type": "str", "choices": ["Linux", "Windows"]},
    "max_pods": {"type": "int"},
    "os_disk_size_gb": {"type": "int"},
    "labels": {"type": "dict"},
    "taints": {"type": "list", "elements": "str"},
    "enable_autoscaling": {"type": "bool"},
    "min_count": {"type": "int"},
    "max_count": {"type": "int"},
}

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "resource_group": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "location": {"type": "str"},
    "kubernetes_version": {"type": "str"},
    "dns_prefix": {"type": "str"},
    "identity": {"type": "dict", "options": {
        "type": {"type": "str", "default": "SystemAssigned", "choices": ["SystemAssigned", "UserAssigned"]},
        "user_assigned_identity": {"type": "str"},
    }},
    "kubelet_identity": {"type": "dict", "options": {
        "resource_id": {"type": "str", "required": True},
        "client_id": {"type": "str", "required": True},
        "object_id": {"type": "str", "required": True},
    }},
    "node_pools": {"type": "list", "elements": "dict", "options": POOL_SPEC},
    "prune_node_pools": {"type": "bool", "default": False},
    "network_profile": {"type": "dict", "options": {
        "network_plugin": {"type": "str", "choices": ["azure", "kubenet", "none"]},
        "network_plugin_mode": {"type": "str"},
        "network_policy": {"type": "str"},
        "pod_cidr": {"type": "str"},
        "service_cidr": {"type": "str"},
        "dns_service_ip": {"type": "str"},
        "load_balancer_sku": {"type": "str", "choices": ["standard", "basic"]},
        "outbound_type": {"type": "str"},
    }},
    "storage_profile": {"type": "dict", "options": dict((k, {"type": "bool"}) for k in STORAGE_KEYS)},
    "disable_local_accounts": {"type": "bool"},
    "entra_id": {"type": "dict", "options": {
        "admin_group_object_ids": {"type": "list", "elements": "str"},
        "tenant_id": {"type": "str"},
    }},
    "sku_tier": {"type": "str", "choices": ["Free", "Standard", "Premium"]},
    "kubeconfig": KUBECONFIG_FILE_SPEC,
}
ARGUMENT_SPEC.update(TAGS_SPEC)


class Invalid(Exception):
    """Bad input: the message names the field and what to do."""


# ----- validation (no Azure call) ------------------------------------------------------------------
def validate_params(params):
    """Checks that need no Azure state; raises Invalid."""
    if not valid_cluster_name(params["name"]):
        raise Invalid("name %r is not a valid AKS cluster name: 1-63 letters, digits, '-' or '_', starting and ending "
                      "with a letter or digit" % params["name"])
    if not valid_resource_group(params["resource_group"]):
        raise Invalid("resource_group %r is not a valid resource group name" % params["resource_group"])
    if params["state"] == "absent":
        return
    if params["kubernetes_version"] and not VERSION.match(params["kubernetes_version"]):
        raise Invalid("kubernetes_version %r is not a version: use major.minor (1.33) or major.minor.patch (1.33.2)"
                      % params["kubernetes_version"])
    if params["dns_prefix"] and not valid_dns_prefix(params["dns_prefix"]):
        raise Invalid("dns_prefix %r is not valid: 1-54 letters, digits and '-', starting and ending with a letter or digit"
                      % params["dns_prefix"])
    identity = params["identity"] or {}
    if identity.get("type") == "UserAssigned" and not identity.get("user_assigned_identity"):
        raise Invalid("identity.type UserAssigned needs identity.user_assigned_identity (the identity's resource id)")
    if identity.get("type") != "UserAssigned" and identity.get("user_assigned_identity"):
        raise Invalid("identity.user_assigned_identity is only used with identity.type: UserAssigned")
    if params["kubelet_identity"] and identity.get("type") != "UserAssigned":
        raise Invalid("kubelet_identity (bring your own) needs identity.type: UserAssigned with a user_assigned_identity "
                      "that may manage it (Managed Identity Operator on the kubelet identity)")
    entra_id = params["entra_id"] or {}
    for group in entra_id.get("admin_group_object_ids") or []:
        if not is_guid(group):
            raise Invalid("entra_id.admin_group_object_ids: %r is not a group object id (a GUID)" % group)
    if entra_id.get("tenant_id") and not is_guid(entra_id["tenant_id"]):
        raise Invalid("entra_id.tenant_id %r is not a tenant id (a GUID)" % entra_id["tenant_id"])
    kubeconfig = params["kubeconfig"] or {}
    if kubeconfig.get("credential") == "admin" and params["disable_local_accounts"]:
        raise Invalid("kubeconfig.credential admin is not available with disable_local_accounts: true; use credential: user")
    seen = set()
    for pool in params["node_pools"] or []:
        validate_pool(pool, seen)


def validate_pool(pool, seen):
    name = pool["name"]
    if not valid_agent_pool(name):
        raise Invalid("node pool name %r is not valid: 1-12 lower-case letters and digits, starting with a letter" % name)
    if name in seen:
        raise Invalid("node pool %s is listed twice in node_pools" % name)
    seen.add(name)
    for zone in pool["zones"] or []:
        if str(zone) not in ("1", "2", "3"):
            raise Invalid("node pool %s: zone %r is not an availability zone; use 1, 2 or 3" % (name, zone))
    low = 1 if pool["mode"] == "System" else 0
    if pool["count"] is not None and not low <= pool["count"] <= 1000:
        raise Invalid("node pool %s: count %d is out of range (%d-1000 for a %s pool)"
                      % (name, pool["count"], low, pool["mode"] or "User"))
    if pool["enable_autoscaling"]:
        if pool["min_count"] is None or pool["max_count"] is None:
            raise Invalid("node pool %s: enable_autoscaling needs min_count and max_count" % name)
        if pool["min_count"] > pool["max_count"]:
            raise Invalid("node pool %s: min_count %d is above max_count %d" % (name, pool["min_count"], pool["max_count"]))
        if pool["count"] is not None and not pool["min_count"] <= pool["count"] <= pool["max_count"]:
            raise Invalid("node pool %s: count %d must lie between min_count %d and max_count %d"
                          % (name, pool["count"], pool["min_count"], pool["max_count"]))
    elif pool["min_count"] is not None or pool["max_count"] is not None:
        raise Invalid("node pool %s: min_count / max_count need enable_autoscaling: true" % name)
    for taint in pool["taints"] or []:
        if not TAINT.match(taint):
            raise Invalid("node pool %s: taint %r is not key=value:Effect (Effect NoSchedule, PreferNoSchedule or NoExecute)"
                          % (name, taint))
    if pool["max_pods"] is not None and not 10 <= pool["max_pods"] <= 250:
        raise Invalid("node pool %s: max_pods %d is out of range 10-250" % (name, pool["max_pods"]))
    if pool["os_disk_size_gb"] is not None and not 30 <= pool["os_disk_size_gb"] <= 2048:
        raise Invalid("node pool %s: os_disk_size_gb %d is out of range 30-2048" % (name, pool["os_disk_size_gb"]))


def version_tuple(version):
    return tuple(int(x) for x in version.split("."))


# ----- desired state ---------------------------------------------------------------------------------
NEW_POOL_DEFAULTS = {"vm_size": "Standard_D4s_v5", "count": 3, "mode": "User", "os_type": "Linux", "enable_autoscaling": False}


def pool_body(pool, current=None):
    """Agent pool REST properties: the options over ``current`` (REST profile), or over the defaults for a new pool."""
    if current is None:
        pool = dict(pool, **dict((k, v) for k, v in NEW_POOL_DEFAULTS.items() if pool.get(k) is None))
        if pool["enable_autoscaling"] and pool.get("count") is None:
            pool["count"] = pool["min_count"]
    body = dict((k, v) for k, v in (current or {}).items() if k not in READ_ONLY_POOL and k != "name")
    body.setdefault("type", "VirtualMachineScaleSets")
    for option, key in (("vm_size", "vmSize"), ("os_type", "osType"), ("mode", "mode"), ("max_pods", "maxPods"),
                        ("os_disk_size_gb", "osDiskSizeGB")):
        if pool.get(option) is not None and (current is None or current.get(key) is None or option == "mode"):
            body[key] = pool[option]
    if pool.get("zones") is not None and current is None:
        body["availabilityZones"] = norm_zones(pool["zones"])
    autoscaling = pool.get("enable_autoscaling")
    if autoscaling is None:
        autoscaling = bool((current or {}).get("enableAutoScaling"))
    body["enableAutoScaling"] = autoscaling
    if pool.get("count") is not None and not (autoscaling and current is not None and current.get("enableAutoScaling")):
        body["count"] = pool["count"]  # with autoscaling on already, the autoscaler owns the count
    if autoscaling:
        if pool.get("min_count") is not None:
            body["minCount"], body["maxCount"] = pool["min_count"], pool["max_count"]
    else:
        body.pop("minCount", None)
        body.pop("maxCount", None)
    if pool.get("labels") is not None:
        body["nodeLabels"] = dict((k, str(v)) for k, v in pool["labels"].items())
    if pool.get("taints") is not None:
        body["nodeTaints"] = list(pool["taints"])
    return body


def pool_immutable_changes(pool, current):
    """Fields of an existing pool the options would change but Azure cannot."""
    problems = []
    for option, key in IMMUTABLE_POOL:
        want = pool[option]
        if want is None:
            continue
        have = current.get(key)
        if option == "zones":
            if norm_zones(want) != norm_zones(have):
                problems.append("zones %s -> %s" % (norm_zones(have), norm_zones(want)))
        elif option in ("vm_size", "os_type"):
            if have is not None and not same_text(want, have):
                problems.append("%s %s -> %s" % (option, have, want))
        elif have is not None and want != have:
            problems.append("%s %s -> %s" % (option, have, want))
    return problems


def pool_changed(pool, current):
    """Mutable fields of an existing pool that the options change (options left out are not compared)."""
    changes = []
    if pool["mode"] is not None and not same_text(pool["mode"], current.get("mode")):
        changes.append("mode")
    have_auto = bool(current.get("enableAutoScaling"))
    want_auto = have_auto if pool["enable_autoscaling"] is None else pool["enable_autoscaling"]
    if want_auto != have_auto:
        changes.append("enable_autoscaling")
    if want_auto:
        if pool["min_count"] is not None and (current.get("minCount"), current.get("maxCount")) != (pool["min_count"], pool["max_count"]):
            changes.append("min_count/max_count")
    elif pool["count"] is not None and current.get("count") != pool["count"]:
        changes.append("count")
    if pool["labels"] is not None and dict((k, str(v)) for k, v in pool["labels"].items()) != (current.get("nodeLabels") or {}):
        changes.append("labels")
    if pool["taints"] is not None and sorted(pool["taints"]) != sorted(current.get("nodeTaints") or []):
        changes.append("taints")
    return changes


def create_body(params):
    identity = params["identity"] or {"type": "SystemAssigned"}
    body = {
        "location": params["location"],
        "tags": dict(params["tags"] or {}),
        "sku": {"name": "Base", "tier": params["sku_tier"] or "Free"},
        "identity": {"type": identity["type"]},
        "properties": {
            "dnsPrefix": params["dns_prefix"] or params["name"][:54].strip("-_").replace("_", "-"),
            "enableRBAC": True,
            "agentPoolProfiles": [dict(pool_body(p), name=p["name"]) for p in params["node_pools"]],
        },
    }
    if identity["type"] == "UserAssigned":
        body["identity"]["userAssignedIdentities"] = {identity["user_assigned_identity"]: {}}
    props = body["properties"]
    if params["kubernetes_version"]:
        props["kubernetesVersion"] = params["kubernetes_version"]
    if params["kubelet_identity"]:
        k = params["kubelet_identity"]
        props["identityProfile"] = {"kubeletidentity": {"resourceId": k["resource_id"], "clientId": k["client_id"],
                                                        "objectId": k["object_id"]}}
    if params["network_profile"]:
        props["networkProfile"] = dict((NETWORK_KEYS[k], v) for k, v in params["network_profile"].items() if v is not None)
    if params["storage_profile"]:
        props["storageProfile"] = dict((STORAGE_KEYS[k], {"enabled": v}) for k, v in params["storage_profile"].items() if v is not None)
    if params["disable_local_accounts"] is not None:
        props["disableLocalAccounts"] = params["disable_local_accounts"]
    if params["entra_id"]:
        props["aadProfile"] = aad_profile(params["entra_id"], {})
    return body


def aad_profile(entra_id, current):
    """The ``aadProfile`` the ``entra_id`` options ask for over the cluster's ``current`` one (AKS-managed, Kubernetes RBAC)."""
    profile = dict(current or {}, managed=True)
    profile.setdefault("enableAzureRBAC", False)
    if entra_id["admin_group_object_ids"] is not None:
        profile["adminGroupObjectIDs"] = sorted(group.lower() for group in entra_id["admin_group_object_ids"])
    if entra_id["tenant_id"]:
        profile["tenantID"] = entra_id["tenant_id"]
    return profile


def aad_profile_changed(entra_id, current):
    """Whether the ``entra_id`` options differ from the cluster's ``aadProfile`` (options left out are not compared)."""
    current = current or {}
    if not current.get("managed"):
        return True
    groups = entra_id["admin_group_object_ids"]
    if groups is not None and sorted(set(g.lower() for g in groups)) != sorted(set(g.lower() for g in current.get("adminGroupObjectIDs") or [])):
        return True
    return bool(entra_id["tenant_id"]) and not same_text(entra_id["tenant_id"], current.get("tenantID"))


def cluster_immutable_changes(params, current):
    props = current.get("properties") or {}
    problems = []
    if params["location"] and not same_text(params["location"].replace(" ", ""), (current.get("location") or "").replace(" ", "")):
        problems.append("location %s -> %s (create a new cluster in that region)" % (current.get("location"), params["location"]))
    if params["dns_prefix"] and not same_text(params["dns_prefix"], props.get("dnsPrefix")):
        problems.append("dns_prefix %s -> %s (fixed at creation)" % (props.get("dnsPrefix"), params["dns_prefix"]))
    network = props.get("networkProfile") or {}
    for option, value in (params["network_profile"] or {}).items():
        if value is not None and not same_text(value, network.get(NETWORK_KEYS[option])):
            problems.append("network_profile.%s %s -> %s (fixed at creation; create a new cluster)"
                            % (option, network.get(NETWORK_KEYS[option]), value))
    if params["kubelet_identity"]:
        have = ((props.get("identityProfile") or {}).get("kubeletidentity") or {}).get("resourceId")
        if not same_id(have, params["kubelet_identity"]["resource_id"]):
            problems.append("kubelet_identity %s -> %s (fixed at creation)" % (have, params["kubelet_identity"]["resource_id"]))
    return problems


def version_change(params, props):
    want = params["kubernetes_version"]
    if not want:
        return None
    have = props.get("currentKubernetesVersion") or props.get("kubernetesVersion") or ""
    if want == props.get("kubernetesVersion") or have == want or have.startswith(want + "."):
        return None
    if have and VERSION.match(have) and version_tuple(want) < version_tuple(have)[:len(version_tuple(want))]:
        raise Invalid("kubernetes_version %s is older than the cluster's %s: AKS does not downgrade; create a new cluster "
                      "or keep %s" % (want, have, have))
    return want


def cluster_update(params, current, force=False):
    """The managed cluster PUT body when a cluster-level setting changes (None when none does), and what changes."""
    body = copy.deepcopy(current)
    props = body.setdefault("properties", {})
    changes = []
    version = version_change(params, current.get("properties") or {})
    if version:
        props["kubernetesVersion"] = version
        changes.append("kubernetes_version")
    storage = props.setdefault("storageProfile", {})
    for option, value in (params["storage_profile"] or {}).items():
        key = STORAGE_KEYS[option]
        if value is not None and bool((storage.get(key) or {}).get("enabled")) != value:
            storage[key] = dict(storage.get(key) or {}, enabled=value)
            changes.append("storage_profile.%s" % option)
    if params["disable_local_accounts"] is not None and bool(props.get("disableLocalAccounts")) != params["disable_local_accounts"]:
        props["disableLocalAccounts"] = params["disable_local_accounts"]
        changes.append("disable_local_accounts")
    if params["entra_id"] and aad_profile_changed(params["entra_id"], props.get("aadProfile")):
        props["aadProfile"] = aad_profile(params["entra_id"], props.get("aadProfile"))
        changes.append("entra_id")
    if params["sku_tier"] and not same_text(params["sku_tier"], (body.get("sku") or {}).get("tier")):
        body["sku"] = dict(body.get("sku") or {"name": "Base"}, tier=params["sku_tier"])
        changes.append("sku_tier")
    identity = params["identity"]
    if identity:
        have = body.get("identity") or {}
        want_ids = [identity["user_assigned_identity"]] if identity["type"] == "UserAssigned" else []
        have_ids = list((have.get("userAssignedIdentities") or {}).keys())
        if not same_text(identity["type"], have.get("type")) or [i.lower() for i in want_ids] != [i.lower() for i in have_ids]:
            body["identity"] = {"type": identity["type"]}
            if want_ids:
                body["identity"]["userAssignedIdentities"] = {want_ids[0]: {}}
            changes.append("identity")
    if not changes and not force:
        return None, [], None
    predicted = copy.deepcopy(body)
    for key in READ_ONLY_CLUSTER:
        props.pop(key, None)
    props["agentPoolProfiles"] = [dict((k, v) for k, v in p.items() if k not in READ_ONLY_POOL)
                                  for p in props.get("agentPoolProfiles") or []]
    if isinstance(body.get("identity"), dict):
        body["identity"].pop("principalId", None)
        body["identity"].pop("tenantId", None)
    for key in ("id", "name", "type", "systemData"):
        body.pop(key, None)
    return body, changes, predicted


def plan(params, current):
    """What to write: a list of (kind, name, payload, description) and the predicted REST state after it.

    Raises Invalid for changes Azure would refuse, before anything is written.
    """
    name = params["name"]
    entra_id_on = params["entra_id"] is not None or bool((((current or {}).get("properties") or {}).get("aadProfile") or {}).get("managed"))
    if params["disable_local_accounts"] and not entra_id_on:
        raise Invalid("disable_local_accounts: true needs Entra ID integration (entra_id): without it Azure allows no sign-in "
                      "but the local accounts, and refuses to disable them")
    if current is None:
        if not params["location"]:
            raise Invalid("location is required to create cluster %s" % name)
        if not params["node_pools"]:
            raise Invalid("node_pools is required to create cluster %s (at least one pool with mode: System)" % name)
        if not any(p["mode"] == "System" for p in params["node_pools"]):
            raise Invalid("cluster %s needs at least one node pool with mode: System" % name)
        body = create_body(params)
        predicted = copy.deepcopy(body)
        predicted["name"] = name
        return [("create", name, body, "create cluster %s" % name)], predicted

    problems = cluster_immutable_changes(params, current)
    pools = dict((p.get("name"), p) for p in (current.get("properties") or {}).get("agentPoolProfiles") or [])
    listed = params["node_pools"]
    for pool in listed or []:
        if pool["name"] in pools:
            problems.extend("node pool %s: %s cannot change (add a new pool with the new value, move the workloads, then "
                            "remove the old pool)" % (pool["name"], p) for p in pool_immutable_changes(pool, pools[pool["name"]]))
    if problems:
        raise Invalid("cannot update cluster %s: %s" % (name, "; ".join(problems)))

    ops = []
    predicted = copy.deepcopy(current)
    props = predicted.setdefault("properties", {})
    body, changes, updated = cluster_update(params, current)
    if body is None and same_text((current.get("properties") or {}).get("provisioningState"), "Failed"):
        # a failed operation left the cluster Failed: the same PUT again lets AKS reconcile it
        body, changes, updated = cluster_update(params, current, force=True)
        changes = ["reconcile after provisioningState Failed"]
    if body is not None:
        ops.append(("update", name, body, "update cluster %s (%s)" % (name, ", ".join(changes))))
        predicted = updated
        props = predicted["properties"]
    profiles = props.setdefault("agentPoolProfiles", [])
    for pool in listed or []:
        have = pools.get(pool["name"])
        if have is None:
            ops.append(("pool", pool["name"], pool_body(pool), "add node pool %s" % pool["name"]))
            profiles.append(dict(pool_body(pool), name=pool["name"]))
            continue
        changed = pool_changed(pool, have)
        if not changed and same_text(have.get("provisioningState"), "Failed"):
            changed = ["reconcile after provisioningState Failed"]
        if changed:
            new = pool_body(pool, have)
            ops.append(("pool", pool["name"], new, "update node pool %s (%s)" % (pool["name"], ", ".join(changed))))
            for i, profile in enumerate(profiles):
                if profile.get("name") == pool["name"]:
                    profiles[i] = dict(new, name=pool["name"])
    if params["prune_node_pools"] and listed is not None:
        keep = set(p["name"] for p in listed)
        extra = sorted(n for n in pools if n not in keep)
        left = [p for p in profiles if p.get("name") in keep]
        if extra and not any(same_text(p.get("mode"), "System") for p in left):
            raise Invalid("prune_node_pools would leave cluster %s without a System pool; list one with mode: System" % name)
        for pool_name in extra:
            ops.append(("delete_pool", pool_name, None, "delete node pool %s" % pool_name))
        props["agentPoolProfiles"] = left
    tags = tags_after(current.get("tags"), params["tags"], params["append_tags"])
    if tags is not None and tags != (current.get("tags") or {}):
        if body is not None:
            ops[0][2]["tags"] = tags
        else:
            ops.append(("tags", name, {"tags": tags}, "update tags of cluster %s" % name))
        predicted["tags"] = tags
    return ops, predicted


# ----- Azure calls -------------------------------------------------------------------------------------
def apply(module, client, ops):
    rg, name = module.params["resource_group"], module.params["name"]
    result = None
    for kind, target, payload, what in ops:
        if kind in ("create", "update"):
            result = module.begin(what, client.managed_clusters.begin_create_or_update, rg, name, payload)
        elif kind == "tags":
            result = module.begin(what, client.managed_clusters.begin_update_tags, rg, name, payload)
        elif kind == "pool":
            module.begin(what, client.agent_pools.begin_create_or_update, rg, name, target, {"properties": payload})
            result = None
        elif kind == "delete_pool":
            module.begin(what, client.agent_pools.begin_delete, rg, name, target)
            result = None
    if result is None:
        result = module.call("reading cluster %s" % name, client.managed_clusters.get, rg, name)
    return to_rest(result)


def create(module, client, ops, result):
    """Create the cluster (the one operation planned for an absent one); returns it as a REST dict.

    When another run made it meanwhile, plans again against what is there: nothing when it is as asked, the updates
    when it differs in what can change; fails when it differs in what cannot.
    """
    rg, name = module.params["resource_group"], module.params["name"]
    _kind, _target, payload, what = ops[0]
    made, created = module.create(what, partial(client.managed_clusters.get, rg, name), client.managed_clusters.begin_create_or_update,
                                  rg, name, payload)
    if created:
        return to_rest(made)
    module.found_existing(result, "cluster %s" % name)
    found = to_rest(made)
    try:
        again, _predicted = plan(module.params, found)
    except Invalid as exc:
        module.fail_json(msg="cluster %s was made meanwhile by another run and differs from what was asked: %s" % (name, exc), cluster=cluster_facts(found),
                         found_existing=True)
    result["operations"] = [op[3] for op in again]
    result["changed"] = bool(again)
    return apply(module, client, again) if again else found


def main():
    module = AzureModule(ARGUMENT_SPEC, default_timeout=3600)
    params = module.params
    try:
        validate_params(params)
    except Invalid as exc:
        module.fail_json(msg=str(exc))
    client = module.client("containerservice")
    rg, name = params["resource_group"], params["name"]
    current = to_rest(module.current("reading cluster %s" % name, client.managed_clusters.get, rg, name))
    before = cluster_facts(current)
    result = {"changed": False, "operations": []}

    if params["state"] == "absent":
        after = {}
        if current:
            result["operations"] = ["delete cluster %s" % name]
            if not module.check_mode:
                module.begin("deleting cluster %s" % name, client.managed_clusters.begin_delete, rg, name)
            result["changed"] = True
    else:
        try:
            ops, predicted = plan(params, current)
        except Invalid as exc:
            module.fail_json(msg=str(exc), cluster=before)
        result["operations"] = [op[3] for op in ops]
        result["changed"] = bool(ops)
        if current is None:
            module.check_location(params["location"], sorted(set(z for pool in params["node_pools"] or [] for z in pool["zones"] or [])))
        if ops and not module.check_mode:
            after = cluster_facts(create(module, client, ops, result) if current is None else apply(module, client, ops))
        else:
            after = cluster_facts(predicted) if ops else before
        if params["kubeconfig"]:
            path = params["kubeconfig"]["path"]
            result["kubeconfig_path"] = path
            if module.check_mode and current is None:
                result["changed"] = True
            else:
                content = cluster_kubeconfig(module, client, rg, name, params["kubeconfig"])
                if write_private_file(module, path, content):
                    result["changed"] = True
                    result["operations"].append("write kubeconfig %s" % path)
    result["cluster"] = after
    module.exit_with_diff(before, after, **result)


if __name__ == "__main__":
    main()
