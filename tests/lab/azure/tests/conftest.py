"""Fixtures: one emulator per test session (fast profile, own state folder, free port) and real SDK clients."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import uuid

import pytest
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from .helpers import Emulator


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """The session's emulator."""
    emulator = Emulator(tmp_path_factory.mktemp("azure-lab")).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def subscription(lab):
    """The lab subscription id."""
    return lab.info["subscription_id"]


@pytest.fixture(scope="session")
def resource_client(lab):
    """ResourceManagementClient (token scope: the lab's own endpoint)."""
    return lab.client(ResourceManagementClient, credential_scopes=[f"{lab.url}/.default"])


@pytest.fixture(scope="session")
def compute(lab):
    """ComputeManagementClient (default ARM scope)."""
    return lab.client(ComputeManagementClient)


@pytest.fixture(scope="session")
def aks(lab):
    """ContainerServiceClient."""
    return lab.client(ContainerServiceClient)


@pytest.fixture(scope="session")
def authorization(lab):
    """AuthorizationManagementClient."""
    return lab.client(AuthorizationManagementClient)


@pytest.fixture
def emulator(tmp_path):
    """An emulator of the test's own (fresh state, full throttling buckets; a test may restart it on its port), with a
    resource group ``kept``."""
    own = Emulator(tmp_path).start()
    own.client(ResourceManagementClient).resource_groups.create_or_update("kept", {"location": "westeurope"})
    yield own
    own.stop()


@pytest.fixture
def group(resource_client):
    """A fresh resource group in westeurope."""
    name = f"rg-{uuid.uuid4().hex[:8]}"
    resource_client.resource_groups.create_or_update(name, {"location": "westeurope"})
    return name
