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


def test_only_a_resource_absent_404_is_absent(make, azure_error):
    module = make({})
    for code in ("ResourceGroupNotFound", "NotFound", "ParentResourceNotFound"):
        assert module.get_or_none("reading", raiser(azure_error(404, code))) is None
    with pytest.raises(Failed, match="reading rg: SubscriptionNotFound"):
        module.get_or_none("reading rg", raiser(azure_error(404, "SubscriptionNotFound")))
    with pytest.raises(Failed, match="InvalidResourceType"):
        module.get_or_none("reading", raiser(azure_error(404, "InvalidResourceType")))


class Resource:
    def __init__(self, state):
        self.provisioning_state = state


def test_current_waits_until_the_operation_in_flight_ends(make, monkeypatch):
    module = make({"timeout": 60})
    monkeypatch.setattr(module.deadline, "_sleep", lambda seconds: None)
    answers = [Resource("Creating"), Resource("Updating"), Resource("Succeeded")]
    found = module.current("reading x", lambda: answers.pop(0))
    assert found.provisioning_state == "Succeeded" and not answers
    assert module.current("reading x", lambda: {"properties": {"provisioningState": "Failed"}}) is not None


def test_current_gives_none_when_the_resource_goes_away(make, azure_error, monkeypatch):
    module = make({"timeout": 60})
    monkeypatch.setattr(module.deadline, "_sleep", lambda seconds: None)
    answers = [Resource("Deleting"), azure_error(404, "ResourceNotFound")]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    assert module.current("reading x", read) is None


def test_current_fails_when_the_operation_outlives_the_timeout(make):
    clock = {"now": 0.0}
    module = make({"timeout": 5})
    module.deadline = azure_module.Deadline(5, clock=lambda: clock["now"],
                                            sleep=lambda s: clock.__setitem__("now", clock["now"] + s))
    with pytest.raises(Failed) as failed:
        module.current("reading cluster c", lambda: Resource("Creating"))
    assert "still running (provisioningState Creating)" in failed.value.args[0]["msg"]


@pytest.mark.parametrize("value", ["../../x", "00000000-0000-0000-0000-000000000001\n", "sub"])
def test_subscription_id_must_be_a_guid(make, auth, value):
    with pytest.raises(Failed, match="is not a subscription id"):
        make(dict(auth, subscription_id=value))


def test_tags_are_checked_before_any_call(make, auth):
    with pytest.raises(Failed, match="tags: .*at most 256"):
        make(dict(auth, tags={"k": "v" * 257}), spec={"tags": {"type": "dict"}})


def test_locations_check_region_and_zones(make, auth, clients):
    module = make(dict(auth))
    module.check_location("West Europe", ["1", "3"])
    with pytest.raises(Failed, match="'mars' is not a region .* it offers northeurope, westcentralus, westeurope"):
        module.check_location("mars")
    with pytest.raises(Failed, match="westcentralus has no availability zone 1"):
        module.check_location("westcentralus", ["1"])
    assert clients["resource"].send_request.call_count == 1


def test_token_requests_retry_within_the_deadline(make, auth):
    pytest.importorskip("azure.identity")
    module = make(dict(auth, auth_source="credential", cloud_environment="AzureCloud"))
    pipeline = module.credential._client._pipeline  # pylint: disable=protected-access
    policies = [p for p in pipeline._impl_policies if type(p).__name__ == "DeadlineRetryPolicy"]  # pylint: disable=protected-access
    assert policies and policies[0].deadline is module.deadline


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


def test_begin_waits_while_another_operation_runs(make, azure_error, poller, monkeypatch):
    module = make({"timeout": 60})
    monkeypatch.setattr(module.deadline, "_sleep", lambda seconds: None)
    answers = [azure_error(409, "AnotherOperationInProgress", "Another operation (disk.create) is in progress"),
               azure_error(409, "OperationNotAllowed", "there's an in progress create operation"), poller(result="done")]

    def start():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    assert module.begin("creating disk d", start) == "done" and not answers
    with pytest.raises(Failed, match="creating disk d \\(request\\): OperationNotAllowed"):
        module.begin("creating disk d", raiser(azure_error(409, "OperationNotAllowed", "the disk is attached")))


def answers_of(*answers):
    """A call giving ``answers`` in turn (an exception is raised); the last one again once they run out."""
    queue = list(answers)

    def call(*args, **kwargs):
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer
    return call


@pytest.mark.parametrize("status, code, message", [
    (409, "AnotherOperationInProgress", "Another operation (snapshot.create) is in progress on 's'."),
    (400, "BadRequest", "Changing property 'sourceResourceId' is not allowed for existing disk 's'."),
    (409, "RoleAssignmentExists", "The role assignment already exists."),
])
def test_create_refused_as_made_meanwhile_reads_instead_of_retrying(make, azure_error, monkeypatch, status, code, message):
    module = make({"timeout": 60})
    monkeypatch.setattr(module.deadline, "_sleep", lambda seconds: None)
    puts = []

    def put():
        puts.append(1)
        raise azure_error(status, code, message)
    read = answers_of(azure_error(404, "ResourceNotFound"), Resource("Creating"), Resource("Succeeded"))
    found, created = module.create("creating snapshot s", read, put)
    assert (found.provisioning_state, created, len(puts)) == ("Succeeded", False, 1)


def test_create_writes_only_when_the_last_look_finds_nothing_or_a_failed_one(make, azure_error, poller):
    module = make({"timeout": 60})
    puts = []

    def start():
        puts.append(1)
        return poller(result="made")
    assert module.create("creating d", answers_of(Resource("Succeeded")), start)[1] is False and not puts
    assert module.create("creating d", answers_of(Resource("Failed")), start) == ("made", True)
    assert module.create("creating d", answers_of(azure_error(404, "ResourceNotFound")), start) == ("made", True) and len(puts) == 2
    with pytest.raises(Failed, match="creating d \\(request\\): BadRequest"):
        module.create("creating d", answers_of(azure_error(404, "ResourceNotFound")), raiser(azure_error(400, "BadRequest", "bad size")))
    with pytest.raises(Failed, match="refused, yet nothing of the name is there"):
        module.create("creating d", answers_of(azure_error(404, "ResourceNotFound")),
                      raiser(azure_error(409, "AnotherOperationInProgress", "in progress")))
