"""The kubelet's times on the lab's nodes: container start and readiness after the disks attach, the grace period of a
deleted pod, and disks of pods arriving together attached in one VM update.

The pod times come from the emulator's latency profile (``pod.start``, ``pod.ready``, ``pod.stop``), here overridden
to a few seconds so the test can see each step; the profile is set back to plain ``fast`` afterwards.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import datetime
import time
import uuid

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.mgmt.authorization import AuthorizationManagementClient

from lab.cli.compute import sdk_client

from lab.tests.conftest import wait_for
from lab.tests.test_aks_story import (LOCATION, admin, claim, disk_lines, get_pod, node_ready, pod_using, ready,
                                      storage_class)

GROUP = "kubedisk-pods"
CLUSTER = "kubedisk-pods"
STORAGE_CLASS = "lab-pod-lifecycle"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
STARTED_AT = "lab.kubedisk.io/started-at"
READY_AT = "lab.kubedisk.io/ready-at"
STOPPED_AT = "lab.kubedisk.io/stopped-at"
VOLUMES_ATTACHED = "lab.kubedisk.io/volumes-attached"
HOSTNAME = "kubernetes.io/hostname"
TOLERANCE = 0.3  # seconds: one observation of the test's 0.1 s polls plus the lab's clocks


def utc_now():
    """The time now, timezone-aware."""
    return datetime.datetime.now(datetime.timezone.utc)


def when(annotation):
    """A time from one of the kubelet emulation's annotations."""
    return datetime.datetime.strptime(annotation, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def grant_driver_role(lab_env, cluster):
    """Contributor on the node resource group for the kubelet identity, which AKS's disk driver signs in as."""
    authorization = sdk_client(AuthorizationManagementClient, lab_env)
    scope = f"/subscriptions/{lab_env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/{cluster.node_resource_group}"
    try:
        authorization.role_assignments.create(scope, str(uuid.uuid4()), {
            "role_definition_id": f"/subscriptions/{lab_env['AZURE_SUBSCRIPTION_ID']}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            "principal_id": cluster.identity_profile["kubeletidentity"].object_id, "principal_type": "ServicePrincipal"})
    except ResourceExistsError:
        pass  # granted before (the story's cluster)


@pytest.fixture(scope="module")
def node(azure, kube, lab_env):
    """A Ready, schedulable node of the lab's cluster (the story's cluster when it exists, else a small one made here)."""
    clusters = list(azure["aks"].managed_clusters.list())
    if not clusters:
        azure["resources"].resource_groups.create_or_update(GROUP, {"location": LOCATION})
        clusters = [azure["aks"].managed_clusters.begin_create_or_update(GROUP, CLUSTER, {
            "location": LOCATION, "identity": {"type": "SystemAssigned"},
            "properties": {"dnsPrefix": CLUSTER, "agentPoolProfiles": [
                {"name": "nodepool1", "count": 2, "vmSize": "Standard_D4s_v5", "availabilityZones": ["1"], "mode": "System"}]},
        }).result()]
    for cluster in clusters:  # the lab backs the oldest; granting on each needs no guess which
        grant_driver_role(lab_env, cluster)

    def usable():
        return [n for n in kube["core"].list_node().items if node_ready(n) and not n.spec.unschedulable and not n.spec.taints]
    return wait_for(usable, 60, "a Ready, schedulable node")[0]


@pytest.fixture(scope="module")
def storage(kube):
    """A WaitForFirstConsumer class, so a claim's disk is made in its pod's zone."""
    kube["storage"].create_storage_class(storage_class(STORAGE_CLASS, "WaitForFirstConsumer"))
    yield STORAGE_CLASS
    kube["storage"].delete_storage_class(STORAGE_CLASS)


@pytest.fixture
def pod_times(lab_env):
    """Set the profile (``fast`` unless named) with these overrides for one test; plain ``fast`` afterwards."""
    lab_admin = admin(lab_env)

    def switch(name="fast", **overrides):
        lab_admin.call("PUT", "/profile", {"name": name, "overrides": overrides})
    yield switch
    lab_admin.call("PUT", "/profile", {"name": "fast", "overrides": {}})


def on_node(manifest, node, **spec):
    """The pod manifest pinned to ``node`` (through the scheduler, so a late-bound claim follows it), with more spec fields."""
    manifest["spec"].update(nodeSelector={HOSTNAME: node.metadata.labels[HOSTNAME]}, **spec)
    return manifest


def bare_pod(name, node, annotations=None, **spec):
    """A pod without volumes on ``node``."""
    return on_node({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations or {}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]}}, node, **spec)


def watch_start(kube, name):
    """Poll the pod until Ready: the first times (epoch) it carried the volumes mark, ran, and was Ready, and whether it ran unready."""
    seen = {}
    ran_unready = False
    deadline = time.monotonic() + 90
    while "ready" not in seen:
        assert time.monotonic() < deadline, f"pod {name} not Ready after 90 s; saw {seen}"
        pod, now = get_pod(kube, name), time.time()
        if pod is not None and (pod.metadata.annotations or {}).get(VOLUMES_ATTACHED) == "true":
            seen.setdefault("attached", now)
        if pod is not None and pod.status.phase == "Running":
            seen.setdefault("running", now)
            if ready(pod):
                seen["ready"] = now
            else:
                ran_unready = True
        time.sleep(0.1)
    return seen, ran_unready, get_pod(kube, name)


def test_pod_runs_after_mount_and_start_and_is_ready_after_its_readiness_time(node, storage, kube, lab_env, pod_times):
    """Volumes attached -> Running ``pod.start`` later -> Ready ``pod.ready`` after that; the writer's first line only then."""
    pod_times(**{"pod.start": 2.0, "pod.ready": 1.5, "pod.stop": 2.0})
    kube["core"].create_namespaced_persistent_volume_claim("default", claim("lifecycle-data", storage))
    kube["core"].create_namespaced_pod("default", on_node(pod_using("lifecycle-writer", "lifecycle-data"), node))
    seen, ran_unready, pod = watch_start(kube, "lifecycle-writer")
    started, readied = when(pod.metadata.annotations[STARTED_AT]), when(pod.metadata.annotations[READY_AT])
    assert (readied - started).total_seconds() == pytest.approx(1.5, abs=0.001)
    assert seen["running"] - seen["attached"] >= 2.0 - TOLERANCE, seen
    assert seen["running"] >= started.timestamp() - TOLERANCE and seen["ready"] >= readied.timestamp() - TOLERANCE, (seen, started, readied)
    assert ran_unready, "the pod was never seen Running and not Ready"
    first_line = wait_for(lambda: disk_lines(lab_env, kube, "lifecycle-data"), 15, "the writer's first line")[0][0]
    assert first_line.replace(tzinfo=datetime.timezone.utc) >= readied - datetime.timedelta(seconds=0.1)


def test_deleted_pod_terminates_for_its_stop_time_and_the_writer_stops_at_deletion(node, kube, lab_env, pod_times):
    """SIGTERM at deletion: the writer's last line is from then; the pod stays Terminating ``pod.stop`` (2 s) of its 30 s grace."""
    pod_times(**{"pod.start": 0.2, "pod.ready": 0.2, "pod.stop": 2.0})
    assert ready(get_pod(kube, "lifecycle-writer"))
    time.sleep(2)  # a few lines before the deletion
    deleted = utc_now()
    kube["core"].delete_namespaced_pod("lifecycle-writer", "default")
    time.sleep(1.2)
    terminating = get_pod(kube, "lifecycle-writer")
    assert terminating is not None and terminating.metadata.deletion_timestamp is not None, "the pod went before its containers stopped"
    assert terminating.metadata.deletion_grace_period_seconds == 30
    wait_for(lambda: get_pod(kube, "lifecycle-writer") is None, 10, "the pod gone")
    gone = utc_now()
    stopped = when(terminating.metadata.annotations[STOPPED_AT])
    assert 2.0 - TOLERANCE <= (stopped - deleted).total_seconds() <= 2.0 + 1.0, (deleted, stopped)
    assert (gone - deleted).total_seconds() >= 2.0 - TOLERANCE
    last_line = disk_lines(lab_env, kube, "lifecycle-data")[-1][0].replace(tzinfo=datetime.timezone.utc)
    assert deleted - datetime.timedelta(seconds=1.5) <= last_line <= deleted + datetime.timedelta(seconds=1.0), (deleted, last_line)
    kube["core"].delete_namespaced_persistent_volume_claim("lifecycle-data", "default")


def test_pod_ignoring_sigterm_runs_its_whole_grace_period(node, kube, pod_times):
    """A pod annotated lab.kubedisk.io/ignores-sigterm stays Terminating until SIGKILL at the end of its grace period."""
    pod_times(**{"pod.start": 0.2, "pod.ready": 0.2, "pod.stop": 0.2})
    kube["core"].create_namespaced_pod("default", bare_pod("lifecycle-stubborn", node, {"lab.kubedisk.io/ignores-sigterm": "true"},
                                                           terminationGracePeriodSeconds=4))
    wait_for(lambda: ready(get_pod(kube, "lifecycle-stubborn")), 30, "the pod Ready")
    deleted = time.monotonic()
    kube["core"].delete_namespaced_pod("lifecycle-stubborn", "default")
    time.sleep(2.5)
    assert get_pod(kube, "lifecycle-stubborn") is not None, "a pod ignoring SIGTERM went before its grace period ended"
    wait_for(lambda: get_pod(kube, "lifecycle-stubborn") is None, 10, "the pod gone")
    assert time.monotonic() - deleted >= 3.0  # deletionTimestamp has whole seconds: up to one less than the 4 s


def test_realistic_profile_takes_the_readiness_probe_times(node, kube, pod_times):
    """Under the realistic profile a pod's readiness probe decides: Ready initialDelaySeconds + periodSeconds after start."""
    pod_times("realistic", **{"pod.start": 0.5})
    probe = {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 2, "periodSeconds": 1}
    manifest = bare_pod("lifecycle-probed", node)
    manifest["spec"]["containers"][0]["readinessProbe"] = probe
    kube["core"].create_namespaced_pod("default", manifest)
    seen, _ran_unready, pod = watch_start(kube, "lifecycle-probed")
    started, readied = when(pod.metadata.annotations[STARTED_AT]), when(pod.metadata.annotations[READY_AT])
    assert (readied - started).total_seconds() == pytest.approx(3.0, abs=0.001)
    assert seen["ready"] - seen["running"] >= 3.0 - TOLERANCE, seen
    kube["core"].delete_namespaced_pod("lifecycle-probed", "default", grace_period_seconds=0)


def vm_path(node):
    """The end of the node's VM's ARM path (``/virtualmachinescalesets/<name>/virtualmachines/<id>``, lower case), from its providerID."""
    return node.spec.provider_id.lower().split("/providers/microsoft.compute", 1)[1]


def test_disks_of_pods_arriving_together_attach_in_one_vm_update(node, storage, kube, lab_env, pod_times):
    """While a VM update runs, the disks of two pods that arrive meanwhile queue and go to Azure together in the next one."""
    pod_times(**{"vm.attach": 3.0, "pod.start": 0.2, "pod.ready": 0.2, "pod.stop": 0.2})
    lab_admin = admin(lab_env)
    vm = vm_path(node)
    mark = lab_admin.call("GET", "/requests")["requests"][-1]["seq"]
    began = time.time()
    names = ("batch-first", "batch-second", "batch-third")
    for name in names:
        kube["core"].create_namespaced_persistent_volume_claim("default", claim(f"{name}-data", storage))
    kube["core"].create_namespaced_pod("default", on_node(pod_using(names[0], f"{names[0]}-data"), node))
    wait_for(lambda: [o for o in lab_admin.call("GET", "/operations")["operations"]
                      if o["kind"] == "vm.attach" and o["resourceId"].lower().endswith(vm) and o["started"] >= began],
             60, "the first pod's attach running")
    for name in names[1:]:
        kube["core"].create_namespaced_pod("default", on_node(pod_using(name, f"{name}-data"), node))
    for name in names:
        wait_for(lambda n=name: ready(get_pod(kube, n)), 60, f"{name} Ready")
    puts = [entry for entry in lab_admin.call("GET", f"/requests?since={mark}")["requests"]
            if entry["method"] == "PUT" and entry["path"].lower().endswith(vm) and entry["status"] < 400]
    attaches = [o for o in lab_admin.call("GET", "/operations")["operations"]
                if o["kind"] == "vm.attach" and o["resourceId"].lower().endswith(vm) and o["started"] >= began]
    assert len(puts) == 2 and len(attaches) == 2, (puts, attaches)
    for name in names:
        kube["core"].delete_namespaced_pod(name, "default")
    for name in names:
        wait_for(lambda n=name: get_pod(kube, n) is None, 30, f"{name} gone")
        kube["core"].delete_namespaced_persistent_volume_claim(f"{name}-data", "default")
