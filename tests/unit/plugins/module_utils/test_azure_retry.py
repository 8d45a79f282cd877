"""DeadlineRetryPolicy: each request's retry budget is what is left of the deadline, and a wait Azure asks for
that reaches past it ends the chain with Azure's answer; AzureModule names that answer when it fails."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_retry import DeadlineRetryPolicy
from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline

azure_core = pytest.importorskip("azure.core")
resources = pytest.importorskip("azure.mgmt.resource.resources")
from azure.core.credentials import AccessToken, AccessTokenInfo  # noqa: E402  pylint: disable=wrong-import-position
from azure.core.pipeline.transport import HttpTransport  # noqa: E402  pylint: disable=wrong-import-position
from azure.core.utils import CaseInsensitiveDict  # noqa: E402  pylint: disable=wrong-import-position

SUB = "00000000-0000-0000-0000-000000000001"


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now


class Answer:
    """An ARM HTTP answer as azure-core's transport hands it to the pipeline."""

    def __init__(self, request, status, headers, body):
        self.request = request
        self.status_code = status
        self.reason = "Error" if status >= 400 else "OK"
        self.headers = CaseInsensitiveDict(headers)
        self.content_type = "application/json"
        self._body = json.dumps(body).encode("utf-8")

    def body(self):
        return self._body

    def text(self, encoding=None):
        return self._body.decode("utf-8")

    def read(self):
        return self._body

    def json(self):
        return json.loads(self._body)

    @property
    def content(self):
        return self._body

    def close(self):
        pass

    def raise_for_status(self):
        pass


class Transport(HttpTransport):
    """Answers from a script (the last one repeats); sleeping moves the fake clock."""

    def __init__(self, fake, answers):
        self.fake = fake
        self.answers = list(answers)
        self.sent = []
        self.slept = []

    def send(self, request, **kwargs):
        self.sent.append(self.fake.now)
        status, headers, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Answer(request, status, headers, body)

    def sleep(self, duration):
        self.slept.append(duration)
        self.fake.now += duration

    def open(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        pass


class Credential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("token", 4102444800)

    def get_token_info(self, *scopes, options=None):
        return AccessTokenInfo("token", 4102444800)


def throttled(retry_after, request_id="req-throttled"):
    return (429, {"Retry-After": str(retry_after), "x-ms-request-id": request_id},
            {"error": {"code": "TooManyRequests", "message": "The request was throttled."}})


GROUP = (200, {}, {"id": "/subscriptions/%s/resourceGroups/rg" % SUB, "name": "rg", "location": "westeurope"})
BUSY = (503, {"x-ms-request-id": "req-busy"}, {"error": {"code": "ServerBusy", "message": "Try later."}})


def client_for(transport, deadline):
    policy = DeadlineRetryPolicy(deadline, retry_total=10, retry_status=6, retry_backoff_factor=0.8, retry_backoff_max=60,
                                 timeout=deadline.seconds)
    return resources.ResourceManagementClient(Credential(), SUB, transport=transport, retry_policy=policy)


def test_each_request_gets_what_is_left_of_the_deadline():
    fake = FakeTime()
    policy = DeadlineRetryPolicy(Deadline(600, clock=fake.clock), timeout=600)
    assert policy.configure_retries({})["timeout"] == 600
    fake.now = 550
    assert policy.configure_retries({})["timeout"] == 50
    fake.now = 700
    assert policy.configure_retries({})["timeout"] == 1.0  # a last call still gets an answer
    assert policy.configure_retries({"timeout": 0.5})["timeout"] == 0.5


def test_a_short_retry_after_is_honoured():
    fake = FakeTime()
    transport = Transport(fake, [throttled(3), GROUP])
    group = client_for(transport, Deadline(60, clock=fake.clock)).resource_groups.get("rg")
    assert group.name == "rg" and transport.slept == [3.0] and transport.sent == [0.0, 3.0]


def test_throttling_is_waited_out_beyond_the_retry_counts_within_the_deadline():
    fake = FakeTime()
    transport = Transport(fake, [throttled(1)] * 15 + [GROUP])
    group = client_for(transport, Deadline(60, clock=fake.clock)).resource_groups.get("rg")
    assert group.name == "rg" and len(transport.sent) == 16 and transport.slept == [1.0] * 15


def test_throttling_that_outlasts_the_deadline_ends_with_azures_answer():
    fake = FakeTime()
    transport = Transport(fake, [throttled(1)])
    with pytest.raises(azure_core.exceptions.HttpResponseError) as raised:
        client_for(transport, Deadline(20, clock=fake.clock)).resource_groups.get("rg")
    assert raised.value.status_code == 429 and fake.now < 20 and len(transport.sent) >= 19


def test_a_retry_after_past_the_deadline_ends_the_chain_with_azures_answer():
    fake = FakeTime()
    transport = Transport(fake, [throttled(30)])
    client = client_for(transport, Deadline(60, clock=fake.clock))
    fake.now = 55  # 5 s left, Azure asks for 30
    with pytest.raises(azure_core.exceptions.HttpResponseError) as raised:
        client.resource_groups.get("rg")
    assert transport.slept == [] and len(transport.sent) == 1
    assert raised.value.status_code == 429 and raised.value.error.code == "TooManyRequests"


def test_backoff_never_sleeps_past_the_deadline():
    fake = FakeTime()
    transport = Transport(fake, [BUSY])
    with pytest.raises(azure_core.exceptions.HttpResponseError) as raised:
        client_for(transport, Deadline(10, clock=fake.clock)).resource_groups.get("rg")
    assert raised.value.status_code == 503 and raised.value.error.code == "ServerBusy"
    assert sum(transport.slept) < 10 and fake.now < 10 and len(transport.sent) >= 3


class Failed(Exception):
    pass


def test_the_failure_names_the_last_answer_and_the_deadline(monkeypatch, auth):
    def fail_json(self, msg=None, **kwargs):
        raise Failed(dict(kwargs, msg=msg))

    monkeypatch.setattr(azure_module.KubeconfigModule, "fail_json", fail_json)
    fake = FakeTime()
    transport = Transport(fake, [throttled(120, "req-42")])
    with patch_module_args(dict(auth, timeout=60)):
        module = AzureModule({}, default_timeout=600)
    module.deadline = Deadline(60, clock=fake.clock)
    monkeypatch.setattr(AzureModule, "client_kwargs", lambda self: dict(
        transport=transport, retry_policy=DeadlineRetryPolicy(self.deadline, timeout=self.timeout)))
    monkeypatch.setattr(AzureModule, "credential", Credential())
    client = module.client("resource")
    with pytest.raises(Failed) as failed:
        module.call("reading resource group rg", client.resource_groups.get, "rg")
    msg = failed.value.args[0]["msg"]
    assert msg.startswith("reading resource group rg: TooManyRequests (HTTP 429): The request was throttled.")
    assert "[request id req-42]" in msg and "Response timeout" not in msg
    assert "Azure asked to retry after 120 s, more than the 60 s left of timeout=60 s" in msg
    assert transport.slept == []


class ResetOnce(Transport):
    """Drops the connection of the first request, then answers."""

    def send(self, request, **kwargs):
        if not self.sent:
            self.sent.append(self.fake.now)
            raise azure_core.exceptions.ServiceResponseError("Connection reset by peer")
        return super().send(request, **kwargs)


def test_a_write_whose_connection_was_reset_is_sent_again():
    fake = FakeTime()
    transport = ResetOnce(fake, [GROUP])
    group = client_for(transport, Deadline(60, clock=fake.clock)).resource_groups.update("rg", {"tags": {"a": "1"}})
    assert group.name == "rg" and len(transport.sent) == 2


def test_a_reset_when_the_deadline_is_spent_raises_at_once():
    fake = FakeTime()
    transport = ResetOnce(fake, [GROUP])
    client = client_for(transport, Deadline(60, clock=fake.clock))
    fake.now = 60  # the budget is spent: no second try
    with pytest.raises(azure_core.exceptions.ServiceResponseError):
        client.resource_groups.update("rg", {"tags": {"a": "1"}})
    assert len(transport.sent) == 1 and transport.slept == []
