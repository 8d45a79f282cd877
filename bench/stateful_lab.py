"""What the realistic lab figures share: the collection's playbooks run against a bench lab as the demo runs them, a
zonal StatefulSet whose pods the lab's writer writes through, the writer's lines, and the lab's timings.

The playbooks run with ``tests/demo/inventory.yml`` and the lab's variables (``-e @FILE``), with no ``AZURE_*``,
Kubernetes or lab settings in their environment, as ``scripts/demo.sh`` runs them; the ``bench_facts`` callback
(``bench/callback_plugins``) hands back the facts the roles set.
"""

import datetime
import functools
import json
import os
import subprocess
import time
from pathlib import Path

from common import REPO
from kubernetes import client

from lab.aks_names import vm_of_node
from lab.cli.labdir import LabDir
from lab.kube import controlplane

NAMESPACE = "kubedisk-demo"  # kubedisk_namespace of tests/demo/inventory.yml
STATEFULSET = "nginx-statefulset"
DROPPED = ("AZURE_", "K8S_AUTH_", "LAB_", "KUBECONFIG", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


class PlaybookFailed(RuntimeError):
    """A playbook of the collection failed; the message ends with its output's last lines."""


@functools.cache
def lab_vars(lab) -> Path:
    """The lab's variables file, written once (``lab vars`` is a process of its own, seconds on a busy machine)."""
    return lab.vars_file()


def playbook(lab, name: str, extra: dict | None = None) -> dict:
    """Run ``playbooks/NAME.yml`` against the lab; the facts it set on localhost. Raises PlaybookFailed."""
    log, facts = lab.root / f"{name}.log", lab.root / f"{name}-facts.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED)}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_CALLBACK_PLUGINS=str(REPO / "bench" / "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="bench_facts", BENCH_FACTS_FILE=str(facts),
               PATH=f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}")
    command = ["ansible-playbook", f"playbooks/{name}.yml", "-i", "tests/demo/inventory.yml", "-e", f"@{lab_vars(lab)}",
               "-e", json.dumps(extra or {})]
    with open(log, "w", encoding="utf-8") as output:
        done = subprocess.run(command, cwd=REPO, env=env, stdout=output,  # noqa: S603 - the repository's playbooks
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-40:])
        raise PlaybookFailed(f"playbooks/{name}.yml failed (exit {done.returncode}):\n{tail}")
    return json.loads(facts.read_text(encoding="utf-8")).get("localhost", {})


def stateful_cluster(lab, zones: int, nodes_per_zone: int, replicas: int) -> None:
    """The demo's set-up with a pool over ``zones`` zones: cluster, CSI driver and classes, the StatefulSet with writers
    (one replica per zone, a PodDisruptionBudget of one), every replica Ready."""
    pool = {"name": "nodepool1", "mode": "System", "count": zones * nodes_per_zone,
            "zones": [str(zone) for zone in range(1, zones + 1)], "vm_size": "Standard_D2s_v5"}
    playbook(lab, "provision", {"aks_cluster_node_pools": [pool]})
    playbook(lab, "csi")
    playbook(lab, "stateful_app", {"stateful_app_replicas": replicas})


def realistic(lab) -> dict:
    """Switch the running lab to the realistic profile without its spread, so that every operation takes its kind's
    nominal time and a floor computed from those times is the lab's own; the durations."""
    admin = LabDir(lab.root).admin()
    return admin.call("PUT", "/profile", {"name": "realistic", "spread": 0})["durations"]


def core(lab) -> client.CoreV1Api:
    """The Kubernetes API of the lab (its admin kubeconfig)."""
    return client.CoreV1Api(controlplane.api_client(LabDir(lab.root).exports()["KUBECONFIG"]))


def claim(ordinal: int) -> str:
    return f"{NAMESPACE}/azuredisk-{STATEFULSET}-{ordinal}"


def pod_name(ordinal: int) -> str:
    return f"{STATEFULSET}-{ordinal}"


def writer_text(lab, ordinal: int) -> str:
    """The writer's lines on replica ``ordinal``'s disk."""
    return lab.cli("cat", claim(ordinal))


def stamp(line: str) -> float:
    """Epoch seconds of a writer line (``<UTC time> <namespace>/<pod> <node>``)."""
    moment = datetime.datetime.fromisoformat(line.split()[0].rstrip("Z")[:26])
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


def gaps(text: str, since: int, longer_than: float = 3.0) -> list:
    """The pauses of the writer from line ``since`` on (1-based) longer than ``longer_than`` seconds: each
    ``{"seconds", "from", "to", "from_node", "to_node"}`` (epoch times, the nodes it wrote from before and after)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][max(since - 1, 0):]
    found = []
    for before, after in zip(lines, lines[1:]):
        seconds = stamp(after) - stamp(before)
        if seconds > longer_than:
            found.append({"seconds": round(seconds, 1), "from": stamp(before), "to": stamp(after),
                          "from_node": before.split()[-1], "to_node": after.split()[-1]})
    return found


def line_count(text: str) -> int:
    return len([line for line in text.splitlines() if line.strip()])


def operations(lab, since: float) -> list:
    """The lab's long-running operations that ended since ``since`` (epoch), oldest first."""
    return sorted(json.loads(lab.cli("operations", "--since", str(since))), key=lambda operation: operation["started"])


def vm_operation(ended: list, kinds: tuple, node: str, start: float, end: float) -> dict | None:
    """The last operation of ``kinds`` on the scale-set VM of ``node`` that started between ``start`` and ``end``."""
    vmss, instance = vm_of_node(node)
    suffix = f"/virtualmachinescalesets/{vmss}/virtualmachines/{instance}"
    matching = [operation for operation in ended if operation["kind"] in kinds and start <= operation["started"] <= end
                and operation["resourceId"].lower().endswith(suffix)]
    return matching[-1] if matching else None


def took(operation: dict | None) -> float:
    """Seconds an operation took in the lab's model (its start to its deadline); 0 without one."""
    return round(operation["deadline"] - operation["started"], 1) if operation else 0.0


def ready_pods(lab, ordinals) -> dict:
    """{pod: node} of the replicas that are Ready."""
    api, ready = core(lab), {}
    for ordinal in ordinals:
        pod = api.read_namespaced_pod(pod_name(ordinal), NAMESPACE)
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            ready[pod.metadata.name] = pod.spec.node_name
    return ready


def wait_lines(lab, ordinals, lines: int, timeout: float = 60) -> None:
    """Wait until every replica's writer has written at least ``lines`` lines."""
    deadline = time.monotonic() + timeout
    while any(line_count(writer_text(lab, ordinal)) < lines for ordinal in ordinals):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the writers did not write {lines} lines within {timeout} s")
        time.sleep(1)
