"""ARM mechanics: routing, error envelope, LRO paths, fault injection, profiles, the request log."""

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.polling import LROPoller

from .helpers import empty_disk, error_code


def _last_seq(lab):
    entries = lab.admin("GET", "requests").json()["requests"]
    return entries[-1]["seq"] if entries else 0


def test_routing_is_case_insensitive_and_accepts_any_api_version(lab, subscription, group):
    path = f"/SUBSCRIPTIONS/{subscription}/ResourceGroups/{group.upper()}"
    response = lab.arm("GET", path, params={"api-version": "2099-12-31-preview"})
    assert response.status_code == 200 and response.json()["name"] == group
    assert lab.arm("HEAD", path).status_code == 204


def test_error_envelope_for_unknown_paths_and_methods(lab, subscription):
    unknown = lab.arm("GET", f"/subscriptions/{subscription}/providers/Microsoft.Nothing/things/x/y")
    assert unknown.status_code == 404 and set(unknown.json()["error"]) >= {"code", "message"}
    wrong = lab.arm("POST", f"/subscriptions/{subscription}/resourcegroups/x")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "MethodNotAllowed"
    broken = lab.arm("PUT", f"/subscriptions/{subscription}/resourcegroups/x", data=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "InvalidRequestContent"


def test_async_operation_path_and_provisioning_states(lab, subscription, group):
    lab.admin("PUT", "profile", json={"name": "fast", "overrides": {"disk.create": 0.6}})
    try:
        path = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/disks/slow"
        started = lab.arm("PUT", path, json=empty_disk())
        poll = started.headers["Azure-AsyncOperation"].split(lab.url)[1]
        assert started.headers["retry-after-ms"] == "100"
        assert lab.arm("GET", poll, params={}).json()["status"] == "InProgress"
        assert lab.arm("GET", path).json()["properties"]["provisioningState"] == "Creating"
        result = started.headers["Location"].split(lab.url)[1]
        assert lab.arm("GET", result, params={}).status_code == 202
        time.sleep(0.7)
        assert lab.arm("GET", poll, params={}).json()["status"] == "Succeeded"
        assert lab.arm("GET", path).json()["properties"]["provisioningState"] == "Succeeded"
        finished = lab.arm("GET", result, params={})
        assert finished.status_code == 200 and finished.json()["name"] == "slow"
    finally:
        lab.admin("PUT", "profile", json={"name": "fast", "overrides": {}})


def test_realistic_profile_sends_integer_retry_after(lab, subscription, group):
    assert lab.admin("PUT", "profile", json={"name": "realistic"}).json()["durations"]["cluster.create"] >= 60
    try:
        path = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/disks/realistic"
        started = lab.arm("PUT", path, json=empty_disk())
        assert int(started.headers["Retry-After"]) >= 1 and "retry-after-ms" not in started.headers
    finally:
        lab.admin("PUT", "profile", json={"name": "fast", "overrides": {}})
    assert lab.admin("GET", "profile").json()["name"] == "fast"


def test_fault_429_is_retried_once(lab, compute, group):
    compute.disks.begin_create_or_update(group, "throttled", empty_disk()).result()
    rule = lab.admin("POST", "faults", json={"method": "GET", "path": "/disks/throttled$", "action": "429", "retryAfter": 1, "count": 1})
    assert rule.status_code == 201
    since = _last_seq(lab)
    started = time.monotonic()
    assert compute.disks.get(group, "throttled").name == "throttled"
    assert time.monotonic() - started >= 1
    seen = [(entry["method"], entry["status"]) for entry in lab.admin("GET", "requests", params={"since": since}).json()["requests"]
            if entry["path"].endswith("/disks/throttled")]
    assert seen == [("GET", 429), ("GET", 200)]


def test_fault_500_and_reset_are_retried(lab, compute, group):
    compute.disks.begin_create_or_update(group, "flaky", empty_disk()).result()
    lab.admin("POST", "faults", json={"method": "GET", "path": "/disks/flaky$", "action": "500"})
    assert compute.disks.get(group, "flaky").name == "flaky"
    lab.admin("POST", "faults", json={"method": "GET", "path": "/disks/flaky$", "action": "reset"})
    assert compute.disks.get(group, "flaky").name == "flaky"
    lab.admin("POST", "faults", json={"method": "GET", "path": "/disks/flaky$", "action": "503", "retryAfter": 1})
    assert compute.disks.get(group, "flaky").name == "flaky"
    assert lab.admin("GET", "faults").json()["faults"] == []


def test_fault_lro_failed(lab, compute, group):
    lab.admin("POST", "faults", json={"method": "PUT", "path": "/disks/doomed$", "action": "lro-fail", "code": "InternalDiskManagementError"})
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(group, "doomed", empty_disk()).result()
    assert error_code(caught) == "InternalDiskManagementError"
    assert compute.disks.get(group, "doomed").provisioning_state == "Failed"


def test_fault_lro_never_ends(lab, compute, group):
    lab.admin("POST", "faults", json={"method": "PUT", "path": "/disks/stuck$", "action": "lro-hang"})
    poller: LROPoller = compute.disks.begin_create_or_update(group, "stuck", empty_disk())
    poller.wait(timeout=0.8)
    assert not poller.done() and poller.status() == "InProgress"
    running = lab.admin("GET", "operations", params={"status": "InProgress"}).json()["operations"]
    assert any(operation["resourceId"].endswith("/disks/stuck") for operation in running)


def test_probability_rule_and_removal(lab):
    rule = lab.admin("POST", "faults", json={"path": "^/never-called$", "action": "500", "probability": 0.5}).json()
    assert rule["count"] is None
    assert lab.admin("DELETE", f"faults/{rule['id']}").status_code == 204
    assert lab.admin("POST", "faults", json={"path": "x", "action": "explode"}).status_code == 400
    assert lab.admin("POST", "faults", json={"path": "x", "action": "429", "retryAfter": 0}).status_code == 400
