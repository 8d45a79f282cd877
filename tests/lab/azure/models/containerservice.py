"""Microsoft.ContainerService managed clusters (AKS) and their agent pools.

Mirrored behaviour:
- creating a cluster makes the node resource group ``MC_<rg>_<name>_<location>`` (managed by the
  cluster), the user-assigned kubelet identity ``<name>-agentpool`` in it (a principal of the
  directory: its objectId is what role assignments name), and per agent pool one VM scale set
  ``aks-<pool>-<8 digits>-vmss`` whose instances are spread over the pool's zones;
- PUT answers 201 (created) or 200 with ``provisioningState`` Creating/Updating and an
  ``Azure-AsyncOperation`` header; DELETE, stop and start answer 202; while an operation runs,
  other changes are 409 ``OperationNotAllowed``;
- pool names match ``^[a-z][a-z0-9]{0,11}$``; at least one System pool; a pool's vmSize, zones
  and OS type, and the cluster's location, dnsPrefix and nodeResourceGroup cannot change
  (400 ``PropertyChangeNotAllowed``); a count change scales the pool's scale set;
- stop deallocates every node and reports ``powerState.code: Stopped``; start brings them back;
- ``listClusterAdminCredential`` / ``listClusterUserCredential`` return the lab control plane's
  kubeconfig for the cluster it backs (see ``backed_cluster``), else a kubeconfig whose server is a
  clearly marked placeholder; a cluster with local accounts disabled refuses the admin credential
  (400 ``BadRequest``);
- Entra ID integration (``aadProfile``: ``managed: true``, ``adminGroupObjectIDs``, ``tenantID``, which defaults
  to the subscription's tenant): the user credential is then a kubeconfig whose user runs kubelogin (an ``exec``
  plugin, ``client.authentication.k8s.io/v1beta1``, ``get-token --server-id 6dae42f8-… --client-id 80faf920-…
  --tenant-id … --login devicecode``) against the same server; a PUT without ``aadProfile`` keeps it. Not modelled:
  the legacy integration (``managed: false``) and Azure RBAC for Kubernetes authorization
  (``enableAzureRBAC: true``), both refused with 400 ``BadRequest`` naming the lab;
- deleting the cluster deletes its node resource group and identities;
- a cluster runs one of ``VERSIONS`` (one patch per minor; a ``major.minor`` request gets that
  minor's patch); ``orchestrators`` and ``kubernetesVersions`` of a location list exactly these,
  each with its upgrades as AKS allows them (the next minor: minors cannot be skipped), the default
  marked;
- the cluster body carries ``servicePrincipalProfile: {"clientId": "msi"}``, as AKS answers for a
  cluster that uses a managed identity;
- upgrades (version rules, upgrade profiles, the surge-drain-reimage run of a pool) are in ``aks_upgrade``;
  a pool keeps its own ``orchestratorVersion`` through later cluster updates.
"""

import base64
import hashlib
import json
import re
import time

from ..arm import ArmError, invalid_parameter, resource_id
from ..lro import completion
from ..store import Resource
from ..identity import AKS_SERVER_APP, GUID
from . import aks_upgrade, authorization, managedidentity, resources, rules, vmss

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
POOL_TYPE = "Microsoft.ContainerService/managedClusters/agentPools"
VERSIONS = {"1.33": "1.33.6", "1.34": "1.34.2", "1.35": "1.35.1"}
DEFAULT_VERSION = "1.35.1"
DEFAULT_VM_SIZE = "Standard_DS2_v2"
IMMUTABLE_POOL_FIELDS = ("vmSize", "availabilityZones", "osType")
# The public client application kubelogin signs users in with (Azure CLI's), as AKS writes it into user kubeconfigs.
KUBELOGIN_CLIENT_APP = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"


def _version_key(version):
    return tuple(int(part) for part in version.split("."))


def _upgrades(version):
    """The versions AKS lets a cluster at ``version`` upgrade to: the next minor's patch (minors cannot be skipped).

    With one patch per minor there is no later patch of the same minor to offer.
    """
    major, minor = _version_key(version)[:2]
    following = VERSIONS.get(f"{major}.{minor + 1}")
    return [following] if following else []


def orchestrators(subscription, location):
    """``OrchestratorVersionProfileListResult``: the versions clusters can run in ``location`` and their upgrades."""
    location = resources.check_location(location, CLUSTER_TYPE)
    profiles = []
    for version in sorted(VERSIONS.values(), key=_version_key):
        profile = {"orchestratorType": "Kubernetes", "orchestratorVersion": version, "isPreview": False,
                   "upgrades": [{"orchestratorType": "Kubernetes", "orchestratorVersion": target, "isPreview": False}
                                for target in _upgrades(version)]}
        if version == DEFAULT_VERSION:
            profile["default"] = True
        profiles.append(profile)
    return {"id": f"/subscriptions/{subscription}/providers/Microsoft.ContainerService/locations/{location}/orchestrators",
            "name": "default", "type": "Microsoft.ContainerService/locations/orchestrators", "properties": {"orchestrators": profiles}}


def kubernetes_versions(location):
    """``KubernetesVersionListResult``: per minor version its patches with their upgrades, the default minor marked."""
    resources.check_location(location, CLUSTER_TYPE)
    values = []
    for minor in sorted(VERSIONS, key=_version_key):
        patch = VERSIONS[minor]
        entry = {"version": minor, "capabilities": {"supportPlan": ["KubernetesOfficial"]}, "isPreview": False,
                 "patchVersions": {patch: {"upgrades": _upgrades(patch)}}}
        if patch == DEFAULT_VERSION:
            entry["isDefault"] = True
        values.append(entry)
    return {"values": values}


def _version(requested):
    if not requested:
        return DEFAULT_VERSION
    minor = ".".join(requested.split(".")[:2])
    if minor not in VERSIONS or (requested.count(".") == 2 and requested != VERSIONS[minor]):
        raise ArmError(400, "K8sVersionNotSupported", f"Version {requested} is not supported in this region. Supported versions: "
                                                      f"{', '.join(VERSIONS.values())}.")
    return VERSIONS[minor]


def _aad_profile(lab, raw):
    """The stored ``aadProfile`` of a request's, or ArmError for what the lab does not model or a bad group id."""
    if not isinstance(raw, dict):
        raise invalid_parameter("properties.aadProfile", "aadProfile must be an object.")
    if raw.get("managed") is not True:
        raise ArmError(400, "BadRequest", "The kubedisk lab models AKS-managed Entra ID integration only: set aadProfile.managed "
                                          "to true (the legacy integration with your own server and client applications is not modelled).")
    if raw.get("enableAzureRBAC"):
        raise ArmError(400, "BadRequest", "The kubedisk lab does not model Azure RBAC for Kubernetes authorization "
                                          "(aadProfile.enableAzureRBAC): its API server authorizes with Kubernetes RBAC only.")
    groups = raw.get("adminGroupObjectIDs") or []
    if not isinstance(groups, list) or not all(isinstance(group, str) and GUID.match(group) for group in groups):
        raise invalid_parameter("properties.aadProfile.adminGroupObjectIDs",
                                f"adminGroupObjectIDs {groups!r} must be a list of group object ids (GUIDs).")
    return {"managed": True, "enableAzureRBAC": False, "adminGroupObjectIDs": groups,
            "adminUsers": None, "tenantID": raw.get("tenantID") or lab.identity.tenant}


def get_cluster(lab, subscription, group, name):
    """One cluster, or ResourceNotFound."""
    return resources.get_resource(lab, subscription, group, CLUSTER_TYPE, name)


def render(lab, cluster):
    """The cluster as GET shows it: ``agentPoolProfiles`` reflect its agent pools."""
    profiles = []
    for pool in lab.store.children(cluster.id, POOL_TYPE):
        profile = {"name": pool.body["name"]}
        profile.update({key: value for key, value in pool.properties.items() if key != "vmssId"})
        profiles.append(profile)
    cluster.properties["agentPoolProfiles"] = profiles
    return cluster


def list_clusters(lab, subscription, group):
    """Clusters of a resource group, or of the subscription when ``group`` is None."""
    return [render(lab, cluster) for cluster in resources.list_resources(lab, subscription, group, CLUSTER_TYPE)]


def check_idle(lab, cluster):
    """409 OperationNotAllowed while an operation runs on the cluster or one of its pools."""
    for rid in [cluster.id] + [pool.id for pool in lab.store.children(cluster.id, POOL_TYPE)]:
        busy = lab.operations.busy(rid)
        if busy:
            raise ArmError(409, "OperationNotAllowed",
                           f"Operation is not allowed because there's an in progress {busy[0].kind} operation "
                           f"({busy[0].id}) on '{rid.rsplit('/', 1)[-1]}'. Please wait for it to finish before starting a new operation.")


def _pool_spec(location, raw, first):
    """Validate one agent pool profile; returns its normalised properties."""
    name = raw.get("name") or ""
    rules.check_name(POOL_TYPE, name)
    count = raw.get("count", 1 if first else 0)
    mode = raw.get("mode") or ("System" if first else "User")
    if not isinstance(count, int) or not 0 <= count <= 1000 or (mode == "System" and count < 1):
        raise invalid_parameter("agentPoolProfile.count", f"The count {count} of agent pool '{name}' is not valid: 0-1000, "
                                                          "and at least 1 for a System pool.")
    zones = [str(zone) for zone in raw.get("availabilityZones") or []]
    resources.check_zones(location, zones, "agentPoolProfile.availabilityZones")
    return {"name": name, "count": count, "vmSize": raw.get("vmSize") or DEFAULT_VM_SIZE, "availabilityZones": zones, "mode": mode,
            "osType": raw.get("osType") or "Linux", "osSKU": raw.get("osSKU") or "Ubuntu", "maxPods": raw.get("maxPods") or 250,
            "nodeLabels": raw.get("nodeLabels") or {}, "nodeTaints": raw.get("nodeTaints") or [],
            "upgradeSettings": aks_upgrade.checked_settings({"maxSurge": "10%"}, raw.get("upgradeSettings"))}


def _default_dns_prefix(name, group, subscription):
    """The DNS prefix the Azure CLI makes up when none is given: letters, digits and '-' of the names, starting with a letter."""
    name_part = re.sub("[^A-Za-z0-9-]", "", name)[:10]
    if not name_part[:1].isalpha():
        name_part = ("a" + name_part)[:10]
    return f"{name_part}-{re.sub('[^A-Za-z0-9-]', '', group)[:16]}-{subscription[:6]}"


def _vmss_number(cluster_id):
    return str(int(hashlib.sha256(cluster_id.lower().encode()).hexdigest(), 16) % 10 ** 8).rjust(8, "0")


def put_cluster(lab, subscription, group, name, body):
    """Create or update a cluster; returns (resource, operation, created)."""
    existing = lab.store.get(resource_id(subscription, group, CLUSTER_TYPE, name))
    if existing:
        cluster, operation = _update_cluster(lab, existing, body)
        return cluster, operation, False
    group_resource = resources.writable_group(lab, subscription, group)
    rules.check_new(CLUSTER_TYPE, name, body)
    location = resources.check_location(body.get("location"), CLUSTER_TYPE)
    properties = body.get("properties") or {}
    raw_pools = properties.get("agentPoolProfiles") or []
    if not raw_pools:
        raise invalid_parameter("agentPoolProfiles", "The managed cluster must have at least one agent pool (agentPoolProfiles).")
    pools = [_pool_spec(location, raw, index == 0) for index, raw in enumerate(raw_pools)]
    if not any(pool["mode"] == "System" for pool in pools):
        raise ArmError(400, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")
    version = _version(properties.get("kubernetesVersion"))
    rid = resource_id(subscription, group, CLUSTER_TYPE, name)
    node_group_name = properties.get("nodeResourceGroup") or f"MC_{group}_{name}_{location}"
    rules.check_node_resource_group(node_group_name)
    if lab.store.get(f"/subscriptions/{subscription}/resourceGroups/{node_group_name}"):
        raise ArmError(400, "NodeResourceGroupAlreadyExists", f"The node resource group '{node_group_name}' already exists; "
                                                              "choose another nodeResourceGroup.")
    node_group, _created = resources.put_group(lab, subscription, node_group_name, {"location": location}, managed_by=rid)
    kubelet, _created = managedidentity.put_identity(lab, subscription, node_group_name, f"{name}-agentpool", {"location": location})
    control_plane = authorization.add_principal(lab, name, "ServicePrincipal")
    dns_prefix = properties.get("dnsPrefix") or _default_dns_prefix(name, group, subscription)
    rules.check_dns_prefix(dns_prefix)
    storage = properties.get("storageProfile") or {}
    aad = _aad_profile(lab, properties["aadProfile"]) if properties.get("aadProfile") is not None else None
    cluster = Resource(rid, CLUSTER_TYPE, group_resource.id, resources.tracked(rid, CLUSTER_TYPE, name, location, body, {
        "sku": body.get("sku") or {"name": "Base", "tier": "Free"},
        "identity": {"type": "SystemAssigned", "principalId": control_plane.object_id, "tenantId": lab.identity.tenant},
        "properties": {
            "provisioningState": "Creating", "powerState": {"code": "Running"}, "kubernetesVersion": version,
            "currentKubernetesVersion": version, "dnsPrefix": dns_prefix,
            "fqdn": f"{dns_prefix}-{hashlib.sha256(rid.lower().encode()).hexdigest()[:8]}.hcp.{location}.azmk8s.io",
            "azurePortalFQDN": f"{dns_prefix}-portal.hcp.{location}.azmk8s.io", "nodeResourceGroup": node_group_name,
            "enableRBAC": properties.get("enableRBAC", True), "disableLocalAccounts": properties.get("disableLocalAccounts", False),
            "maxAgentPools": 100, "supportPlan": "KubernetesOfficial", "servicePrincipalProfile": {"clientId": "msi"},
            "identityProfile": {"kubeletidentity": {"resourceId": kubelet.id, "clientId": kubelet.properties["clientId"],
                                                    "objectId": kubelet.properties["principalId"]}},
            "storageProfile": {
                "diskCSIDriver": {"enabled": (storage.get("diskCSIDriver") or {}).get("enabled", True)},
                "fileCSIDriver": {"enabled": (storage.get("fileCSIDriver") or {}).get("enabled", True)},
                "snapshotController": {"enabled": (storage.get("snapshotController") or {}).get("enabled", True)},
                "blobCSIDriver": {"enabled": (storage.get("blobCSIDriver") or {}).get("enabled", False)},
            },
            "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay", "loadBalancerSku": "standard",
                               "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10", "outboundType": "loadBalancer"},
            "oidcIssuerProfile": {"enabled": bool((properties.get("oidcIssuerProfile") or {}).get("enabled"))},
            "securityProfile": {"workloadIdentity": {"enabled": bool(((properties.get("securityProfile") or {}).get("workloadIdentity") or {})
                                                                     .get("enabled"))}},
        },
    }), {"nodeGroup": node_group.id, "principal": control_plane.object_id})
    if aad:
        cluster.properties["aadProfile"] = aad
    lab.store.save(cluster)
    for pool in pools:
        _create_pool(lab, cluster, pool, node_group)
    return render(lab, cluster), lab.operations.start("cluster.create", rid, location), True


def _create_pool(lab, cluster, spec, node_group=None):
    node_group = node_group or lab.store.get(cluster.internal["nodeGroup"])
    kubelet = cluster.properties["identityProfile"]["kubeletidentity"]
    identity = {"type": "UserAssigned", "userAssignedIdentities": {
        kubelet["resourceId"]: {"principalId": kubelet["objectId"], "clientId": kubelet["clientId"]}}}
    scale_set = vmss.create_scale_set(
        lab, node_group, f"aks-{spec['name']}-{_vmss_number(cluster.id)}-vmss", cluster.body["location"], spec["vmSize"],
        spec["availabilityZones"], spec["count"], {"aks-managed-poolName": spec["name"]}, identity)
    rid = f"{cluster.id}/agentPools/{spec['name']}"
    version = cluster.properties["currentKubernetesVersion"]
    pool = Resource(rid, POOL_TYPE, cluster.id, {"id": rid, "name": spec["name"], "type": POOL_TYPE, "properties": {
        **spec, "type": "VirtualMachineScaleSets", "orchestratorVersion": version, "currentOrchestratorVersion": version,
        "provisioningState": "Creating", "powerState": {"code": cluster.properties["powerState"]["code"]}, "osDiskSizeGB": 128,
        "osDiskType": "Managed", "kubeletDiskType": "OS", "enableAutoScaling": False,
        "nodeImageVersion": aks_upgrade.CREATED_NODE_IMAGE,
    }}, {"vmss": scale_set.id})
    lab.store.save(pool)
    return pool


def _check_immutable(current, wanted, fields, target):
    for field in fields:
        if field in wanted and wanted[field] is not None and wanted[field] != current.get(field):
            raise ArmError(400, "PropertyChangeNotAllowed", f"Changing property '{field}' is not allowed.", target=f"{target}.{field}")


def _update_cluster(lab, cluster, body):
    check_idle(lab, cluster)
    properties = body.get("properties") or {}
    if body.get("location") and resources.check_location(body["location"], CLUSTER_TYPE) != cluster.body["location"]:
        raise ArmError(400, "PropertyChangeNotAllowed", "Changing property 'location' is not allowed.", target="location")
    _check_immutable(cluster.properties, properties, ("dnsPrefix", "nodeResourceGroup"), "properties")
    pools = {pool.body["name"]: pool for pool in lab.store.children(cluster.id, POOL_TYPE)}
    counts, new_pools = {}, []
    for raw in properties.get("agentPoolProfiles") or []:
        current = pools.get(raw.get("name"))
        if current is None:
            new_pools.append(_pool_spec(cluster.body["location"], raw, False))
            continue
        wanted = dict(raw)
        if "availabilityZones" in wanted and wanted["availabilityZones"] is not None:
            wanted["availabilityZones"] = [str(zone) for zone in wanted["availabilityZones"]]
        _check_immutable(current.properties, wanted, IMMUTABLE_POOL_FIELDS, f"agentPoolProfiles[{raw['name']}]")
        if raw.get("count") is not None and raw["count"] != current.properties["count"]:
            counts[current.id] = _pool_spec(cluster.body["location"], {**current.properties, "count": raw["count"]}, False)["count"]
    version = _version(properties["kubernetesVersion"]) if properties.get("kubernetesVersion") else None
    following = _following_pools(cluster, pools, properties, version)
    if following is not None and counts:
        raise ArmError(400, "OperationNotAllowed", "A Kubernetes version upgrade cannot change agent pool counts in the same "
                                                   "operation; scale the pools before or after the upgrade.")
    for key in ("storageProfile", "oidcIssuerProfile", "securityProfile"):
        if properties.get(key):
            _deep_update(cluster.properties.setdefault(key, {}), properties[key])
    if properties.get("disableLocalAccounts") is not None:
        cluster.properties["disableLocalAccounts"] = bool(properties["disableLocalAccounts"])
    if properties.get("aadProfile") is not None:
        cluster.properties["aadProfile"] = _aad_profile(lab, properties["aadProfile"])
    if body.get("sku"):
        cluster.body["sku"] = body["sku"]
    # a PUT carries the whole resource: its tags replace the old ones (PATCH merges, see patch_cluster)
    cluster.body["tags"] = rules.checked_tags(body.get("tags"))
    if following is not None:
        operation = aks_upgrade.start_cluster_upgrade(lab, cluster, version, following)
    else:
        operation = resources.begin(lab, cluster, "Updating", "cluster.update", {"counts": counts})
    for spec in new_pools:
        _create_pool(lab, cluster, spec)
    return render(lab, cluster), operation


def _following_pools(cluster, pools, properties, version):
    """The pools a control plane upgrade to ``version`` carries along (None: no upgrade), after AKS's version rules.

    A pool follows unless its profile in the request keeps another ``orchestratorVersion`` (a control-plane-only upgrade).
    """
    current = cluster.properties["currentKubernetesVersion"]
    if version is None or version == current:
        return None
    aks_upgrade.check_control_plane(current, version)
    wanted = {raw.get("name"): raw.get("orchestratorVersion") for raw in properties.get("agentPoolProfiles") or []}
    following = []
    for name, pool in pools.items():
        requested = wanted.get(name)
        pool_version = pool.properties["currentOrchestratorVersion"]
        if requested and _version(requested) != version:
            if _version(requested) != pool_version:
                raise ArmError(400, "OperationNotAllowed", f"Agent pool '{name}' can follow the control plane to {version} or keep "
                                                           f"{pool_version} in a cluster upgrade, not move to {requested}.")
            aks_upgrade.check_skew(pool_version, version)
        else:
            following.append(pool)
    return following


def _deep_update(target, update):
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        elif value is not None:
            target[key] = value


def patch_cluster(lab, subscription, group, name, body):
    """PATCH (update tags) of a cluster; returns (resource, operation)."""
    cluster = get_cluster(lab, subscription, group, name)
    check_idle(lab, cluster)
    rules.merge_tags(cluster.body, body)
    return render(lab, cluster), resources.begin(lab, cluster, "Updating", "cluster.update", {"counts": {}})


@completion("cluster.create", "cluster.update")
def _finish_cluster(lab, operation):
    cluster = lab.store.get(operation.resource_id)
    for pool in lab.store.children(cluster.id, POOL_TYPE):
        count = operation.params.get("counts", {}).get(pool.id)
        if count is not None:
            _scale_pool(lab, pool, count)
        pool.properties["provisioningState"] = "Succeeded"
        lab.store.save(pool)
    cluster.properties["currentKubernetesVersion"] = cluster.properties["kubernetesVersion"]
    cluster.properties["provisioningState"] = "Succeeded"
    lab.store.save(cluster)


def _scale_pool(lab, pool, count):
    scale_set = lab.store.get(pool.internal["vmss"])
    vmss.scale(lab, scale_set, count, "running" if pool.properties["powerState"]["code"] == "Running" else "deallocated")
    pool.properties["count"] = count


def delete_cluster(lab, subscription, group, name):
    """Start deleting a cluster; None when it does not exist."""
    cluster = resources.find_resource(lab, subscription, group, CLUSTER_TYPE, name)
    return resources.begin(lab, cluster, "Deleting", "cluster.delete") if cluster else None


completion("cluster.delete", "agentPool.delete")(resources.remove_target)


@resources.on_remove(CLUSTER_TYPE)
def _remove_cluster_parts(lab, cluster):
    resources.remove_tree(lab, cluster.internal["nodeGroup"])
    lab.store.delete_principal(cluster.internal["principal"])


@resources.on_remove(POOL_TYPE)
def _remove_pool_nodes(lab, pool):
    resources.remove_tree(lab, pool.internal["vmss"])


def power(lab, subscription, group, name, action):
    """Start stopping (``stop``) or starting (``start``) a cluster; returns the operation."""
    cluster = get_cluster(lab, subscription, group, name)
    check_idle(lab, cluster)
    return resources.begin(lab, cluster, "Stopping" if action == "stop" else "Starting", f"cluster.{action}")


@completion("cluster.stop", "cluster.start")
def _finish_power(lab, operation):
    cluster = lab.store.get(operation.resource_id)
    running = operation.kind == "cluster.start"
    code = "Running" if running else "Stopped"
    for pool in lab.store.children(cluster.id, POOL_TYPE):
        for vm in lab.store.children(pool.internal["vmss"], vmss.VM_TYPE):
            vmss.set_power(lab, vm, "running" if running else "deallocated")
        pool.properties["powerState"] = {"code": code}
        lab.store.save(pool)
    cluster.properties["powerState"] = {"code": code}
    cluster.properties["provisioningState"] = "Succeeded"
    lab.store.save(cluster)


def credentials(lab, subscription, group, name, role):
    """``listClusterAdminCredential`` (role ``clusterAdmin``) or ``listClusterUserCredential`` (``clusterUser``)."""
    cluster = get_cluster(lab, subscription, group, name)
    if role == "clusterAdmin" and cluster.properties.get("disableLocalAccounts"):
        raise ArmError(400, "BadRequest", "Getting static credential is not allowed because this cluster is set to disable local accounts.")
    path = lab.config("kubeconfig")
    backed = backed_cluster(lab)
    if path and _readable(path) and backed is not None and backed.id == cluster.id:
        with open(path, "rb") as handle:
            kubeconfig = handle.read()
    else:
        kubeconfig = _placeholder_kubeconfig(cluster, group, role).encode()
    aad = cluster.properties.get("aadProfile")
    if role == "clusterUser" and aad:
        kubeconfig = _kubelogin_kubeconfig(kubeconfig, cluster, group, aad["tenantID"])
    return {"kubeconfigs": [{"name": role, "value": base64.b64encode(kubeconfig).decode()}]}


def _kubelogin_kubeconfig(kubeconfig, cluster, group, tenant):
    """The user kubeconfig of an Entra ID cluster, as AKS writes it: the same server and CA, a user that runs kubelogin."""
    server = json.loads(kubeconfig)["clusters"][0] if kubeconfig.lstrip().startswith(b"{") else None
    name, user = cluster.body["name"], f"clusterUser_{group}_{cluster.body['name']}"
    entry = ({"name": name, "cluster": server["cluster"]} if server else
             {"name": name, "cluster": {"server": f"https://{cluster.properties['dnsPrefix']}.placeholder.invalid:443",
                                        "insecure-skip-tls-verify": True}})
    config = {
        "apiVersion": "v1", "kind": "Config", "clusters": [entry],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}], "current-context": name, "preferences": {},
        "users": [{"name": user, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin", "env": None,
            "args": ["get-token", "--environment", "AzurePublicCloud", "--server-id", AKS_SERVER_APP, "--client-id", KUBELOGIN_CLIENT_APP,
                     "--tenant-id", tenant, "--login", "devicecode"],
            "installHint": "\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\n"
                           "To learn more, please go to https://aka.ms/aks/kubelogin\n",
            "interactiveMode": "IfAvailable", "provideClusterInfo": False}}}],
    }
    return (json.dumps(config, indent=2) + "\n").encode()


def backed_cluster(lab):
    """The cluster the lab's one Kubernetes control plane stands for: the oldest that exists.

    AKS gives every cluster a control plane of its own; the lab has one, configured through
    ``/_lab/config {"kubeconfig": ...}``, so it backs the first cluster created and no other.
    """
    if not lab.config("kubeconfig"):
        return None
    return oldest_cluster(lab)


def oldest_cluster(lab):
    """The first cluster created that still exists, or None: the lab's machine stands for its nodes (their IMDS, their kubelet)."""
    clusters = lab.store.of_type(CLUSTER_TYPE)
    return clusters[0] if clusters else None


def kube_view(lab):
    """What the Kubernetes bridge needs of the backed cluster: its place and its scale-set instances.

    Nodes register once the cluster has been created (a kubelet joins at the end of provisioning);
    each instance carries its pool's labels, taints and max pods and the VM's power state.
    """
    cluster = backed_cluster(lab)
    if cluster is None:
        return {"cluster": None, "instances": [], "upgrades": []}
    parts = cluster.id.split("/")
    view = {"id": cluster.id, "name": cluster.body["name"], "location": cluster.body["location"], "subscription": parts[2],
            "nodeResourceGroup": cluster.properties["nodeResourceGroup"], "provisioningState": cluster.properties["provisioningState"],
            "kubeletIdentityClientId": cluster.properties["identityProfile"]["kubeletidentity"]["clientId"],
            "adminGroupObjectIDs": (cluster.properties.get("aadProfile") or {}).get("adminGroupObjectIDs") or []}
    instances = []
    if cluster.properties["provisioningState"] != "Creating":
        aks_upgrade.tick(lab, cluster)
        now = time.time()
        for pool in lab.store.children(cluster.id, POOL_TYPE):
            spec = pool.properties
            scale_set = lab.store.get(pool.internal["vmss"])
            for vm in lab.store.children(scale_set.id, vmss.VM_TYPE):
                if not aks_upgrade.joined(vm, now):
                    continue
                kubelet_version, node_image = aks_upgrade.instance_versions(pool, vm)
                instances.append({
                    "vmss": scale_set.body["name"], "instanceId": vm.body["instanceId"], "zone": (vm.body.get("zones") or [None])[0],
                    "vmSize": vm.properties["hardwareProfile"]["vmSize"], "power": vm.internal["power"], "pool": spec["name"],
                    "mode": spec["mode"], "labels": spec.get("nodeLabels") or {}, "taints": spec.get("nodeTaints") or [],
                    "maxPods": spec.get("maxPods"), "kubeletVersion": kubelet_version, "nodeImage": node_image,
                })
    return {"cluster": view, "instances": instances, "upgrades": aks_upgrade.runs_view(lab, cluster)}


def _readable(path):
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def _placeholder_kubeconfig(cluster, group, role):
    name = cluster.body["name"]
    user = f"{role}_{group}_{name}"
    return (
        "# kubedisk lab: no lab control plane is configured for this emulator, so this kubeconfig points at a\n"
        "# PLACEHOLDER server that does not exist. Start the lab with its Kubernetes part (or POST /_lab/config\n"
        "# {\"kubeconfig\": PATH}) to get a working one.\n"
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- cluster:\n    server: https://{cluster.properties['dnsPrefix']}.placeholder.invalid:443\n"
        "    insecure-skip-tls-verify: true\n"
        f"  name: {name}\n"
        f"contexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {name}\n"
        f"current-context: {name}\npreferences: {{}}\n"
        f"users:\n- name: {user}\n  user:\n    token: placeholder-{hashlib.sha256((cluster.id + role).lower().encode()).hexdigest()[:32]}\n"
    )


# agent pools
def get_pool(lab, subscription, group, name, pool_name):
    """One agent pool, or ResourceNotFound."""
    return resources.get_child(lab, group, get_cluster(lab, subscription, group, name), name, POOL_TYPE, pool_name)


def list_pools(lab, subscription, group, name):
    """Agent pools of a cluster."""
    return lab.store.children(get_cluster(lab, subscription, group, name).id, POOL_TYPE)


def put_pool(lab, subscription, group, name, pool_name, body):
    """Create or update an agent pool; returns (resource, operation, created)."""
    cluster = get_cluster(lab, subscription, group, name)
    check_idle(lab, cluster)
    raw = dict(body.get("properties") or {}, name=pool_name)
    existing = lab.store.get(f"{cluster.id}/agentPools/{pool_name}")
    version = _version(raw["orchestratorVersion"]) if raw.get("orchestratorVersion") else None
    if existing is None:
        if version:
            aks_upgrade.check_skew(version, cluster.properties["currentKubernetesVersion"])
        pool = _create_pool(lab, cluster, _pool_spec(cluster.body["location"], raw, False))
        if version:
            pool.properties["orchestratorVersion"] = pool.properties["currentOrchestratorVersion"] = version
        lab.store.save(pool)
        return pool, lab.operations.start("agentPool.create", pool.id, cluster.body["location"], {}), True
    if raw.get("availabilityZones") is not None:
        raw["availabilityZones"] = [str(zone) for zone in raw["availabilityZones"]]
    _check_immutable(existing.properties, raw, IMMUTABLE_POOL_FIELDS, "properties")
    spec = _pool_spec(cluster.body["location"], {**existing.properties, **raw}, False)
    for key in ("mode", "nodeLabels", "nodeTaints", "maxPods"):
        existing.properties[key] = spec[key]
    existing.properties["upgradeSettings"] = aks_upgrade.checked_settings(existing.properties.get("upgradeSettings"), raw.get("upgradeSettings"))
    current = existing.properties["currentOrchestratorVersion"]
    if version and version != current:
        aks_upgrade.check_pool_version(current, version, cluster.properties["currentKubernetesVersion"])
        if spec["count"] != existing.properties["count"]:
            raise ArmError(400, "OperationNotAllowed", "An agent pool upgrade cannot change its count in the same operation.")
        return existing, aks_upgrade.start_pool_upgrade(lab, cluster, existing, version, aks_upgrade.LATEST_NODE_IMAGE), False
    operation = resources.begin(lab, existing, "Updating", "agentPool.update", {"count": spec["count"]}, cluster.body["location"])
    return existing, operation, False


@completion("agentPool.create", "agentPool.update")
def _finish_pool(lab, operation):
    pool = lab.store.get(operation.resource_id)
    if "count" in operation.params:
        _scale_pool(lab, pool, operation.params["count"])
    pool.properties["provisioningState"] = "Succeeded"
    lab.store.save(pool)


def delete_pool(lab, subscription, group, name, pool_name):
    """Start deleting an agent pool; None when it does not exist."""
    cluster = get_cluster(lab, subscription, group, name)
    pool = lab.store.get(f"{cluster.id}/agentPools/{pool_name}")
    if pool is None:
        return None
    check_idle(lab, cluster)
    others = [other for other in lab.store.children(cluster.id, POOL_TYPE) if other.id != pool.id and other.properties["mode"] == "System"]
    if pool.properties["mode"] == "System" and not others:
        raise ArmError(400, "OperationNotAllowed", "There has to be at least one system agent pool.")
    return resources.begin(lab, pool, "Deleting", "agentPool.delete", location=cluster.body["location"])
