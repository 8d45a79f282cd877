"""k8s_client: the connection options (top level and nested), an inline kubeconfig's secrets kept out of results,
connecting, Kube errors."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
import yaml

from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module, k8s_client
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import _create_auth_spec

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
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: seen.update(kw) or "client", raising=False)
    module = azure_module_of(dict(auth, kubernetes={"kubeconfig": "/k", "context": "lab"}))
    kube = module.kube()
    assert isinstance(kube, k8s_client.Kube) and kube.client == "client" and module.kube() is kube
    assert seen == {"kubeconfig": "/k", "context": "lab"}


def test_an_azure_module_imports_the_kubernetes_package_only_to_use_it():
    """Half a second of every Azure module's run went to importing the kubernetes package it never used."""
    code = ("import sys; from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module, k8s_volumes; "
            "print('kubernetes' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_kube_client_that_cannot_connect_says_what_to_check(azure_module_of, auth, monkeypatch):
    def refuse(**kwargs):
        raise RuntimeError("Invalid kube-config file. No configuration found.")

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


# ----- kubernetes.core's connection options at the top level (group/kubedisk.aks.k8s) -----

def kube_module_of(spec, args):
    """A module built as the Kubernetes modules are: their own options plus a connection spec of k8s_client."""
    with patch_module_args(args):
        if spec is k8s_client.AZURE_MODULE_K8S_AUTH_SPEC:
            return AzureModule(dict(spec, nodes={"type": "list", "elements": "str"}), default_timeout=60)
        return k8s_client.KubeconfigModule(argument_spec=dict(spec, nodes={"type": "list", "elements": "str"}))


def captured_client(monkeypatch):
    seen = {}
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: seen.update(kw) or "client", raising=False)
    return seen


def test_top_level_options_are_kubernetes_cores_and_reach_its_client(monkeypatch):
    seen = captured_client(monkeypatch)
    module = kube_module_of(k8s_client.K8S_AUTH_SPEC, {
        "nodes": ["n1"], "kubeconfig": "/k", "context": "lab", "verify_ssl": False, "impersonate_user": "ops"})
    assert set(k8s_client.K8S_AUTH_SPEC) == set(k8s_client.AUTH_ARG_SPEC)
    k8s_client.kube_client(module)
    assert seen == {"kubeconfig": "/k", "context": "lab", "validate_certs": False, "impersonate_user": "ops"}


def test_top_level_inline_kubeconfig_is_no_log(monkeypatch):
    logged = []
    monkeypatch.setattr(k8s_client.KubeconfigModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    module = kube_module_of(k8s_client.K8S_AUTH_SPEC, {"nodes": ["n1"], "kubeconfig": KUBECONFIG, "api_key": "key-789"})
    assert {"tok-123", "S0VZ", "Q0VSVA==", "pw-456", "key-789"} <= module.no_log_values
    assert not any(secret in logged[0] for secret in ("tok-123", "S0VZ", "pw-456", "key-789"))
    shown = str(remove_values(module.params, module.no_log_values))
    assert "tok-123" not in shown and "https://127.0.0.1:6443" in shown


def test_an_azure_modules_validate_certs_stays_azures_and_k8s_auth_env_applies(monkeypatch, auth):
    """pvc_resize and node_fence: validate_certs (default true) is Azure's; K8S_AUTH_VERIFY_SSL decides for Kubernetes."""
    seen = captured_client(monkeypatch)
    monkeypatch.setenv("K8S_AUTH_HOST", "https://kube.example:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", "env-token")
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "false")
    module = kube_module_of(k8s_client.AZURE_MODULE_K8S_AUTH_SPEC, dict(auth, nodes=["n1"], context="lab"))
    assert module.params["validate_certs"] is True  # Azure's default, not overridden by kubernetes.core's spec
    module.kube()
    assert seen == {"context": "lab"}
    resolved = _create_auth_spec(**seen)  # what kubernetes.core makes of it: the unset options from K8S_AUTH_*
    assert resolved["host"] == "https://kube.example:6443" and resolved["api_key"] == "env-token"
    assert resolved["verify_ssl"] is False and resolved["context"] == "lab"


def test_the_nested_option_still_serves_the_azure_modules_that_nest_it(azure_module_of, auth, monkeypatch):
    seen = captured_client(monkeypatch)
    module = azure_module_of(dict(auth, kubernetes={"kubeconfig": "/k", "validate_certs": False}))
    module.kube()
    assert seen == {"kubeconfig": "/k", "validate_certs": False}  # nested: validate_certs is Kubernetes'


def test_the_k8s_action_group_holds_the_modules_that_take_every_connection_option():
    """module_defaults for group/kubedisk.aks.k8s fail a module that does not accept one of the options."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
    with open(os.path.join(root, "meta", "runtime.yml"), encoding="utf-8") as handle:
        group = yaml.safe_load(handle)["action_groups"]["k8s"]
    assert {"drain_preflight", "node_fence", "node_fence_info", "pvc_resize"} <= set(group)
    for name in group:
        spec = importlib.import_module("ansible_collections.kubedisk.aks.plugins.modules." + name).ARGUMENT_SPEC
        assert "kubernetes" not in spec
        taken = set(spec) | set(azure_module.AUTH_ARG_SPEC)
        assert set(k8s_client.AUTH_ARG_SPEC) <= taken, name
