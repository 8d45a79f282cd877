"""Fixtures: the whole lab (ARM emulator + Kubernetes side) started by its own CLI in a temporary
LAB_DIR, and clients for both sides. The lab's Kubernetes binaries must have been built (make lab-setup)."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient
from kubernetes import client, config

from lab.cli.compute import sdk_client
from lab.cli.labdir import read_exports

TESTS = Path(__file__).resolve().parents[2]


def lab_cli(lab_dir: Path, *args: str, **environment: str) -> str:
    """Run ``python -m lab ...`` (with more ``environment``) against the lab in ``lab_dir``; its output, or a failure with it."""
    result = subprocess.run([sys.executable, "-m", "lab", *args],  # noqa: S603 - the lab's own argv, no shell
                            env=dict(os.environ, LAB_DIR=str(lab_dir), PYTHONPATH=str(TESTS), **environment),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"python -m lab {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def wait_for(check, timeout, what, interval=0.25, seen=None):
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and ``seen()``, what was there) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}" + (f"; saw {seen()}" if seen else ""))
        time.sleep(interval)


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
    """Resource, AKS, compute and authorization clients of the lab subscription, built as a custom-cloud user builds them."""
    return {"resources": sdk_client(ResourceManagementClient, lab_env), "aks": sdk_client(ContainerServiceClient, lab_env),
            "compute": sdk_client(ComputeManagementClient, lab_env), "authorization": sdk_client(AuthorizationManagementClient, lab_env)}


@pytest.fixture(scope="session")
def kube(lab_env):
    """Kubernetes API clients on the lab's admin kubeconfig."""
    api = config.new_client_from_config(config_file=lab_env["KUBECONFIG"])
    return {"core": client.CoreV1Api(api), "apps": client.AppsV1Api(api), "storage": client.StorageV1Api(api),
            "custom": client.CustomObjectsApi(api), "policy": client.PolicyV1Api(api)}
