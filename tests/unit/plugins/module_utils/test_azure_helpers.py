"""Error formatting, ids and names, comparison and diff helpers."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils import azure_diff, azure_errors, azure_ids, azure_models, azure_tags


class Resp:
    def __init__(self, headers):
        self.headers = headers


class Err(Exception):
    def __init__(self, code, message, status=400, headers=None):
        super().__init__(message)
        self.error = type("E", (), {"code": code, "message": message, "target": None})()
        self.status_code = status
        self.response = Resp(headers or {})
        self.message = message


def test_error_details_and_format():
    exc = Err("PrincipalNotFound", "Principal abc does not exist", 400,
              {"x-ms-request-id": "r-1", "x-ms-correlation-request-id": "c-1"})
    details = azure_errors.error_details(exc)
    assert details == {"code": "PrincipalNotFound", "message": "Principal abc does not exist", "status": 400,
                       "request_id": "r-1", "correlation_id": "c-1"}
    line = azure_errors.format_error("creating x", details)
    assert line == "creating x: PrincipalNotFound (HTTP 400): Principal abc does not exist [request id r-1 / correlation id c-1]"


def test_error_without_body_uses_header_or_type():
    exc = Err(None, "boom", 500, {"x-ms-error-code": "InternalError"})
    assert azure_errors.error_code(exc) == "InternalError"
    plain = azure_errors.error_details(ValueError("x"))
    assert plain["code"] == "ValueError" and plain["request_id"] is None


def test_real_sdk_error_details(azure_error):
    exc = azure_error(409, "RoleAssignmentExists", "The role assignment already exists.", {"x-ms-correlation-request-id": "c"})
    details = azure_errors.error_details(exc)
    assert details["code"] == "RoleAssignmentExists" and details["status"] == 409
    assert details["request_id"] == "req-RoleAssignmentExists" and details["correlation_id"] == "c"
    assert details["message"] == "The role assignment already exists."


def test_ids():
    rid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d1"
    assert azure_ids.parse_resource_id(rid) == {"subscription": "s", "resource_group": "rg", "provider": "Microsoft.Compute",
                                                "type": "disks", "name": "d1"}
    assert azure_ids.parse_resource_id("/subscriptions/s/resourceGroups/rg") == {"subscription": "s", "resource_group": "rg"}
    assert azure_ids.parse_resource_id("/subscriptions/s") == {"subscription": "s"}
    assert azure_ids.parse_resource_id("disks/d1") is None
    assert azure_ids.parse_resource_id("/subscriptions/s/resourceGroups/rg/providers") is None
    assert azure_ids.parse_resource_id("/subscriptions/s/resourceGroups/rg/") == {"subscription": "s", "resource_group": "rg"}
    vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/v/virtualMachines/3"
    assert azure_ids.parse_resource_id(vm)["name"] == "v"
    assert azure_ids.resource_id(subscription="s", resource_group="rg", namespace="Microsoft.Compute", type="disks", name="d1") == rid
    assert azure_ids.same_id(rid.upper(), rid + "/")
    assert azure_ids.trailing_guid("/providers/Microsoft.Authorization/roleDefinitions/ABC") == "abc"


def test_assignment_name_is_deterministic_and_case_insensitive():
    one = azure_ids.assignment_name("/subscriptions/S/resourceGroups/RG", "P", "R")
    assert one == azure_ids.assignment_name("/subscriptions/s/resourcegroups/rg/", "p", "r")
    assert one != azure_ids.assignment_name("/subscriptions/s/resourcegroups/rg", "p", "other")
    assert azure_ids.is_guid(one)


@pytest.mark.parametrize("check, good, bad", [
    (azure_ids.valid_resource_group, ["rg-1", "a.b(c)_d"], ["", "x" * 91, "ends.", "bad/slash"]),
    (azure_ids.valid_agent_pool, ["system", "pool1"], ["Pool", "1pool", "toolongpoolname", "a-b"]),
    (azure_ids.valid_cluster_name, ["aks-1", "a"], ["-a", "a-", "a" * 64, "a b"]),
    (azure_ids.valid_disk_name, ["pvc-1", "disk_1.a", "d_", "a" * 80], ["-d", "", "a" * 81, "d-", "d.", "d\n"]),
    (azure_ids.is_guid, ["3F2504E0-4F89-11D3-9A0C-0305E82C3301"], ["3f2504e0-4f89-11d3-9a0c-0305e82c3301\n", "x", None]),
    (azure_ids.valid_role_name, ["Reader", "Virtual Machine Contributor"],
     ["", "Reader\n", " Reader", "../../roleDefinitions/x", "a'b"]),
    (azure_ids.is_role_definition_id,
     ["/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
      "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/"
      "acdd72a7-3385-48ef-bd42-f606fba81ae7"],
     ["../../roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", "roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
      "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7\n"]),
])
def test_names(check, good, bad):
    assert all(check(n) for n in good)
    assert not any(check(n) for n in bad)


def test_scrub_removes_secrets_at_any_depth():
    value = {"a": 1, "secret": "s", "nested": [{"kubeconfig": "k", "b": 2}], "Password": "p"}
    assert azure_diff.scrub(value) == {"a": 1, "nested": [{"b": 2}]}
    assert azure_diff.make_diff(None, {"secret": 1, "x": 2}) == {"before": {}, "after": {"x": 2}}


def test_compare_helpers():
    assert azure_diff.norm_zones([3, "1", "2"]) == ["1", "2", "3"]
    assert azure_diff.same_text("Standard_LRS", "standard_lrs") and not azure_diff.same_text(None, "x")
    assert azure_tags.tags_after({"a": "1"}, {"b": "2"}, True) == {"a": "1", "b": "2"}
    assert azure_tags.tags_after({"a": "1"}, {"b": "2"}, False) == {"b": "2"}
    assert azure_tags.tags_after({"a": "1"}, None, False) is None


class TypespecModel:
    def __init__(self, **properties):
        self.properties = properties

    def as_dict(self):
        return {"properties": dict(self.properties)}


def test_to_rest_turns_models_into_rest_dicts():
    assert azure_models.to_rest([TypespecModel(diskSizeGB=4), ("x", None)]) == [{"properties": {"diskSizeGB": 4}}, ["x", None]]
    with pytest.raises(TypeError, match="cannot turn 'object'"):
        azure_models.to_rest(object())


@pytest.mark.parametrize("tags, words", [
    ({"k%d" % i: "v" for i in range(51)}, "at most 50"),
    ({"k" * 513: "v"}, "at most 512"),
    ({"k": "v" * 257}, "at most 256"),
    ({"a<b": "v"}, "'<'"),
    ({"a\\b": "v"}, "'\\\\'"),
    ({"a?b": "v"}, "'?'"),
    ({" ": "v"}, "empty"),
])
def test_tags_beyond_azures_limits(tags, words):
    assert words in azure_tags.tags_problem(tags)


def test_tags_within_azures_limits():
    assert azure_tags.tags_problem({"k%d" % i: "v" * 256 for i in range(50)}) is None
    assert azure_tags.tags_problem(None) is None and azure_tags.tags_problem({"cost": 5}) is None
