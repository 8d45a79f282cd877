"""Entra ID sign-in to AKS: tokens for the AKS server application (with the principal's groups) that a relying party
verifies through discovery and the JWKS, ARM refusing them, and the Entra ID cluster's credentials."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import base64
import json
import uuid

import jwt
import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from .helpers import Emulator

AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
ADMINS = str(uuid.uuid4())
POOL = {"name": "nodepool1", "count": 1, "vmSize": "Standard_D2s_v5", "mode": "System"}


@pytest.fixture(scope="module")
def entra_lab(tmp_path_factory):
    """An emulator of its own: its oldest cluster (whose nodes its IMDS serves) is this module's."""
    emulator = Emulator(tmp_path_factory.mktemp("entra-lab")).start()
    emulator.client(ResourceManagementClient).resource_groups.create_or_update("rg-entra", {"location": "westeurope"})
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def aks(entra_lab):
    """ContainerServiceClient of the module's emulator."""
    return entra_lab.client(ContainerServiceClient)


@pytest.fixture(scope="module")
def cluster(aks):
    """An Entra ID cluster (AKS-managed, one admin group) without local accounts."""
    body = {"location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "entra", "agentPoolProfiles": [POOL], "disableLocalAccounts": True,
                           "aadProfile": {"managed": True, "adminGroupObjectIDs": [ADMINS]}}}
    return aks.managed_clusters.begin_create_or_update("rg-entra", "entra-aks", body).result()


def member(entra_lab, groups):
    """A service principal with a secret, member of ``groups``; its ClientSecretCredential."""
    made = entra_lab.admin("POST", "principals", json={"displayName": f"sp-{uuid.uuid4().hex[:6]}", "secret": True,
                                                       "groups": groups}).json()
    assert made["groups"] == groups
    return made, ClientSecretCredential(entra_lab.info["tenant"], made["clientId"], made["secret"], authority=entra_lab.url,
                                        disable_instance_discovery=True, connection_verify=entra_lab.info["ca"])


def verified(entra_lab, token):
    """The claims of a token checked as kube-apiserver checks them: the v1 discovery document's issuer and JWKS."""
    discovery = requests.get(f"{entra_lab.url}/{entra_lab.info['tenant']}/.well-known/openid-configuration",
                             verify=entra_lab.info["ca"], timeout=10).json()
    keys = requests.get(discovery["jwks_uri"], verify=entra_lab.info["ca"], timeout=10).json()["keys"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == jwt.get_unverified_header(token)["kid"])).key
    return jwt.decode(token, key, algorithms=["RS256"], audience=AKS_SERVER_APP, issuer=discovery["issuer"])


def test_server_app_token_carries_the_groups_and_verifies_with_the_published_keys(entra_lab):
    made, credential = member(entra_lab, [ADMINS])
    claims = verified(entra_lab, credential.get_token(f"{AKS_SERVER_APP}/.default").token)
    assert claims["aud"] == AKS_SERVER_APP
    assert claims["iss"] == f"https://sts.windows.net/{entra_lab.info['tenant']}/"
    assert (claims["oid"], claims["tid"], claims["groups"]) == (made["objectId"], entra_lab.info["tenant"], [ADMINS])


def test_v2_discovery_names_the_same_keys(entra_lab):
    discovery = requests.get(f"{entra_lab.url}/{entra_lab.info['tenant']}/v2.0/.well-known/openid-configuration",
                             verify=entra_lab.info["ca"], timeout=10).json()
    keys = requests.get(discovery["jwks_uri"], verify=entra_lab.info["ca"], timeout=10).json()["keys"]
    assert [(key["kid"], key["kty"], key["alg"]) for key in keys] == [("lab", "RSA", "RS256")]


def test_token_of_a_principal_without_groups_has_no_groups_claim(entra_lab):
    _made, credential = member(entra_lab, [])
    assert "groups" not in verified(entra_lab, credential.get_token(f"{AKS_SERVER_APP}/.default").token)


def test_arm_refuses_a_token_for_the_aks_server_app(entra_lab):
    _made, credential = member(entra_lab, [ADMINS])
    token = credential.get_token(f"{AKS_SERVER_APP}/.default").token
    answer = entra_lab.arm("GET", f"/subscriptions/{entra_lab.info['subscription_id']}/resourcegroups", token=token)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_arm_token_does_not_verify_for_the_aks_server_app(entra_lab):
    _made, credential = member(entra_lab, [ADMINS])
    with pytest.raises(jwt.InvalidAudienceError):
        verified(entra_lab, credential.get_token(f"{entra_lab.url}/.default").token)


def test_group_ids_must_be_guids(entra_lab):
    answer = entra_lab.admin("POST", "principals", json={"displayName": "bad-groups", "groups": ["admins"]})
    assert answer.status_code == 400
    assert "GUID" in answer.json()["error"]


def test_admin_credential_refused_without_local_accounts(aks, cluster):
    assert cluster.aad_profile.managed and cluster.aad_profile.admin_group_object_i_ds == [ADMINS]
    with pytest.raises(HttpResponseError) as caught:
        aks.managed_clusters.list_cluster_admin_credentials("rg-entra", "entra-aks")
    assert caught.value.status_code == 400
    assert caught.value.error.code == "BadRequest"
    assert "disable local accounts" in caught.value.error.message


def test_user_credential_runs_kubelogin_for_the_server_app(entra_lab, aks, cluster):
    assert cluster.aad_profile.tenant_id == entra_lab.info["tenant"]
    value = aks.managed_clusters.list_cluster_user_credentials("rg-entra", "entra-aks").kubeconfigs[0].value
    config = json.loads(value if isinstance(value, (bytes, bytearray)) else base64.b64decode(value))
    execution = config["users"][0]["user"]["exec"]
    assert execution["command"] == "kubelogin"
    assert execution["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    args = execution["args"]
    assert args[args.index("--server-id") + 1] == AKS_SERVER_APP
    assert args[args.index("--tenant-id") + 1] == entra_lab.info["tenant"]
    assert args[args.index("--login") + 1] == "devicecode"


def test_a_put_without_aad_profile_keeps_it(aks, cluster):
    current = aks.managed_clusters.get("rg-entra", "entra-aks")
    current.aad_profile = None
    updated = aks.managed_clusters.begin_create_or_update("rg-entra", "entra-aks", current).result()
    assert updated.aad_profile.admin_group_object_i_ds == [ADMINS]
    assert cluster.disable_local_accounts and updated.disable_local_accounts


@pytest.mark.parametrize("profile, words", [
    ({"managed": True, "enableAzureRBAC": True}, "Azure RBAC for Kubernetes authorization"),
    ({"managed": False, "serverAppID": str(uuid.uuid4())}, "AKS-managed Entra ID integration only"),
])
def test_profiles_the_lab_does_not_model_are_refused(aks, profile, words):
    body = {"location": "westeurope", "properties": {"dnsPrefix": "unmodelled", "agentPoolProfiles": [POOL], "aadProfile": profile}}
    with pytest.raises(HttpResponseError) as caught:
        aks.managed_clusters.begin_create_or_update("rg-entra", "unmodelled", body)
    assert caught.value.status_code == 400
    assert words in caught.value.error.message


def test_imds_issues_server_app_tokens_to_the_kubelet_identity(entra_lab, cluster, monkeypatch):
    kubelet = cluster.identity_profile["kubeletidentity"]
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", entra_lab.info["imds_url"])
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    token = ManagedIdentityCredential(client_id=kubelet.client_id).get_token(f"{AKS_SERVER_APP}/.default").token
    assert verified(entra_lab, token)["oid"] == kubelet.object_id
