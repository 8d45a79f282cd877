"""k8s_client: the kubernetes option, an inline kubeconfig's secrets kept out of results, connecting, Kube errors."""

from __future__ import annotations

import pytest

from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module, k8s_client
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule

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
