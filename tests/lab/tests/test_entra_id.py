"""Entra ID sign-in to the lab's kube-apiserver, as to an AKS API server with Entra ID integration: a token the
emulator issues for the AKS server application is accepted (the user is the principal's object id, its groups the
token's), one for ARM's audience is not, and the cluster's admin groups are bound to cluster-admin."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import base64
import json
import uuid

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.mgmt.containerservice.models import ManagedClusterAADProfile

from lab.admin_client import AdminClient
from lab.tests.conftest import wait_for

AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
ADMINS = str(uuid.uuid4())
POOL = {"name": "nodepool1", "count": 1, "vmSize": "Standard_D2s_v5", "mode": "System"}


@pytest.fixture(scope="module")
def apiserver(lab_env, tmp_path_factory):
    """The lab kube-apiserver's URL and a file with the CA it serves with (from the admin kubeconfig)."""
    with open(lab_env["KUBECONFIG"], encoding="utf-8") as handle:
        cluster = json.load(handle)["clusters"][0]["cluster"]
    ca = tmp_path_factory.mktemp("kube-ca") / "ca.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    return cluster["server"], str(ca)


def signed_in(lab_env, groups):
    """A service principal with a secret in ``groups``: its object id and credential."""
    made = AdminClient(lab_env["LAB_ADMIN_URL"], lab_env["LAB_AZURE_CA"]).call(
        "POST", "/principals", {"displayName": f"kube-{uuid.uuid4().hex[:6]}", "secret": True, "groups": groups})
    return made["objectId"], ClientSecretCredential(lab_env["AZURE_TENANT_ID"], made["clientId"], made["secret"],
                                                    authority=lab_env["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True,
                                                    connection_verify=lab_env["LAB_AZURE_CA"])


def kube_call(apiserver, token, method, path, body=None):
    """One call to kube-apiserver with a bearer token; the response."""
    server, ca = apiserver
    return requests.request(method, server + path, json=body, headers={"Authorization": f"Bearer {token}"}, verify=ca, timeout=10)


def who_am_i(apiserver, token):
    """The user kube-apiserver authenticates the token as (a SelfSubjectReview)."""
    answer = kube_call(apiserver, token, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert answer.status_code == 201, answer.text
    return answer.json()["status"]["userInfo"]


def test_server_app_token_is_accepted_as_the_principal_with_its_groups(lab_env, apiserver):
    object_id, credential = signed_in(lab_env, [ADMINS])
    user = who_am_i(apiserver, credential.get_token(f"{AKS_SERVER_APP}/.default").token)
    assert user["username"] == object_id
    assert ADMINS in user["groups"] and "system:authenticated" in user["groups"]


def test_arm_token_is_refused(lab_env, apiserver):
    _object_id, credential = signed_in(lab_env, [ADMINS])
    answer = kube_call(apiserver, credential.get_token(f"{lab_env['AZURE_AUTHORITY_HOST']}/.default").token, "GET", "/api/v1/namespaces")
    assert answer.status_code == 401


def test_admin_groups_are_cluster_admins_and_others_are_forbidden(lab_env, apiserver, azure):
    backed = AdminClient(lab_env["LAB_ADMIN_URL"], lab_env["LAB_AZURE_CA"]).call("GET", "/kube")["cluster"]
    if backed is None:  # the first cluster of the lab is the one its Kubernetes backs
        azure["resources"].resource_groups.create_or_update("rg-entra", {"location": "westeurope"})
        azure["aks"].managed_clusters.begin_create_or_update("rg-entra", "entra-aks", {
            "location": "westeurope", "properties": {"dnsPrefix": "entra", "agentPoolProfiles": [POOL],
                                                     "aadProfile": {"managed": True, "adminGroupObjectIDs": [ADMINS]}}}).result()
    else:
        group, name = backed["id"].split("/")[4], backed["name"]
        cluster = azure["aks"].managed_clusters.get(group, name)
        cluster.aad_profile = ManagedClusterAADProfile(managed=True, admin_group_object_i_ds=[ADMINS])
        azure["aks"].managed_clusters.begin_create_or_update(group, name, cluster).result()
    _admin, admin_credential = signed_in(lab_env, [ADMINS])
    _other, other_credential = signed_in(lab_env, [str(uuid.uuid4())])
    admin_token = admin_credential.get_token(f"{AKS_SERVER_APP}/.default").token
    wait_for(lambda: kube_call(apiserver, admin_token, "GET", "/api/v1/namespaces").status_code == 200, 20,
             "the admin group's binding to cluster-admin")
    answer = kube_call(apiserver, other_credential.get_token(f"{AKS_SERVER_APP}/.default").token, "GET", "/api/v1/namespaces")
    assert answer.status_code == 403
    assert answer.json()["reason"] == "Forbidden"
