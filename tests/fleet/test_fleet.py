"""The kubedisk.aks.aks inventory and playbooks/fleet_storage.yml over a fleet of clusters in the ARM emulator."""

import json
import re

from fleet import arm_calls, list_pages

CLUSTER_LIST = re.compile(r"^/subscriptions/[^/]+(/resourceGroups/[^/]+)?/providers/Microsoft\.ContainerService/managedClusters$",
                          re.IGNORECASE)


def _host(cluster, clusters):
    shared = sum(1 for other in clusters if other["name"] == cluster["name"]) > 1
    return "%s_%s" % (cluster["resource_group"], cluster["name"]) if shared else cluster["name"]


def _report(output):
    """The fleet_storage_report the playbook publishes (custom stats, JSON result format)."""
    found = re.search(r"RUN: (\{.*\})\s*$", output, re.MULTILINE)
    assert found, output[-3000:]
    return json.loads(found.group(1))["fleet_storage_report"]


def _recap_changed(output):
    return sum(int(value) for value in re.findall(r"changed=(\d+)", output))


def test_inventory_lists_every_cluster_with_its_facts_and_groups_following_every_page(fleet, figure, tmp_path):
    path = fleet.inventory_file(tmp_path / "cache")
    inventory, seconds, requests = fleet.inventory(path)
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(_host(cluster, fleet.clusters) for cluster in fleet.clusters)
    assert "fleet-00_shared" in hostvars and "fleet-01_shared" in hostvars

    lists = [item for item in requests if CLUSTER_LIST.match(item["path"])]
    assert len(lists) == list_pages(fleet.size, fleet.page_size) >= 3
    assert all(item["status"] == 200 for item in lists)
    assert arm_calls(requests)["reads"] == len(lists) and arm_calls(requests)["writes"] == 0
    figure("inventory, cold: %d hosts, %d list pages" % (len(hostvars), len(lists)),
           "%.1f s (%.1f s CPU), %d ARM reads, %d requests in all (token, metadata)"
           % (seconds["wall"], seconds["cpu"], len(lists), len(requests)))

    for cluster in fleet.clusters:
        facts = hostvars[_host(cluster, fleet.clusters)]["aks_cluster"]
        assert (facts["name"], facts["resource_group"], facts["location"]) == (cluster["name"], cluster["resource_group"], cluster["location"])
        assert facts["kubernetes_version"].startswith(cluster["version"] + ".")
        assert facts["node_resource_group"] == "MC_%s_%s_%s" % (cluster["resource_group"], cluster["name"], cluster["location"])
        assert all(facts["kubelet_identity"][key] for key in ("object_id", "client_id", "resource_id"))
        assert facts["kubelet_identity"]["resource_id"].endswith("/%s-agentpool" % cluster["name"])
        assert [(pool["name"], pool["vm_size"], pool["count"], pool["zones"]) for pool in facts["node_pools"]] == [
            ("system", "Standard_D2s_v5", 1, ["1", "2", "3"] if cluster["zonal"] else [])]
        assert facts["node_pools"][0]["orchestrator_version"] == facts["kubernetes_version"]
        assert (facts["power_state"], facts["provisioning_state"]) == ("Running", "Succeeded")
        assert facts["tags"] == {"env": cluster["env"]}
        assert hostvars[_host(cluster, fleet.clusters)]["node_resource_group"] == facts["node_resource_group"]
        assert facts["id"].endswith("/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s"
                                    % (cluster["resource_group"], cluster["name"]))
        assert hostvars[_host(cluster, fleet.clusters)]["aks_subscription_id"] == fleet.subscription

    def members(group):
        return sorted(inventory.get(group, {}).get("hosts", []))
    for location in ("westeurope", "northeurope", "swedencentral"):
        assert members("location_" + location) == sorted(
            _host(c, fleet.clusters) for c in fleet.clusters if c["location"] == location)
    assert members("k8s_1_34") == sorted(_host(c, fleet.clusters) for c in fleet.clusters if c["version"] == "1.34")
    assert members("env_prod") == sorted(_host(c, fleet.clusters) for c in fleet.clusters if c["env"] == "prod")
    assert members("zonal") == sorted(_host(c, fleet.clusters) for c in fleet.clusters if c["zonal"])

    cached, seconds, requests = fleet.inventory(path)
    assert cached == inventory and requests == []
    figure("inventory, cached", "%.1f s (%.1f s CPU), %d requests" % (seconds["wall"], seconds["cpu"], len(requests)))
    _flushed, _seconds, requests = fleet.inventory(path, "--flush-cache")
    assert len([item for item in requests if CLUSTER_LIST.match(item["path"])]) == len(lists)


def test_inventory_filters_by_group_location_and_tag(fleet, tmp_path):
    path = fleet.inventory_file(tmp_path / "cache", cache=False, resource_groups=["fleet-01", "no-such-group"],
                                locations=["North Europe", "swedencentral"], tags={"env": "prod"})
    inventory, _seconds, requests = fleet.inventory(path)
    wanted = [c for c in fleet.clusters if c["resource_group"] == "fleet-01" and c["location"] != "westeurope" and c["env"] == "prod"]
    assert wanted and sorted(inventory["_meta"]["hostvars"]) == sorted(c["name"] for c in wanted)
    group_lists = [item["path"].split("/")[4] for item in requests if CLUSTER_LIST.match(item["path"])]
    assert group_lists[0] == "fleet-01" and group_lists[-1] == "no-such-group"
    assert [item["status"] for item in requests if CLUSTER_LIST.match(item["path"])][-1] == 404


def test_fleet_playbook_audits_converges_and_reruns_clean(fleet, figure, tmp_path):
    inventory = fleet.inventory_file(tmp_path / "cache")
    drifted = {_host(c, fleet.clusters): c["drift"] for c in fleet.clusters if c["drift"]}
    expected_writes = sorted(["PUT managedClusters"] * 2 + ["PUT roleAssignments"] * 2)

    def writes(calls):
        return sorted("%s %s" % (line.split()[0], line.split()[1].split("/")[-2]) for line in calls["writes_list"])

    def record(phase, seconds, calls):
        figure("fleet playbook, %s (10 forks, %d clusters)" % (phase, fleet.size),
               "%.1f s (%.1f s CPU), %.1f reads and %.2f writes per cluster, %d throttled (429)"
               % (seconds["wall"], seconds["cpu"], calls["reads"] / fleet.size, calls["writes"] / fleet.size, calls["throttled"]))

    rc, output, seconds, requests = fleet.playbook(inventory, "--check")
    calls = arm_calls(requests)
    assert rc == 0, output[-3000:]
    report = _report(output)
    assert report["mode"].startswith("audit") and report["clusters_audited"] == fleet.size
    assert sorted(report["drift"]) == sorted(drifted) and calls["writes"] == 0
    assert any("disk_csi_driver" in line for line in report["drift"][next(h for h, d in drifted.items() if d == "disk_csi_driver")])
    assert len(report["drift"][next(h for h, d in drifted.items() if d == "roles")]) == 2
    record("check mode", seconds, calls)

    rc, output, seconds, requests = fleet.playbook(inventory)
    calls = arm_calls(requests)
    assert rc == 0, output[-3000:]
    assert sorted(_report(output)["drift"]) == sorted(drifted)
    assert writes(calls) == expected_writes
    record("converge", seconds, calls)

    rc, output, seconds, requests = fleet.playbook(inventory)
    calls = arm_calls(requests)
    assert rc == 0 and _recap_changed(output) == 0, output[-3000:]
    assert _report(output)["drift"] == {} and calls["writes"] == 0
    record("rerun", seconds, calls)

    # ARM's read quota cut to one read a second for three clusters: the modules wait out the 429s (Retry-After) and
    # the rerun still finds nothing to do.
    few = sorted(_host(c, fleet.clusters) for c in fleet.clusters)[:3]
    fleet.admin.call("POST", "/config", {"armThrottling": {"subscription": {"reads": {"bucket": 1, "refill": 1}}}})
    try:
        rc, output, seconds, requests = fleet.playbook(inventory, "-e", "fleet_storage_hosts=" + ",".join(few))
    finally:
        fleet.admin.call("POST", "/config", {"armThrottling": {"subscription": {"reads": {"bucket": 250, "refill": 25}}}})
    calls = arm_calls(requests)
    assert rc == 0 and _recap_changed(output) == 0, output[-3000:]
    assert _report(output)["clusters_audited"] == 3 and calls["throttled"] > 0 and calls["writes"] == 0
    figure("fleet playbook, rerun of 3 clusters with reads cut to 1/s",
           "%.1f s, %d reads, %d of them throttled (429) and retried" % (seconds["wall"], calls["reads"], calls["throttled"]))
