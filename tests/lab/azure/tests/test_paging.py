"""Managed cluster lists come in pages with a nextLink, as ARM lists do, and the SDK's pager follows them."""

from azure.mgmt.containerservice import ContainerServiceClient

CLUSTERS = "/providers/Microsoft.ContainerService/managedClusters"


def _cluster(emulator, group, name):
    body = {"location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": name, "agentPoolProfiles": [{"name": "system", "count": 1, "vmSize": "Standard_D2s_v5",
                                                                     "mode": "System"}]}}
    answer = emulator.arm("PUT", f"/subscriptions/{emulator.info['subscription_id']}/resourceGroups/{group}{CLUSTERS}/{name}", json=body)
    assert answer.status_code == 201, answer.text


def _list_calls(emulator, since):
    return [item for item in emulator.admin("GET", f"requests?since={since}").json()["requests"]
            if item["method"] == "GET" and item["path"].lower().endswith(CLUSTERS.lower())]


def test_cluster_lists_are_paged_and_the_sdk_follows_next_links(emulator):
    subscription = emulator.info["subscription_id"]
    emulator.arm("PUT", f"/subscriptions/{subscription}/resourceGroups/other", json={"location": "westeurope"})
    names = [("kept", "c1"), ("kept", "c2"), ("other", "c3"), ("kept", "c4"), ("other", "c5")]
    for group, name in names:
        _cluster(emulator, group, name)
    assert emulator.admin("POST", "config", json={"listPageSize": 2}).json()["listPageSize"] == 2

    first = emulator.arm("GET", f"/subscriptions/{subscription}{CLUSTERS}").json()
    assert [cluster["name"] for cluster in first["value"]] == ["c1", "c2"]
    assert "$skiptoken=" in first["nextLink"] and first["nextLink"].startswith(emulator.url)
    path, query = first["nextLink"].removeprefix(emulator.url).split("?")
    last = emulator.arm("GET", path, params=dict(part.split("=", 1) for part in query.split("&"))).json()
    assert [cluster["name"] for cluster in last["value"]] == ["c3", "c4"] and "nextLink" in last

    aks = emulator.client(ContainerServiceClient)
    mark = emulator.admin("GET", "requests").json()["requests"][-1]["seq"]
    assert [cluster.name for cluster in aks.managed_clusters.list()] == ["c1", "c2", "c3", "c4", "c5"]
    calls = _list_calls(emulator, mark)
    assert len(calls) == 3 and all(item["status"] == 200 for item in calls)
    mark = calls[-1]["seq"]
    assert [cluster.name for cluster in aks.managed_clusters.list_by_resource_group("kept")] == ["c1", "c2", "c4"]
    assert len(_list_calls(emulator, mark)) == 2


def test_a_page_holds_the_configured_size_and_bad_tokens_or_sizes_are_refused(emulator):
    subscription = emulator.info["subscription_id"]
    assert emulator.admin("GET", "config").json()["listPageSize"] == 100
    for index in range(3):
        _cluster(emulator, "kept", f"c{index}")
    whole = emulator.arm("GET", f"/subscriptions/{subscription}{CLUSTERS}").json()
    assert len(whole["value"]) == 3 and "nextLink" not in whole
    bad = emulator.arm("GET", f"/subscriptions/{subscription}{CLUSTERS}", params={"api-version": "2025-01-01", "$skiptoken": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidSkipToken"
    for size in (0, "10", True):
        assert emulator.admin("POST", "config", json={"listPageSize": size}).status_code == 400
