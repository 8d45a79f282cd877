"""Each playbook that reaches Kubernetes gets its access from kubedisk.aks.cluster_access, read from the playbooks."""

from __future__ import annotations

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
KUBERNETES_PLAYBOOKS = ("csi", "drain", "recover_node", "resize", "restore", "snapshot", "stateful_app")
ACCESS = "{{ cluster_access_kubernetes | default({}) }}"


def role_names(play):
    return [role["role"] if isinstance(role, dict) else role for role in play.get("roles", [])]


@pytest.mark.parametrize("name", KUBERNETES_PLAYBOOKS)
def test_the_play_reaches_kubernetes_through_cluster_access(name):
    plays = yaml.safe_load((ROOT / "playbooks" / (name + ".yml")).read_text())
    assert len(plays) == 1
    play = plays[0]
    assert role_names(play)[0] == "kubedisk.aks.cluster_access", "cluster_access must come before the roles that use it"
    defaults = play["module_defaults"]
    assert defaults["group/kubernetes.core.k8s"] == ACCESS and defaults["group/kubedisk.aks.k8s"] == ACCESS
    assert defaults["group/kubedisk.aks.azure"] == "{{ kubedisk_azure }}", "the kubeconfig may come from Azure"
    assert play.get("force_handlers") is True, "the fetched kubeconfig must be removed when the play fails too"
    assert not play.get("pre_tasks"), "handlers flush after pre_tasks: the kubeconfig would be gone before the roles"


def test_no_role_threads_a_connection_of_its_own():
    """The roles follow the play's module_defaults; only volume_snapshot keeps one for the modules that nest it."""
    for defaults in sorted((ROOT / "roles").glob("*/defaults/main.yml")):
        names = set(yaml.safe_load(defaults.read_text()) or {})
        threaded = [n for n in names if n.endswith("_kubernetes")]
        assert threaded in ([], ["volume_snapshot_kubernetes"]), (defaults, threaded)
