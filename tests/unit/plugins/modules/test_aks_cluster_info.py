"""aks_cluster_info: the kubeconfig write predicted in check mode, a path that cannot be a file, a wrong subscription."""

from __future__ import annotations

import base64
import os
from types import SimpleNamespace

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_module
from ansible_collections.kubedisk.aks.plugins.modules import aks_cluster_info

CLUSTER = {"id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
                 "Microsoft.ContainerService/managedClusters/c1", "name": "c1", "location": "westeurope", "properties": {}}
KUBECONFIG = b"apiVersion: v1\nkind: Config\n"


def info_args(auth, path):
    return dict(auth, name="c1", resource_group="rg", kubeconfig={"path": str(path)})


def cluster_client(clients):
    aks = clients["containerservice"].managed_clusters
    aks.get.return_value = CLUSTER
    aks.list_cluster_user_credentials.return_value = SimpleNamespace(
        kubeconfigs=[SimpleNamespace(value=base64.b64encode(KUBECONFIG).decode())])
    return aks


def test_check_mode_predicts_the_kubeconfig_write(run_module, clients, auth, tmp_path):
    cluster_client(clients)
    path = tmp_path / "kubeconfig"
    result = run_module(aks_cluster_info.main, info_args(auth, path), check_mode=True)
    assert result["changed"] and not path.exists()
    assert run_module(aks_cluster_info.main, info_args(auth, path))["changed"] and path.read_bytes() == KUBECONFIG
    assert not run_module(aks_cluster_info.main, info_args(auth, path), check_mode=True)["changed"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_directory_as_kubeconfig_path_fails_cleanly(run_module, clients, auth, tmp_path):
    cluster_client(clients)
    result = run_module(aks_cluster_info.main, info_args(auth, tmp_path))
    assert result["failed"] and "is a directory" in result["msg"]


def test_an_unknown_subscription_is_no_empty_list(run_module, clients, auth, azure_error):
    clients["containerservice"].managed_clusters.list.side_effect = azure_error(404, "SubscriptionNotFound")
    result = run_module(aks_cluster_info.main, dict(auth))
    assert result["failed"] and "SubscriptionNotFound" in result["msg"]
    clients["containerservice"].managed_clusters.get.side_effect = azure_error(404, "SubscriptionNotFound")
    result = run_module(aks_cluster_info.main, dict(auth, name="c1", resource_group="rg"))
    assert result["failed"] and "SubscriptionNotFound" in result["msg"]


SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
KUBELOGIN = (b'{"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c1", "cluster": {"server": "https://c1:443"}}], '
             b'"users": [{"name": "clusterUser_rg_c1", "user": {"exec": {"command": "kubelogin", '
             b'"args": ["get-token", "--server-id", "' + SERVER_APP.encode() + b'", "--login", "devicecode"]}}}]}')


class Credential:
    """The module's Azure credential: hands out one token per call, recording the scopes."""

    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes):
        self.scopes.extend(scopes)
        payload = base64.urlsafe_b64encode(b'{"exp": 4102444800}').decode().rstrip("=")
        return SimpleNamespace(token="eyJhbGciOiJSUzI1NiJ9.%s.secret-signature-%d" % (payload, len(self.scopes)), expires_on=4102444800)


def test_login_token_writes_a_token_for_the_server_app_and_never_returns_it(run_module, clients, auth, tmp_path, monkeypatch):
    credential = Credential()
    monkeypatch.setattr(azure_module.AzureModule, "credential", property(lambda self: credential))
    cluster_client(clients).list_cluster_user_credentials.return_value = SimpleNamespace(
        kubeconfigs=[SimpleNamespace(value=base64.b64encode(KUBELOGIN).decode())])
    path = tmp_path / "kubeconfig"
    args = dict(auth, name="c1", resource_group="rg", kubeconfig={"path": str(path), "login": "token"})
    first = run_module(aks_cluster_info.main, args)
    written = path.read_text()
    assert first["changed"] and credential.scopes == [SERVER_APP + "/.default"]
    assert "secret-signature-1" in written and "kubelogin" not in written and "secret-signature" not in str(first)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    second = run_module(aks_cluster_info.main, args)
    assert not second["changed"] and path.read_text() == written and credential.scopes == [SERVER_APP + "/.default"]
