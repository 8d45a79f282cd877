# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure authentication shared by every kubedisk.aks Azure module.

One argument spec (``AUTH_ARG_SPEC``, documented by the ``kubedisk.aks.azure`` doc fragment), the
cloud endpoints (named clouds or an ARM URL discovered from its metadata endpoint, the document kept
on disk for a day between module runs) and the construction of an azure-identity credential for each
``auth_source``.

Tokens are not kept between module runs: azure-identity's persistent token cache
(``TokenCachePersistenceOptions``) encrypts only with a keyring (libsecret on Linux), which controllers,
execution environments and AWX jobs seldom have; without one it needs ``allow_unencrypted_storage``,
a bearer token for the whole subscription in a plain file. Each run asks the token endpoint afresh
(Entra ID, not ARM: it costs no ARM read).

Nothing here imports an Azure SDK at module level: the credential classes are imported when a
credential is built, so the sanity import test and a controller without the SDK still load it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import tempfile
import time

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.parse import urlparse

AUTH_SOURCES = ["auto", "env", "cli", "msi", "workload_identity", "credential"]

# Both environment naming schemes: azure-identity's and AWX's Azure credential type.
ENV_NAMES = {
    "subscription_id": ["AZURE_SUBSCRIPTION_ID"],
    "tenant": ["AZURE_TENANT", "AZURE_TENANT_ID"],
    "client_id": ["AZURE_CLIENT_ID"],
    "secret": ["AZURE_SECRET", "AZURE_CLIENT_SECRET"],
    "certificate_path": ["AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CERT_PATH"],
    "certificate_password": ["AZURE_CLIENT_CERTIFICATE_PASSWORD"],
    "federated_token_file": ["AZURE_FEDERATED_TOKEN_FILE"],
    "cloud_environment": ["AZURE_CLOUD_ENVIRONMENT"],
    "authority_host": ["AZURE_AUTHORITY_HOST"],
    "ca_bundle": ["AZURE_CA_BUNDLE", "REQUESTS_CA_BUNDLE"],
}

AUTH_ARG_SPEC = {
    "auth_source": {"type": "str", "default": "auto", "choices": AUTH_SOURCES},
    "subscription_id": {"type": "str", "fallback": (env_fallback, ENV_NAMES["subscription_id"])},
    "tenant": {"type": "str", "aliases": ["tenant_id"], "fallback": (env_fallback, ENV_NAMES["tenant"])},
    "client_id": {"type": "str", "fallback": (env_fallback, ENV_NAMES["client_id"])},
    "secret": {"type": "str", "no_log": True, "aliases": ["client_secret"], "fallback": (env_fallback, ENV_NAMES["secret"])},
    "certificate_path": {"type": "path", "fallback": (env_fallback, ENV_NAMES["certificate_path"])},
    "certificate_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ENV_NAMES["certificate_password"])},
    "federated_token_file": {"type": "path", "fallback": (env_fallback, ENV_NAMES["federated_token_file"])},
    "cloud_environment": {"type": "str", "default": "AzureCloud", "fallback": (env_fallback, ENV_NAMES["cloud_environment"])},
    "authority_host": {"type": "str", "fallback": (env_fallback, ENV_NAMES["authority_host"])},
    "ca_bundle": {"type": "path", "fallback": (env_fallback, ENV_NAMES["ca_bundle"])},
    "validate_certs": {"type": "bool", "default": True, "aliases": ["verify_ssl"]},
}

METADATA_API_VERSION = "2022-09-01"
# How long a discovered ARM metadata document is used before it is fetched again (clouds change their endpoints
# rarely, and with notice).
METADATA_CACHE_SECONDS = 24 * 3600

# Public, sovereign clouds: resource manager, authority, token audience.
KNOWN_CLOUDS = {
    "azurecloud": {
        "name": "AzureCloud",
        "resource_manager": "https://management.azure.com/",
        "authority_host": "https://login.microsoftonline.com",
        "audience": "https://management.azure.com/",
    },
    "azurechinacloud": {
        "name": "AzureChinaCloud",
        "resource_manager": "https://management.chinacloudapi.cn/",
        "authority_host": "https://login.chinacloudapi.cn",
        "audience": "https://management.chinacloudapi.cn/",
    },
    "azureusgovernment": {
        "name": "AzureUSGovernment",
        "resource_manager": "https://management.usgovcloudapi.net/",
        "authority_host": "https://login.microsoftonline.us",
        "audience": "https://management.usgovcloudapi.net/",
    },
}
# Authorities MSAL knows; for any other one, instance discovery must be off or MSAL asks the public cloud.
PUBLIC_AUTHORITY_HOSTS = ("login.microsoftonline.com", "login.chinacloudapi.cn", "login.microsoftonline.us",
                          "login.windows.net", "login.microsoft.com", "sts.windows.net")


class AzureAuthError(Exception):
    """Bad or incomplete authentication settings; the message says what to set."""


def _first_env(names):
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _slash(url):
    return url if url.endswith("/") else url + "/"


def tls_verify(params):
    """``connection_verify`` value for azure-core transports: False, a CA bundle path, or True."""
    if not params.get("validate_certs", True):
        return False
    return params.get("ca_bundle") or True


def select_cloud(document, url):
    """Pick the cloud for ``url`` from an ARM metadata document (one cloud object or a list of them)."""
    clouds = document if isinstance(document, list) else [document]
    clouds = [c for c in clouds if isinstance(c, dict)]
    if not clouds:
        raise AzureAuthError("the ARM metadata at %s lists no cloud" % url)
    wanted = urlparse(url).netloc.lower()
    for cloud in clouds:
        if urlparse(cloud.get("resourceManager") or "").netloc.lower() == wanted:
            return cloud
    if len(clouds) == 1:
        return clouds[0]
    raise AzureAuthError("the ARM metadata at %s lists %d clouds and none has resourceManager %s"
                         % (url, len(clouds), url))


def cloud_from_metadata(cloud, url):
    """Endpoints we use from one cloud object of an ARM metadata document."""
    auth = cloud.get("authentication") or {}
    login = auth.get("loginEndpoint")
    if not login:
        raise AzureAuthError("the ARM metadata at %s has no authentication.loginEndpoint" % url)
    audiences = auth.get("audiences") or []
    resource_manager = _slash(cloud.get("resourceManager") or url)
    return {
        "name": cloud.get("name") or url,
        "resource_manager": resource_manager,
        "authority_host": login.rstrip("/"),
        "audience": _slash(audiences[0]) if audiences else resource_manager,
    }


def metadata_cache_dir():
    """Folder of the cached ARM metadata documents: ``$XDG_CACHE_HOME/kubedisk/aks-cloud-metadata`` (default
    ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kubedisk", "aks-cloud-metadata")


def _metadata_cache_path(endpoint, params):
    """The cache file of ``endpoint`` as reached with ``params``' TLS settings, or None when nothing may be cached.

    The key is the URL and the content of the CA bundle in use: a private ARM (Azure Stack, a test lab) on a reused
    host and port behind another CA is another cloud. Documents read without certificate validation are never kept.
    """
    verify = tls_verify(params)
    if verify is False:
        return None
    key = hashlib.sha256(endpoint.encode("utf-8"))
    if isinstance(verify, str):
        try:
            with open(verify, "rb") as bundle:
                key.update(b"\0" + hashlib.sha256(bundle.read()).hexdigest().encode("ascii"))
        except OSError:
            return None
    return os.path.join(metadata_cache_dir(), key.hexdigest() + ".json")


def _read_cached_metadata(path, endpoint, url):
    """The cloud of a fresh, private, well-formed cache file of ``endpoint``; None otherwise (fetch again)."""
    try:
        with open(path, "rb") as cached:
            info = os.fstat(cached.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                return None
            entry = json.loads(cached.read())
        age = time.time() - float(entry["fetched"])
        if entry["endpoint"] != endpoint or not 0 <= age < METADATA_CACHE_SECONDS:
            return None
        return cloud_from_metadata(select_cloud(entry["document"], url), url)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, AzureAuthError):
        return None


def _write_cached_metadata(path, endpoint, document):
    """Keep ``document`` in a file of mode 0600 in a folder of mode 0700, replaced atomically; best effort."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".metadata-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"endpoint": endpoint, "fetched": time.time(), "document": document}, out)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only or full home only costs the next run one fetch


def discover_cloud(url, params, opener=open_url):
    """Endpoints of the cloud whose resource manager is ``url`` (``GET {url}/metadata/endpoints``).

    A document fetched within METADATA_CACHE_SECONDS for the same URL and CA bundle is read from the cache folder
    instead; one that cannot be read, has expired or lacks the fields used is fetched again. Failures are not kept.
    """
    endpoint = "%s/metadata/endpoints?api-version=%s" % (url.rstrip("/"), METADATA_API_VERSION)
    cache_path = _metadata_cache_path(endpoint, params)
    if cache_path:
        cloud = _read_cached_metadata(cache_path, endpoint, url)
        if cloud:
            return cloud
    verify = tls_verify(params)
    try:
        response = opener(endpoint, method="GET", timeout=30, validate_certs=bool(verify),
                          ca_path=verify if isinstance(verify, str) else None,
                          headers={"Accept": "application/json"})
        document = json.loads(response.read())
    except ValueError as exc:
        raise AzureAuthError("the ARM metadata at %s is not JSON: %s" % (endpoint, exc))
    except Exception as exc:  # urllib errors, TLS errors, timeouts: all say the same thing to the user
        raise AzureAuthError("cannot read the ARM metadata at %s (%s); check cloud_environment, ca_bundle and "
                             "validate_certs" % (endpoint, exc))
    cloud = cloud_from_metadata(select_cloud(document, url), url)
    if cache_path:
        _write_cached_metadata(cache_path, endpoint, document)
    return cloud


def resolve_cloud(params, opener=open_url):
    """Endpoints for ``cloud_environment`` (a known cloud name or an ARM URL), with ``authority_host`` applied."""
    name = (params.get("cloud_environment") or "AzureCloud").strip()
    if name.lower() in KNOWN_CLOUDS:
        cloud = dict(KNOWN_CLOUDS[name.lower()])
    elif name.lower().startswith("https://") or name.lower().startswith("http://"):
        cloud = discover_cloud(name, params, opener)
    else:
        raise AzureAuthError("cloud_environment %r is neither one of %s nor an https:// Azure Resource Manager URL"
                             % (name, ", ".join(c["name"] for c in KNOWN_CLOUDS.values())))
    if params.get("authority_host"):
        cloud["authority_host"] = params["authority_host"].rstrip("/")
    if not cloud["authority_host"].startswith("https://"):
        raise AzureAuthError("authority_host %s must be an https:// URL" % cloud["authority_host"])
    host = urlparse(cloud["authority_host"]).netloc.lower()
    cloud["disable_instance_discovery"] = host not in PUBLIC_AUTHORITY_HOSTS
    cloud["scope"] = cloud["audience"] + ".default"
    return cloud


def _service_principal(values, source):
    """What kind of explicit credential ``values`` describe, or an error naming what is missing."""
    if values.get("secret") or values.get("certificate_path") or values.get("federated_token_file"):
        missing = [k for k in ("client_id", "tenant") if not values.get(k)]
        if missing:
            raise AzureAuthError("auth_source %s: a %s needs %s too" % (
                source, "secret" if values.get("secret") else "certificate" if values.get("certificate_path") else "federated token",
                " and ".join(missing)))
        if values.get("secret"):
            return "secret"
        if values.get("certificate_path"):
            return "certificate"
        return "workload_identity"
    return None


def credential_plan(params, environ=None):
    """Which azure-identity credential to build and with what (pure: unit-testable without the SDK).

    Returns ``(kind, values)``; ``kind`` is one of secret, certificate, workload_identity, cli, msi, default.
    """
    source = params.get("auth_source") or "auto"
    keys = ("tenant", "client_id", "secret", "certificate_path", "certificate_password", "federated_token_file")
    if source == "env":
        env = os.environ if environ is None else environ
        values = dict((k, None) for k in keys)
        for key in keys:
            for name in ENV_NAMES[key]:
                if env.get(name):
                    values[key] = env[name]
                    break
        kind = _service_principal(values, source)
        if not kind:
            raise AzureAuthError("auth_source env: set AZURE_CLIENT_ID, AZURE_TENANT (or AZURE_TENANT_ID) and "
                                 "AZURE_SECRET (or AZURE_CLIENT_SECRET), AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE")
        return kind, values
    values = dict((k, params.get(k)) for k in keys)
    if source == "credential":
        kind = _service_principal(values, source)
        if not kind:
            raise AzureAuthError("auth_source credential: set client_id, tenant and one of secret, certificate_path "
                                 "or federated_token_file")
        return kind, values
    if source == "cli":
        return "cli", values
    if source == "msi":
        return "msi", values
    if source == "workload_identity":
        missing = [k for k in ("client_id", "tenant", "federated_token_file") if not values.get(k)]
        if missing:
            raise AzureAuthError("auth_source workload_identity needs %s (AZURE_CLIENT_ID, AZURE_TENANT_ID and "
                                 "AZURE_FEDERATED_TOKEN_FILE as the workload identity webhook sets them)" % ", ".join(missing))
        return "workload_identity", values
    return _service_principal(values, source) or "default", values


def build_credential(params, cloud, identity=None, retry_policy=None):
    """An azure-identity credential for ``params`` (``identity`` is the ``azure.identity`` module, for tests).

    ``retry_policy()`` makes the retry policy of the token requests of a service principal (so a failing token
    endpoint is retried within the module's deadline, not azure-identity's own minutes of backoff).
    """
    if identity is None:
        from azure import identity as azure_identity  # pylint: disable=import-outside-toplevel
        identity = azure_identity
    kind, values = credential_plan(params)
    common = {"connection_verify": tls_verify(params)}
    msal = dict(common, authority=cloud["authority_host"], disable_instance_discovery=cloud["disable_instance_discovery"])
    if retry_policy is not None and kind in ("secret", "certificate", "workload_identity"):
        msal["retry_policy_class"] = lambda **_settings: retry_policy()
    if kind == "secret":
        return identity.ClientSecretCredential(values["tenant"], values["client_id"], values["secret"], **msal)
    if kind == "certificate":
        return identity.CertificateCredential(values["tenant"], values["client_id"], values["certificate_path"],
                                              password=values.get("certificate_password"), **msal)
    if kind == "workload_identity":
        return identity.WorkloadIdentityCredential(tenant_id=values["tenant"], client_id=values["client_id"],
                                                   token_file_path=values["federated_token_file"], **msal)
    if kind == "cli":
        return identity.AzureCliCredential(tenant_id=values.get("tenant") or "")
    if kind == "msi":
        if values.get("client_id"):
            return identity.ManagedIdentityCredential(client_id=values["client_id"], **common)
        return identity.ManagedIdentityCredential(**common)
    return identity.DefaultAzureCredential(exclude_interactive_browser_credential=True,
                                           managed_identity_client_id=values.get("client_id"), **msal)
