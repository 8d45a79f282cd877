"""Benchmark: ARM reads and writes for one desired state, kubedisk.aks against azure.azcollection, first run and rerun.

The desired state (bench/peers/desired_state_*.yml, one playbook per tool): a resource group, an AKS cluster with one
system pool of three nodes over zones 1-3 and a system-assigned identity, Virtual Machine Contributor for the
cluster's kubelet identity on its node resource group, and an incremental snapshot of a disk made beforehand. Each
tool runs its playbook twice (first run, rerun) against the same fast-profile ARM emulator, in a resource group of
its own, with caches of its own that start empty: ours the cloud metadata cache (``XDG_CACHE_HOME``), the peer
azure-cli-core's cloud list (``AZURE_CONFIG_DIR``), each kept from its first run to its rerun as on a controller.

The peer is azure.azcollection 3.21.0 from the ``ansible`` 14.5.0 wheel with its own requirements in a venv of its
own (bench/peers/azcollection.py, cached), reaching the emulator as a custom cloud: ``ARM_CLOUD_METADATA_URL`` (the
2019-05-01 list of clouds) and ``cloud_environment`` the ARM URL, the lab's CA through ``REQUESTS_CA_BUNDLE`` and
``SSL_CERT_FILE``, instance discovery off.

Counted from the emulator's request log between marks: ARM reads (GET, HEAD and the read-only POSTs under
``/subscriptions`` and ``/providers``, as ``lab requests count`` counts them, plus the cloud metadata documents under
``/metadata``), ARM writes that changed something (status < 400), and apart from ARM the token endpoint's requests;
the details list each run's ARM requests, to see where the reads went.
Rows: reads on the first run and on the rerun (goal: at most half the peer's), writes on the rerun (goal: none), and
the wall time of both runs (goal: no slower than the peer). The floor, the fewest reads this state needs, is stated
in the notes (the ratio is against the peer, as the goals are): on a rerun one read per resource (group, cluster,
which names the kubelet identity and the node resource group, the role assignments of the node resource group, the
snapshot) = 4; on a first run those 4 plus at least one status read for each of the two long-running creations
(cluster, snapshot) = 6.

    PYTHONPATH=tests python bench/arm_requests.py
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, Row, lab, write_result  # noqa: E402  pylint: disable=wrong-import-position
from peers.azcollection import venv as azcollection_venv  # noqa: E402  pylint: disable=wrong-import-position

PEERS = REPO / "bench" / "peers"
PEER = "azure.azcollection 3.21.0"
LOCATION = "westeurope"
VIRTUAL_MACHINE_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
# What neither tool may inherit from the shell that runs the bench: each gets its settings explicitly.
DROPPED = re.compile(r"^(AZURE_|ARM_|LAB_|K8S_AUTH_|KUBECONFIG$|REQUESTS_CA_BUNDLE$|SSL_CERT_FILE$|ANSIBLE_|XDG_CACHE_HOME$)")
FLOOR_READS = {"first": 6, "rerun": 4}
PHASES = {"first": "first run", "rerun": "rerun"}


class Arm:
    """REST calls of the set-up (the disks to snapshot, the Kubernetes version), outside the measured runs."""

    def __init__(self, azure: dict):
        self.url = azure["cloud_environment"].rstrip("/")
        self.ca = azure["ca_bundle"]
        self.subscription = azure["subscription_id"]
        token = requests.post(f"{self.url}/{azure['tenant']}/oauth2/v2.0/token", verify=self.ca, timeout=30, data={
            "grant_type": "client_credentials", "client_id": azure["client_id"], "client_secret": azure["secret"],
            "scope": f"{self.url}/.default"})
        token.raise_for_status()
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def call(self, method: str, path: str, api_version: str, body: dict | None = None) -> dict:
        answer = requests.request(method, f"{self.url}/subscriptions/{self.subscription}{path}", json=body,
                                  params={"api-version": api_version}, headers=self.headers, verify=self.ca, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def disk(self, group: str, name: str) -> str:
        """An empty 8 GiB disk in zone 1, once it has succeeded; its id."""
        path = f"/resourceGroups/{group}/providers/Microsoft.Compute/disks/{name}"
        self.call("PUT", path, "2024-03-02", {"location": LOCATION, "sku": {"name": "Premium_LRS"}, "zones": ["1"],
                                              "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 8}})
        deadline = time.monotonic() + 120
        while True:
            disk = self.call("GET", path, "2024-03-02")
            if disk["properties"].get("provisioningState") == "Succeeded":
                return disk["id"]
            if time.monotonic() > deadline:
                raise SystemExit(f"disk {name} did not succeed: {disk['properties'].get('provisioningState')}")
            time.sleep(0.5)

    def kubernetes_version(self) -> str:
        """The region's default Kubernetes version (else its newest GA one), as its newest patch."""
        values = self.call("GET", f"/providers/Microsoft.ContainerService/locations/{LOCATION}/kubernetesVersions",
                           "2024-09-01")["values"]
        stable = [value for value in values if not value.get("isPreview")] or values
        chosen = next((value for value in stable if value.get("isDefault")), None) or max(
            stable, key=lambda value: tuple(int(part) for part in value["version"].split(".")))
        return max(chosen["patchVersions"], key=lambda patch: tuple(int(part) for part in patch.split(".")))


class Tool:
    """One tool's playbook, command and environment, run against the lab with caches of its own."""

    def __init__(self, name: str, playbook: Path, command: list[str], env: dict):
        self.name = name
        self.playbook = playbook
        self.command = command
        self.env = env

    def run(self, state_file: Path, work: Path) -> tuple[float, str]:
        """Run the playbook once; its wall time and output (a failed run ends the benchmark)."""
        began = time.monotonic()
        done = subprocess.run([*self.command, "-e", f"@{state_file}", str(self.playbook)], cwd=work, env=self.env,
                              capture_output=True, text=True, timeout=1800, check=False)
        seconds = time.monotonic() - began
        if done.returncode:
            print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"{self.name}: the playbook failed (exit {done.returncode})")
        return seconds, done.stdout


def _base_env() -> dict:
    return {name: value for name, value in os.environ.items() if not DROPPED.match(name)}


def _ours(variables: Path, work: Path) -> Tool:
    venv_bin = REPO / ".venv" / "bin"
    env = dict(_base_env(), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), PATH=f"{venv_bin}:{os.environ['PATH']}",
               XDG_CACHE_HOME=str(work / "cache"))
    command = [str(venv_bin / "ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={venv_bin / 'python'}",
               "-e", f"@{variables}"]
    return Tool("kubedisk.aks", PEERS / "desired_state_kubedisk.yml", command, env)


def _peer(venv: Path, azure: dict, work: Path) -> Tool:
    config = work / "ansible.cfg"
    config.write_text("[defaults]\n", encoding="utf-8")
    url = azure["cloud_environment"].rstrip("/")
    env = dict(_base_env(), ANSIBLE_CONFIG=str(config), ANSIBLE_COLLECTIONS_PATH=str(venv),
               PATH=f"{venv / 'bin'}:{os.environ['PATH']}", AZURE_CONFIG_DIR=str(work / "azure"),
               AZURE_SUBSCRIPTION_ID=azure["subscription_id"], AZURE_TENANT=azure["tenant"],
               AZURE_CLIENT_ID=azure["client_id"], AZURE_SECRET=azure["secret"], AZURE_CLOUD_ENVIRONMENT=url,
               ARM_CLOUD_METADATA_URL=f"{url}/metadata/endpoints?api-version=2019-05-01",
               AZURE_DISABLE_INSTANCE_DISCOVERY="true", REQUESTS_CA_BUNDLE=azure["ca_bundle"],
               SSL_CERT_FILE=azure["ca_bundle"])
    command = [str(venv / "bin" / "ansible-playbook"), "-i", "localhost,", "-e",
               f"ansible_python_interpreter={venv / 'bin' / 'python'}"]
    return Tool(PEER, PEERS / "desired_state_azcollection.yml", command, env)


def _requests_since(lab_env: dict, mark: int) -> list[dict]:
    answer = requests.get(f"{lab_env['LAB_ADMIN_URL']}/requests", params={"since": mark},
                          verify=lab_env["REQUESTS_CA_BUNDLE"], timeout=30)
    answer.raise_for_status()
    return answer.json()["requests"]


def _measure(the_lab, lab_env: dict, tool: Tool, state_file: Path, work: Path) -> dict:
    """One playbook run: its wall time, module runs, changed tasks and the requests it made."""
    mark = int(the_lab.cli("requests", "mark").strip())
    seconds, output = tool.run(state_file, work)
    arm = json.loads(the_lab.cli("requests", "count", str(mark)))
    logged = _requests_since(lab_env, mark)
    metadata = sum(1 for item in logged if item["path"].startswith("/metadata/"))
    arm_paths = ("/subscriptions", "/providers", "/metadata/")
    identity = sum(1 for item in logged if not item["path"].lower().startswith(arm_paths + ("/_lab",)))
    recap = re.search(r"ok=(\d+)\s+changed=(\d+)", output)
    return {"seconds": round(seconds, 1), "module_runs": int(recap.group(1)), "changed": int(recap.group(2)),
            "arm_reads": arm["reads"], "metadata_reads": metadata, "reads": arm["reads"] + metadata,
            "writes": arm["writes"], "write_attempts": arm["write_attempts"], "token_endpoint_requests": identity,
            "arm_requests": [f"{item['method']} {item['path']} {item['status']}" for item in logged
                             if item["path"].lower().startswith(arm_paths)]}


def _state(work: Path, name: str, subscription: str, disk_id: str, version: str) -> Path:
    path = work / f"state-{name}.json"
    path.write_text(json.dumps({
        "state_resource_group": f"rg-bench-{name}", "state_location": LOCATION, "state_tags": {"bench": "arm_requests"},
        "state_cluster": f"aks-{name}", "state_snapshot": f"snap-{name}", "state_kubernetes_version": version,
        "state_role_guid": VIRTUAL_MACHINE_CONTRIBUTOR, "state_subscription": subscription, "state_disk_id": disk_id,
    }), encoding="utf-8")
    return path


def main():
    """Measure both tools, print what they did and write bench/results/arm_requests.json."""
    started = time.monotonic()
    peer_venv = azcollection_venv()
    work = Path(tempfile.mkdtemp(prefix="kubedisk-bench-arm-"))
    runs = {}
    try:
        with lab(profile="fast", kube=False) as the_lab:
            settings = the_lab.variables()
            azure, lab_env = settings["lab_azure"], settings["lab_env"]
            arm = Arm(azure)
            arm.call("PUT", "/resourcegroups/rg-bench-disks", "2024-03-01", {"location": LOCATION})
            version = arm.kubernetes_version()
            for key in ("ours", "peer"):
                (work / key).mkdir()
            tools = {"ours": _ours(the_lab.vars_file(), work / "ours"), "peer": _peer(peer_venv, azure, work / "peer")}
            for key, tool in tools.items():
                state = _state(work, key, azure["subscription_id"], arm.disk("rg-bench-disks", f"disk-{key}"), version)
                for phase in ("first", "rerun"):
                    runs[(key, phase)] = _measure(the_lab, lab_env, tool, state, work / key)
                    counts = {name: value for name, value in runs[(key, phase)].items() if name != "arm_requests"}
                    print(f"{tool.name}, {PHASES[phase]}: {json.dumps(counts)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def row(name, measure, phase, goal_op, goal, goal_on="ratio", note=""):
        return Row(name, "reads" if "reads" in name else "writes", runs[("ours", phase)][measure], goal_op, goal,
                   peer=runs[("peer", phase)][measure], peer_name=PEER, goal_on=goal_on, note=note)

    ours_seconds = round(runs[("ours", "first")]["seconds"] + runs[("ours", "rerun")]["seconds"], 1)
    peer_seconds = round(runs[("peer", "first")]["seconds"] + runs[("peer", "rerun")]["seconds"], 1)
    rows = [
        row("ARM reads, first run", "reads", "first", "<=", 0.5,
            note=f"floor {FLOOR_READS['first']}; metadata documents included"),
        row("ARM reads, rerun", "reads", "rerun", "<=", 0.5, note=f"floor {FLOOR_READS['rerun']}"),
        row("ARM writes, rerun", "writes", "rerun", "==", 0, goal_on="value",
            note=f"tasks changed on the rerun: ours {runs[('ours', 'rerun')]['changed']}, "
                 f"peer {runs[('peer', 'rerun')]['changed']}"),
        Row("playbook wall time, first run + rerun", "s", ours_seconds, "<=", 1.0, peer=peer_seconds, peer_name=PEER,
            note="fast profile: ARM answers in milliseconds, the rest is the tools' own time"),
    ]
    saved = {phase: runs[("ours", phase)]["module_runs"] - runs[("ours", phase)]["metadata_reads"]
             for phase in ("first", "rerun")}
    details = {
        "runs": {f"{key}_{phase}": measure for (key, phase), measure in runs.items()},
        "floor_reads": FLOOR_READS,
        "metadata_cache": {
            "what": "the cloud metadata document, one GET per Azure module run without the cache",
            "reads_saved": saved,
        },
        "token_cache": {
            "what": "not kept between module runs: azure-identity's persistent cache needs a keyring to encrypt "
                    "tokens (allow_unencrypted_storage would write them in plain files)",
            "token_endpoint_requests_per_module_run": {
                phase: round(runs[("ours", phase)]["token_endpoint_requests"] / runs[("ours", phase)]["module_runs"], 2)
                for phase in ("first", "rerun")},
        },
    }
    write_result("arm_requests", rows, "fast", started, details)
    for item in rows:
        print(f"{item.name}: ours {item.ours:g} {item.unit}, {PEER} {item.peer:g}; ratio {item.ratio}; "
              f"goal {item.goal_on} {item.goal_op} {item.goal:g}: {'met' if item.met else 'NOT met'}")
    print(f"metadata cache: {saved['first']} reads saved on the first run, {saved['rerun']} on the rerun")
    return 0


if __name__ == "__main__":
    sys.exit(main())
