"""Identity, cloud metadata, and ARM authentication."""

import base64
import json
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import ClientAssertionCredential, ClientSecretCredential, EnvironmentCredential
from azure.mgmt.resource.resources import ResourceManagementClient

from .helpers import error_code


def test_openid_configuration_and_token(lab):
    document = lab.admin("GET", "../" + lab.info["tenant"] + "/v2.0/.well-known/openid-configuration").json()
    assert document["token_endpoint"] == f"{lab.url}/{lab.info['tenant']}/oauth2/v2.0/token"
    token = lab.credential().get_token("https://management.azure.com/.default")
    assert token.token.count(".") == 2 and token.expires_on > time.time() + 3000


def test_wrong_secret_is_invalid_client(lab):
    credential = ClientSecretCredential(lab.info["tenant"], lab.info["client_id"], "wrong", authority=lab.url,
                                        disable_instance_discovery=True, connection_verify=lab.info["ca"])
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token("https://management.azure.com/.default")


def test_unknown_client_and_tenant(lab):
    response = lab.admin("POST", f"../{lab.info['tenant']}/oauth2/v2.0/token",
                         data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x",
                               "scope": "https://management.azure.com/.default"})
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    response = lab.admin("GET", "../00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400 and response.json()["error_codes"] == [90002]


def test_environment_credential(lab, monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", lab.info["tenant"])
    monkeypatch.setenv("AZURE_CLIENT_ID", lab.info["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", lab.info["client_secret"])
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", lab.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", lab.info["ca"])
    client = ResourceManagementClient(EnvironmentCredential(disable_instance_discovery=True), lab.info["subscription_id"], base_url=lab.url)
    assert isinstance(list(client.resource_groups.list()), list)


def test_federated_assertion(lab):
    subscription = lab.info["subscription_id"]
    identity = lab.arm("PUT", f"/subscriptions/{subscription}/resourceGroups/fed/providers/Microsoft.ManagedIdentity/userAssignedIdentities/writer-id",
                       json={"location": "westeurope"})
    assert identity.status_code == 404 and identity.json()["error"]["code"] == "ResourceGroupNotFound"
    lab.arm("PUT", f"/subscriptions/{subscription}/resourceGroups/fed", json={"location": "westeurope"})
    path = f"/subscriptions/{subscription}/resourceGroups/fed/providers/Microsoft.ManagedIdentity/userAssignedIdentities/writer-id"
    identity = lab.arm("PUT", path, json={"location": "westeurope"}).json()
    created = lab.arm("PUT", path + "/federatedIdentityCredentials/k8s", json={"properties": {
        "issuer": "https://oidc.lab", "subject": "system:serviceaccount:app:writer", "audiences": ["api://AzureADTokenExchange"]}})
    assert created.status_code == 201

    def assertion(subject):
        def encode(part):
            return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
        claims = {"iss": "https://oidc.lab", "sub": subject, "aud": "api://AzureADTokenExchange", "exp": time.time() + 600}
        return lambda: ".".join([encode({"alg": "RS256"}), encode(claims), "sig"])

    client_id = identity["properties"]["clientId"]
    good = ClientAssertionCredential(lab.info["tenant"], client_id, assertion("system:serviceaccount:app:writer"), authority=lab.url,
                                     disable_instance_discovery=True, connection_verify=lab.info["ca"])
    assert good.get_token("https://management.azure.com/.default").token
    bad = ClientAssertionCredential(lab.info["tenant"], client_id, assertion("system:serviceaccount:app:other"), authority=lab.url,
                                    disable_instance_discovery=True, connection_verify=lab.info["ca"])
    with pytest.raises(ClientAuthenticationError, match="70021"):
        bad.get_token("https://management.azure.com/.default")


def test_metadata_endpoints(lab):
    cloud = lab.admin("GET", "../metadata/endpoints?api-version=2022-09-01").json()
    assert cloud["resourceManager"] == lab.url + "/"
    assert cloud["authentication"]["loginEndpoint"] == lab.url + "/"
    assert cloud["suffixes"] and cloud["authentication"]["audiences"]
    clouds = lab.admin("GET", "../metadata/clouds").json()
    assert isinstance(clouds, list) and clouds[0]["name"] == cloud["name"]


@pytest.mark.parametrize("header, code", [
    (None, "AuthenticationFailed"),
    ("Bearer not.a.token", "InvalidAuthenticationToken"),
    ("Basic abc", "AuthenticationFailed"),
])
def test_arm_refuses_bad_tokens(lab, header, code):
    headers = {"Authorization": header} if header else {}
    response = lab.arm("GET", "/subscriptions", token=False, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token(lab):
    lab.admin("POST", "config", json={"tokenLifetimeSeconds": 1})
    try:
        token = lab.admin("POST", f"../{lab.info['tenant']}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": lab.info["client_id"], "client_secret": lab.info["client_secret"],
            "scope": f"{lab.url}/.default"}).json()["access_token"]
    finally:
        lab.admin("POST", "config", json={"tokenLifetimeSeconds": 3599})
    time.sleep(1.1)
    response = lab.arm("GET", "/subscriptions", token=token)
    assert response.status_code == 401 and response.json()["error"]["code"] == "ExpiredAuthenticationToken"


class ForgedCredential:  # pylint: disable=too-few-public-methods
    """Hands out a token the lab never issued."""

    def get_token(self, *_scopes, **_kwargs):
        """A forged token."""
        return AccessToken("e30.e30.forged", int(time.time()) + 600)


def test_sdk_maps_401(lab):
    client = lab.client(ResourceManagementClient, credential=ForgedCredential())
    with pytest.raises(ClientAuthenticationError):
        list(client.resource_groups.list())


def test_subscriptions(lab, resource_client, subscription):
    response = lab.arm("GET", "/subscriptions")
    assert [item["subscriptionId"] for item in response.json()["value"]] == [subscription]
    assert lab.arm("GET", "/subscriptions/" + "1" * 8 + "-1111-1111-1111-" + "1" * 12).json()["error"]["code"] == "SubscriptionNotFound"
    assert lab.arm("GET", "/subscriptions/not-a-guid/resourcegroups").json()["error"]["code"] == "InvalidSubscriptionId"
    with pytest.raises(ResourceNotFoundError):
        resource_client.resource_groups.get("missing-group")
    with pytest.raises(HttpResponseError) as caught:
        resource_client.resource_groups.create_or_update("bad*name", {"location": "westeurope"})
    assert error_code(caught) == "InvalidResourceGroup"
