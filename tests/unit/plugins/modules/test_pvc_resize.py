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
