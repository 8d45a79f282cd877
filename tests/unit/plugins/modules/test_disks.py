"""disk_snapshot and disk_restore: sources (disk, PVC via kubernetes.core's client, mocked), guards, retain, PV/PVC."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import deadline, k8s_client, k8s_volumes
from ansible_collections.kubedisk.aks.plugins.modules import disk_restore, disk_snapshot
from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.azure_fakes import record_warnings

SUB = "00000000-0000-0000-0000-000000000001"
DISK_ID = "/subscriptions/%s/resourceGroups/MC_rg/providers/Microsoft.Compute/disks/pvc-1" % SUB
SNAP_RG = "rg-backups"


class Model(dict):
    def as_dict(self):
        return dict(self)


def disk(zones=("1",), size=32, sku="Premium_LRS", name="pvc-1", rg="MC_rg", state="Unattached", source=None, prov="Succeeded"):
    return Model(id="/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/disks/%s" % (SUB, rg, name), name=name,
                 location="westeurope", zones=list(zones), sku={"name": sku}, tags={},
                 properties={"diskSizeGB": size, "diskState": state, "provisioningState": prov,
                             "creationData": {"createOption": "Copy" if source else "Empty", "sourceResourceId": source}})


def snapshot(name, source=DISK_ID, created="2026-01-01T00:00:00Z", tags=None, prov="Succeeded", percent=None):
    props = {"creationData": {"createOption": "Copy", "sourceResourceId": source}, "incremental": True, "timeCreated": created,
             "diskSizeGB": 32, "provisioningState": prov}
    if percent is not None:
        props["completionPercent"] = percent
    return Model(id="/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/snapshots/%s" % (SUB, SNAP_RG, name),
                 name=name, location="westeurope", tags=tags if tags is not None else {"kubedisk-aks-source": DISK_ID.lower()},
                 properties=props)


class Poller:
    def __init__(self, result):
        self._result = result

    def wait(self, timeout=None):
        pass

    def done(self):
        return True

    def result(self, timeout=None):
        return self._result


@pytest.fixture
def compute(clients, azure_error):
    c = clients["compute"]
    c.disks.get.return_value = disk()
    c.snapshots.get.side_effect = azure_error(404, "ResourceNotFound")
    c.snapshots.list_by_resource_group.return_value = []
    c.snapshots.begin_create_or_update.side_effect = lambda rg, name, body: Poller(
        Model(body, id="/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/snapshots/%s" % (SUB, rg, name), name=name))
    c.disks.begin_create_or_update.side_effect = lambda rg, name, body: Poller(
        Model(body, id="/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/disks/%s" % (SUB, rg, name), name=name))
    return c


def snap_args(auth, **extra):
    args = dict(auth, name="s1", resource_group=SNAP_RG, source_disk_id=DISK_ID)
    args.update(extra)
    return args


def test_snapshot_create_tags_the_source(run_module, compute, auth):
    result = run_module(disk_snapshot.main, snap_args(auth), diff=True)
    assert result["changed"] and result["source_disk_id"] == DISK_ID
    rg, name, body = compute.snapshots.begin_create_or_update.call_args[0]
    assert body["properties"] == {"creationData": {"createOption": "Copy", "sourceResourceId": DISK_ID}, "incremental": True}
    assert body["tags"]["kubedisk-aks-source"] == DISK_ID.lower() and body["location"] == "westeurope"


def test_snapshot_rerun_and_check_mode_write_nothing(run_module, compute, clients, auth):
    compute.snapshots.get.side_effect = None
    compute.snapshots.get.return_value = snapshot("s1")
    assert not run_module(disk_snapshot.main, snap_args(auth))["changed"]
    assert run_module(disk_snapshot.main, snap_args(auth, tags={"a": "b"}), check_mode=True)["changed"]
    assert clients.writes() == []


def test_snapshot_of_a_missing_disk_creates_nothing(run_module, compute, clients, auth, azure_error):
    compute.disks.get.side_effect = azure_error(404, "ResourceNotFound")
    result = run_module(disk_snapshot.main, snap_args(auth))
    assert result["failed"] and "nothing was created" in result["msg"] and clients.writes() == []


def test_snapshot_name_taken_by_another_source(run_module, compute, clients, auth):
    compute.snapshots.get.side_effect = None
    compute.snapshots.get.return_value = snapshot("s1", source=DISK_ID.replace("pvc-1", "other"))
    result = run_module(disk_snapshot.main, snap_args(auth))
    assert result["failed"] and "from another source" in result["msg"] and clients.writes() == []


def made_meanwhile(compute, azure_error, theirs, refusal):
    """Another run makes snapshot s1 (``theirs``) once this run read it as absent; this run's PUT gets ``refusal``."""
    compute.snapshots.get.side_effect = [azure_error(404, "ResourceNotFound"), azure_error(404, "ResourceNotFound"),
                                         snapshot("s1", source=theirs, prov="Creating"), snapshot("s1", source=theirs)]
    compute.snapshots.begin_create_or_update.side_effect = refusal


def test_snapshot_made_meanwhile_of_the_same_disk_is_reported(run_module, compute, clients, auth, azure_error, monkeypatch):
    monkeypatch.setattr(deadline.time, "sleep", lambda s: None)
    made_meanwhile(compute, azure_error, DISK_ID, azure_error(409, "AnotherOperationInProgress", "snapshot.create runs on s1"))
    result = run_module(disk_snapshot.main, snap_args(auth))
    assert not result["changed"] and result["found_existing"] and result["snapshot"]["source_resource_id"] == DISK_ID
    assert clients.writes() == ["snapshots.begin_create_or_update"], "only the refused PUT, no retry, no tag rewrite"


def test_snapshot_made_meanwhile_of_another_disk_fails_clearly(run_module, compute, clients, auth, azure_error, monkeypatch):
    monkeypatch.setattr(deadline.time, "sleep", lambda s: None)
    other = DISK_ID.replace("pvc-1", "other")
    made_meanwhile(compute, azure_error, other, azure_error(
        400, "BadRequest", "Changing property 'sourceResourceId' is not allowed for existing disk 's1'."))
    result = run_module(disk_snapshot.main, snap_args(auth))
    assert result["failed"] and result["found_existing"]
    assert "snapshot s1 was made meanwhile by another run from another source (%s" % other in result["msg"]
    assert result["snapshot"]["source_resource_id"] == other and result["snapshot"]["tags"]["kubedisk-aks-source"] == DISK_ID.lower()
    assert clients.writes() == ["snapshots.begin_create_or_update"], "the refused PUT only: no source tag rewritten"


def test_retain_deletes_the_oldest_of_this_source_only(run_module, compute, auth):
    compute.snapshots.list_by_resource_group.return_value = [
        snapshot("old1", created="2026-01-01T00:00:00Z"), snapshot("old2", created="2026-01-02T00:00:00Z"),
        snapshot("foreign", created="2025-01-01T00:00:00Z", tags={}),
        snapshot("s1", created="2026-01-03T00:00:00Z"),
    ]
    compute.snapshots.begin_delete.return_value = Poller(None)
    result = run_module(disk_snapshot.main, snap_args(auth, retain=2))
    assert [d.rsplit("/", 1)[-1] for d in result["deleted"]] == ["old1"]
    compute.snapshots.begin_delete.assert_called_once_with(SNAP_RG, "old1")


def test_retain_in_check_mode_counts_the_new_snapshot(run_module, compute, clients, auth):
    compute.snapshots.list_by_resource_group.return_value = [snapshot("old1", created="2026-01-01"), snapshot("old2", created="2026-01-02")]
    result = run_module(disk_snapshot.main, snap_args(auth, retain=2), check_mode=True)
    assert [d.rsplit("/", 1)[-1] for d in result["deleted"]] == ["old1"] and clients.writes() == []


def copy_reads(copies, azure_error):
    """``snapshots.get``: snapshot s1 is absent (so the run makes it); reads of its copy answer ``copies`` in turn."""
    def get(rg, name):
        if name == "s1":
            raise azure_error(404, "ResourceNotFound")
        item = next(copies)
        if isinstance(item, Exception):
            raise item
        return item
    return get


def test_copy_waits_for_completion(run_module, compute, auth, monkeypatch, azure_error):
    monkeypatch.setattr(deadline.time, "sleep", lambda s: None)
    copies = iter([azure_error(404, "ResourceNotFound"), azure_error(404, "ResourceNotFound"),  # first read, last look
                   snapshot("s1-northeurope", percent=40.0), snapshot("s1-northeurope", percent=100.0)])
    compute.snapshots.get.side_effect = copy_reads(copies, azure_error)
    result = run_module(disk_snapshot.main, snap_args(auth, target_location="northeurope"))
    assert result["copied"]["completion_percent"] == 100.0
    body = compute.snapshots.begin_create_or_update.call_args_list[1][0][2]
    assert body["properties"]["creationData"]["createOption"] == "CopyStart" and body["location"] == "northeurope"


def test_copy_made_meanwhile_of_another_snapshot_fails(run_module, compute, clients, auth, azure_error, monkeypatch):
    warned = record_warnings(monkeypatch)
    copies = iter([azure_error(404, "ResourceNotFound"), snapshot("s1-northeurope", source=DISK_ID)])
    compute.snapshots.get.side_effect = copy_reads(copies, azure_error)
    result = run_module(disk_snapshot.main, snap_args(auth, target_location="northeurope"))
    assert result["failed"] and result["found_existing"] and any("copy s1-northeurope was created meanwhile" in w for w in warned)
    assert "snapshot s1-northeurope was made meanwhile by another run but is not a copy of s1" in result["msg"]
    assert clients.writes() == ["snapshots.begin_create_or_update"], "the snapshot only: the copy was found at the last look"


@pytest.mark.parametrize("extra, words", [
    ({"retain": 0}, "retain must be 1 or more"),
    ({"sku": "Premium_LRS"}, "always Standard storage"),
    ({"incremental": False, "target_location": "northeurope"}, "incremental snapshots only"),
    ({"name": "-x"}, "not a valid snapshot name"),
    ({"source_disk_id": "/subscriptions/%s/resourceGroups/x/providers/Microsoft.Compute/snapshots/y" % SUB}, "is not a disk id"),
    ({"source_disk_id": DISK_ID.replace(SUB, "other")}, "set subscription_id to match"),
    ({"target_location": "westeurope"}, "is where the snapshot is made"),
    ({"target_location": "mars"}, "target_location 'mars' is not a region"),
    ({"name": "snap-"}, "not a valid snapshot name"),
    ({"name": "snap\n"}, "not a valid snapshot name"),
])
def test_snapshot_bad_input(run_module, compute, clients, auth, extra, words):
    result = run_module(disk_snapshot.main, snap_args(auth, **extra))
    assert result["failed"] and words in result["msg"] and clients.writes() == []


# ----- PVC source through kubernetes.core's client (mocked: the Kubernetes lab is not there yet) -----
class K8s:
    """Stands in for kubernetes.core's K8SClient: resource(kind, api) and get/create on it."""

    def __init__(self, objects):
        self.objects = objects
        self.created = []

    def resource(self, kind, api_version):
        return kind

    def get(self, resource, name=None, namespace=None):
        key = (resource, namespace, name)
        if key not in self.objects:
            error = Exception("not found")
            error.status = 404
            raise error
        return MagicMock(to_dict=lambda: self.objects[key])

    def create(self, resource, definition, namespace=None):
        self.created.append(definition)
        return MagicMock(to_dict=lambda: definition)


def bound_pvc(driver="disk.csi.azure.com", phase="Bound"):
    return {("PersistentVolumeClaim", "db", "data-0"): {"spec": {"volumeName": "pv-1"}, "status": {"phase": phase}},
            ("PersistentVolume", None, "pv-1"): {"spec": {"csi": {"driver": driver, "volumeHandle": DISK_ID}}}}


def test_pvc_source_reads_the_volume_handle(run_module, compute, auth, monkeypatch):
    k8s = K8s(bound_pvc())
    seen = {}
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: seen.update(kw) or k8s, raising=False)
    result = run_module(disk_snapshot.main, dict(auth, name="s1", resource_group=SNAP_RG, source_pvc={"namespace": "db", "name": "data-0"},
                                                 kubernetes={"kubeconfig": "/k", "context": "lab"}))
    assert result["source_disk_id"] == DISK_ID and seen == {"kubeconfig": "/k", "context": "lab"}
    compute.disks.get.assert_called_once_with("MC_rg", "pvc-1")


@pytest.mark.parametrize("objects, words", [
    ({}, "PVC db/data-0 does not exist"),
    (bound_pvc(phase="Pending"), "is Pending, not Bound"),
    (bound_pvc(driver="file.csi.azure.com"), "is not an Azure Disk CSI volume"),
])
def test_pvc_source_errors(run_module, compute, clients, auth, monkeypatch, objects, words):
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: K8s(objects), raising=False)
    result = run_module(disk_snapshot.main, dict(auth, name="s1", resource_group=SNAP_RG, source_pvc={"namespace": "db", "name": "data-0"}))
    assert result["failed"] and words in result["msg"] and clients.writes() == []


# ----- disk_restore ---------------------------------------------------------------------------------
def restore_args(auth, **extra):
    args = dict(auth, name="r1", resource_group="MC_rg", source_snapshot={"name": "s1", "resource_group": SNAP_RG}, zone="2",
                sku="Premium_LRS", size_gb=64)
    args.update(extra)
    return args


@pytest.fixture
def restore(compute, azure_error):
    compute.snapshots.get.side_effect = None
    compute.snapshots.get.return_value = snapshot("s1")

    def get(rg, name):
        if name == "r1":
            raise azure_error(404, "ResourceNotFound")
        return disk()
    compute.disks.get.side_effect = get
    return compute


def test_restore_into_a_zone(run_module, restore, auth):
    result = run_module(disk_restore.main, restore_args(auth), diff=True)
    body = restore.disks.begin_create_or_update.call_args[0][2]
    assert body["zones"] == ["2"] and body["properties"]["diskSizeGB"] == 64 and body["sku"] == {"name": "Premium_LRS"}
    assert body["properties"]["creationData"]["sourceResourceId"].endswith("/snapshots/s1")
    assert result["changed"] and result["disk"]["zones"] == ["2"]


def test_restore_rerun_writes_nothing(run_module, restore, clients, auth):
    existing = disk(zones=("2",), size=64, name="r1", source=snapshot("s1")["id"])
    restore.disks.get.side_effect = lambda rg, name: existing if name == "r1" else disk()
    assert not run_module(disk_restore.main, restore_args(auth))["changed"]
    assert clients.writes() == []


def test_restore_made_meanwhile_is_reported(run_module, restore, clients, auth, azure_error):
    theirs = disk(zones=("2",), size=64, name="r1", source=snapshot("s1")["id"])
    answers = [azure_error(404, "ResourceNotFound"), theirs]

    def get(rg, name):
        if name != "r1":
            return disk()
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer
    restore.disks.get.side_effect = get
    result = run_module(disk_restore.main, restore_args(auth))
    assert not result["changed"] and result["found_existing"] and result["disk"]["zones"] == ["2"]
    assert clients.writes() == [], "found at the last look before the write"
    answers[:] = [azure_error(404, "ResourceNotFound"), azure_error(404, "ResourceNotFound"),
                  disk(zones=("1",), size=64, name="r1", source=snapshot("s1")["id"])]
    restore.disks.begin_create_or_update.side_effect = azure_error(409, "AnotherOperationInProgress", "disk.create runs on r1")
    result = run_module(disk_restore.main, restore_args(auth))
    assert result["failed"] and result["found_existing"] and "disk r1 was made meanwhile by another run but" in result["msg"]
    assert "zone 2 cannot change" in result["msg"] and clients.writes() == ["disks.begin_create_or_update"]


@pytest.mark.parametrize("extra, words", [
    ({"size_gb": 16}, "cannot shrink"),
    ({"zone": "4"}, "not an availability zone"),
    ({"sku": "Premium_ZRS"}, "takes no zone"),
    ({"sku": "PremiumV2_LRS", "zone": None}, "disks are zonal"),
    ({"pvc": {"name": "p", "namespace": "n"}}, "pvc needs pv"),
    ({"source_snapshot": None, "source_disk_id": DISK_ID, "zone": "3"}, "a clone stays in its source disk's zone 1"),
    ({"name": "bad name"}, "not a valid disk name"),
    ({"name": "disk."}, "not a valid disk name"),
    ({"location": "mars"}, "location 'mars' is not a region"),
    ({"location": "westcentralus"}, "westcentralus has no availability zone 2"),
])
def test_restore_bad_input(run_module, restore, clients, auth, extra, words):
    args = dict((k, v) for k, v in restore_args(auth, **extra).items() if v is not None)
    result = run_module(disk_restore.main, args)
    assert result["failed"] and words in result["msg"] and clients.writes() == []


def test_restore_existing_disk_guards(run_module, restore, clients, auth):
    existing = disk(zones=("1",), size=128, name="r1", source=snapshot("s1")["id"], state="Attached")
    restore.disks.get.side_effect = lambda rg, name: existing if name == "r1" else disk()
    result = run_module(disk_restore.main, restore_args(auth))
    assert result["failed"] and "zone 2 cannot change" in result["msg"] and "would shrink it" in result["msg"]
    result = run_module(disk_restore.main, restore_args(auth, zone="1", size_gb=256))
    assert result["failed"] and "only while unattached" in result["msg"] and clients.writes() == []


def test_restore_pv_and_pvc_through_kubernetes_core(run_module, restore, auth, monkeypatch):
    k8s = K8s({})
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: k8s, raising=False)
    result = run_module(disk_restore.main, restore_args(auth, pv={"name": "pv-r1", "storage_class": "managed-csi-premium"},
                                                        pvc={"name": "data-r1", "namespace": "db"}))
    pv, pvc = k8s.created
    assert pv["spec"]["csi"]["volumeHandle"].endswith("/disks/r1") and pv["spec"]["csi"]["driver"] == "disk.csi.azure.com"
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "topology.disk.csi.azure.com/zone", "operator": "In", "values": ["westeurope-2"]}
    assert pv["spec"]["claimRef"]["name"] == "data-r1" and pvc["spec"]["volumeName"] == "pv-r1"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "64Gi" and result["pv"]["node_affinity_zone"] == "2"


def test_restore_pv_of_another_disk_is_refused(run_module, restore, auth, monkeypatch):
    k8s = K8s({("PersistentVolume", None, "pv-r1"): {"spec": {"csi": {"volumeHandle": "/other"}}}})
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: k8s, raising=False)
    result = run_module(disk_restore.main, restore_args(auth, pv={"name": "pv-r1"}))
    assert result["failed"] and "points at /other" in result["msg"] and "Nothing was created" in result["msg"]
    assert not restore.disks.begin_create_or_update.called


def test_restore_with_kubernetes_unreachable_creates_no_disk(run_module, restore, auth, monkeypatch):
    class Unreachable(K8s):
        def get(self, resource, name=None, namespace=None):
            raise Exception("connection refused")
    monkeypatch.setattr(k8s_client, "get_api_client", lambda **kw: Unreachable({}), raising=False)
    result = run_module(disk_restore.main, restore_args(auth, pv={"name": "pv-r1"}))
    assert result["failed"] and "cannot reach Kubernetes" in result["msg"] and "Nothing was created" in result["msg"]
    assert not restore.disks.begin_create_or_update.called


def test_restore_waits_for_a_disk_still_being_created(run_module, restore, clients, auth, monkeypatch):
    from ansible_collections.kubedisk.aks.plugins.module_utils import deadline  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(deadline.time, "sleep", lambda seconds: None)
    source = snapshot("s1")["id"]
    answers = [disk(zones=("2",), size=64, name="r1", source=source, prov=state) for state in ("Creating", "Updating", "Succeeded")]
    restore.disks.get.side_effect = lambda rg, name: answers.pop(0) if name == "r1" else disk()
    result = run_module(disk_restore.main, restore_args(auth))
    assert not result.get("failed") and not result["changed"] and not answers and clients.writes() == []


def test_zrs_pv_has_no_zone_affinity():
    pv = k8s_volumes.pv_definition("pv", "/d", 10, "westeurope", None, "Premium_ZRS", "ext4", "", None, "Retain")
    assert "nodeAffinity" not in pv["spec"]
