"""aks_cluster: validation, the plan (normalised comparison, immutables, prune), kubeconfig, check mode."""

from __future__ import annotations

import copy
import os
import stat

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import deadline
from ansible_collections.kubedisk.aks.plugins.modules import aks_cluster
from ansible_collections.kubedisk.aks.plugins.modules.aks_cluster import Invalid, plan, validate_params

POOL = dict((k, None) for k in aks_cluster.POOL_SPEC)


def pool(**kwargs):
    return dict(POOL, **kwargs)


def params(**kwargs):
    base = dict((k, v.get("default")) for k, v in aks_cluster.ARGUMENT_SPEC.items())
    base.update(name="c1", resource_group="rg", location="westeurope",
                node_pools=[pool(name="system", mode="System", count=3, zones=["3", "1", "2"])])
    base.update(kwargs)
    return base


CURRENT = {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1",
    "name": "c1", "location": "westeurope", "tags": {"env": "lab"}, "sku": {"name": "Base", "tier": "Free"},
    "identity": {"type": "SystemAssigned", "principalId": "p"},
    "properties": {
        "provisioningState": "Succeeded", "kubernetesVersion": "1.33", "currentKubernetesVersion": "1.33.6", "dnsPrefix": "c1",
        "fqdn": "c1-x.hcp.westeurope.azmk8s.io", "nodeResourceGroup": "MC_rg_c1_westeurope",
        "networkProfile": {"networkPlugin": "azure", "loadBalancerSku": "standard"},
        "storageProfile": {"diskCSIDriver": {"enabled": True}, "snapshotController": {"enabled": True}},
        "identityProfile": {"kubeletidentity": {"resourceId": "/x/c1-agentpool", "clientId": "c", "objectId": "o"}},
        "agentPoolProfiles": [{"name": "system", "count": 3, "vmSize": "Standard_D4s_v5", "availabilityZones": ["1", "2", "3"],
                               "mode": "System", "osType": "Linux", "type": "VirtualMachineScaleSets", "maxPods": 250,
                               "provisioningState": "Succeeded", "powerState": {"code": "Running"}}],
    },
}


def test_create_plan_has_defaults_and_sorted_zones():
    ops, predicted = plan(params(storage_profile={"disk_csi_driver": True, "file_csi_driver": None,
                                                  "snapshot_controller": True, "blob_csi_driver": None}), None)
    assert [o[0] for o in ops] == ["create"]
    body = ops[0][2]
    profile = body["properties"]["agentPoolProfiles"][0]
    assert profile["availabilityZones"] == ["1", "2", "3"] and profile["vmSize"] == "Standard_D4s_v5"
    assert body["properties"]["storageProfile"] == {"diskCSIDriver": {"enabled": True}, "snapshotController": {"enabled": True}}
    assert body["properties"]["dnsPrefix"] == "c1" and predicted["name"] == "c1"


def test_same_options_in_other_order_and_casing_plan_nothing():
    p = params(kubernetes_version="1.33", node_pools=[pool(name="system", mode="System", count=3, zones=[2, 3, 1],
                                                           vm_size="standard_d4s_v5")],
               storage_profile={"disk_csi_driver": True, "snapshot_controller": True, "file_csi_driver": None, "blob_csi_driver": None},
               network_profile=dict(dict((k, None) for k in aks_cluster.NETWORK_KEYS), network_plugin="Azure"), tags={"env": "lab"})
    ops, predicted = plan(p, copy.deepcopy(CURRENT))
    assert ops == [] and predicted["tags"] == {"env": "lab"}


def test_left_out_pool_options_are_not_compared():
    ops, dummy = plan(params(node_pools=[pool(name="system")]), copy.deepcopy(CURRENT))
    assert ops == []


@pytest.mark.parametrize("pool_args, words", [
    ({"zones": ["1", "2"]}, "zones ['1', '2', '3'] -> ['1', '2']"),
    ({"vm_size": "Standard_D8s_v5"}, "vm_size Standard_D4s_v5 -> Standard_D8s_v5"),
    ({"max_pods": 30}, "max_pods 250 -> 30"),
])
def test_immutable_pool_changes_fail_naming_the_way_forward(pool_args, words):
    with pytest.raises(Invalid) as failed:
        plan(params(node_pools=[pool(name="system", **pool_args)]), copy.deepcopy(CURRENT))
    assert words in str(failed.value) and "add a new pool" in str(failed.value)


@pytest.mark.parametrize("extra, words", [
    ({"location": "northeurope"}, "location westeurope -> northeurope"),
    ({"dns_prefix": "other"}, "dns_prefix c1 -> other"),
    ({"network_profile": dict(dict((k, None) for k in aks_cluster.NETWORK_KEYS), network_plugin="kubenet")}, "network_plugin azure -> kubenet"),
    ({"kubernetes_version": "1.32"}, "AKS does not downgrade"),
])
def test_immutable_cluster_changes(extra, words):
    with pytest.raises(Invalid, match=words):
        plan(params(**extra), copy.deepcopy(CURRENT))


def test_update_scale_add_pool_tags_and_upgrade():
    data = pool(name="data", count=2, zones=["1"], labels={"a": 1}, taints=["k=v:NoSchedule"])
    p = params(kubernetes_version="1.34", tags={"owner": "me"}, node_pools=[pool(name="system", count=4), data])
    ops, predicted = plan(p, copy.deepcopy(CURRENT))
    kinds = [(o[0], o[1]) for o in ops]
    assert kinds == [("update", "c1"), ("pool", "system"), ("pool", "data")]
    update = ops[0][2]
    assert update["properties"]["kubernetesVersion"] == "1.34" and update["tags"] == {"env": "lab", "owner": "me"}
    assert "provisioningState" not in update["properties"] and "principalId" not in update["identity"]
    assert "provisioningState" not in update["properties"]["agentPoolProfiles"][0]
    assert ops[1][2]["count"] == 4 and ops[1][2]["availabilityZones"] == ["1", "2", "3"]
    assert ops[2][2]["nodeLabels"] == {"a": "1"} and ops[2][2]["mode"] == "User"
    assert sorted(p["name"] for p in predicted["properties"]["agentPoolProfiles"]) == ["data", "system"]


def test_tags_alone_use_the_tags_update():
    ops, dummy = plan(params(tags={"x": "1"}, node_pools=None), copy.deepcopy(CURRENT))
    assert [o[0] for o in ops] == ["tags"] and ops[0][2] == {"tags": {"env": "lab", "x": "1"}}


def test_autoscaler_owns_the_count():
    current = copy.deepcopy(CURRENT)
    current["properties"]["agentPoolProfiles"][0].update(enableAutoScaling=True, minCount=1, maxCount=5, count=4)
    ops, dummy = plan(params(node_pools=[pool(name="system", count=2, enable_autoscaling=True, min_count=1, max_count=5)]), current)
    assert ops == []


def test_prune_keeps_a_system_pool_and_never_by_default():
    current = copy.deepcopy(CURRENT)
    current["properties"]["agentPoolProfiles"].append({"name": "data", "count": 1, "mode": "User", "vmSize": "x"})
    assert plan(params(node_pools=[pool(name="system")]), copy.deepcopy(current))[0] == []
    ops, predicted = plan(params(node_pools=[pool(name="system")], prune_node_pools=True), copy.deepcopy(current))
    assert [(o[0], o[1]) for o in ops] == [("delete_pool", "data")]
    with pytest.raises(Invalid, match="without a System pool"):
        plan(params(node_pools=[pool(name="data")], prune_node_pools=True), copy.deepcopy(current))


def test_failed_cluster_and_pool_are_reconciled():
    current = copy.deepcopy(CURRENT)
    current["properties"]["provisioningState"] = "Failed"
    current["properties"]["agentPoolProfiles"][0]["provisioningState"] = "Failed"
    ops, dummy = plan(params(node_pools=[pool(name="system")]), current)
    assert [o[0] for o in ops] == ["update", "pool"]


@pytest.mark.parametrize("extra, words", [
    ({"name": "-bad"}, "not a valid AKS cluster name"),
    ({"node_pools": [pool(name="Bad")]}, "node pool name 'Bad' is not valid"),
    ({"node_pools": [pool(name="a"), pool(name="a")]}, "listed twice"),
    ({"node_pools": [pool(name="a", zones=["0"])]}, "not an availability zone"),
    ({"node_pools": [pool(name="a", mode="System", count=0)]}, "count 0 is out of range"),
    ({"node_pools": [pool(name="a", enable_autoscaling=True)]}, "needs min_count and max_count"),
    ({"node_pools": [pool(name="a", min_count=1)]}, "need enable_autoscaling"),
    ({"node_pools": [pool(name="a", taints=["x"])]}, "is not key=value:Effect"),
    ({"node_pools": [pool(name="a", max_pods=5)]}, "max_pods 5 is out of range"),
    ({"kubernetes_version": "v1"}, "is not a version"),
    ({"dns_prefix": "-x"}, "dns_prefix"),
    ({"identity": {"type": "UserAssigned", "user_assigned_identity": None}}, "needs identity.user_assigned_identity"),
    ({"identity": {"type": "SystemAssigned", "user_assigned_identity": "/x"}}, "only used with identity.type: UserAssigned"),
    ({"kubelet_identity": {"resource_id": "/x", "client_id": "c", "object_id": "o"}}, "needs identity.type: UserAssigned"),
    ({"kubeconfig": {"path": "/x", "credential": "admin"}, "disable_local_accounts": True}, "not available"),
])
def test_validation(extra, words):
    with pytest.raises(Invalid, match=words.replace("(", r"\(").replace(")", r"\)")):
        validate_params(params(**extra))


def test_timeout_below_one_second_is_refused_before_any_call(run_module, clients, auth):
    result = run_module(aks_cluster.main, dict(auth, name="c1", resource_group="rg", timeout=0))
    assert result["failed"] and "timeout must be" in result["msg"]
    assert not clients["containerservice"].mock_calls


def test_create_requirements():
    with pytest.raises(Invalid, match="location is required"):
        plan(params(location=None), None)
    with pytest.raises(Invalid, match="node_pools is required"):
        plan(params(node_pools=None), None)
    with pytest.raises(Invalid, match="mode: System"):
        plan(params(node_pools=[pool(name="user")]), None)


class Model(dict):
    def as_dict(self):
        return dict(self)


def test_module_rerun_writes_nothing_and_never_returns_the_kubeconfig(run_module, clients, auth, tmp_path):
    cs = clients["containerservice"]
    cs.managed_clusters.get.return_value = Model(copy.deepcopy(CURRENT))
    creds = type("C", (), {"kubeconfigs": [type("K", (), {"value": b"apiVersion: v1\nkind: Config\n"})()]})()
    cs.managed_clusters.list_cluster_admin_credentials.return_value = creds
    path = tmp_path / "kubeconfig"
    args = dict(auth, name="c1", resource_group="rg", node_pools=[{"name": "system", "zones": ["2", "1", "3"]}],
                kubeconfig={"path": str(path), "credential": "admin"})
    first = run_module(aks_cluster.main, args)
    assert first["changed"] and first["operations"] == ["write kubeconfig %s" % path]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and "apiVersion" not in str(first)
    second = run_module(aks_cluster.main, args)
    assert not second["changed"] and clients.writes() == []


def test_module_check_mode_create(run_module, clients, auth, azure_error):
    clients["containerservice"].managed_clusters.get.side_effect = azure_error(404, "ResourceNotFound")
    result = run_module(aks_cluster.main, dict(auth, name="c1", resource_group="rg", location="westeurope",
                                               node_pools=[{"name": "system", "mode": "System"}]), check_mode=True, diff=True)
    assert result["changed"] and result["operations"] == ["create cluster c1"] and clients.writes() == []
    assert result["diff"]["before"] == {} and result["diff"]["after"]["node_pools"][0]["count"] == 3


def test_module_delete_waits(run_module, clients, auth, poller):
    cs = clients["containerservice"]
    cs.managed_clusters.get.return_value = Model(copy.deepcopy(CURRENT))
    done = poller()
    cs.managed_clusters.begin_delete.return_value = done
    result = run_module(aks_cluster.main, dict(auth, name="c1", resource_group="rg", state="absent"))
    assert result["changed"] and done.waited and result["cluster"] == {}


@pytest.mark.parametrize("zones, outcome", [(["2", "1", "3"], "found"), (["1"], "differs")])
def test_module_cluster_made_meanwhile(run_module, clients, auth, azure_error, monkeypatch, zones, outcome):
    """Another run's creation is in flight when this run's PUT arrives: no second PUT, the cluster it made is compared."""
    monkeypatch.setattr(deadline.time, "sleep", lambda s: None)
    cs = clients["containerservice"]
    creating = copy.deepcopy(CURRENT)
    creating["properties"]["provisioningState"] = "Creating"
    answers = [azure_error(404, "ResourceNotFound"), azure_error(404, "ResourceNotFound"), Model(creating), Model(copy.deepcopy(CURRENT))]

    def get(rg, name):
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer
    cs.managed_clusters.get.side_effect = get
    cs.managed_clusters.begin_create_or_update.side_effect = azure_error(409, "OperationNotAllowed", "Operation is not allowed: "
                                                                         "another operation (Creating) is in progress")
    result = run_module(aks_cluster.main, dict(auth, name="c1", resource_group="rg", location="westeurope", tags={"env": "lab"},
                                               node_pools=[{"name": "system", "mode": "System", "zones": zones}], timeout=30))
    assert result["found_existing"] and clients.writes() == ["managed_clusters.begin_create_or_update"]
    if outcome == "found":
        assert not result.get("failed") and not result["changed"] and result["operations"] == []
        assert result["cluster"]["name"] == "c1"
    else:
        assert result["failed"] and "cluster c1 was made meanwhile by another run and differs from what was asked" in result["msg"]


ADMINS = "0B1F6E5C-2A4D-4A53-9C1E-5B2B3A0D8F11"
OTHERS = "9d0e2b1a-6c7f-4e8d-a1b2-c3d4e5f60718"


def entra_id(groups=None, tenant=None):
    return {"admin_group_object_ids": groups, "tenant_id": tenant}


def entra_current(groups):
    current = copy.deepcopy(CURRENT)
    current["properties"]["aadProfile"] = {"managed": True, "adminGroupObjectIDs": groups, "enableAzureRBAC": False, "tenantID": "t"}
    return current


def test_create_with_entra_id_maps_to_a_managed_aad_profile():
    ops, predicted = plan(params(entra_id=entra_id([ADMINS]), disable_local_accounts=True), None)
    props = ops[0][2]["properties"]
    assert props["aadProfile"] == {"managed": True, "enableAzureRBAC": False, "adminGroupObjectIDs": [ADMINS.lower()]}
    assert props["disableLocalAccounts"] is True
    assert aks_cluster.cluster_facts(predicted)["entra_id"]["admin_group_object_ids"] == [ADMINS.lower()]


def test_entra_id_in_other_casing_or_left_out_groups_plan_nothing():
    current = entra_current([OTHERS, ADMINS.lower()])
    assert plan(params(entra_id=entra_id([ADMINS, OTHERS])), copy.deepcopy(current))[0] == []
    assert plan(params(entra_id=entra_id()), copy.deepcopy(current))[0] == []


def test_turning_entra_id_on_and_changing_the_groups_update_the_cluster():
    ops, predicted = plan(params(entra_id=entra_id([ADMINS]), disable_local_accounts=True), copy.deepcopy(CURRENT))
    assert [o[3] for o in ops] == ["update cluster c1 (disable_local_accounts, entra_id)"]
    assert ops[0][2]["properties"]["aadProfile"]["adminGroupObjectIDs"] == [ADMINS.lower()]
    ops, predicted = plan(params(entra_id=entra_id([OTHERS])), entra_current([ADMINS.lower()]))
    assert [o[3] for o in ops] == ["update cluster c1 (entra_id)"]
    assert predicted["properties"]["aadProfile"] == {"managed": True, "adminGroupObjectIDs": [OTHERS], "enableAzureRBAC": False, "tenantID": "t"}


def test_disabling_local_accounts_needs_entra_id():
    for current in (None, copy.deepcopy(CURRENT)):
        with pytest.raises(Invalid, match="needs Entra ID integration"):
            plan(params(disable_local_accounts=True), current)
    assert plan(params(disable_local_accounts=True), entra_current([ADMINS]))[0][0][3] == "update cluster c1 (disable_local_accounts)"


@pytest.mark.parametrize("extra, words", [
    ({"entra_id": entra_id(["admins"])}, "'admins' is not a group object id"),
    ({"entra_id": entra_id([ADMINS], "contoso")}, "'contoso' is not a tenant id"),
])
def test_entra_id_validation(extra, words):
    with pytest.raises(Invalid, match=words):
        validate_params(params(**extra))
