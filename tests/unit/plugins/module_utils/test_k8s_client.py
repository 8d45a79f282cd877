"""k8s_client: the kubernetes option, an inline kubeconfig's secrets kept out of results, connecting, Kube errors."""

from __future__ import annotations

import pytest

from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module, k8s_client
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline

KUBECONFIG = {
    "apiVersion": "v1",
    "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": "Q0EtREFUQQ=="}}],
    "users": [{"name": "admin", "user": {"token": "tok-123", "client-key-data": "S0VZ", "client-certificate-data": "Q0VSVA=="}},
              {"name": "basic", "user": {"username": "ops", "password": "pw-456"}}],
    "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}],
    "current-context": "lab",
}


def test_kubeconfig_secrets_are_the_credentials_only():
    assert k8s_client.kubeconfig_secrets(KUBECONFIG) == {"Q0EtREFUQQ==", "tok-123", "S0VZ", "Q0VSVA==", "pw-456"}
    assert k8s_client.kubeconfig_secrets("/path/to/kubeconfig") == set()
    assert k8s_client.kubeconfig_secrets(None) == set()


class Failed(Exception):
    pass


@pytest.fixture
def azure_module_of(monkeypatch):
    def fail_json(self, msg=None, **kwargs):
        raise Failed(dict(kwargs, msg=msg))

    monkeypatch.setattr(azure_module.KubeconfigModule, "fail_json", fail_json)

    def build(args):
        with patch_module_args(args):
            return AzureModule({"kubernetes": k8s_client.KUBERNETES_SPEC}, default_timeout=60)
    return build


def test_inline_kubeconfig_and_sibling_secrets_are_no_log(azure_module_of, auth):
    kubernetes = {"kubeconfig": KUBECONFIG, "api_key": "key-789", "password": "pw-000"}
    module = azure_module_of(dict(auth, secret="sp-secret", kubernetes=kubernetes))
    hidden = module.module.no_log_values
    assert {"tok-123", "S0VZ", "Q0VSVA==", "pw-456", "key-789", "pw-000"} <= hidden
    assert "ops" not in hidden and "lab" not in hidden
    shown = str(remove_values(module.params, hidden))  # what Ansible does to a result and its invocation
    assert not any(secret in shown for secret in ("tok-123", "S0VZ", "pw-456", "key-789", "pw-000"))
    assert "https://127.0.0.1:6443" in shown


def test_kube_client_passes_only_the_options_set(azure_module_of, auth, monkeypatch):
    seen = {}
    monkeypatch.setattr(k8s_client, "HAS_K8S_CORE", True)
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: seen.update(kw) or "client", raising=False)
    module = azure_module_of(dict(auth, kubernetes={"kubeconfig": "/k", "context": "lab"}))
    kube = module.kube()
    assert isinstance(kube, k8s_client.Kube) and kube.client == "client" and module.kube() is kube
    assert seen == {"kubeconfig": "/k", "context": "lab"}


def test_kube_client_that_cannot_connect_says_what_to_check(azure_module_of, auth, monkeypatch):
    def refuse(**kwargs):
        raise RuntimeError("Invalid kube-config file. No configuration found.")

    monkeypatch.setattr(k8s_client, "HAS_K8S_CORE", True)
    monkeypatch.setattr(k8s_client, "get_api_client", refuse, raising=False)
    with pytest.raises(Failed, match="cannot connect to Kubernetes: Invalid kube-config file.*K8S_AUTH_"):
        azure_module_of(dict(auth)).kube()


class NotFound(Exception):
    status = 404


class Conflict(Exception):
    status = 409
    body = b'{"kind": "Status", "message": "the object has been modified", "reason": "Conflict"}'


def test_kube_maps_404_and_errors():
    class Client:
        def resource(self, kind, version):
            return kind

        def get(self, resource, **kwargs):
            if kwargs.get("name") == "missing":
                raise NotFound()
            raise RuntimeError("boom")

        def patch(self, resource, body, **kwargs):
            raise Conflict()

        def delete(self, resource, **kwargs):
            raise NotFound()

    kube = k8s_client.Kube(Client())
    assert kube.get("Node", "missing") is None
    with pytest.raises(k8s_client.K8sError, match="reading Node n1: boom"):
        kube.get("Node", "n1")
    with pytest.raises(k8s_client.K8sError, match=r"patching Node n1: the object has been modified \(Conflict\)"):
        kube.patch("Node", "n1", {})
    assert kube.delete("Pod", "gone", "default") is None


def test_invocation_log_hides_an_inline_kubeconfig(azure_module_of, auth, monkeypatch):
    """AnsibleModule logs its arguments to syslog from its constructor: the kubeconfig's secrets are hidden by then."""
    logged = []
    monkeypatch.setattr(k8s_client.KubeconfigModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    azure_module_of(dict(auth, kubernetes={"kubeconfig": KUBECONFIG}))
    assert len(logged) == 1 and "current-context" in logged[0]
    assert not any(secret in logged[0] for secret in ("tok-123", "S0VZ", "Q0VSVA==", "pw-456"))


def test_inline_kubeconfig_is_hidden_when_the_module_logs_nothing(azure_module_of, auth):
    """no_log (or no_target_syslog) skips the invocation log; the invocation in the result must hide them still."""
    module = azure_module_of(dict(auth, kubernetes={"kubeconfig": KUBECONFIG}, _ansible_no_log=True))
    assert {"tok-123", "S0VZ", "Q0VSVA==", "pw-456"} <= module.module.no_log_values


class FlakyClient:
    """An API server that answers, then refuses connections ``down`` times, then answers again."""

    def __init__(self, down, error=ConnectionRefusedError):
        self.down, self.error, self.calls = down, error, 0

    def resource(self, kind, version):
        return kind

    def get(self, resource, **kwargs):
        self.calls += 1
        if 1 < self.calls <= 1 + self.down:
            raise self.error("[Errno 111] Connection refused")
        return {"metadata": {"name": kwargs.get("name")}}

    def patch(self, resource, body, **kwargs):
        raise self.error("[Errno 111] Connection refused")


def quick_deadline(seconds):
    """A deadline whose clock stands still and whose sleeps are only recorded."""
    slept = []
    return Deadline(seconds, clock=lambda: 0.0, sleep=slept.append), slept


def test_reads_ride_out_a_restart_of_a_server_that_answered():
    deadline, slept = quick_deadline(60)
    client = FlakyClient(down=3)
    kube = k8s_client.Kube(client, deadline)
    assert kube.get("Node", "n1")["metadata"]["name"] == "n1"
    assert kube.get("Node", "n1")["metadata"]["name"] == "n1"  # refused three times in between
    assert client.calls == 5 and len(slept) == 3


def test_a_server_never_reached_and_writes_fail_at_once():
    deadline, slept = quick_deadline(60)
    kube = k8s_client.Kube(FlakyClient(down=0), deadline)
    first = FlakyClient(down=5)
    first.calls = 1  # the next call is refused: the server has not answered this Kube yet
    never = k8s_client.Kube(first, deadline)
    with pytest.raises(k8s_client.K8sError, match="reading Node n1: .*Connection refused"):
        never.get("Node", "n1")
    assert first.calls == 2 and not slept
    with pytest.raises(k8s_client.K8sError, match="patching Node n1: .*Connection refused"):
        kube.patch("Node", "n1", {})
    assert not slept


def test_the_ride_out_ends_and_names_the_connection_error():
    deadline = Deadline(0.05)
    client = FlakyClient(down=10 ** 6)
    kube = k8s_client.Kube(client, deadline)
    kube.get("Node", "n1")
    with pytest.raises(k8s_client.K8sError, match="reading Node n1: .*Connection refused"):
        kube.get("Node", "n1")
    assert client.calls >= 2


def test_an_error_answer_is_not_repeated():
    deadline, slept = quick_deadline(60)
    kube = k8s_client.Kube(FlakyClient(down=0), deadline)
    kube.get("Node", "n1")

    def forbidden(resource, **kwargs):
        raise Conflict()
    kube.client.get = forbidden
    with pytest.raises(k8s_client.K8sError, match="modified"):
        kube.get("Node", "n1")
    assert not slept
