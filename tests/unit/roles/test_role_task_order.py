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


def test_node_maintenance_drains_the_whole_list_in_one_node_drain_call_uncordoning_after_each_batch_when_asked():
    found = tasks("node_maintenance")
    drains = index(found, "kubedisk.aks.node_drain")
    assert len(drains) == 1 and "loop" not in found[drains[0]], "one module call for the whole node list"
    assert found[drains[0]]["kubedisk.aks.node_drain"]["nodes"] == "{{ node_maintenance_nodes }}"
    assert "after_each" in found[drains[0]]["kubedisk.aks.node_drain"]["uncordon"]
