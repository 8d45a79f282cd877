"""The collection's playbooks run as AWX / Automation Controller jobs run them, against a lab of the suite's own.

Each job is ansible-runner in a private data directory of its own, laid out as the controller lays it out:
``project/`` (this repository's playbooks, the job template's playbook path in it), the collections the
project's ``collections/requirements.yml`` names installed by a project sync, ``inventory/hosts`` (the
controller inventory of extensions/awx), ``env/envvars`` holding only what the job's credentials inject (the
built-in "Microsoft Azure Resource Manager" type and the custom types of extensions/awx, filled with the lab's
service principal, Resource Manager URL and CA) and ``env/extravars`` only the job's extra vars (the template's
extra_vars and the survey answers). Each job gets a fresh HOME and no variable of the test's environment: the
jobs share nothing but the state of Azure and the cluster, as jobs in separate execution environments do.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import ansible_runner
import kubernetes
import pytest
import yaml

import awx_material as awx

ROOT = awx.ROOT
# ansible-galaxy and ansible-playbook beside the Python that runs the tests.
BIN = pathlib.Path(sys.executable).parent
TEMPLATES = {template["name"]: template for template in awx.job_templates()}
CREDENTIAL_TYPES = {credential_type["name"]: credential_type for credential_type in awx.credential_types()}
CLUSTER = {"kubedisk_cluster_name": "awx", "kubedisk_resource_group": "awx-rg", "kubedisk_kubeconfig_credential": "admin"}
NAMESPACE = "awx"
STATEFULSET = "nginx-statefulset"
# Seconds a job may take (the controller's job template timeout); the fast lab profile needs far less on an idle
# machine, a loaded one may take minutes for a cluster's nodes.
JOB_TIMEOUT = 600
# What a job's process inherits from the controller's execution environment besides its credentials.
KEPT_ENVIRONMENT = ("LANG", "LC_ALL", "TZ", "TMPDIR")


def lab(lab_dir, *arguments):
    """``python -m lab ARGUMENTS`` for the lab in ``lab_dir``; its standard output."""
    env = dict(os.environ, LAB_DIR=str(lab_dir), PYTHONPATH=str(ROOT / "tests"))
    return subprocess.run([sys.executable, "-m", "lab", *arguments], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def lab_exports(lab_dir):
    """The variables the lab's env file exports."""
    exports = {}
    for line in (pathlib.Path(lab_dir) / "env").read_text(encoding="utf-8").splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line[len("export "):].split("=", 1)
            exports[name] = value.strip("'\"")
    return exports


@pytest.fixture(scope="module")
def lab_dir():
    """A whole lab (ARM emulator and control plane, fast profile) of the module's own, stopped and removed after."""
    folder = tempfile.mkdtemp(prefix="kubedisk-awx-lab-")
    try:
        lab(folder, "up")
        yield folder
    finally:
        subprocess.run([sys.executable, "-m", "lab", "down"], cwd=ROOT, check=False,
                       env=dict(os.environ, LAB_DIR=folder, PYTHONPATH=str(ROOT / "tests")))
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def kube(lab_dir):
    """A client of the lab's cluster as its administrator: what an operator looks at to answer a survey."""
    return kubernetes.config.new_client_from_config(lab_exports(lab_dir)["KUBECONFIG"])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """This repository as the controller's project sync leaves it: the playbooks (group_vars with them), and the
    collections of its collections/requirements.yml installed beside it."""
    synced = tmp_path_factory.mktemp("project-sync")
    shutil.copytree(ROOT / "playbooks", synced / "project" / "playbooks")
    requirements = synced / "project" / "collections" / "requirements.yml"
    requirements.parent.mkdir()
    requirements.write_text(yaml.safe_dump({"collections": [
        {"name": str(ROOT), "type": "dir"},
        {"name": str((ROOT / ".build" / "ansible_collections" / "kubernetes" / "core").resolve()), "type": "dir"},
    ]}), encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "HOME": str(synced)}
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-r", str(requirements),
                    "-p", str(synced / "requirements_collections")], env=env, check=True, capture_output=True)
    return synced


def credentials(lab_dir, kinds, private_data_dir):
    """The environment the job's credentials inject: ``azure`` (the built-in Azure Resource Manager credential with
    the lab's service principal and Resource Manager URL, and the custom CA bundle credential with its CA) and
    ``kubeconfig`` (the custom Kubeconfig credential with the cluster's administrator kubeconfig)."""
    exports = lab_exports(lab_dir)
    env = {}
    if "azure" in kinds:
        env.update(awx.inject_azure_rm({"subscription": exports["AZURE_SUBSCRIPTION_ID"], "client": exports["AZURE_CLIENT_ID"],
                                        "secret": exports["AZURE_CLIENT_SECRET"], "tenant": exports["AZURE_TENANT_ID"],
                                        "cloud_environment": exports["AZURE_CLOUD_ENVIRONMENT"]}))
        ca_bundle = pathlib.Path(exports["REQUESTS_CA_BUNDLE"]).read_text(encoding="utf-8")
        env.update(awx.inject_custom(CREDENTIAL_TYPES["Azure Resource Manager CA bundle"], {"ca_bundle": ca_bundle},
                                     private_data_dir))
    if "kubeconfig" in kinds:
        kubeconfig = pathlib.Path(exports["KUBECONFIG"]).read_text(encoding="utf-8")
        env.update(awx.inject_custom(CREDENTIAL_TYPES["Kubeconfig"], {"kubeconfig": kubeconfig}, private_data_dir))
    return env


def run_job(template_name, answers, kinds, lab_dir, project, tmp_path, monkeypatch):
    """Launch the job template with the survey ``answers`` and the credentials ``kinds``; the finished runner and
    its events."""
    template = TEMPLATES[template_name]
    private_data_dir = tmp_path / "job"
    shutil.copytree(project / "project", private_data_dir / "project")
    (private_data_dir / "env").mkdir()
    (private_data_dir / "inventory").mkdir()
    (private_data_dir / "inventory" / "hosts").write_text(
        yaml.safe_dump({"all": {"hosts": {"localhost": awx.inventory_host_vars()}}}), encoding="utf-8")
    (private_data_dir / "env" / "extravars").write_text(yaml.safe_dump(awx.job_extra_vars(template, answers)), encoding="utf-8")
    envvars = credentials(lab_dir, kinds, str(private_data_dir))
    (private_data_dir / "env" / "envvars").write_text(yaml.safe_dump(envvars), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    for name in list(os.environ):
        if name not in KEPT_ENVIRONMENT:
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", "%s:/usr/local/bin:/usr/bin:/bin" % BIN)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(project / "requirements_collections"))
    runner = ansible_runner.run(private_data_dir=str(private_data_dir), playbook=template["playbook"], quiet=True,
                                timeout=JOB_TIMEOUT)
    events = list(runner.events)
    if runner.status != "successful":
        failures = [event["event_data"].get("res", {}).get("msg") for event in events if event["event"] == "runner_on_failed"]
        pytest.fail("%s: job %s (rc %s): %s\n%s" % (template_name, runner.status, runner.rc, failures,
                                                    runner.stdout.read()[-4000:]))
    return events


def results(events, task=None):
    """The results of the task named ``task`` (of every task) that succeeded, in a job's events."""
    return [event["event_data"]["res"] for event in events
            if event["event"] == "runner_on_ok" and task in (None, event["event_data"].get("task"))]


def facts(events, name):
    """The values the job's tasks set for the fact ``name``, in order."""
    return [result["ansible_facts"][name] for result in results(events) if name in result.get("ansible_facts", {})]


# The jobs of the story that succeeded so far: a job whose input an earlier job makes is skipped when that one failed.
SUCCEEDED = set()


def require(*jobs):
    """Skip the test unless these jobs (playbook names) succeeded."""
    missing = [name for name in jobs if name not in SUCCEEDED]
    if missing:
        pytest.skip("needs the %s job, which failed" % ", ".join(missing))


@pytest.fixture
def job(lab_dir, project, tmp_path, monkeypatch):
    """``job(template, answers, kinds, needs)``: run a job template against the module's lab, once the jobs it
    ``needs`` (playbook names) succeeded."""
    def launch(template_name, answers, kinds=("azure",), needs=()):
        require(*needs)
        events = run_job(template_name, answers, kinds, lab_dir, project, tmp_path, monkeypatch)
        SUCCEEDED.add(template_name.split()[-1])
        return events
    return launch


def test_provision(job):
    events = job("kubedisk.aks provision", dict(CLUSTER, kubedisk_location="westeurope"))
    cluster = facts(events, "aks_cluster_facts")
    assert cluster and cluster[-1]["provisioning_state"] == "Succeeded"


def test_csi(job):
    events = job("kubedisk.aks csi", CLUSTER, needs=["provision"])
    reported = facts(events, "disk_csi_result")
    assert reported and "managed-csi-standard-ssd" in reported[-1]["storage_classes"]


def test_stateful_app(job, kube):
    job("kubedisk.aks stateful_app", dict(CLUSTER, kubedisk_namespace=NAMESPACE, stateful_app_replicas=2), needs=["csi"])
    status = kubernetes.client.AppsV1Api(kube).read_namespaced_stateful_set(STATEFULSET, NAMESPACE).status
    assert status.ready_replicas == 2


def test_snapshot(job, kube):
    job("kubedisk.aks snapshot", dict(CLUSTER, kubedisk_namespace=NAMESPACE, kubedisk_awx_snapshot_name="awx-sts0",
                                      kubedisk_awx_snapshot_pvc="azuredisk-%s-0" % STATEFULSET),
        needs=["stateful_app"])
    snapshot = kubernetes.client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "snapshot.storage.k8s.io", "v1", NAMESPACE, "volumesnapshots", "awx-sts0")
    assert snapshot["status"]["readyToUse"] is True


def test_restore(job, kube):
    job("kubedisk.aks restore", dict(CLUSTER, kubedisk_namespace=NAMESPACE, kubedisk_awx_restore_snapshot="awx-sts0",
                                     kubedisk_awx_restore_pvc="awx-sts0-restored"),
        needs=["snapshot"])
    claim = kubernetes.client.CoreV1Api(kube).read_namespaced_persistent_volume_claim("awx-sts0-restored", NAMESPACE)
    assert claim.spec.data_source.name == "awx-sts0"


def test_resize(job, kube):
    job("kubedisk.aks resize", dict(CLUSTER, kubedisk_namespace=NAMESPACE, volume_resize_size="2Gi"), needs=["stateful_app"])
    core = kubernetes.client.CoreV1Api(kube)
    for ordinal in range(2):
        claim = core.read_namespaced_persistent_volume_claim("azuredisk-%s-%d" % (STATEFULSET, ordinal), NAMESPACE)
        assert claim.status.capacity["storage"] == "2Gi"


def test_drain(job, kube):
    """The drain job has the Kubeconfig credential only: Kubernetes access without Azure."""
    require("stateful_app")
    node = kubernetes.client.CoreV1Api(kube).read_namespaced_pod("%s-0" % STATEFULSET, NAMESPACE).spec.node_name
    events = job("kubedisk.aks drain", dict(CLUSTER, kubedisk_awx_drain_nodes=node), kinds=("kubeconfig",))
    report = results(events, "Downtime of each moved pod")
    assert report, "no drain report"
    moved = [entry for entry in report[-1]["msg"] if entry["pod"] == "%s/%s-0" % (NAMESPACE, STATEFULSET)]
    assert moved and moved[0]["from"] == node and moved[0]["to"] != node


def test_recover_node(job):
    events = job("kubedisk.aks recover_node", CLUSTER, needs=["provision"])
    assert results(events, "What was fenced, refused, recovered and unfenced"), "no recovery report"
