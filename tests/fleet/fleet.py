"""A fleet of AKS clusters in an emulator-only lab, the kubedisk.aks.aks inventory over it and the fleet playbook.

The clusters are made through ARM as a user would make them (PUTs of groups, clusters and role assignments through
the Azure SDK, several at once), with the lab's throttling raised while they are made and Azure's limits back before
anything is measured. Clusters without a Kubernetes control plane are enough for Azure-level work. The request log
of the lab's admin API says what each step asked of ARM.
"""

import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TESTS = ROOT / "tests"
sys.path.insert(0, str(TESTS))

from lab.admin_client import AdminClient  # noqa: E402  pylint: disable=wrong-import-position
from lab.azure.throttling import DEFAULT_LIMITS  # noqa: E402  pylint: disable=wrong-import-position
from lab.cli.labdir import read_exports  # noqa: E402  pylint: disable=wrong-import-position

# Built-in roles the fleet playbook gives the kubelet identity (kubelet_rbac's defaults), by their Azure GUIDs.
KUBELET_ROLES = {"Virtual Machine Contributor": "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
                 "Disk Snapshot Contributor": "7efff54f-a5b4-42b5-a1c5-5411624893ce"}
LOCATIONS = ("westeurope", "northeurope", "swedencentral")
VERSIONS = ("1.33", "1.34", "1.35")
GROUPS = 10
# Limits while the fleet is made: far above ARM's, so hundreds of PUTs and polls at once are not throttled.
SETUP_LIMITS = {scope: {kind: {"bucket": 100000, "refill": 10000} for kind in ("reads", "writes", "deletes")}
                for scope in ("subscription", "global", "tenant")}
ARM_PREFIXES = ("/subscriptions", "/providers")


def lab_cli(lab_dir, *args, **environment):
    """``python -m lab ARGS`` on the lab in ``lab_dir``; its output."""
    env = dict(os.environ, LAB_DIR=str(lab_dir), PYTHONPATH=str(TESTS), **environment)
    result = subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True,  # noqa: S603 - the lab CLI
                            timeout=300, env=env, check=False)
    if result.returncode:
        raise RuntimeError("python -m lab %s failed:\n%s\n%s" % (" ".join(args), result.stdout, result.stderr))
    return result.stdout


def is_write(item):
    """Whether a logged request changes ARM state (credential listings are POSTs that read)."""
    method = item["method"].upper()
    return method in ("PUT", "PATCH", "DELETE") or (method == "POST" and "credential" not in item["path"].lower())


class Fleet:
    """An emulator-only lab of its own with ``size`` clusters; see ``layout`` for what they look like."""

    def __init__(self, size, page_size):
        self.size = size
        self.page_size = page_size
        self.dir = Path(tempfile.mkdtemp(prefix="fleet-"))
        lab_cli(self.dir, "up", LAB_KUBE="0")
        self.exports = read_exports(self.dir / "env")
        self.admin = AdminClient(self.exports["LAB_ADMIN_URL"], self.exports["REQUESTS_CA_BUNDLE"])
        self.subscription = self.exports["AZURE_SUBSCRIPTION_ID"]
        self.clusters = layout(size)
        self._token = None

    def close(self):
        """Stop the lab and remove its folder."""
        lab_cli(self.dir, "down")
        shutil.rmtree(self.dir, ignore_errors=True)

    # ----- making the fleet ---------------------------------------------------------------------
    def build(self, workers=16):
        """Make the groups, clusters and kubelet role assignments of ``layout`` through ARM, ``workers`` calls at once;
        returns the seconds it took."""
        started = time.monotonic()
        self.admin.call("POST", "/config", {"armThrottling": SETUP_LIMITS, "listPageSize": self.page_size})
        for group in sorted({cluster["resource_group"] for cluster in self.clusters}):
            self.arm("PUT", "/resourceGroups/%s" % group, {"location": "westeurope"})
        with ThreadPoolExecutor(workers) as pool:
            made = list(pool.map(self._make_cluster, self.clusters))
            list(pool.map(self._grant, [body for cluster, body in zip(self.clusters, made) if cluster["drift"] != "roles"]))
        self.admin.call("POST", "/config", {"armThrottling": DEFAULT_LIMITS})
        return time.monotonic() - started

    def arm(self, method, path, body=None):
        """One ARM call under the subscription as the lab's service principal; the answer's JSON."""
        if self._token is None:
            from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel  # slow to import
            credential = ClientSecretCredential(
                self.exports["AZURE_TENANT_ID"], self.exports["AZURE_CLIENT_ID"], self.exports["AZURE_CLIENT_SECRET"],
                authority=self.exports["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True,
                connection_verify=self.exports["REQUESTS_CA_BUNDLE"])
            self._token = credential.get_token(self.exports["AZURE_CLOUD_ENVIRONMENT"] + "/.default").token
        answer = requests.request(method, "%s/subscriptions/%s%s" % (self.exports["AZURE_CLOUD_ENVIRONMENT"], self.subscription, path),
                                  params={"api-version": "2025-01-01"}, json=body, headers={"Authorization": "Bearer " + self._token},
                                  verify=self.exports["REQUESTS_CA_BUNDLE"], timeout=60)
        if answer.status_code >= 300:
            raise RuntimeError("%s %s: %s %s" % (method, path, answer.status_code, answer.text))
        return answer.json()

    def _make_cluster(self, cluster):
        """PUT one cluster and wait until it is made; its body."""
        path = "/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s" % (cluster["resource_group"], cluster["name"])
        body = self.arm("PUT", path, cluster_body(cluster))
        while body["properties"]["provisioningState"] != "Succeeded":
            time.sleep(0.2)
            body = self.arm("GET", path)
        return body

    def _grant(self, cluster):
        """The kubelet identity of a cluster body gets the ``KUBELET_ROLES`` on its node resource group."""
        scope = "/resourceGroups/%s" % cluster["properties"]["nodeResourceGroup"]
        principal = cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
        for role in KUBELET_ROLES.values():
            definition = "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (self.subscription, role)
            self.arm("PUT", "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope, uuid.uuid4()), {"properties": {
                "roleDefinitionId": definition, "principalId": principal, "principalType": "ServicePrincipal"}})

    # ----- measuring ----------------------------------------------------------------------------
    def mark(self):
        """The sequence number of the last logged request."""
        items = self.admin.call("GET", "/requests?since=0")["requests"]
        return items[-1]["seq"] if items else 0

    def requests(self, since):
        """Every request logged after ``since``."""
        return self.admin.call("GET", "/requests?since=%d" % since)["requests"]

    def env(self, **extra):
        """The environment of ansible runs: the lab's AZURE_* exports, the collection tree, no colour."""
        env = dict(os.environ, **self.exports)
        # pytest-ansible points this at a tree of its own without kubernetes.core; ansible.cfg names the project's.
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", PATH="%s:%s" % (Path(sys.executable).parent, env["PATH"]))
        env.update(extra)
        return env

    def inventory_file(self, cache_dir, **options):
        """A ``fleet.aks.yml`` in the lab folder: auth from the environment, groups by location, version and tag."""
        config = {"plugin": "kubedisk.aks.aks", "auth_source": "env",
                  "keyed_groups": [{"key": "aks_cluster.location", "prefix": "location"},
                                   {"key": "aks_cluster.kubernetes_version.split('.')[:2] | join('_')", "prefix": "k8s"},
                                   {"key": "aks_cluster.tags.env", "prefix": "env"}],
                  "groups": {"zonal": "aks_cluster.node_pools | selectattr('zones') | list | length > 0"},
                  "compose": {"node_resource_group": "aks_cluster.node_resource_group"},
                  "cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(cache_dir), "cache_timeout": 3600}
        config.update(options)
        path = self.dir / "fleet.aks.yml"
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    def inventory(self, path, *flags):
        """``ansible-inventory --list`` of ``path``: (the inventory as JSON, its ``_timed`` seconds, requests logged
        meanwhile)."""
        mark = self.mark()
        result, seconds = _timed([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(path), "--list", *flags], self.env())
        if result.returncode:
            raise RuntimeError("ansible-inventory failed:\n%s\n%s" % (result.stdout, result.stderr))
        return json.loads(result.stdout, object_hook=_trusted), seconds, self.requests(mark)

    def playbook(self, inventory, *flags, forks=10):
        """``ansible-playbook playbooks/fleet_storage.yml`` signed in through the AZURE_* environment (the inventory and
        the modules alike, ``kubedisk_azure`` left empty): (rc, output, ``_timed`` seconds, requests logged meanwhile)."""
        env = self.env(ANSIBLE_FORKS=str(forks), ANSIBLE_DISPLAY_OK_HOSTS="false", ANSIBLE_DISPLAY_SKIPPED_HOSTS="false",
                       ANSIBLE_SHOW_CUSTOM_STATS="true", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        mark = self.mark()
        result, seconds = _timed([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                                  str(ROOT / "playbooks" / "fleet_storage.yml"), *flags], env)
        return result.returncode, result.stdout + result.stderr, seconds, self.requests(mark)


def _timed(argv, env):
    """Run one of the venv's Ansible tools from the repository; (its result, {"wall", "cpu"} seconds). The CPU seconds
    (user and system, its children included) say what the run costs whatever else the machine is doing."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=7200, env=env, check=False)  # noqa: S603 - the venv's own tool
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, {"wall": time.monotonic() - started, "cpu": cpu}


def _trusted(value):
    """ansible-inventory marks what an inventory plugin sets as untrusted (never templated): the plain value."""
    return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else value


def layout(size):
    """``size`` clusters over ``GROUPS`` resource groups, three regions and three Kubernetes minors, tagged env=prod or
    dev; two share the name ``shared`` (in two groups); three drift: the disk CSI driver off, the snapshot controller
    off, and no kubelet roles."""
    clusters = []
    for index in range(size):
        name = "shared" if index < 2 else "aks-%03d" % index
        clusters.append({"name": name, "resource_group": "fleet-%02d" % (index % GROUPS), "location": LOCATIONS[index % 3],
                         "version": VERSIONS[(index // 3) % 3], "env": "prod" if index % 2 else "dev", "zonal": index % 4 != 0,
                         "drift": {size - 1: "disk_csi_driver", size - 2: "snapshot_controller", size - 3: "roles"}.get(index)})
    return clusters


def cluster_body(cluster):
    """The PUT body of one cluster of ``layout``: one small system pool, its drift in the storage profile."""
    storage = {"diskCSIDriver": {"enabled": cluster["drift"] != "disk_csi_driver"},
               "snapshotController": {"enabled": cluster["drift"] != "snapshot_controller"}}
    pool = {"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D2s_v5"}
    if cluster["zonal"]:
        pool["availabilityZones"] = ["1", "2", "3"]
    return {"location": cluster["location"], "tags": {"env": cluster["env"]}, "identity": {"type": "SystemAssigned"},
            "properties": {"kubernetesVersion": cluster["version"], "dnsPrefix": cluster["name"], "agentPoolProfiles": [pool],
                           "storageProfile": storage}}


def arm_calls(items):
    """``{"reads", "writes", "throttled"}`` of the ARM calls among logged requests (tokens and metadata left out)."""
    calls = [item for item in items if item["path"].lower().startswith(ARM_PREFIXES)]
    writes = [item for item in calls if is_write(item) and item["status"] < 400]
    return {"reads": sum(1 for item in calls if not is_write(item)), "writes": len(writes),
            "throttled": sum(1 for item in calls if item["status"] == 429), "writes_list": [
                "%s %s %s" % (item["method"], item["path"], item["status"]) for item in writes]}


def list_pages(size, page_size):
    """List calls the inventory makes for ``size`` clusters of one subscription."""
    return max(1, math.ceil(size / page_size))
