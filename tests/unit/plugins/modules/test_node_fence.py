"""node_fence: the decision (VM power state x Ready), taint patches, waits, unfence, error branches."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline
from ansible_collections.kubedisk.aks.plugins.modules import node_fence
from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.kube_fakes import SUB, VMSS, FakeKube, node, pod

OOS = "node.kubernetes.io/out-of-service"
AUTH = {"subscription_id": SUB, "auth_source": "credential", "client_id": "c", "secret": "s", "tenant": "t"}


class View(dict):
    def as_dict(self):
        return dict(self)


@pytest.fixture
def lab(monkeypatch, azure_error):
    """lab(objects, power) -> FakeKube; power None means the VM does not exist (404)."""
    def make(objects, power="deallocated"):
        fake = FakeKube(objects)
        monkeypatch.setattr(AzureModule, "kube", lambda self: fake)
        compute = MagicMock()
        if power is None:
            compute.virtual_machine_scale_set_vms.get_instance_view.side_effect = azure_error(404, "NotFound")
        else:
            compute.virtual_machine_scale_set_vms.get_instance_view.return_value = View(
                statuses=[{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/%s" % power}])
        monkeypatch.setattr(AzureModule, "client", lambda self, name: compute)
        monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (True, check()[1]))
        fake.compute = compute
        return fake
    return make


def test_power_state_from_the_instance_view():
    view = {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/deallocated"}]}
    assert node_fence.power_state(view) == "deallocated"
    assert node_fence.power_state({}) is None


def dead_node(**kwargs):
    return node("n0", "we-1", ready="Unknown", **kwargs)


@pytest.mark.parametrize("power,ready,force,expect", [
    ("running", False, False, "VM is running"), ("starting", None, False, "VM is starting"),
    (None, None, False, "unknown power state"), ("deallocated", True, False, "still Ready"),
    ("running", True, True, "still Ready"), ("deallocated", None, False, None), ("stopped", False, False, None),
    ("gone", None, False, None), ("running", None, True, None)])
def test_decision(power, ready, force, expect):
    problem = node_fence.fence_decision(power, ready, force)
    assert (problem is None) if expect is None else (expect in problem)


def test_fences_a_deallocated_notready_node_then_rerun_writes_nothing(lab, run_module):
    fake = lab([dead_node(), pod("web-0", "n0", tolerations=[{"key": "x", "operator": "Exists"}])])
    result = run_module(node_fence.main, dict(AUTH, name="n0"), diff=True)
    assert result["changed"] and result["fenced"] and result["power_state"] == "deallocated"
    assert result["diff"]["after"]["taints"][-1]["key"] == OOS
    taints = fake.get("Node", "n0")["spec"]["taints"]
    assert [t["key"] for t in taints] == [OOS] and taints[0]["effect"] == "NoExecute" and taints[0]["value"] == "nodeshutdown"
    writes = len(fake.writes)
    rerun = run_module(node_fence.main, dict(AUTH, name="n0"))
    assert not rerun["changed"] and rerun["fenced"] and len(fake.writes) == writes


def test_check_mode_writes_nothing(lab, run_module):
    fake = lab([dead_node()])
    result = run_module(node_fence.main, dict(AUTH, name="n0"), check_mode=True)
    assert result["changed"] and not fake.writes


def test_gone_vm_can_be_fenced(lab, run_module):
    lab([dead_node()], power=None)
    assert run_module(node_fence.main, dict(AUTH, name="n0"))["power_state"] == "gone"


@pytest.mark.parametrize("code,scale_set,msg", [
    ("ResourceGroupNotFound", True, "Azure answers ResourceGroupNotFound (404)"),
    ("ParentResourceNotFound", True, "Azure answers ParentResourceNotFound (404)"),
    ("ResourceNotFound", False, "scale set %s does not exist in resource group mc_rg" % VMSS),
])
def test_a_404_that_is_not_the_vm_itself_is_refused(lab, run_module, azure_error, code, scale_set, msg):
    fake = lab([dead_node()])
    fake.compute.virtual_machine_scale_set_vms.get_instance_view.side_effect = azure_error(404, code)
    if not scale_set:
        fake.compute.virtual_machine_scale_sets.get.side_effect = azure_error(404, "ResourceNotFound")
    result = run_module(node_fence.main, dict(AUTH, name="n0"))
    assert result["failed"] and msg in result["msg"] and "force: true" in result["msg"], result
    assert "nothing was changed" in result["msg"] and not fake.writes


def test_vm_missing_from_an_existing_scale_set_is_gone(lab, run_module, azure_error):
    fake = lab([dead_node()])
    fake.compute.virtual_machine_scale_set_vms.get_instance_view.side_effect = azure_error(404, "ResourceNotFound")
    result = run_module(node_fence.main, dict(AUTH, name="n0"))
    assert result["fenced"] and result["power_state"] == "gone"


@pytest.mark.parametrize("objects,args,msg", [
    ([], {"name": "n9"}, "node n9 not found"),
    ([node("n0", "we-1")], {"name": "n0"}, "still Ready"),
    ([dead_node(provider="kind://x")], {"name": "n0"}, "which is not an Azure VM"),
    ([dead_node(provider="azure:///subscriptions/other/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets/v/virtualMachines/1")],
     {"name": "n0"}, "runs in subscription other"),
    ([dead_node()], {"name": "n0", "timeout": 0}, "timeout must be at least 1"),
    ([dead_node()], {"name": ""}, "empty string"),
])
def test_refusals_change_nothing(lab, run_module, objects, args, msg):
    fake = lab(objects)
    result = run_module(node_fence.main, dict(AUTH, **args))
    assert result["failed"] and msg in result["msg"] and not fake.writes


def test_running_vm_refused_naming_state(lab, run_module):
    fake = lab([dead_node()], power="running")
    result = run_module(node_fence.main, dict(AUTH, name="n0"))
    assert "its VM is running in Azure" in result["msg"] and "force: true" in result["msg"] and not fake.writes
    forced = run_module(node_fence.main, dict(AUTH, name="n0", force=True))
    assert forced["changed"] and forced["power_state"] is None


def test_waits_for_pods_and_attachments(lab, run_module, monkeypatch):
    lab([dead_node(), pod("web-0", "n0"),
         {"kind": "VolumeAttachment", "metadata": {"name": "va0"}, "spec": {"nodeName": "n0", "source": {"persistentVolumeName": "pv0"}}}])
    monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (False, check()[1]))
    result = run_module(node_fence.main, dict(AUTH, name="n0"))
    assert "pods ['default/web-0'] are still there" in result["msg"] and "va0" in result["msg"]


def test_unfence(lab, run_module, monkeypatch):
    taint = {"key": OOS, "value": "nodeshutdown", "effect": "NoExecute"}
    other = {"key": "keep", "effect": "NoSchedule"}
    fake = lab([node("n0", "we-1", taints=[other, taint])], power="running")
    result = run_module(node_fence.main, dict(AUTH, name="n0", state="unfenced"))
    assert result["changed"] and not result["fenced"]
    assert fake.get("Node", "n0")["spec"]["taints"] == [other]
    assert not run_module(node_fence.main, dict(AUTH, name="n0", state="unfenced"))["changed"]
    fake = lab([dead_node(taints=[taint])])
    result = run_module(node_fence.main, dict(AUTH, name="n0", state="unfenced", wait=False))
    assert "is not Ready" in result["msg"] and not fake.writes
    monkeypatch.setattr(Deadline, "poll_until", lambda self, check, **pacing: (False, None))
    result = run_module(node_fence.main, dict(AUTH, name="n0", state="unfenced", timeout=5))
    assert "did not become Ready within timeout=5 s" in result["msg"] and "it is deallocated" in result["msg"]
