# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure authentication shared by every kubedisk.aks Azure module.

One argument spec (``AUTH_ARG_SPEC``, documented by the ``kubedisk.aks.azure`` doc fragment), the
cloud endpoints (named clouds or an ARM URL discovered from its metadata endpoint) and the
construction of an azure-identity credential for each ``auth_source``.

Nothing here imports an Azure SDK at module level: the credential classes are imported when a
credential is built, so the sanity import test and a controller without the SDK still load it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

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


def discover_cloud(url, params, opener=open_url):
    """Endpoints of the cloud whose resource manager is ``url`` (``GET {url}/metadata/endpoints``)."""
    endpoint = "%s/metadata/endpoints?api-version=%s" % (url.rstrip("/"), METADATA_API_VERSION)
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
    return cloud_from_metadata(select_cloud(document, url), url)


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
