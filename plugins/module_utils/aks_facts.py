# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts of an AKS managed cluster (from its REST shape) and its kubeconfig written to a file, shared by the AKS modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_kubeconfig import HAS_YAML, KubeconfigError, with_bearer_token
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_diff import norm_zones
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import parse_resource_id
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest

# The ``kubeconfig`` option of the AKS modules (documented by the ``kubedisk.aks.azure.kubeconfig_file`` doc fragment).
KUBECONFIG_FILE_SPEC = {"type": "dict", "no_log": False, "options": {
    "path": {"type": "path", "required": True},
    "credential": {"type": "str", "default": "user", "choices": ["admin", "user"]},
    "login": {"type": "str", "default": "kubelogin", "choices": ["kubelogin", "token"]},
}}


def _enabled(profile, key):
    value = (profile or {}).get(key)
    if value is None:
        return None
    return bool(value.get("enabled"))


def pool_facts(pool):
    """Facts of one agent pool, from a managed cluster's agentPoolProfiles entry or an agentPools resource."""
    pool = to_rest(pool) or {}
    props = pool.get("properties") if isinstance(pool.get("properties"), dict) else pool
    return {
        "name": pool.get("name"),
        "vm_size": props.get("vmSize"),
        "count": props.get("count"),
        "zones": norm_zones(props.get("availabilityZones")),
        "mode": props.get("mode"),
        "os_type": props.get("osType"),
        "max_pods": props.get("maxPods"),
        "os_disk_size_gb": props.get("osDiskSizeGB"),
        "labels": dict(props.get("nodeLabels") or {}),
        "taints": list(props.get("nodeTaints") or []),
        "enable_autoscaling": bool(props.get("enableAutoScaling")),
        "min_count": props.get("minCount"),
        "max_count": props.get("maxCount"),
        "orchestrator_version": props.get("currentOrchestratorVersion") or props.get("orchestratorVersion"),
        "provisioning_state": props.get("provisioningState"),
        "power_state": (props.get("powerState") or {}).get("code"),
    }


def cluster_facts(cluster):
    """Facts of a managed cluster; never any credential."""
    mc = to_rest(cluster)
    if not mc:
        return {}
    props = mc.get("properties") or {}
    identity = mc.get("identity") or {}
    kubelet = ((props.get("identityProfile") or {}).get("kubeletidentity")) or {}
    storage = props.get("storageProfile") or {}
    network = props.get("networkProfile") or {}
    parsed = parse_resource_id(mc.get("id") or "") or {}
    return {
        "id": mc.get("id"),
        "name": mc.get("name"),
        "resource_group": parsed.get("resource_group"),
        "location": mc.get("location"),
        "tags": dict(mc.get("tags") or {}),
        "kubernetes_version": props.get("kubernetesVersion"),
        "current_kubernetes_version": props.get("currentKubernetesVersion"),
        "dns_prefix": props.get("dnsPrefix"),
        "fqdn": props.get("fqdn"),
        "node_resource_group": props.get("nodeResourceGroup"),
        "provisioning_state": props.get("provisioningState"),
        "power_state": (props.get("powerState") or {}).get("code"),
        "sku_tier": (mc.get("sku") or {}).get("tier"),
        "disable_local_accounts": bool(props.get("disableLocalAccounts")),
        "entra_id": entra_id_facts(props.get("aadProfile")),
        "enable_rbac": props.get("enableRBAC"),
        "identity": {
            "type": identity.get("type"),
            "principal_id": identity.get("principalId"),
            "tenant_id": identity.get("tenantId"),
            "user_assigned_identities": sorted((identity.get("userAssignedIdentities") or {}).keys()),
        },
        "kubelet_identity": {
            "resource_id": kubelet.get("resourceId"),
            "client_id": kubelet.get("clientId"),
            "object_id": kubelet.get("objectId"),
        },
        "storage_profile": {
            "disk_csi_driver": _enabled(storage, "diskCSIDriver"),
            "file_csi_driver": _enabled(storage, "fileCSIDriver"),
            "snapshot_controller": _enabled(storage, "snapshotController"),
            "blob_csi_driver": _enabled(storage, "blobCSIDriver"),
        },
        "network_profile": {
            "network_plugin": network.get("networkPlugin"),
            "network_plugin_mode": network.get("networkPluginMode"),
            "network_policy": network.get("networkPolicy"),
            "pod_cidr": network.get("podCidr"),
            "service_cidr": network.get("serviceCidr"),
            "dns_service_ip": network.get("dnsServiceIP"),
            "load_balancer_sku": network.get("loadBalancerSku"),
            "outbound_type": network.get("outboundType"),
        },
        "node_pools": sorted((pool_facts(p) for p in props.get("agentPoolProfiles") or []), key=lambda p: p["name"] or ""),
    }


def entra_id_facts(profile):
    """Facts of a cluster's Entra ID integration (``aadProfile``), None without it."""
    if not profile:
        return None
    return {
        "managed": bool(profile.get("managed")),
        "admin_group_object_ids": sorted(group.lower() for group in profile.get("adminGroupObjectIDs") or []),
        "tenant_id": profile.get("tenantID"),
        "azure_rbac": bool(profile.get("enableAzureRBAC")),
    }


def principal_of(facts, which):
    """Object id of a cluster's ``kubelet`` or ``cluster`` identity (None when it has none)."""
    if which == "kubelet":
        return (facts.get("kubelet_identity") or {}).get("object_id")
    return (facts.get("identity") or {}).get("principal_id")


def fetch_kubeconfig(module, client, resource_group, name, credential):
    """The kubeconfig bytes of a cluster (admin or user credential)."""
    if credential == "admin":
        op, what = client.managed_clusters.list_cluster_admin_credentials, "admin"
    else:
        op, what = client.managed_clusters.list_cluster_user_credentials, "user"
    result = module.call("getting the %s kubeconfig of cluster %s" % (what, name), op, resource_group, name)
    configs = getattr(result, "kubeconfigs", None) or []
    if not configs:
        module.fail_json(msg="Azure returned no %s kubeconfig for cluster %s" % (what, name))
    value = getattr(configs[0], "value", None)
    if value is None and isinstance(configs[0], dict):
        value = configs[0].get("value")
    if isinstance(value, str):
        value = base64.b64decode(value)
    return bytes(value or b"")


def cluster_kubeconfig(module, client, resource_group, name, options):
    """The kubeconfig bytes the ``kubeconfig`` option writes: Azure's, or with ``login: token`` its exec (kubelogin)
    users replaced by a bearer token the module's Azure credential gets for the server application they name (the
    file's own content when it is that kubeconfig with a token still valid). The token is kept out of every output."""
    content = fetch_kubeconfig(module, client, resource_group, name, options["credential"])
    if options.get("login") != "token":
        return content
    if not HAS_YAML:
        module.fail_json(msg="kubeconfig.login token needs PyYAML")

    def get_token(application):
        token = module.call("getting an Entra ID token for the AKS server application %s (kubeconfig.login token)" % application,
                            module.credential.get_token, "%s/.default" % application).token
        module.module.no_log_values.add(token)
        return token

    try:
        return with_bearer_token(content, get_token, _read_file(options["path"]))
    except KubeconfigError as exc:
        module.fail_json(msg="cannot replace kubelogin by a token in the kubeconfig of cluster %s: %s" % (name, exc))


def _read_file(path):
    """A file's bytes, or None when it is not a readable file."""
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_private_file(module, path, content):
    """Write ``content`` to ``path`` with mode 0600 when it differs; returns True when the file changed (in check
    mode: would change). A path that cannot be a file fails the module with the reason."""
    path = os.path.expanduser(path)
    content = to_bytes(content)
    if os.path.isdir(path):
        module.fail_json(msg="cannot write the kubeconfig to %s: it is a directory; give a file path" % path)
    try:
        return _write_if_changed(module, path, content)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write the kubeconfig to %s: %s" % (path, exc))


def _write_if_changed(module, path, content):
    if os.path.exists(path):
        with open(path, "rb") as handle:
            same = hashlib.sha256(handle.read()).digest() == hashlib.sha256(content).digest()
        mode_ok = (os.stat(path).st_mode & 0o777) == 0o600
        if same and mode_ok:
            return False
        if same:
            if not module.check_mode:
                os.chmod(path, 0o600)
            return True
    if module.check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg="cannot write the kubeconfig to %s: directory %s does not exist" % (path, directory))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".kubeconfig-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True
