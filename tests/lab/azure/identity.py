"""An Entra ID (Azure AD) look-alike: OpenID discovery, the token endpoint, ARM token checks, cloud metadata.

Mirrored behaviour:
- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` as MSAL reads it (issuer equal to the
  authority, https ``token_endpoint``), and the v1 document ``GET /{tenant}/.well-known/openid-configuration`` whose
  issuer is ``https://sts.windows.net/{tenant}/``, the issuer of the (v1) access tokens; both name a ``jwks_uri``
  (``/{tenant}/discovery/v2.0/keys``, ``/common/discovery/keys``) that publishes the signing key as a JWKS, so a relying
  party such as kube-apiserver verifies the tokens;
- ``POST /{tenant}/oauth2/v2.0/token`` (and the v1 ``/oauth2/token`` with ``resource=``) for the
  client-credentials grant with a client secret or a federated client assertion (workload
  identity); errors in AAD's shape (``invalid_client`` AADSTS7000215 for a wrong secret, …); tokens for ARM and for
  the AKS server application ``6dae42f8-4368-4678-94ff-3960e28e3630`` (scope ``6dae42f8-…/.default``), whose ``aud``
  is that application id and which carry the principal's ``groups`` (group object ids), as AKS's Entra ID
  integration receives them;
- ARM answers 401 with an ARM error body (``AuthenticationFailed``, ``InvalidAuthenticationToken``,
  ``ExpiredAuthenticationToken``) and a ``WWW-Authenticate`` challenge when the bearer token is
  missing, not issued by this lab, for another audience, or expired;
- ``GET /metadata/endpoints?api-version=...`` describes the cloud per api-version as ARM does:
  from 2022-09-01 one cloud object (the cloud of this endpoint, with the resource ids of the newer
  services); from 2019-05-01 a JSON array of cloud objects (name, portal, authentication, media,
  graphAudience, graph, suffixes, batch, resourceManager, vmImageAliasDoc, activeDirectoryDataLake,
  sqlManagement, gallery); before that (2015-01-01, Azure Stack's version) the legacy object of
  ``galleryEndpoint``, ``graphEndpoint``, ``portalEndpoint`` and ``authentication``; without an
  api-version 400 ``MissingApiVersionParameter``. ``GET /metadata/clouds`` is the list form that
  loaders of a whole metadata URL expect.

Tokens are JWTs signed with RS256 (as AAD signs them) by a key kept in the state database, so tokens
issued before a restart stay valid, like AAD tokens across an ARM restart.
"""

import hmac
import json
import re
import secrets
import time
import uuid

import jwt
from jwt.algorithms import RSAAlgorithm
from cryptography.hazmat.primitives import serialization

from .. import pki
from .arm import ArmError, timestamp

ARM_AUDIENCES = ("https://management.core.windows.net", "https://management.azure.com")
# The AKS server application (the same id in every tenant): the audience of Entra ID tokens for AKS API servers.
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
# The state database setting that holds group memberships: {member objectId: [group objectId, ...]}.
GROUP_MEMBERSHIPS = "groupMemberships"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# What the v1 and v2.0 OpenID discovery documents of the authority have in common.
DISCOVERY_COMMON = {
    "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
    "subject_types_supported": ["pairwise"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    "tenant_region_scope": "EU",
    "cloud_instance_name": "kubedisk.lab",
}
# The state database setting that holds the token signing key (PEM).
SIGNING_KEY = "tokenSigningKey"


def _audience(value):
    """Normalise a resource / scope to compare audiences: no ``/.default``, no trailing or doubled slash."""
    value = value.strip()
    if value.endswith("/.default"):
        value = value[: -len("/.default")]
    return value.rstrip("/").lower()


def decode_unverified(token):
    """The claims of a JWT, without checking its signature (for federated assertions)."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise ValueError("not a JWT") from exc


class AadError(Exception):
    """A token endpoint error in AAD's JSON shape."""

    def __init__(self, status, error, aadsts, description):
        super().__init__(description)
        self.status = status
        self.body = {
            "error": error,
            "error_description": f"AADSTS{aadsts}: {description}\r\nTrace ID: {uuid.uuid4()}\r\nTimestamp: {timestamp()}",
            "error_codes": [aadsts],
            "timestamp": timestamp(),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
            "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
        }


class Identity:
    """The lab tenant: issues tokens to registered applications and checks them on ARM calls."""

    def __init__(self, emulator):
        self.emulator = emulator
        pem = emulator.store.setting(SIGNING_KEY)
        if pem is None:
            pem = pki.private_pem(pki.rsa_key()).decode()
            with emulator.store.transaction():
                emulator.store.set_setting(SIGNING_KEY, pem)
        self.key = serialization.load_pem_private_key(pem.encode(), password=None)
        self._checked = {}

    @property
    def v1_issuer(self):
        """The issuer of the tenant's v1 access tokens (ARM's and the AKS server application's)."""
        return f"https://sts.windows.net/{self.tenant}/"

    # directory groups
    def groups(self, object_id):
        """The object ids of the groups a principal is a member of."""
        return list(self.emulator.store.setting(GROUP_MEMBERSHIPS, {}).get(object_id.lower(), []))

    def add_to_groups(self, object_id, group_ids):
        """Make a principal a member of groups (object ids, GUIDs); ValueError for one that is not a GUID."""
        bad = [group for group in group_ids if not isinstance(group, str) or not GUID.match(group)]
        if bad:
            raise ValueError(f"group object ids are GUIDs, not {', '.join(map(str, bad))}")
        memberships = dict(self.emulator.store.setting(GROUP_MEMBERSHIPS, {}))
        current = memberships.get(object_id.lower(), [])
        memberships[object_id.lower()] = current + [group.lower() for group in group_ids if group.lower() not in current]
        self.emulator.store.set_setting(GROUP_MEMBERSHIPS, memberships)

    @property
    def tenant(self):
        """The lab tenant id."""
        return self.emulator.credentials["tenant_id"]

    def audiences(self):
        """Audiences ARM accepts: the public ARM ones and this cloud's own endpoint."""
        return {_audience(value) for value in ARM_AUDIENCES + (self.emulator.base_url,)}

    # discovery
    def openid_configuration(self, tenant):
        """The OpenID Connect discovery document of the lab authority."""
        self._check_tenant(tenant)
        authority = f"{self.emulator.base_url}/{tenant}"
        return {
            "issuer": f"{authority}/v2.0",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            **DISCOVERY_COMMON,
        }

    def openid_configuration_v1(self, tenant):
        """The v1 OpenID Connect discovery document: the issuer of the v1 access tokens and where its keys are."""
        self._check_tenant(tenant)
        authority = f"{self.emulator.base_url}/{tenant}"
        return {
            "issuer": self.v1_issuer,
            "authorization_endpoint": f"{authority}/oauth2/authorize",
            "token_endpoint": f"{authority}/oauth2/token",
            "jwks_uri": f"{self.emulator.base_url}/common/discovery/keys",
            **DISCOVERY_COMMON,
        }

    def jwks(self):
        """The signing keys as a JSON Web Key Set (``kid`` as in the tokens' header)."""
        key = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [dict(key, kid="lab", use="sig", alg="RS256")]}

    def _cloud_2019(self):
        """One cloud of the 2019-05-01 metadata list."""
        base = self.emulator.base_url
        return {
            "name": "KubediskLab",
            "portal": f"{base}/portal",
            "authentication": {
                "loginEndpoint": f"{base}/",
                "audiences": [f"{audience}/" for audience in ARM_AUDIENCES] + [f"{base}/"],
                "tenant": self.tenant,
                "identityProvider": "AAD",
            },
            "media": f"{base}/media",
            "graphAudience": f"{base}/graph/",
            "graph": f"{base}/graph/",
            "suffixes": {"azureDataLakeStoreFileSystem": "azuredatalakestore.net", "acrLoginServer": "azurecr.io",
                         "sqlServerHostname": "database.windows.net", "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
                         "keyVaultDns": "vault.azure.net", "storage": "core.windows.net", "azureFrontDoorEndpointSuffix": "azurefd.net"},
            "batch": f"{base}/batch/",
            "resourceManager": f"{base}/",
            "vmImageAliasDoc": f"{base}/metadata/vm-image-aliases.json",
            "activeDirectoryDataLake": f"{base}/datalake/",
            "sqlManagement": f"{base}/sql/",
            "gallery": f"{base}/gallery/",
        }

    def cloud(self):
        """This cloud as ``/metadata/endpoints?api-version=2022-09-01`` describes it (one object)."""
        base = self.emulator.base_url
        cloud = self._cloud_2019()
        cloud["suffixes"].update({"storageSyncEndpointSuffix": "afs.azure.net", "mhsmDns": "managedhsm.azure.net",
                                  "mysqlServerEndpoint": "mysql.database.azure.com", "postgresqlServerEndpoint": "postgres.database.azure.com",
                                  "mariadbServerEndpoint": "mariadb.database.azure.com", "synapseAnalytics": "dev.azuresynapse.net",
                                  "attestationEndpoint": "attest.azure.net"})
        cloud.update({
            "microsoftGraphResourceId": f"{base}/msgraph/",
            "appInsightsResourceId": f"{base}/appinsights",
            "appInsightsTelemetryChannelResourceId": f"{base}/appinsights/v2/track",
            "attestationResourceId": f"{base}/attest",
            "synapseAnalyticsResourceId": f"{base}/synapse",
            "logAnalyticsResourceId": f"{base}/loganalytics",
            "ossrDbmsResourceId": f"{base}/ossrdbms",
        })
        return cloud

    def metadata_endpoints(self, api_version):
        """The ``/metadata/endpoints`` answer for ``api_version``: an object, a list of clouds, or the legacy object."""
        if not api_version:
            raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
        if api_version >= "2022-09-01":
            return self.cloud()
        if api_version >= "2019-05-01":
            return [self._cloud_2019()]
        base = self.emulator.base_url
        return {"galleryEndpoint": f"{base}/gallery/", "graphEndpoint": f"{base}/graph/", "portalEndpoint": f"{base}/portal/",
                "authentication": {"loginEndpoint": f"{base}/", "audiences": [f"{audience}/" for audience in ARM_AUDIENCES] + [f"{base}/"]}}

    # token endpoint
    def token(self, tenant, form):
        """Answer a client-credentials token request (``form`` is the decoded body); raises AadError."""
        self._check_tenant(tenant)
        if form.get("grant_type") != "client_credentials":
            raise AadError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        scope = form.get("scope") or form.get("resource")
        if not scope:
            raise AadError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
        if not self.issues_for(scope.split()[0]):
            raise AadError(400, "invalid_scope", 70011, f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.")
        client_id = form.get("client_id", "")
        principal = self.emulator.store.principal_by_app(client_id)
        if principal is None:
            raise AadError(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.")
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            self._check_assertion(principal, form.get("client_assertion", ""))
        elif not principal.secret or not hmac.compare_digest(principal.secret, form.get("client_secret", "")):
            raise AadError(401, "invalid_client", 7000215,
                           f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
                           f"not the client secret ID, for a secret added to app '{client_id}'.")
        claims = self.issue(scope.split()[0], client_id, principal.object_id)
        lifetime = claims["exp"] - claims["iat"]
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": claims["token"]}

    def issue(self, resource, app_id, object_id, **extra_claims):
        """Sign an app-only token of a principal for ``resource`` (a scope, resource URL or application id); returns its
        claims and ``token``. A token for the AKS server application names that application as ``aud`` and carries the
        principal's ``groups`` (when it has any)."""
        lifetime = int(self.emulator.config("tokenLifetimeSeconds"))
        now = int(time.time())
        audience = resource.replace("/.default", "").rstrip("/")
        if _audience(resource) == AKS_SERVER_APP:
            groups = self.groups(object_id)
            if groups:
                extra_claims = dict(extra_claims, groups=groups)
        else:
            audience += "/"
        claims = {"aud": audience, "iss": self.v1_issuer,
                  "iat": now, "nbf": now, "exp": now + lifetime, "appid": app_id, "oid": object_id,
                  "sub": object_id, "tid": self.tenant, "idtyp": "app", "ver": "1.0", **extra_claims}
        return dict(claims, token=jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "lab"}))

    def accepts(self, resource):
        """Whether ARM accepts tokens for ``resource`` (a scope or resource URL)."""
        return _audience(resource) in self.audiences()

    def issues_for(self, resource):
        """Whether the tenant issues tokens for ``resource``: ARM, or the AKS server application."""
        return self.accepts(resource) or _audience(resource) == AKS_SERVER_APP

    def _check_tenant(self, tenant):
        if tenant.lower() not in (self.tenant.lower(), "organizations", "common"):
            raise AadError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.")

    @staticmethod
    def _check_assertion(principal, assertion):
        """A federated credential matches the assertion's issuer, subject and audience (the issuer's signature is not checked)."""
        try:
            claims = decode_unverified(assertion)
        except ValueError as exc:
            raise AadError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from exc
        if claims.get("exp", 0) < time.time():
            raise AadError(400, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        for record in principal.federated:
            if (record.get("issuer") == claims.get("iss") and record.get("subject") == claims.get("sub")
                    and set(record.get("audiences", [FEDERATION_AUDIENCE])) & set(audiences)):
                return
        raise AadError(400, "invalid_client", 70021,
                       f"No matching federated identity record found for presented assertion. Assertion Issuer: '{claims.get('iss')}'. "
                       f"Assertion Subject: '{claims.get('sub')}'. Assertion Audience: '{','.join(map(str, audiences))}'.")

    # ARM side
    def authenticate(self, authorization):
        """The claims of a valid bearer token from an ``Authorization`` header, else an ArmError 401."""
        if not authorization:
            raise self._challenge("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        scheme, _sep, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise self._challenge("AuthenticationFailed", "Authentication failed. The 'Authorization' header is not in the 'Bearer <token>' form.")
        claims = self._checked.get(token) or self._verify(token)
        if claims["exp"] <= time.time():
            self._checked.pop(token, None)
            raise self._challenge(
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{timestamp(claims['exp'])}' is earlier than current UTC time '{timestamp()}'.")
        return claims

    def _verify(self, token):
        try:
            claims = jwt.decode(token, self.key.public_key(), algorithms=["RS256"],
                                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False})
        except jwt.InvalidTokenError as exc:
            raise self._challenge("InvalidAuthenticationToken", "The access token is invalid.") from exc
        if _audience(claims.get("aud", "")) not in self.audiences():
            raise self._challenge("InvalidAuthenticationTokenAudience",
                                  f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'.")
        if claims.get("tid") != self.tenant:
            raise self._challenge("InvalidAuthenticationTokenTenant", f"The access token is from the wrong issuer '{claims.get('iss')}'.")
        if len(self._checked) > 10000:
            self._checked.clear()
        self._checked[token] = claims
        return claims

    def _challenge(self, code, message):
        challenge = (f'Bearer authorization_uri="{self.emulator.base_url}/{self.tenant}", error="invalid_token", '
                     f'error_description="The authentication failed because of missing \'Authorization\' header."')
        return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})


def new_secret():
    """A client secret in the shape AAD generates."""
    return secrets.token_urlsafe(30)
