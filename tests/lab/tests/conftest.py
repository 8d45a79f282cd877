"""Fixtures: the whole lab (ARM emulator + Kubernetes side) started by its own CLI in a temporary
LAB_DIR, and clients for both sides. The lab's Kubernetes binaries must have been built (make lab-setup)."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import os
import subprocess
import sys
from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient
from kubernetes import client, config

from lab.cli.labdir import read_exports

TESTS = Path(__file__).resolve().parents[2]


def lab_cli(lab_dir: Path, *args: str) -> str:
    """Run ``python -m lab ...`` against this test session's lab; its output, or a failure with it."""
    result = subprocess.run([sys.executable, "-m", "lab", *args], env=dict(os.environ, LAB_DIR=str(lab_dir), PYTHONPATH=str(TESTS)),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"python -m lab {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory):
    """The lab's environment exports (AZURE_*, KUBECONFIG, LAB_ADMIN_URL, ...); the lab is stopped afterwards."""
    lab_dir = tmp_path_factory.mktemp("lab")
    lab_cli(lab_dir, "up")
    try:
        yield dict(read_exports(lab_dir / "env"), LAB_DIR=str(lab_dir))
    finally:
        lab_cli(lab_dir, "down")


@pytest.fixture(scope="session")
def azure(lab_env):
    """Resource, AKS and compute clients of the lab subscription, built as a custom-cloud user builds them."""
    credential = ClientSecretCredential(lab_env["AZURE_TENANT_ID"], lab_env["AZURE_CLIENT_ID"], lab_env["AZURE_CLIENT_SECRET"],
                                        authority=lab_env["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True,
                                        connection_verify=lab_env["REQUESTS_CA_BUNDLE"])
    options = {"base_url": lab_env["AZURE_CLOUD_ENVIRONMENT"], "credential_scopes": [lab_env["AZURE_CLOUD_ENVIRONMENT"] + "/.default"],
               "connection_verify": lab_env["REQUESTS_CA_BUNDLE"]}
    subscription = lab_env["AZURE_SUBSCRIPTION_ID"]
    return {
        "resources": ResourceManagementClient(credential, subscription, **options),
        "aks": ContainerServiceClient(credential, subscription, **options),
        "compute": ComputeManagementClient(credential, subscription, **options),
    }


@pytest.fixture(scope="session")
def kube(lab_env):
    """Kubernetes API clients on the lab's admin kubeconfig."""
    api = config.new_client_from_config(config_file=lab_env["KUBECONFIG"])
    return {"core": client.CoreV1Api(api), "apps": client.AppsV1Api(api), "storage": client.StorageV1Api(api),
            "custom": client.CustomObjectsApi(api), "policy": client.PolicyV1Api(api)}
