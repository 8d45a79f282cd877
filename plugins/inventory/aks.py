# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: aks
short_description: AKS clusters of Azure subscriptions as inventory hosts
version_added: 0.2.0
description:
  - Makes one host per Azure Kubernetes Service managed cluster of one or more subscriptions, optionally only those of
    some resource groups, locations or tags.
  - Each host carries the cluster's facts in C(aks_cluster) (the facts M(kubedisk.aks.aks_cluster_info) returns, that is id,
    resource group, location, Kubernetes version, node resource group, kubelet identity with object id, client id and
    resource id, node pools with zones, VM size, count and versions, power and provisioning state, storage profile,
    tags) plus C(aks_subscription_id). Never any credential.
  - The host name is the cluster name. When clusters of the same name exist in several resource groups (or
    subscriptions), each of them is named C(<resource_group>_<name>) instead (C(<subscription_id>_<resource_group>_<name>)
    when that is still not unique), so that no cluster hides another.
  - One C(managedClusters) list call per subscription (per resource group with O(resource_groups)); the Azure SDK follows
    the pages' C(nextLink) to the last page. Throttled calls (HTTP 429) wait for C(Retry-After) within O(timeout).
  - The configuration file's name must end in C(aks.yml) or C(aks.yaml).
  - Uses the authentication options (and environment variables) of the collection's Azure modules.
author:
  - kubedisk.aks maintainers (@kubedisk)
requirements:
  - azure-mgmt-containerservice
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - kubedisk.aks.azure
options:
  plugin:
    description: Marks the file as a configuration of this plugin.
    type: str
    required: true
    choices: [kubedisk.aks.aks]
  subscriptions:
    description:
      - Subscription ids to list the clusters of.
      - Defaults to the one subscription of O(subscription_id) (or E(AZURE_SUBSCRIPTION_ID)).
    type: list
    elements: str
    default: []
  resource_groups:
    description:
      - Only the clusters of these resource groups (names, case-insensitive), listed group by group.
      - A group that does not exist in a subscription is skipped with a warning.
      - Empty means every resource group.
    type: list
    elements: str
    default: []
  locations:
    description: Only the clusters in these Azure regions (for example V(westeurope)); empty means every region.
    type: list
    elements: str
    default: []
  tags:
    description:
      - Only the clusters that carry each of these tags with this value. A value of V(null) matches any value of the tag.
    type: dict
    default: {}
  timeout:
    description:
      - Seconds the listing of every subscription may take in all, the waits for throttled calls included.
    type: int
    default: 300
notes:
  - The authentication options are given in the inventory file (or through their environment variables), not through
    C(module_defaults); the hosts are not reachable machines, so the plays over them run with a local connection (C(connection=local)).
  - With O(cache=true) the listing is kept in the cache plugin for O(cache_timeout) seconds and a cached inventory makes no
    Azure call; C(ansible-inventory --flush-cache) (or C(--flush-cache) of C(ansible-playbook)) reads Azure again.
"""

EXAMPLES = r"""
# fleet.aks.yml: every cluster of two subscriptions, grouped by region, Kubernetes minor and a tag
plugin: kubedisk.aks.aks
auth_source: cli
subscriptions:
  - 00000000-0000-0000-0000-000000000000
  - 11111111-1111-1111-1111-111111111111
keyed_groups:
  - key: aks_cluster.location
    prefix: location
  - key: aks_cluster.kubernetes_version.split('.')[:2] | join('_')
    prefix: k8s
  - key: aks_cluster.tags.env | default('none')
    prefix: env
groups:
  stopped: aks_cluster.power_state != 'Running'
  zonal: aks_cluster.node_pools | selectattr('zones') | list | length > 0
compose:
  node_resource_group: aks_cluster.node_resource_group
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/kubedisk-aks-inventory
cache_timeout: 600

---
# prod.aks.yml: the production clusters of two resource groups, signed in as a service principal from the environment
plugin: kubedisk.aks.aks
auth_source: env
resource_groups: [rg-prod-weu, rg-prod-neu]
tags:
  env: prod
  owner:
"""

import os

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_facts import cluster_facts
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_auth import (
    AUTH_ARG_SPEC, ENV_NAMES, AzureAuthError, build_credential, resolve_cloud, tls_verify)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_errors import error_details, format_error
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_retry import DeadlineRetryPolicy
from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline

try:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
    from azure.mgmt.containerservice import ContainerServiceClient
    HAS_AZURE = True
except ImportError:
    HAS_AZURE = False

display = Display()

USER_AGENT = "kubedisk.aks-inventory"


def host_names(clusters):
    """A unique host name per cluster: its name, else ``<resource_group>_<name>``, else with the subscription first."""
    def counts(key):
        seen = {}
        for cluster in clusters:
            seen[key(cluster)] = seen.get(key(cluster), 0) + 1
        return seen

    by_name = counts(lambda c: c["name"].lower())
    by_group = counts(lambda c: (c["resource_group"].lower(), c["name"].lower()))
    names = []
    for cluster in clusters:
        if by_name[cluster["name"].lower()] == 1:
            names.append(cluster["name"])
        elif by_group[(cluster["resource_group"].lower(), cluster["name"].lower())] == 1:
            names.append("%s_%s" % (cluster["resource_group"], cluster["name"]))
        else:
            names.append("%s_%s_%s" % (cluster["subscription_id"], cluster["resource_group"], cluster["name"]))
    return names


def wanted(cluster, locations, tags):
    """Whether a cluster's facts pass the location and tag filters."""
    if locations and (cluster["location"] or "").replace(" ", "").lower() not in locations:
        return False
    for key, value in tags.items():
        if key not in cluster["tags"] or (value is not None and cluster["tags"][key] != value):
            return False
    return True


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """AKS managed clusters as hosts, their facts as host variables."""

    NAME = "kubedisk.aks.aks"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(("aks.yml", "aks.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        clusters = None
        if use_cache:
            try:
                clusters = self._cache[cache_key]
            except KeyError:
                clusters = None
        if clusters is None:
            clusters = self._list_clusters()
            if self.get_option("cache"):
                self._cache[cache_key] = clusters
        self._populate(clusters)

    def _auth_params(self):
        """The modules' auth options: the file's values, else their environment variables, else their defaults."""
        params = {}
        for key in AUTH_ARG_SPEC:
            value, origin = self.get_option_and_origin(key)
            if (value is None or origin == "default") and key in ENV_NAMES:
                value = next((os.environ[name] for name in ENV_NAMES[key] if os.environ.get(name)), value)
            params[key] = value
        return params

    def _clients(self, params, subscriptions, deadline):
        """A ContainerServiceClient per subscription, sharing one credential; retries bounded by ``deadline``."""
        cloud = resolve_cloud(params)

        def retry_policy():
            return DeadlineRetryPolicy(deadline, retry_total=10, retry_status=6, retry_backoff_factor=0.8, retry_backoff_max=60,
                                       timeout=deadline.seconds)

        credential = build_credential(params, cloud, retry_policy=retry_policy)
        return [(subscription, ContainerServiceClient(
            credential, subscription, base_url=cloud["resource_manager"].rstrip("/"), credential_scopes=[cloud["scope"]],
            connection_verify=tls_verify(params), retry_policy=retry_policy(), user_agent=USER_AGENT))
            for subscription in subscriptions]

    def _list_clusters(self):
        """Facts of every wanted cluster, in the order Azure lists them (what the cache keeps)."""
        if not HAS_AZURE:
            raise AnsibleError("the kubedisk.aks.aks inventory needs azure-identity and azure-mgmt-containerservice")
        params = self._auth_params()
        subscriptions = self.get_option("subscriptions") or [params.get("subscription_id")]
        if not all(subscriptions):
            raise AnsibleError("kubedisk.aks.aks: set subscriptions, subscription_id or AZURE_SUBSCRIPTION_ID")
        locations = set(location.replace(" ", "").lower() for location in self.get_option("locations"))
        tags = self.get_option("tags") or {}
        found = []
        subscription = subscriptions[0]
        try:
            for subscription, client in self._clients(params, subscriptions, Deadline(self.get_option("timeout"))):
                for cluster in self._clusters_of(client, subscription):
                    facts = dict(cluster_facts(cluster), subscription_id=subscription)
                    if wanted(facts, locations, tags):
                        found.append(facts)
        except AzureAuthError as exc:
            raise AnsibleError("kubedisk.aks.aks: %s" % exc)
        except ClientAuthenticationError as exc:
            raise AnsibleError(format_error("kubedisk.aks.aks: Azure authentication failed (check auth_source, client_id, "
                                            "secret or certificate, tenant, cloud_environment and authority_host)",
                                            error_details(exc)))
        except HttpResponseError as exc:
            raise AnsibleError(format_error("kubedisk.aks.aks: listing the AKS clusters of subscription %s" % subscription,
                                            error_details(exc)))
        return found

    def _clusters_of(self, client, subscription):
        groups = self.get_option("resource_groups")
        if not groups:
            yield from client.managed_clusters.list()
            return
        for group in groups:
            try:
                yield from client.managed_clusters.list_by_resource_group(group)
            except HttpResponseError as exc:
                if error_details(exc).get("code") != "ResourceGroupNotFound":
                    raise
                display.warning("kubedisk.aks.aks: resource group %s does not exist in subscription %s" % (group, subscription))

    def _populate(self, clusters):
        strict = self.get_option("strict")
        for name, facts in zip(host_names(clusters), clusters):
            host = self.inventory.add_host(name)
            self.inventory.set_variable(host, "aks_cluster", facts)
            self.inventory.set_variable(host, "aks_subscription_id", facts["subscription_id"])
            variables = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
