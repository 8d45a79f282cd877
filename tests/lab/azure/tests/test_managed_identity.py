"""IMDS: the unmodified ManagedIdentityCredential signs in as the kubelet identity of the lab's AKS cluster, and RBAC applies to it."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import uuid

import jwt
import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from .helpers import Emulator

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
POOL = {"name": "nodepool1", "count": 2, "vmSize": "Standard_D2s_v5", "availabilityZones": ["1", "2"], "mode": "System"}


@pytest.fixture(scope="module")
def imds_lab(tmp_path_factory):
    """An emulator of its own, so that its oldest cluster (whose nodes the lab's IMDS serves) is this module's."""
    emulator = Emulator(tmp_path_factory.mktemp("imds-lab")).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def cluster(imds_lab):
    """An AKS cluster: its kubelet identity is attached to its pool's scale set."""
    imds_lab.client(ResourceManagementClient).resource_groups.create_or_update("rg-imds", {"location": "westeurope"})
    body = {"location": "westeurope", "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": "imds", "agentPoolProfiles": [POOL]}}
    return imds_lab.client(ContainerServiceClient).managed_clusters.begin_create_or_update("rg-imds", "imds-aks", body).result()


@pytest.fixture
def imds_env(imds_lab, monkeypatch):
    """azure-identity's documented override of the IMDS address, pointed at the lab's IMDS listener."""
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds_lab.info["imds_url"])
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)


def _imds(imds_lab, headers=None, **query):
    params = {"api-version": "2018-02-01", "resource": imds_lab.url, **query}
    return requests.get(f"{imds_lab.info['imds_url']}/metadata/identity/oauth2/token", params=params,
                        headers={"Metadata": "true"} if headers is None else headers, timeout=10)


def test_imds_listens_on_loopback_http(imds_lab):
    assert imds_lab.info["imds_url"].startswith("http://127.0.0.1:")


def test_kubelet_identity_signs_in_and_is_authorized_by_its_role_assignments(imds_lab, cluster, imds_env):
    kubelet = cluster.identity_profile["kubeletidentity"]
    credential = ManagedIdentityCredential(client_id=kubelet.client_id)
    claims = jwt.decode(credential.get_token(f"{imds_lab.url}/.default").token, options={"verify_signature": False})
    assert (claims["oid"], claims["appid"], claims["xms_mirid"]) == (kubelet.object_id, kubelet.client_id, kubelet.resource_id)
    compute = imds_lab.client(ComputeManagementClient, credential)
    with pytest.raises(HttpResponseError) as caught:
        list(compute.disks.list_by_resource_group(cluster.node_resource_group))
    assert caught.value.error.code == "AuthorizationFailed"
    assert f"'{kubelet.client_id}' with object id '{kubelet.object_id}'" in caught.value.error.message
    scope = f"/subscriptions/{imds_lab.info['subscription_id']}/resourceGroups/{cluster.node_resource_group}"
    imds_lab.client(AuthorizationManagementClient).role_assignments.create(scope, str(uuid.uuid4()), {"properties": {
        "roleDefinitionId": f"/subscriptions/{imds_lab.info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
        "principalId": kubelet.object_id, "principalType": "ServicePrincipal"}})
    assert not list(compute.disks.list_by_resource_group(cluster.node_resource_group))


def test_only_identities_of_the_node_scale_sets_get_tokens(imds_lab, cluster, imds_env):
    path = (f"/subscriptions/{imds_lab.info['subscription_id']}/resourceGroups/rg-imds/providers/Microsoft.ManagedIdentity"
            "/userAssignedIdentities/not-on-a-node")
    elsewhere = imds_lab.arm("PUT", path, json={"location": "westeurope"}, params={"api-version": "2023-01-31"}).json()["properties"]
    for client_id in (elsewhere["clientId"], str(uuid.uuid4())):
        with pytest.raises(CredentialUnavailableError, match="Identity not found"):
            ManagedIdentityCredential(client_id=client_id).get_token(f"{imds_lab.url}/.default")
    assert cluster.identity_profile["kubeletidentity"].client_id != elsewhere["clientId"]


def test_token_answer_and_selectors(imds_lab, cluster):
    kubelet = cluster.identity_profile["kubeletidentity"]
    answers = [_imds(imds_lab), _imds(imds_lab, object_id=kubelet.object_id), _imds(imds_lab, msi_res_id=kubelet.resource_id.upper())]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert {"access_token", "expires_in", "expires_on", "not_before", "resource", "token_type", "client_id"} <= set(body)
        assert (body["client_id"], body["resource"], body["token_type"]) == (kubelet.client_id, imds_lab.url, "Bearer")
        assert int(body["expires_on"]) - int(body["not_before"]) == int(body["expires_in"])


@pytest.mark.parametrize(("headers", "query", "error", "description"), [
    ({}, {}, "invalid_request", "Required metadata header not specified"),
    (None, {"api-version": ""}, "invalid_request", "Required query variable 'api-version' is missing"),
    (None, {"resource": ""}, "invalid_request", "Required query variable 'resource' is missing"),
    (None, {"resource": "https://vault.azure.net"}, "invalid_resource", "AADSTS500011"),
    (None, {"client_id": "00000000-0000-0000-0000-000000000000"}, "invalid_request", "Identity not found"),
])
def test_refusals(imds_lab, cluster, headers, query, error, description):
    assert cluster.node_resource_group
    answer = _imds(imds_lab, headers, **query)
    assert answer.status_code == 400
    assert answer.json()["error"] == error and answer.json()["error_description"].startswith(description)


def test_imds_keeps_its_address_across_a_restart(imds_lab, cluster):
    before = imds_lab.info["imds_url"]
    imds_lab.stop()
    imds_lab.start()
    assert imds_lab.info["imds_url"] == before
    assert _imds(imds_lab).json()["client_id"] == cluster.identity_profile["kubeletidentity"].client_id
