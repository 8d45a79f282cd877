"""Orders in the roles' task lists that the roles' safety depends on, read from the task files."""

from __future__ import annotations

import pathlib

import yaml

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"


def tasks(role, name="main.yml"):
    """The role's tasks in order, blocks (and their always) flattened."""
    found = []

    def walk(items):
        for task in items or []:
            found.append(task)
            for key in ("block", "rescue", "always"):
                walk(task.get(key))

    walk(yaml.safe_load((ROLES / role / "tasks" / name).read_text()))
    return found


def index(found, module, **match):
    return [i for i, task in enumerate(found)
            if module in task and all(task[module].get(k) == v for k, v in match.items())]


def test_node_recovery_decides_what_to_unfence_after_fencing():
    found = tasks("node_recovery")
    fence = index(found, "kubedisk.aks.node_fence", state="fenced")
    unfence = index(found, "kubedisk.aks.node_fence", state="unfenced")
    assert len(fence) == 1 and len(unfence) == 1
    source = found[unfence[0]]["loop"]
    readers = [i for i, task in enumerate(found) if "kubedisk.aks.node_fence_info" in task and task.get("register") in source]
    assert readers, "the unfence loop must come from a node_fence_info read"
    assert fence[0] < readers[0] < unfence[0], "what to unfence must be read after fencing, not before"


def test_node_maintenance_uncordons_in_an_always_path_and_retries_only_pdb_refusals():
    batch = yaml.safe_load((ROLES / "node_maintenance" / "tasks" / "batch.yml").read_text())[0]
    assert any(task.get("kubernetes.core.k8s_drain", {}).get("state") == "uncordon" for task in batch["always"])
    drain = [task for task in batch["block"] if task.get("kubernetes.core.k8s_drain", {}).get("state") == "drain"][0]
    assert "disruption budget" in drain["until"]
