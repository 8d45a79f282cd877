"""aks_kubeconfig: the kubelogin exec user of an Entra ID user kubeconfig replaced by a bearer token, reused while valid."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_kubeconfig import (
    MIN_TOKEN_VALIDITY, KubeconfigError, server_id, token_expiry, with_bearer_token)

SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
NOW = 1_800_000_000


def kubelogin_config(server="https://c1.hcp.westeurope.azmk8s.io:443"):
    """An Entra ID cluster's user kubeconfig as AKS writes it."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c1",
        "clusters": [{"name": "c1", "cluster": {"server": server, "certificate-authority-data": "Q0E="}}],
        "contexts": [{"name": "c1", "context": {"cluster": "c1", "user": "clusterUser_rg_c1"}}],
        "users": [{"name": "clusterUser_rg_c1", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
            "args": ["get-token", "--environment", "AzurePublicCloud", "--server-id", SERVER_APP,
                     "--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a", "--tenant-id", "t", "--login", "devicecode"]}}}],
    }).encode()


def jwt_with_exp(exp):
    """A JWT-shaped token whose payload says ``exp`` (the signature does not matter here)."""
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp, "aud": SERVER_APP}).encode()).decode().rstrip("=")
    return "eyJhbGciOiJSUzI1NiJ9.%s.c2lnbmF0dXJl" % payload


class Tokens:
    """get_token that records the applications asked for."""

    def __init__(self, exp=NOW + 3599):
        self.asked = []
        self.exp = exp

    def __call__(self, application):
        self.asked.append(application)
        return jwt_with_exp(self.exp)


def test_the_exec_user_becomes_a_token_for_the_server_app():
    tokens = Tokens()
    config = yaml.safe_load(with_bearer_token(kubelogin_config(), tokens, now=NOW))
    assert tokens.asked == [SERVER_APP]
    assert config["users"] == [{"name": "clusterUser_rg_c1", "user": {"token": jwt_with_exp(NOW + 3599)}}]
    assert config["clusters"][0]["cluster"]["server"] == "https://c1.hcp.westeurope.azmk8s.io:443"


def test_a_kubeconfig_without_an_exec_user_is_left_as_it_is():
    content = b"apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user: {client-certificate-data: Q0E=}\n"
    tokens = Tokens()
    assert with_bearer_token(content, tokens, now=NOW) == content and tokens.asked == []


def test_a_file_with_a_token_valid_long_enough_is_reused():
    written = with_bearer_token(kubelogin_config(), Tokens(), now=NOW)
    tokens = Tokens()
    assert with_bearer_token(kubelogin_config(), tokens, existing=written, now=NOW + 3599 - MIN_TOKEN_VALIDITY) == written
    assert tokens.asked == []


@pytest.mark.parametrize("later, server", [
    (3600 - MIN_TOKEN_VALIDITY, "https://c1.hcp.westeurope.azmk8s.io:443"),  # the token would expire too soon
    (0, "https://c1-new.hcp.westeurope.azmk8s.io:443"),  # another server
])
def test_a_file_with_an_expiring_token_or_another_kubeconfig_gets_a_new_token(later, server):
    written = with_bearer_token(kubelogin_config(), Tokens(), now=NOW)
    tokens = Tokens(exp=NOW + later + 3599)
    fresh = with_bearer_token(kubelogin_config(server), tokens, existing=written, now=NOW + later)
    assert tokens.asked == [SERVER_APP] and fresh != written
    assert yaml.safe_load(fresh)["users"][0]["user"] == {"token": jwt_with_exp(NOW + later + 3599)}


def test_not_yaml_fails_without_the_content():
    with pytest.raises(KubeconfigError) as failed:
        with_bearer_token(b"users: [secret-value", Tokens())
    assert "secret-value" not in str(failed.value)


@pytest.mark.parametrize("args, expected", [
    (["get-token", "--server-id", SERVER_APP], SERVER_APP),
    (["get-token", "--server-id=%s" % SERVER_APP], SERVER_APP),
    (["get-token", "--server-id"], None),
    (["get-token"], None),
])
def test_server_id(args, expected):
    assert server_id({"exec": {"args": args}}) == expected


def test_token_expiry_of_a_non_jwt_is_zero():
    assert token_expiry("not-a-jwt") == 0 and token_expiry(None) == 0 and token_expiry(jwt_with_exp(5)) == 5
