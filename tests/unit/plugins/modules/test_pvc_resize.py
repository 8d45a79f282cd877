"""pvc_resize: refusals before any write, mode choice, offline steps and resume record, idempotent rerun."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline
from ansible_collections.kubedisk.aks.plugins.modules import pvc_resize
from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.kube_fakes import SUB, FakeKube, pod, pv, pvc, storage_class

AUTH = {"subscription_id": SUB, "auth_source": "credential", "client_id": "c", "secret": "s", "tenant": "t"}


class Model(dict):
    def as_dict(self):
        return dict(self)


def sts(replicas=2, retention=None, annotation=None, template="1Gi"):
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": template}}}}]}
    if retention:
        spec["persistentVolumeClaimRetentionPolicy"] = {"whenScaled": retention}
    meta = {"name": "web", "namespace": "default"}
    if annotation:
        meta["annotations"] = {pvc_resize.ANNOTATION: annotation}
    return {"kind": "StatefulSet", "metadata": meta, "spec": spec, "status": {"readyReplicas": replicas}}


def objects(**kw):
    return [sts(**kw), storage_class(), pvc("data-web-0", "pv0"), pvc("data-web-1", "pv1"), pv("pv0", "we-1"), pv("pv1", "we-2"),
            pod("web-0", "n0", ["data-web-0"], labels={"app": "web"}, owner=("StatefulSet", "web"))]


@pytest.fixture
def lab(monkeypatch):
    def make(objs, sku="StandardSSD_LRS", size=1, shares=1):
        fake = FakeKube(objs)
        monkeypatch.setattr(AzureModule, "kube", lambda self: fake)
        compute = MagicMock()
        compute.disks.get.side_effect = lambda rg, name: Model(name=name, sku={"name": sku},
                                                               properties={"diskSizeGB": size, "maxShares": shares, "diskState": "Unattached"})
        monkeypatch.setattr(AzureModule, "client", lambda self, name: compute)
        return fake
    return make


@pytest.mark.parametrize("objs,args,msg", [
    (objects(), {"statefulset": "web", "size": "512Mi"}, "smaller and disks never shrink"),
    (objects(), {"pvcs": ["nope"], "size": "5Gi"}, "PVC nope not found in namespace default"),
    (objects()[:1] + [storage_class(expansion=False)] + objects()[2:], {"statefulset": "web", "size": "5Gi"}, "does not allow volume expansion"),
    (objects(retention="Delete"), {"statefulset": "web", "size": "5Gi", "mode": "offline"}, "whenScaled: Delete"),
    (objects() + [{"kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "default"},
                   "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}],
     {"statefulset": "web", "size": "5Gi", "mode": "offline"}, "PodDisruptionBudget pdb (minAvailable 1)"),
    (objects(), {"statefulset": "nope", "size": "5Gi"}, "StatefulSet default/nope not found"),
    (objects(), {"statefulset": "web", "size": "lots"}, "not a Kubernetes quantity"),
    (objects(), {"statefulset": "web", "size": "0"}, "larger than 0"),
    (objects(), {"statefulset": "web", "claim_templates": ["x"], "size": "5Gi"}, "has no volumeClaimTemplate x"),
    (objects(), {"statefulset": "web", "ordinals": [-1], "size": "5Gi"}, "ordinals must be 0 or more"),
    (objects(annotation=json.dumps({"replicas": 2, "size": "8Gi"})), {"statefulset": "web", "size": "5Gi", "mode": "offline"},
     "records an interrupted resize to 8Gi"),
    (objects(annotation="garbage"), {"statefulset": "web", "size": "5Gi"}, "is not a resize record"),
    (objects(), {"pvcs": ["data-web-0"], "size": "5Gi", "mode": "online"}, "shared disk"),
    ([o for o in objects() if o["kind"] != "StorageClass"], {"statefulset": "web", "size": "5Gi"}, "which does not exist"),
])
def test_refusals_write_nothing(lab, run_module, objs, args, msg):
    fake = lab(objs, shares=2 if "shared" in msg else 1)
    result = run_module(pvc_resize.main, dict(AUTH, **args))
    assert result["failed"] and msg in result["msg"], result["msg"]
    assert not fake.writes


def test_unbound_claim_refused(lab, run_module):
    objs = objects()
    objs[2] = pvc("data-web-0", None, phase="Pending")
    assert "is Pending, not Bound" in run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Gi"))["msg"] if lab(objs) else None


def test_online_blockers():
    assert pvc_resize.online_blockers({"name": "d", "sku": {"name": "Premium_LRS"}, "properties": {"diskSizeGB": 4095}}, 4096)
    assert not pvc_resize.online_blockers({"name": "d", "sku": {"name": "PremiumV2_LRS"}, "properties": {"diskSizeGB": 4095}}, 4096)
    assert "shared" in pvc_resize.online_blockers({"name": "d", "sku": {"name": "Premium_LRS"},
                                                   "properties": {"diskSizeGB": 4, "maxShares": 2}}, 8)[0]


def test_auto_goes_offline_past_4tib_in_check_mode(lab, run_module):
    fake = lab(objects(), sku="Premium_LRS", size=4095)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Ti", ignore_pdb=True), check_mode=True, diff=True)
    assert result["changed"] and result["mode"] == "offline" and "past 4 TiB" in result["mode_reason"]
    assert result["diff"]["after"]["pvcs"]["data-web-0"] == "5Ti" and not fake.writes


def test_already_big_enough_is_a_no_op(lab, run_module):
    objs = objects()
    objs[2], objs[3] = pvc("data-web-0", "pv0", size="5Gi"), pvc("data-web-1", "pv1", size="5Gi")
    fake = lab(objs)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Gi", mode="offline"))
    assert not result["changed"] and result["mode"] is None and not fake.writes


def test_offline_records_scales_down_and_back(lab, run_module, monkeypatch):
    fake = lab(objects())
    monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (True, None))
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Gi", mode="offline", update_template=True))
    assert result["changed"] and result["mode"] == "offline", result
    first = fake.writes[0]
    assert first[1] == "StatefulSet" and first[3]["spec"]["replicas"] == 0
    record = json.loads(first[3]["metadata"]["annotations"][pvc_resize.ANNOTATION])
    assert record["replicas"] == 2 and record["size"] == "5Gi" and record["pvcs"] == ["data-web-0", "data-web-1"]
    kinds = [(w[0], w[1]) for w in fake.writes]
    assert kinds.count(("patch", "PersistentVolumeClaim")) == 2
    assert ("delete", "StatefulSet") in kinds and ("create", "StatefulSet") in kinds
    assert [w for w in fake.writes if w[0] == "delete"][0][3] == "Orphan"
    scale_back = [w for w in fake.writes if w[1] == "StatefulSet" and w[0] == "patch" and w[3].get("spec", {}).get("replicas") == 2]
    assert scale_back
    created = fake.get("StatefulSet", "web", "default")
    assert created["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert pvc_resize.ANNOTATION not in (created["metadata"].get("annotations") or {})
    assert result["statefulset"]["template_updated"] and "downtime_seconds" in result


def test_resume_keeps_recorded_replicas(lab, run_module, monkeypatch):
    record = json.dumps({"replicas": 2, "size": "5Gi", "pvcs": ["data-web-0"], "started": 1.0})
    objs = objects(replicas=0, annotation=record)
    fake = lab(objs)
    monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (True, None))
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Gi", mode="offline"))
    assert result["statefulset"]["resumed"] and result["statefulset"]["replicas"] == 2
    assert any(w[1] == "StatefulSet" and w[3].get("spec", {}).get("replicas") == 2 for w in fake.writes)
    assert result["downtime_seconds"] > 1000


def test_timeout_message_says_rerun_resumes(lab, run_module, monkeypatch):
    lab(objects())
    monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (False, "web-0 on n0"))
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Gi", mode="offline", timeout=5))
    assert "scaling StatefulSet web to 0 did not happen within timeout=5 s (web-0 on n0)" in result["msg"]
    assert "rerun to resume" in result["msg"]


def test_offline_refuses_claims_of_a_deployment(lab, run_module):
    objs = objects() + [pod("other", "n1", ["data-web-1"], owner=("ReplicaSet", "rs"))]
    fake = lab(objs)
    result = run_module(pvc_resize.main, dict(AUTH, pvcs=["data-web-1"], size="5Gi", mode="offline"))
    assert "belong to one StatefulSet" in result["msg"] and not fake.writes


@pytest.fixture
def checks_once(monkeypatch):
    """Every wait calls its check once and goes on (a check that raises stops the run, as in a real wait)."""
    monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (True, check()[1]))


@pytest.mark.parametrize("sku,size,ok", [("StandardSSD_LRS", "1Ei", False), ("Premium_LRS", "32768Gi", False),
                                         ("Premium_LRS", "32767Gi", True), ("PremiumV2_LRS", "65536Gi", True),
                                         ("UltraSSD_LRS", "65537Gi", False)])
def test_size_past_the_sku_limit_is_refused_before_any_write(lab, run_module, sku, size, ok):
    fake = lab(objects(), sku=sku)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size=size, mode="offline", ignore_pdb=True), check_mode=True)
    assert not fake.writes
    assert ok == (not result.get("failed")), result
    if not ok:
        assert "largest %s disk Azure makes is" % sku in result["msg"] and "nothing was changed" in result["msg"]


def test_sku_from_pv_attributes_then_storage_class():
    from ansible_collections.kubedisk.aks.plugins.module_utils.k8s_volumes import disk_sku, size_limit_refusal
    assert disk_sku({"spec": {"csi": {"volumeAttributes": {"skuname": "UltraSSD_LRS"}}}}) == "UltraSSD_LRS"
    assert disk_sku({}, {"parameters": {"storageaccounttype": "Premium_LRS"}}) == "Premium_LRS"
    assert disk_sku({}, {"parameters": {}}) == "StandardSSD_LRS"
    assert size_limit_refusal("PremiumV2_LRS", 65537, "d") and not size_limit_refusal("premiumv2_lrs", 65536, "d")


@pytest.mark.parametrize("replicas", [0, 1])
def test_claims_come_from_the_existing_claims_not_the_replica_count(lab, run_module, replicas):
    objs = objects(replicas=replicas) + [pvc("data-web-3", "pv3"), pv("pv3", "we-1"), pvc("other-web-9", "pv9")]
    lab(objs)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Gi", mode="offline", ignore_pdb=True), check_mode=True)
    assert [e["name"] for e in result["pvcs"]] == ["data-web-0", "data-web-1", "data-web-3"], result
    assert all(e["changed"] and e["after"] == "5Gi" for e in result["pvcs"])


def test_a_run_that_loses_the_race_for_the_statefulset_changes_nothing(lab, run_module, monkeypatch):
    fake = lab(objects())
    patch = fake.patch

    def other_run_first(kind, name, body, namespace=None, api_version="v1", resource_version=None):
        if kind == "StatefulSet" and resource_version and not fake.writes:
            other = fake.objects[("StatefulSet", "default", "web")]
            other["metadata"]["annotations"] = {pvc_resize.ANNOTATION: json.dumps({"replicas": 2, "size": "10Gi", "pvcs": []})}
            fake.bump(other)
        return patch(kind, name, body, namespace, api_version, resource_version)

    monkeypatch.setattr(fake, "patch", other_run_first)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="9Gi", mode="offline"))
    assert result["failed"] and "another run took StatefulSet web down first, for a resize to 10Gi" in result["msg"], result
    assert "nothing was changed" in result["msg"] and not fake.writes and not result["changes"]


def test_online_timeout_sets_the_requests_back_and_says_so(lab, run_module, monkeypatch):
    fake = lab(objects())
    monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (False, "data-web-0 at 1Gi"))
    result = run_module(pvc_resize.main, dict(AUTH, pvcs=["data-web-0"], size="5Gi", mode="online"))
    assert "did not finish within timeout" in result["msg"] and "PVC data-web-0 request set back to 1Gi" in result["msg"]
    assert "nothing was changed" not in result["msg"]
    assert result["changes"] == ["PVC data-web-0 request set from 1Gi to 5Gi", "PVC data-web-0 request set back to 1Gi"]
    assert fake.get("PersistentVolumeClaim", "data-web-0", "default")["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_auto_refused_online_without_an_offline_way_sets_back(lab, run_module, checks_once):
    objs = objects() + [{"kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "default"},
                         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}]
    objs[2]["status"]["conditions"] = [{"type": "ControllerResizeError", "status": "True",
                                        "message": "OperationNotAllowed: resizing an attached disk is not allowed"}]
    fake = lab(objs)
    result = run_module(pvc_resize.main, dict(AUTH, pvcs=["data-web-0"], size="5Gi"))
    assert "Azure refused to grow the attached disks" in result["msg"] and "PodDisruptionBudget pdb" in result["msg"], result
    assert "request set back to 1Gi" in result["msg"] and "nothing was changed" not in result["msg"]
    assert fake.get("PersistentVolumeClaim", "data-web-0", "default")["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_offline_stops_when_the_resizer_gives_up_and_points_to_abort(lab, run_module, checks_once):
    objs = objects()
    for claim in objs[2:4]:
        claim["status"]["allocatedResourceStatuses"] = {"storage": "ControllerResizeInfeasible"}
        claim["status"]["conditions"] = [{"type": "ControllerResizeError", "status": "True", "message": "OutOfRange"}]
    lab(objs)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="5Gi", mode="offline"))
    assert "gave up growing data-web-0 (OutOfRange)" in result["msg"] and "abort: true" in result["msg"], result
    assert "scaled from 2 to 0 replicas" in result["msg"]


def test_abort_sets_back_restores_replicas_and_clears_the_record(lab, run_module, checks_once):
    record = json.dumps({"replicas": 2, "size": "1048576Ti", "pvcs": ["data-web-0", "data-web-1"], "started": 1.0,
                         "requests": {"data-web-0": "1Gi", "data-web-1": "1Gi"}})
    objs = objects(replicas=0, annotation=record)
    objs[2], objs[3] = pvc("data-web-0", "pv0", request="1Ei"), pvc("data-web-1", "pv1", request="1Ei")
    fake = lab(objs)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", abort=True))
    assert result["changed"] and result["statefulset"]["aborted"], result
    web = fake.get("StatefulSet", "web", "default")
    assert web["spec"]["replicas"] == 2 and pvc_resize.ANNOTATION not in web["metadata"].get("annotations", {})
    for name in ("data-web-0", "data-web-1"):
        assert fake.get("PersistentVolumeClaim", name, "default")["spec"]["resources"]["requests"]["storage"] == "1Gi"
    rerun = run_module(pvc_resize.main, dict(AUTH, statefulset="web", abort=True))
    assert not rerun["changed"] and "nothing to abort" in rerun["mode_reason"]
    again = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="2Gi", mode="offline"), check_mode=True)
    assert again["changed"] and not again.get("failed"), again


def test_pending_request_can_be_lowered_but_not_below_the_capacity(lab, run_module):
    objs = objects()
    objs[2] = pvc("data-web-0", "pv0", request="1Ei")
    lab(objs)
    lowered = run_module(pvc_resize.main, dict(AUTH, pvcs=["data-web-0"], size="3Gi", mode="offline"), check_mode=True)
    assert lowered["changed"] and not lowered.get("failed"), lowered
    objs[2] = pvc("data-web-0", "pv0", size="5Gi")
    objs[4] = pv("pv0", "we-1", size="5Gi")
    lab(objs)
    assert "never shrink" in run_module(pvc_resize.main, dict(AUTH, pvcs=["data-web-0"], size="3Gi"))["msg"]


@pytest.mark.parametrize("args,msg", [({"statefulset": "web"}, "size is required"),
                                      ({"statefulset": "web", "abort": True, "size": "5Gi"}, "takes no size")])
def test_size_and_abort(lab, run_module, args, msg):
    fake = lab(objects())
    assert msg in run_module(pvc_resize.main, dict(AUTH, **args))["msg"] and not fake.writes


def test_a_claim_waiting_for_its_file_system_resize_is_refused_before_any_write(lab, run_module):
    objs = objects(replicas=0)
    objs[3]["status"]["allocatedResourceStatuses"] = {"storage": "NodeResizePending"}
    objs[5]["spec"]["capacity"]["storage"] = "2Gi"
    fake = lab(objs)
    result = run_module(pvc_resize.main, dict(AUTH, statefulset="web", size="3Gi", mode="offline"))
    assert "PVC data-web-1 still waits for a pod to mount it" in result["msg"] and "nothing was changed" in result["msg"]
    assert not fake.writes
