"""Bad inputs to the Azure-side roles (aks_cluster, kubelet_rbac, disk_csi, volume_snapshot), through ansible-playbook.

Generated playbooks include each role once per input, in a block whose rescue records the failure message: the
role's argument spec refuses wrong types and choices, the collection's modules the values Azure would refuse. Every
input must fail with a message naming what is wrong, and the request log must show no ARM write. The inputs are
split over a few playbooks run at once (each module task is an interpreter start of its own).
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from harness import ROOT, lab_cli

GUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
PLAYBOOKS = 3
POOL = {"name": "system", "mode": "System", "count": 1, "zones": ["1"], "vm_size": "standard_d4s_v5"}


def role_inputs(rg):
    """(role, label, role variables, word the message names)."""
    aks = {"aks_cluster_name": "hrole", "aks_cluster_resource_group": rg, "aks_cluster_node_pools": [POOL],
           "aks_cluster_kubeconfig_path": None}
    rbac = {"kubelet_rbac_cluster_name": "hrole", "kubelet_rbac_resource_group": rg}
    csi = {"disk_csi_cluster_name": "hrole", "disk_csi_resource_group": rg}
    snap = {"volume_snapshot_namespace": "default"}
    restore = {"pvc": "data-0", "snapshot_name": "s1", "resource_group": rg, "zone": "1", "name": "d1"}
    cases = [
        ("aks_cluster", "no name", {k: v for k, v in aks.items() if k != "aks_cluster_name"}, "aks_cluster_name"),
        ("aks_cluster", "name with a newline", dict(aks, aks_cluster_name="aks\n"), "name"),
        ("aks_cluster", "name ending in -", dict(aks, aks_cluster_name="aks-"), "name"),
        ("aks_cluster", "group ending in .", dict(aks, aks_cluster_resource_group="rg."), "resource group name"),
        ("aks_cluster", "location mars", dict(aks, aks_cluster_location="mars"), "mars"),
        ("aks_cluster", "tag value of 257", dict(aks, aks_cluster_tags={"k": "v" * 257}), "256"),
        ("aks_cluster", "zone 4", dict(aks, aks_cluster_node_pools=[dict(POOL, zones=["4"])]), "zone"),
        ("aks_cluster", "pool name with capitals", dict(aks, aks_cluster_node_pools=[dict(POOL, name="Sys")]), "pool"),
        ("aks_cluster", "51 tags", dict(aks, aks_cluster_tags={"k%d" % i: "v" for i in range(51)}), "50"),
        ("aks_cluster", "tag key with ?", dict(aks, aks_cluster_tags={"a?": "v"}), "tag key"),
        ("aks_cluster", "tags as a list", dict(aks, aks_cluster_tags=["a"]), "aks_cluster_tags"),
        ("aks_cluster", "credential root", dict(aks, aks_cluster_kubeconfig_credential="root"), "aks_cluster_kubeconfig_credential"),
        ("aks_cluster", "sku tier Gold", dict(aks, aks_cluster_sku_tier="Gold"), "sku_tier"),
        ("aks_cluster", "wait timeout abc", dict(aks, aks_cluster_wait_timeout="abc"), "aks_cluster_wait_timeout"),
        ("aks_cluster", "version with a newline", dict(aks, aks_cluster_kubernetes_version="1.33\n"), "kubernetes_version"),
        ("aks_cluster", "storage profile as a list", dict(aks, aks_cluster_storage_profile=["disk"]), "aks_cluster_storage_profile"),
        ("kubelet_rbac", "no cluster", {"kubelet_rbac_resource_group": rg}, "kubelet_rbac_cluster_name"),
        ("kubelet_rbac", "cluster name with a newline", dict(rbac, kubelet_rbac_cluster_name="aks\n"), "cluster name"),
        ("kubelet_rbac", "cluster not there", rbac, "hrole"),
        ("kubelet_rbac", "role as a relative path", dict(rbac, kubelet_rbac_roles=["../../roleDefinitions/" + GUID]), "role"),
        ("kubelet_rbac", "role with a newline", dict(rbac, kubelet_rbac_roles=["Reader\n"]), "role"),
        ("kubelet_rbac", "empty role", dict(rbac, kubelet_rbac_roles=[" "]), "role"),
        ("kubelet_rbac", "roles as a dict", dict(rbac, kubelet_rbac_roles={"a": 1}), "kubelet_rbac_roles"),
        ("kubelet_rbac", "state maybe", dict(rbac, kubelet_rbac_state="maybe"), "kubelet_rbac_state"),
        ("kubelet_rbac", "scope not an id", dict(rbac, kubelet_rbac_scope="/subscriptions/x"), "scope"),
        ("kubelet_rbac", "scope relative", dict(rbac, kubelet_rbac_scope="resourceGroups/" + rg), "scope"),
        ("kubelet_rbac", "group with a newline", dict(rbac, kubelet_rbac_resource_group=rg + "\n"), "not found"),
        ("kubelet_rbac", "cluster name of 64", dict(rbac, kubelet_rbac_cluster_name="a" * 64), "cluster name"),
        ("kubelet_rbac", "cluster name with a space", dict(rbac, kubelet_rbac_cluster_name="a b"), "cluster name"),
        ("kubelet_rbac", "role GUID unknown", dict(rbac, kubelet_rbac_roles=[GUID], kubelet_rbac_scope="/subscriptions/%s" % GUID),
         "subscription"),
        ("kubelet_rbac", "scope as a list", dict(rbac, kubelet_rbac_scope=["a"]), "not a scope id"),
        ("disk_csi", "install foo", dict(csi, disk_csi_install="foo"), "disk_csi_install"),
        ("disk_csi", "cluster name with a newline", dict(csi, disk_csi_cluster_name="aks\n"), "name"),
        ("disk_csi", "cluster name ending in -", dict(csi, disk_csi_cluster_name="aks-"), "name"),
        ("disk_csi", "group ending in .", dict(csi, disk_csi_resource_group="rg."), "resource group name"),
        ("disk_csi", "cluster not there", csi, "location is required"),
        ("disk_csi", "wait timeout abc", dict(csi, disk_csi_wait_timeout="abc"), "disk_csi_wait_timeout"),
        ("disk_csi", "storage classes as a string", dict(csi, disk_csi_storage_classes="managed"), "disk_csi_storage_classes"),
        ("disk_csi", "helm values as a list", dict(csi, disk_csi_helm_values=["a"]), "disk_csi_helm_values"),
        ("disk_csi", "snapshot class as a list", dict(csi, disk_csi_snapshot_class=["a"]), "disk_csi_snapshot_class"),
        ("disk_csi", "helm values as a string", dict(csi, disk_csi_helm_values="a"), "disk_csi_helm_values"),
        ("disk_csi", "defaults as a list", dict(csi, disk_csi_storage_class_defaults=["a"]), "disk_csi_storage_class_defaults"),
        ("disk_csi", "group with a newline", dict(csi, disk_csi_resource_group=rg + "\n"), "resource group name"),
        ("disk_csi", "group of 91", dict(csi, disk_csi_resource_group="r" * 91), "resource group name"),
        ("disk_csi", "cluster name of 64", dict(csi, disk_csi_cluster_name="a" * 64), "name"),
        ("disk_csi", "cluster name as a list", dict(csi, disk_csi_cluster_name=["a"]), "not a valid AKS cluster name"),
        ("volume_snapshot", "snapshots as a dict", dict(snap, volume_snapshot_snapshots={"a": 1}), "volume_snapshot_snapshots"),
        ("volume_snapshot", "restores as a string", dict(snap, volume_snapshot_restores="r"), "volume_snapshot_restores"),
        ("volume_snapshot", "clones as a string", dict(snap, volume_snapshot_clones="c"), "volume_snapshot_clones"),
        ("volume_snapshot", "azure restores as a string", dict(snap, volume_snapshot_azure_restores="a"), "volume_snapshot_azure_restores"),
        ("volume_snapshot", "wait timeout abc", dict(snap, volume_snapshot_wait_timeout="abc"), "volume_snapshot_wait_timeout"),
        ("volume_snapshot", "wait timeout 1.5", dict(snap, volume_snapshot_wait_timeout=1.5), "volume_snapshot_wait_timeout"),
        ("volume_snapshot", "snapshots of numbers", dict(snap, volume_snapshot_snapshots=[1]), "volume_snapshot_snapshots"),
        ("volume_snapshot", "kubernetes as a list", dict(snap, volume_snapshot_kubernetes=["a"]), "volume_snapshot_kubernetes"),
        ("volume_snapshot", "azure restore zone 4", dict(snap, volume_snapshot_azure_restores=[dict(restore, zone="4")]), ""),
        ("volume_snapshot", "azure restore name ending in -", dict(snap, volume_snapshot_azure_restores=[dict(restore, name="d-")]), ""),
        ("volume_snapshot", "azure restore group ending in .",
         dict(snap, volume_snapshot_azure_restores=[dict(restore, resource_group="rg.")]), ""),
        ("volume_snapshot", "azure restore snapshot with a newline",
         dict(snap, volume_snapshot_azure_restores=[dict(restore, snapshot_name="s\n")]), ""),
        ("volume_snapshot", "snapshots of strings", dict(snap, volume_snapshot_snapshots=["a"]), "volume_snapshot_snapshots"),
        ("volume_snapshot", "restores of strings", dict(snap, volume_snapshot_restores=["a"]), "volume_snapshot_restores"),
        ("volume_snapshot", "clones of strings", dict(snap, volume_snapshot_clones=["a"]), "volume_snapshot_clones"),
    ]
    return cases


def playbook(cases):
    """One play: each ``(index, case)`` a block that includes the role and, on failure, records the message."""
    tasks = []
    for index, (role, label, variables, _word) in cases:
        tasks.append({"name": "Input %d: %s %s" % (index, role, label), "block": [
            {"name": "Include the role", "ansible.builtin.include_role": {"name": "kubedisk.aks." + role}, "vars": variables},
            {"name": "Record that it was accepted", "ansible.builtin.set_fact": {
                "hostile_outcomes": "{{ hostile_outcomes | combine({'%d': 'ACCEPTED'}) }}" % index}},
        ], "rescue": [{"name": "Record the message (and those of each item of a loop)", "ansible.builtin.set_fact": {
            "hostile_outcomes": "{{ hostile_outcomes | combine({'%d': (ansible_failed_result.msg | default('') | string) ~ ' ' ~ "
                                "(ansible_failed_result.results | default([]) | selectattr('msg', 'defined') | map(attribute='msg') "
                                "| join(' | '))}) }}" % index}}]})
    tasks.append({"name": "Write the outcomes", "ansible.builtin.copy": {
        "content": "{{ hostile_outcomes | to_json }}", "dest": "{{ hostile_outcomes_file }}", "mode": "0600"}})
    return [{"name": "Bad inputs to the Azure-side roles", "hosts": "localhost", "gather_facts": False,
             "vars_files": ["{{ lab_vars_file }}"], "vars": {"hostile_outcomes": {}},
             "module_defaults": {"group/kubedisk.aks.azure": "{{ lab_azure }}"}, "tasks": tasks}]


def run_playbook(cases, variables, folder):
    """``ansible-playbook`` of ``playbook(cases)`` in ``folder``; the messages it recorded, by input index."""
    folder.mkdir()
    play = folder / "role_inputs.yml"
    play.write_text(json.dumps(playbook(cases), indent=1))
    outcomes = folder / "outcomes.json"
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("AZURE_") and k != "REQUESTS_CA_BUNDLE")
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(play),
                           "-e", "lab_vars_file=%s" % variables, "-e", "hostile_outcomes_file=%s" % outcomes],
                          cwd=str(folder), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0 and outcomes.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(outcomes.read_text())


def test_role_bad_inputs(lab, report, tmp_path):
    rg = lab.unique("hrole")
    lab.group(rg)
    cases = role_inputs(rg)
    variables = lab.dir / "hostile-vars.json"
    lab_cli(lab.dir, "vars", "--output", str(variables))
    since = lab.mark()
    chunks = [list(enumerate(cases))[start::PLAYBOOKS] for start in range(PLAYBOOKS)]
    with ThreadPoolExecutor(max_workers=PLAYBOOKS) as pool:
        messages = {}
        for outcomes in pool.map(lambda chunk: run_playbook(chunk, variables, tmp_path / ("inputs-%d" % chunk[0][0])), chunks):
            messages.update(outcomes)
    accepted, attempts = lab.writes(since)
    problems = []
    counts = {}
    for index, (role, label, _variables, word) in enumerate(cases):
        counts[role] = counts.get(role, 0) + 1
        msg = messages.get(str(index), "")
        if msg == "ACCEPTED" or not msg:
            problems.append("%s / %s: accepted" % (role, label))
        elif word and word.lower() not in msg.lower():
            problems.append("%s / %s: the message does not name %r: %s" % (role, label, word, msg[:300]))
    rows = [{"role": r, "inputs tried": n} for r, n in counts.items()]
    rows.append({"role": "all", "inputs tried": len(cases), "writes made": "%d (attempts %d)" % (len(accepted), len(attempts))})
    report("Bad inputs to the Azure-side roles", ["role", "inputs tried", "writes made"], rows)
    problems += ["write: %(method)s %(path)s %(status)s" % w for w in attempts]
    assert not problems, "\n".join(problems)
    assert all(n >= 15 for n in counts.values()), counts
