"""ARM throttling as the unmodified SDK meets it (token buckets per principal and kind, 429 with Retry-After, refill),
and what survives a restart: fault rules with their remaining counts; the request log's times."""

import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from .helpers import error_code

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


class Answers:
    """The headers of every answer the SDK received, retries included (azure-core's ``raw_response_hook``)."""

    def __init__(self):
        self.headers = []

    def __call__(self, pipeline_response):
        self.headers.append(pipeline_response.http_response.headers)

    def last(self, name):
        """A header of the last answer, or None."""
        return self.headers[-1].get(name)


def _limits(emulator, **scopes):
    """Set bucket sizes and refill rates through the admin API: ``subscription={"reads": (bucket, refill)}``."""
    change = {scope: {kind: {"bucket": bucket, "refill": refill} for kind, (bucket, refill) in kinds.items()}
              for scope, kinds in scopes.items()}
    answer = emulator.admin("POST", "config", json={"armThrottling": change})
    assert answer.status_code == 200, answer.text
    return answer.json()["armThrottling"]


def _client(emulator, answers, credential=None, retries=False):
    """A ResourceManagementClient that records its answers; without ``retries`` a 429 reaches the caller."""
    options = {} if retries else {"retry_total": 0}
    return emulator.client(ResourceManagementClient, credential=credential, raw_response_hook=answers, **options)


def _throttled(call):
    """The HttpResponseError of a call that must be refused."""
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert caught.value.status_code == 429
    return caught


def test_defaults_are_azures(emulator):
    limits = emulator.admin("GET", "config").json()["armThrottling"]
    assert limits["subscription"] == limits["tenant"] == {
        "reads": {"bucket": 250, "refill": 25}, "writes": {"bucket": 200, "refill": 10}, "deletes": {"bucket": 200, "refill": 10}}
    assert limits["global"]["reads"] == {"bucket": 3750, "refill": 375}
    answers = Answers()
    _client(emulator, answers).resource_groups.get("kept")
    assert int(answers.last("x-ms-ratelimit-remaining-subscription-reads")) >= 240
    assert answers.last("x-ms-ratelimit-remaining-subscription-writes") is None, "a read says what is left of reads"


def test_reads_count_down_then_429_with_retry_after(emulator):
    _limits(emulator, subscription={"reads": (3, 0.5)}, **{"global": {"reads": (100, 0.01)}})
    answers = Answers()
    client = _client(emulator, answers)
    for _read in range(3):
        client.resource_groups.get("kept")
    remaining = [headers["x-ms-ratelimit-remaining-subscription-reads"] for headers in answers.headers]
    assert remaining == ["2", "1", "0"]
    assert [headers["x-ms-ratelimit-remaining-subscription-global-reads"] for headers in answers.headers] == ["99", "98", "97"]
    caught = _throttled(lambda: client.resource_groups.get("kept"))
    assert error_code(caught) == "SubscriptionRequestsThrottled"
    assert "Please try again after" in caught.value.error.message
    wait = int(caught.value.response.headers["Retry-After"])
    assert 1 <= wait <= 2, "one token comes back at 0.5 a second"
    assert caught.value.response.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    time.sleep(wait)
    assert client.resource_groups.get("kept").name == "kept", "a token is back after Retry-After"


def test_sdk_retry_policy_waits_for_retry_after(emulator):
    _limits(emulator, subscription={"reads": (2, 1)})
    mark = emulator.admin("GET", "requests").json()["requests"][-1]["seq"]
    answers = Answers()
    client = _client(emulator, answers, retries=True)
    client.resource_groups.get("kept")
    client.resource_groups.get("kept")
    started = time.monotonic()
    assert client.resource_groups.get("kept").name == "kept"
    assert time.monotonic() - started >= 0.9, "the SDK slept Retry-After before trying again"
    statuses = [item["status"] for item in emulator.admin("GET", f"requests?since={mark}").json()["requests"]]
    assert statuses[-2:] == [429, 200]
    assert answers.headers[-2]["Retry-After"] == "1"


def test_buckets_refill_over_time(emulator):
    _limits(emulator, subscription={"reads": (4, 2)})
    answers = Answers()
    client = _client(emulator, answers)
    for _read in range(4):
        client.resource_groups.get("kept")
    assert answers.last("x-ms-ratelimit-remaining-subscription-reads") == "0"
    emptied = time.monotonic()
    time.sleep(1.1)
    client.resource_groups.get("kept")
    waited = time.monotonic() - emptied
    remaining = int(answers.last("x-ms-ratelimit-remaining-subscription-reads"))
    assert int(1.1 * 2) - 1 <= remaining <= min(4, int(waited * 2) + 1) - 1, f"{remaining} left after {waited:.2f} s"


def test_reads_writes_and_deletes_have_their_own_buckets(emulator):
    _limits(emulator, subscription={"reads": (2, 0.1), "writes": (3, 0.1), "deletes": (2, 0.1)})
    answers = Answers()
    client = _client(emulator, answers)
    client.resource_groups.get("kept")
    client.resource_groups.get("kept")
    _throttled(lambda: client.resource_groups.get("kept"))
    client.resource_groups.create_or_update("other", {"location": "westeurope"})
    assert answers.last("x-ms-ratelimit-remaining-subscription-writes") == "2", "a smaller bucket cuts the level to its size"
    assert answers.last("x-ms-ratelimit-remaining-subscription-reads") is None
    client.resource_groups.begin_delete("other", polling=False)
    assert answers.last("x-ms-ratelimit-remaining-subscription-deletes") == "1"
    assert answers.last("x-ms-ratelimit-remaining-subscription-global-deletes") is not None


def _second_principal(emulator):
    """A service principal of its own, Owner of the subscription; returns its credential."""
    app_id = str(uuid.uuid4())
    created = emulator.admin("POST", "principals", json={"displayName": "throttling-second", "appId": app_id}).json()
    scope = f"/subscriptions/{emulator.info['subscription_id']}"
    emulator.client(AuthorizationManagementClient).role_assignments.create(scope, str(uuid.uuid4()), {
        "role_definition_id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
        "principal_id": created["objectId"], "principal_type": "ServicePrincipal"})
    return ClientSecretCredential(emulator.info["tenant"], app_id, created["secret"], authority=emulator.url,
                                  disable_instance_discovery=True, connection_verify=emulator.info["ca"])


def test_each_principal_has_its_buckets_and_shares_the_global_one(emulator):
    second = _second_principal(emulator)
    _limits(emulator, subscription={"reads": (2, 0.1)}, **{"global": {"reads": (3, 0.1)}})
    first_answers, second_answers = Answers(), Answers()
    first, other = _client(emulator, first_answers), _client(emulator, second_answers, credential=second)
    first.resource_groups.get("kept")
    first.resource_groups.get("kept")
    caught = _throttled(lambda: first.resource_groups.get("kept"))
    assert "actor" in caught.value.error.message
    assert other.resource_groups.get("kept").name == "kept", "the first principal's empty bucket is not the second's"
    assert second_answers.last("x-ms-ratelimit-remaining-subscription-reads") == "1"
    assert second_answers.last("x-ms-ratelimit-remaining-subscription-global-reads") == "0"
    caught = _throttled(lambda: other.resource_groups.get("kept"))
    assert error_code(caught) == "SubscriptionRequestsThrottled" and "actor" not in caught.value.error.message
    assert caught.value.response.headers["x-ms-ratelimit-remaining-subscription-reads"] == "1", "refused by the global bucket"


def test_tenant_requests_and_regions(emulator):
    _limits(emulator, tenant={"reads": (1, 0.1)}, subscription={"reads": (1, 0.1)})
    listing = emulator.arm("GET", "/subscriptions")
    assert listing.status_code == 200 and listing.headers["x-ms-ratelimit-remaining-tenant-reads"] == "0"
    assert "x-ms-ratelimit-remaining-subscription-reads" not in listing.headers
    refused = emulator.arm("GET", "/subscriptions")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "TenantRequestsThrottled"
    answers = Answers()
    client = _client(emulator, answers)
    client.resource_groups.get("kept")
    assert answers.last("x-ms-routing-request-id").startswith("WESTEUROPE:")
    _throttled(lambda: client.resource_groups.get("kept"))
    emulator.admin("POST", "config", json={"armThrottling": {"region": "northeurope"}})
    client.resource_groups.get("kept")
    assert answers.last("x-ms-routing-request-id").startswith("NORTHEUROPE:"), "another ARM region, other buckets"


@pytest.mark.parametrize("change", [
    {"subscription": {"reads": {"bucket": 0, "refill": 1}}}, {"subscription": {"reads": {"refill": 0}}},
    {"subscription": {"lists": {"bucket": 5}}}, {"resource": {}}, {"region": "mars"}, {"tenant": {"reads": {"bucket": True}}},
])
def test_bad_limits_are_refused(emulator, change):
    answer = emulator.admin("POST", "config", json={"armThrottling": change})
    assert answer.status_code == 400 and "armThrottling" in answer.json()["error"]
    assert emulator.admin("GET", "config").json()["armThrottling"]["subscription"]["reads"] == {"bucket": 250, "refill": 25}


def test_fault_rules_survive_restarts_with_their_counts(emulator):
    answers = Answers()
    failing = emulator.admin("POST", "faults", json={"action": "503", "method": "GET", "path": "/resourcegroups/kept$", "count": 3}).json()
    rare = emulator.admin("POST", "faults", json={"action": "500", "path": "/never$", "probability": 0.5}).json()
    with pytest.raises(HttpResponseError) as caught:
        _client(emulator, answers).resource_groups.get("kept")
    assert caught.value.status_code == 503
    emulator.stop()
    emulator.start()
    kept = {rule["id"]: rule for rule in emulator.admin("GET", "faults").json()["faults"]}
    assert kept[failing["id"]]["count"] == 2 and kept[failing["id"]]["matched"] == 1
    assert kept[rare["id"]]["probability"] == 0.5 and list(kept) == [failing["id"], rare["id"]]
    client = _client(emulator, answers)
    with pytest.raises(HttpResponseError) as caught:
        client.resource_groups.get("kept")
    assert caught.value.status_code == 503
    emulator.kill()
    emulator.start()
    client = _client(emulator, answers)
    with pytest.raises(HttpResponseError) as caught:
        client.resource_groups.get("kept")
    assert caught.value.status_code == 503, "the last use of the rule, after a crash"
    assert client.resource_groups.get("kept").name == "kept"
    assert [rule["id"] for rule in emulator.admin("GET", "faults").json()["faults"]] == [rare["id"]]
    emulator.admin("DELETE", "faults")
    emulator.stop()
    emulator.start()
    assert emulator.admin("GET", "faults").json()["faults"] == []


def test_request_log_items_carry_their_arrival_time(emulator):
    before = time.time()
    client = _client(emulator, Answers())
    client.resource_groups.get("kept")
    client.resource_groups.create_or_update("timed", {"location": "westeurope"})
    after = time.time()
    items = [item for item in emulator.admin("GET", "requests").json()["requests"] if item["time"] >= before]
    assert [item["method"] for item in items if "/resourcegroups/" in item["path"].lower()] == ["GET", "PUT"]
    assert all(before <= item["time"] <= after and round(item["time"], 3) == item["time"] for item in items)
    assert [item["time"] for item in items] == sorted(item["time"] for item in items)
