"""Auth options: environment fallbacks, credential choice per auth_source, cloud endpoints and discovery."""

from __future__ import annotations

import io
import json

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_auth
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_auth import AzureAuthError

STACK = {
    "name": "lab",
    "resourceManager": "https://127.0.0.1:8443/",
    "authentication": {"loginEndpoint": "https://127.0.0.1:8443/", "audiences": ["https://management.lab/"],
                       "tenant": "common", "identityProvider": "AAD"},
    "suffixes": {},
}


def opener_for(document, seen=None):
    def opener(url, **kwargs):
        if seen is not None:
            seen.append((url, kwargs))
        return io.BytesIO(json.dumps(document).encode())
    return opener


def test_secrets_are_no_log_and_both_env_schemes_fall_back():
    spec = azure_auth.AUTH_ARG_SPEC
    assert spec["secret"]["no_log"] and spec["certificate_password"]["no_log"]
    assert spec["secret"]["fallback"][1] == ["AZURE_SECRET", "AZURE_CLIENT_SECRET"]
    assert spec["tenant"]["fallback"][1] == ["AZURE_TENANT", "AZURE_TENANT_ID"]
    assert spec["federated_token_file"]["fallback"][1] == ["AZURE_FEDERATED_TOKEN_FILE"]
    assert spec["authority_host"]["fallback"][1] == ["AZURE_AUTHORITY_HOST"]


@pytest.mark.parametrize("params, kind", [
    ({"auth_source": "auto", "client_id": "c", "tenant": "t", "secret": "s"}, "secret"),
    ({"auth_source": "auto", "client_id": "c", "tenant": "t", "certificate_path": "/c.pem"}, "certificate"),
    ({"auth_source": "auto", "client_id": "c", "tenant": "t", "federated_token_file": "/t"}, "workload_identity"),
    ({"auth_source": "auto"}, "default"),
    ({"auth_source": "cli"}, "cli"),
    ({"auth_source": "msi", "client_id": "c"}, "msi"),
    ({"auth_source": "credential", "client_id": "c", "tenant": "t", "secret": "s"}, "secret"),
    ({"auth_source": "workload_identity", "client_id": "c", "tenant": "t", "federated_token_file": "/t"}, "workload_identity"),
])
def test_credential_plan(params, kind):
    assert azure_auth.credential_plan(params)[0] == kind


@pytest.mark.parametrize("params, words", [
    ({"auth_source": "auto", "secret": "s", "client_id": "c"}, "tenant"),
    ({"auth_source": "credential", "client_id": "c", "tenant": "t"}, "secret"),
    ({"auth_source": "workload_identity", "client_id": "c"}, "tenant, federated_token_file"),
])
def test_credential_plan_says_what_is_missing(params, words):
    with pytest.raises(AzureAuthError, match=words):
        azure_auth.credential_plan(params)


@pytest.mark.parametrize("env", [
    {"AZURE_CLIENT_ID": "c", "AZURE_SECRET": "s", "AZURE_TENANT": "t"},
    {"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s", "AZURE_TENANT_ID": "t"},
])
def test_env_source_reads_both_naming_schemes_only_from_the_environment(env):
    kind, values = azure_auth.credential_plan({"auth_source": "env", "secret": "ignored"}, environ=env)
    assert kind == "secret" and values["secret"] == "s" and values["tenant"] == "t"


def test_env_source_without_variables_fails():
    with pytest.raises(AzureAuthError, match="AZURE_CLIENT_ID"):
        azure_auth.credential_plan({"auth_source": "env"}, environ={})


@pytest.mark.parametrize("name, manager, authority", [
    ("AzureCloud", "https://management.azure.com/", "https://login.microsoftonline.com"),
    ("azurechinacloud", "https://management.chinacloudapi.cn/", "https://login.chinacloudapi.cn"),
    ("AzureUSGovernment", "https://management.usgovcloudapi.net/", "https://login.microsoftonline.us"),
])
def test_known_clouds(name, manager, authority):
    cloud = azure_auth.resolve_cloud({"cloud_environment": name})
    assert cloud["resource_manager"] == manager and cloud["authority_host"] == authority
    assert cloud["disable_instance_discovery"] is False
    assert cloud["scope"].endswith("/.default")


@pytest.mark.parametrize("document", [STACK, [dict(STACK, name="other", resourceManager="https://elsewhere/"), STACK]])
def test_discovery_accepts_one_cloud_or_a_list(document):
    seen = []
    cloud = azure_auth.resolve_cloud({"cloud_environment": "https://127.0.0.1:8443", "ca_bundle": "/ca.pem",
                                      "validate_certs": True}, opener=opener_for(document, seen))
    assert seen[0][0] == "https://127.0.0.1:8443/metadata/endpoints?api-version=2022-09-01"
    assert seen[0][1]["ca_path"] == "/ca.pem"
    assert cloud["resource_manager"] == "https://127.0.0.1:8443/"
    assert cloud["authority_host"] == "https://127.0.0.1:8443"
    assert cloud["scope"] == "https://management.lab/.default"
    assert cloud["disable_instance_discovery"] is True


def test_authority_host_overrides_and_must_be_https():
    cloud = azure_auth.resolve_cloud({"cloud_environment": "AzureCloud", "authority_host": "https://login.lab:9443/"})
    assert cloud["authority_host"] == "https://login.lab:9443" and cloud["disable_instance_discovery"]
    with pytest.raises(AzureAuthError, match="https"):
        azure_auth.resolve_cloud({"cloud_environment": "AzureCloud", "authority_host": "http://login.lab"})


@pytest.mark.parametrize("document, words", [
    ([], "lists no cloud"),
    ([dict(STACK, resourceManager="https://a/"), dict(STACK, resourceManager="https://b/")], "none has resourceManager"),
    (dict(STACK, authentication={}), "loginEndpoint"),
])
def test_discovery_errors(document, words):
    with pytest.raises(AzureAuthError, match=words):
        azure_auth.resolve_cloud({"cloud_environment": "https://127.0.0.1:8443"}, opener=opener_for(document))


def test_discovery_unreachable_names_the_options():
    def opener(url, **kwargs):
        raise OSError("connection refused")
    with pytest.raises(AzureAuthError, match="ca_bundle and validate_certs"):
        azure_auth.resolve_cloud({"cloud_environment": "https://127.0.0.1:1"}, opener=opener)


def test_unknown_cloud_name():
    with pytest.raises(AzureAuthError, match="AzureChinaCloud"):
        azure_auth.resolve_cloud({"cloud_environment": "AzureGermanCloud"})


def test_tls_verify():
    assert azure_auth.tls_verify({"validate_certs": False, "ca_bundle": "/x"}) is False
    assert azure_auth.tls_verify({"validate_certs": True, "ca_bundle": "/x"}) == "/x"
    assert azure_auth.tls_verify({"validate_certs": True}) is True


class FakeIdentity:
    """Records which azure.identity class would be built with which arguments."""

    def __getattr__(self, name):
        def build(*args, **kwargs):
            return (name, args, kwargs)
        return build


@pytest.mark.parametrize("params, cls", [
    ({"auth_source": "auto", "client_id": "c", "tenant": "t", "secret": "s"}, "ClientSecretCredential"),
    ({"auth_source": "auto", "client_id": "c", "tenant": "t", "certificate_path": "/c"}, "CertificateCredential"),
    ({"auth_source": "workload_identity", "client_id": "c", "tenant": "t", "federated_token_file": "/f"}, "WorkloadIdentityCredential"),
    ({"auth_source": "cli"}, "AzureCliCredential"),
    ({"auth_source": "msi"}, "ManagedIdentityCredential"),
    ({"auth_source": "auto"}, "DefaultAzureCredential"),
])
def test_build_credential_passes_authority_and_instance_discovery(params, cls):
    cloud = {"authority_host": "https://127.0.0.1:8443", "disable_instance_discovery": True}
    name, args, kwargs = azure_auth.build_credential(dict(params, validate_certs=True, ca_bundle="/ca"), cloud, identity=FakeIdentity())
    assert name == cls
    if cls not in ("AzureCliCredential", "ManagedIdentityCredential"):
        assert kwargs["authority"] == "https://127.0.0.1:8443" and kwargs["disable_instance_discovery"] is True
    if cls != "AzureCliCredential":
        assert kwargs["connection_verify"] == "/ca"


def test_real_sdk_accepts_our_keyword_arguments():
    pytest.importorskip("azure.identity")
    cloud = {"authority_host": "https://127.0.0.1:8443", "disable_instance_discovery": True}
    for params in ({"auth_source": "credential", "client_id": "c", "tenant": "t", "secret": "s"}, {"auth_source": "auto"},
                   {"auth_source": "msi", "client_id": "c"}, {"auth_source": "cli", "tenant": "t"}):
        assert azure_auth.build_credential(dict(params, validate_certs=True), cloud) is not None
