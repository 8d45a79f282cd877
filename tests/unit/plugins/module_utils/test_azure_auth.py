"""Auth options: environment fallbacks, credential choice per auth_source, cloud endpoints and discovery."""

from __future__ import annotations

import io
import json
import os
import stat
import time

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


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """Every test gets an empty cache folder of its own (the metadata cache lives under $XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def lab_params(tmp_path, ca_text="lab CA 1"):
    ca = tmp_path / "ca.pem"
    ca.write_text(ca_text)
    return {"cloud_environment": "https://127.0.0.1:8443", "ca_bundle": str(ca), "validate_certs": True}


def cache_files():
    folder = azure_auth.metadata_cache_dir()
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))] if os.path.isdir(folder) else []


def test_metadata_is_fetched_once_per_url_and_ca(tmp_path):
    seen = []
    params = lab_params(tmp_path)
    first = azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    second = azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    assert len(seen) == 1 and first == second
    assert first["authority_host"] == "https://127.0.0.1:8443"


def test_metadata_cache_is_private(tmp_path):
    azure_auth.resolve_cloud(lab_params(tmp_path), opener=opener_for(STACK))
    (path,) = cache_files()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_another_ca_on_the_same_url_is_another_cloud(tmp_path):
    seen = []
    azure_auth.resolve_cloud(lab_params(tmp_path, "lab CA 1"), opener=opener_for(STACK, seen))
    other = dict(STACK, authentication=dict(STACK["authentication"], loginEndpoint="https://127.0.0.1:9443/"))
    cloud = azure_auth.resolve_cloud(lab_params(tmp_path, "lab CA 2"), opener=opener_for(other, seen))
    assert len(seen) == 2 and cloud["authority_host"] == "https://127.0.0.1:9443"
    assert len(cache_files()) == 2


def test_expired_metadata_is_fetched_again(tmp_path, monkeypatch):
    seen = []
    params = lab_params(tmp_path)
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    later = time.time() + azure_auth.METADATA_CACHE_SECONDS + 1
    monkeypatch.setattr(azure_auth.time, "time", lambda: later)
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    assert len(seen) == 2


@pytest.mark.parametrize("content", [
    b"{not json",
    json.dumps({"endpoint": "https://127.0.0.1:8443/metadata/endpoints?api-version=2022-09-01", "fetched": 0}).encode(),
    b"[]",
])
def test_corrupt_or_incomplete_cache_is_fetched_again_and_replaced(tmp_path, monkeypatch, content):
    seen = []
    params = lab_params(tmp_path)
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    (path,) = cache_files()
    with open(path, "wb") as out:
        out.write(content)
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    assert len(seen) == 2


def test_cached_document_without_the_fields_used_is_fetched_again(tmp_path):
    seen = []
    params = lab_params(tmp_path)
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    (path,) = cache_files()
    with open(path, encoding="utf-8") as cached:
        entry = json.load(cached)
    entry["document"] = dict(STACK, authentication={})
    with open(path, "w", encoding="utf-8") as out:
        json.dump(entry, out)
    assert azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))["authority_host"] == "https://127.0.0.1:8443"
    assert len(seen) == 2


def test_cache_readable_by_others_is_not_trusted(tmp_path):
    seen = []
    params = lab_params(tmp_path)
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    (path,) = cache_files()
    os.chmod(path, 0o644)
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    assert len(seen) == 2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_failures_and_unverified_documents_are_not_cached(tmp_path):
    params = lab_params(tmp_path)
    with pytest.raises(AzureAuthError, match="loginEndpoint"):
        azure_auth.resolve_cloud(params, opener=opener_for(dict(STACK, authentication={})))
    assert cache_files() == []
    seen = []
    unverified = dict(params, validate_certs=False)
    azure_auth.resolve_cloud(unverified, opener=opener_for(STACK, seen))
    azure_auth.resolve_cloud(unverified, opener=opener_for(STACK, seen))
    assert len(seen) == 2 and cache_files() == []


def test_unwritable_cache_folder_still_resolves(tmp_path, cache_home):
    cache_home.parent.mkdir(parents=True, exist_ok=True)
    cache_home.write_text("a file where the folder would be")
    seen = []
    params = lab_params(tmp_path)
    assert azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))["resource_manager"] == "https://127.0.0.1:8443/"
    azure_auth.resolve_cloud(params, opener=opener_for(STACK, seen))
    assert len(seen) == 2
