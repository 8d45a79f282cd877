"""AzureModule: merged spec, deadline-bounded waits, Azure errors as fail_json, clients and retry policy."""

from __future__ import annotations

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule


class Failed(Exception):
    pass


@pytest.fixture
def make(monkeypatch):
    def fail_json(self, msg=None, **kwargs):
        raise Failed(dict(kwargs, msg=msg))

    monkeypatch.setattr(azure_module.KubeconfigModule, "fail_json", fail_json)

    def build(args, spec=None):
        with patch_module_args(args):
            return AzureModule(spec or {}, default_timeout=60)
    return build


def test_auth_spec_is_merged_and_secret_never_logged(make, auth):
    module = make(dict(auth))
    assert module.params["secret"] == "s" and module.params["cloud_environment"] == "AzureCloud"
    assert "s" in module.module.no_log_values


def test_env_fallbacks_in_both_schemes(make, monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "from-identity-scheme")
    monkeypatch.setenv("AZURE_TENANT", "from-awx-scheme")
    module = make({})
    assert module.params["secret"] == "from-identity-scheme" and module.params["tenant"] == "from-awx-scheme"


def test_missing_subscription_says_how(make):
    module = make({})
    with pytest.raises(Failed, match="module_defaults"):
        module.client("resource")


def test_wait_returns_result_and_is_bounded_by_timeout(make, poller):
    module = make({"timeout": 60})
    done = poller(result="ok")
    assert module.wait(done, "creating x") == "ok"
    assert 0 < done.waited[0] <= 60


def test_wait_timeout_says_azure_carries_on(make, poller):
    module = make({"timeout": 5})
    with pytest.raises(Failed) as failed:
        module.wait(poller(hang=True), "deleting cluster c")
    assert "did not finish within timeout=5 s" in failed.value.args[0]["msg"]
    assert "Rerun" in failed.value.args[0]["msg"]


def test_wait_failed_operation_reports_code_and_request_id(make, poller, azure_error):
    module = make({})
    error = azure_error(200, "OperationFailed", "provisioning failed: quota")
    with pytest.raises(Failed) as failed:
        module.wait(poller(error=error), "creating cluster c")
    result = failed.value.args[0]
    assert result["msg"].startswith("creating cluster c failed: OperationFailed")
    assert "req-OperationFailed" in result["msg"] and result["error"]["code"] == "OperationFailed"


def raiser(exc):
    def call():
        raise exc
    return call


def test_call_and_get_or_none(make, azure_error):
    module = make({})
    assert module.get_or_none("reading", raiser(azure_error(404, "ResourceNotFound"))) is None
    with pytest.raises(Failed, match="reading x: AuthorizationFailed"):
        module.get_or_none("reading x", raiser(azure_error(403, "AuthorizationFailed")))
    with pytest.raises(Failed, match="Azure authentication failed"):
        module.call("listing", raiser(azure_error(401, "InvalidAuthenticationToken")))
    assert module.call("x", lambda a: a + 1, 1) == 2


def test_client_kwargs_use_cloud_retry_policy_and_no_fixed_30s_poll(make, auth):
    pytest.importorskip("azure.core")
    module = make(dict(auth, validate_certs=False))
    kwargs = module.client_kwargs()
    assert kwargs["base_url"] == "https://management.azure.com"
    assert kwargs["credential_scopes"] == ["https://management.azure.com/.default"]
    assert kwargs["connection_verify"] is False
    assert kwargs["polling_interval"] < 30
    policy = kwargs["retry_policy"]
    assert policy.total_retries == 10 and 0 < policy.timeout <= 60


def test_real_client_is_built_once(make, auth):
    pytest.importorskip("azure.mgmt.resource")
    module = make(dict(auth))
    first = module.client("resource")
    assert first is module.client("resource")
    assert first._config.polling_interval == azure_module.FALLBACK_POLL_INTERVAL  # pylint: disable=protected-access


def test_bad_cloud_environment_fails_cleanly(make, auth):
    module = make(dict(auth, cloud_environment="Mars"))
    with pytest.raises(Failed, match="neither one of"):
        module.client("compute")


def test_missing_sdk_gives_missing_required_lib(make, auth, monkeypatch):
    monkeypatch.setitem(azure_module.CLIENTS, "compute", ("azure.mgmt.not_there", "X", "azure-mgmt-compute"))
    module = make(dict(auth))
    with pytest.raises(Failed, match="azure-mgmt-compute"):
        module.client("compute")


def test_diff_drops_secrets():
    assert AzureModule.diff({"secret": 1, "a": 1}, None) == {"before": {"a": 1}, "after": {}}
