"""Shared fixtures: run a module's main() with arguments and get its result or failure as an exception."""

from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

AZURE_ENV = ("AZURE_SUBSCRIPTION_ID", "AZURE_TENANT", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_SECRET",
             "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CERT_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
             "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLOUD_ENVIRONMENT", "AZURE_AUTHORITY_HOST", "AZURE_CA_BUNDLE",
             "REQUESTS_CA_BUNDLE")


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(json.dumps(result, default=str))
        self.result = result


class ModuleFail(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


@pytest.fixture(autouse=True)
def clean_azure_env(monkeypatch):
    """No test sees the developer's or the lab's Azure settings."""
    for name in AZURE_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run_module(monkeypatch):
    """run_module(main, args, check_mode=False, diff=False) -> the result dict (``failed: true`` on fail_json)."""

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        raise ModuleExit(kwargs)

    def fail_json(self, msg=None, **kwargs):
        kwargs["msg"] = msg
        kwargs["failed"] = True
        raise ModuleFail(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(main, args, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args):
            try:
                main()
            except (ModuleExit, ModuleFail) as done:
                return done.result
        raise AssertionError("module returned without exit_json/fail_json")

    return run


def pytest_configure(config):
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")


class FakeHttpResponse:
    """Just enough of an azure-core HTTP response for HttpResponseError to parse an ARM error body."""

    def __init__(self, status, code, message, headers=None):
        self.status_code = status
        self.reason = "Error"
        self.headers = dict({"x-ms-request-id": "req-%s" % code}, **(headers or {}))
        self._body = json.dumps({"error": {"code": code, "message": message}})

    def text(self, encoding=None):
        return self._body


@pytest.fixture
def azure_error():
    """azure_error(status, code, message) -> the exception the SDK raises for that ARM answer."""
    exceptions = pytest.importorskip("azure.core.exceptions")
    arm = pytest.importorskip("azure.mgmt.core.exceptions")

    def make(status, code, message="", headers=None):
        cls = {404: exceptions.ResourceNotFoundError, 409: exceptions.ResourceExistsError,
               401: exceptions.ClientAuthenticationError}.get(status, exceptions.HttpResponseError)
        return cls(response=FakeHttpResponse(status, code, message or code, headers), error_format=arm.ARMErrorFormat)

    return make


class FakePoller:
    """An LROPoller stand-in: done after ``wait`` unless ``hang``; raises ``error`` when set."""

    def __init__(self, result=None, error=None, hang=False):
        self._result = result
        self._error = error
        self._hang = hang
        self.waited = []

    def wait(self, timeout=None):
        self.waited.append(timeout)
        if self._error is not None and not self._hang:
            raise self._error

    def done(self):
        return not self._hang

    def status(self):
        return "InProgress" if self._hang else "Succeeded"

    def result(self, timeout=None):
        self.wait(timeout)
        return self._result


@pytest.fixture
def poller():
    return FakePoller


LOCATIONS = {"westeurope": ["1", "2", "3"], "northeurope": ["1", "2", "3"], "westcentralus": []}


@pytest.fixture
def clients(monkeypatch):
    """Replace AzureModule.client(name) with MagicMocks: clients['compute'] is what the module gets."""
    from unittest.mock import MagicMock

    from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module

    made = {}

    def fake(name):
        if name not in made:
            made[name] = MagicMock(name=name)
            # GET /subscriptions/{id}/locations (through send_request): two regions with zones, one without.
            made[name].send_request.return_value.json.return_value = {"value": [
                {"name": region, "availabilityZoneMappings": [{"logicalZone": z} for z in zones]}
                for region, zones in LOCATIONS.items()]}
        return made[name]

    def client(self, name):
        self.subscription_id  # pylint: disable=pointless-statement  # the real one fails without it too
        return fake(name)

    monkeypatch.setattr(azure_module.AzureModule, "client", client)

    class Clients(dict):
        def __missing__(self, name):
            return fake(name)

        def writes(self):
            """Names of the write calls made (create/update/delete/begin_*) on any client."""
            calls = []
            for mock in made.values():
                for call in mock.mock_calls:
                    name = call[0]
                    last = name.rsplit(".", 1)[-1]
                    if last.startswith(("begin_", "create", "update", "delete")) and "()" not in name:
                        calls.append(name)
            return calls

    return Clients()


SUB = "00000000-0000-0000-0000-000000000001"
AUTH = {"subscription_id": SUB, "auth_source": "credential", "client_id": "c", "tenant": "t", "secret": "s"}


@pytest.fixture
def auth():
    return dict(AUTH)
