#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: aks_cluster_info
short_description: Facts of one AKS cluster, or of all clusters in a resource group or subscription
version_added: 0.1.0
description:
  - Reads AKS managed clusters and returns their facts (versions, identities, node resource group, pools,
    storage profile) without any credential.
  - With O(name) (and O(resource_group)) one cluster; with O(resource_group) alone every cluster of the group;
    with neither every cluster of the subscription.
  - Optionally writes the kubeconfig of the one cluster named to a file (mode 0600); it is never returned.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  name:
    description: Cluster name; needs O(resource_group).
    type: str
  resource_group:
    description: Resource group to read clusters from.
    type: str
  kubeconfig:
    description:
      - Write the kubeconfig of the cluster O(name) to a file (mode 0600). Not done in check mode.
      - With O(kubeconfig.login=token), an Entra ID cluster's user kubeconfig carries a token instead of kubelogin.
  timeout:
    default: 300
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubedisk.aks.azure.kubeconfig_file
attributes:
  check_mode:
    support: full
    details: Reads only; the kubeconfig file is not written in check mode.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: One cluster, with its kubeconfig written for kubernetes.core
  kubedisk.aks.aks_cluster_info:
    name: aks-stateful
    resource_group: rg-stateful
    kubeconfig:
      path: ~/.kube/aks-stateful
  register: info

- name: Every cluster of the subscription
  kubedisk.aks.aks_cluster_info:
  register: all_clusters
"""

RETURN = r"""
clusters:
  description:
    - Facts of the clusters found (see the C(cluster) return value of M(kubedisk.aks.aks_cluster)), sorted by id.
    - Empty when the named cluster does not exist.
  returned: always
  type: list
  elements: dict
  sample:
    - name: aks-stateful
      resource_group: rg-stateful
      node_resource_group: MC_rg-stateful_aks-stateful_westeurope
      kubelet_identity: {object_id: 3aac3059-e424-4cad-b631-5a25f70ba73d}
kubeconfig_path:
  description: Where the kubeconfig was written.
  returned: when O(kubeconfig) is set and the cluster exists
  type: str
"""

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_facts import (
    KUBECONFIG_FILE_SPEC, cluster_facts, cluster_kubeconfig, write_private_file)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import valid_cluster_name, valid_resource_group
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule


def main():
    argument_spec = {
        "name": {"type": "str"},
        "resource_group": {"type": "str"},
        "kubeconfig": KUBECONFIG_FILE_SPEC,
    }
    module = AzureModule(argument_spec, default_timeout=300, required_by={"name": "resource_group", "kubeconfig": "name"})
    params = module.params
    name, rg = params["name"], params["resource_group"]
    if rg is not None and not valid_resource_group(rg):
        module.fail_json(msg="resource_group %r is not a valid resource group name" % rg)
    if name is not None and not valid_cluster_name(name):
        module.fail_json(msg="name %r is not a valid AKS cluster name" % name)
    client = module.client("containerservice")
    if name:
        found = module.get_or_none("reading cluster %s" % name, client.managed_clusters.get, rg, name)
        clusters = [found] if found is not None else []
    elif rg:
        clusters = module.call("listing the clusters of resource group %s" % rg,
                               lambda: list(client.managed_clusters.list_by_resource_group(rg)))
    else:
        clusters = module.call("listing the clusters of the subscription", lambda: list(client.managed_clusters.list()))
    result = {"changed": False, "clusters": sorted((cluster_facts(c) for c in clusters), key=lambda c: (c.get("id") or "").lower())}
    if params["kubeconfig"] and clusters:
        path = params["kubeconfig"]["path"]
        result["kubeconfig_path"] = path
        content = cluster_kubeconfig(module, client, rg, name, params["kubeconfig"])
        result["changed"] = write_private_file(module, path, content)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
