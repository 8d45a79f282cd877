"""resource_group: create, converge, tags, location guard, check mode, diff, guarded delete."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.kubedisk.aks.plugins.modules import resource_group

from ansible_collections.kubedisk.aks.tests.unit.plugins.modules.azure_fakes import record_warnings, sdk_answers

RG_ID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1"


def group(tags=None, location="westeurope"):
    return SimpleNamespace(id=RG_ID, name="rg1", location=location, tags=tags or {},
                           properties=SimpleNamespace(provisioning_state="Succeeded"))


def args(auth, **extra):
    return dict(dict(auth, name="rg1", location="westeurope"), **extra)


def test_create(run_module, clients, auth, azure_error):
    rc = clients["resource"].resource_groups
    rc.get.side_effect = azure_error(404, "ResourceGroupNotFound")
    rc.create_or_update.side_effect = sdk_answers((201, group({"a": "1"})))
    result = run_module(resource_group.main, args(auth, tags={"a": "1"}), diff=True)
    assert result["changed"] and result["resource_group"]["tags"] == {"a": "1"} and "found_existing" not in result
    rc.create_or_update.assert_called_once()
    assert rc.create_or_update.call_args[0] == ("rg1", {"location": "westeurope", "tags": {"a": "1"}})
    assert result["diff"]["before"] == {}


def test_group_made_meanwhile_is_reported_not_created(run_module, clients, auth, azure_error, monkeypatch):
    """Another run made the group between the first read and the last look before the write: no write at all."""
    warned = record_warnings(monkeypatch)
    rc = clients["resource"].resource_groups
    rc.get.side_effect = [azure_error(404, "ResourceGroupNotFound"), group({"a": "1"})]
    result = run_module(resource_group.main, args(auth, tags={"a": "1"}))
    assert not result["changed"] and result["found_existing"] and clients.writes() == []
    assert result["resource_group"]["tags"] == {"a": "1"}
    assert any("created meanwhile by another run" in w for w in warned)


def test_create_answered_200_found_the_group_there(run_module, clients, auth, azure_error):
    """Both runs read no group and both PUT: Azure answers the second 200 (not 201 Created)."""
    rc = clients["resource"].resource_groups
    rc.get.side_effect = azure_error(404, "ResourceGroupNotFound")
    rc.create_or_update.side_effect = sdk_answers((200, group({"a": "1"})))
    result = run_module(resource_group.main, args(auth, tags={"a": "1"}))
    assert not result["changed"] and result["found_existing"] and result["resource_group"]["tags"] == {"a": "1"}
    rc.update.assert_not_called()


def test_group_made_meanwhile_elsewhere_fails_clearly(run_module, clients, auth, azure_error):
    rc = clients["resource"].resource_groups
    rc.get.side_effect = [azure_error(404, "ResourceGroupNotFound"), group(location="northeurope")]
    result = run_module(resource_group.main, args(auth))
    assert result["failed"] and "was made meanwhile by another run in northeurope" in result["msg"] and clients.writes() == []


def test_rerun_makes_no_write(run_module, clients, auth):
    clients["resource"].resource_groups.get.return_value = group({"a": "1"})
    result = run_module(resource_group.main, args(auth, tags={"a": "1"}, location="West Europe"))
    assert not result["changed"] and clients.writes() == []


def test_tags_update_and_check_mode(run_module, clients, auth):
    rc = clients["resource"].resource_groups
    rc.get.return_value = group({"a": "1"})
    result = run_module(resource_group.main, args(auth, tags={"b": "2"}), check_mode=True, diff=True)
    assert result["changed"] and clients.writes() == []
    assert result["diff"]["after"]["tags"] == {"a": "1", "b": "2"}
    rc.update.return_value = group({"b": "2"})
    result = run_module(resource_group.main, args(auth, tags={"b": "2"}, append_tags=False))
    rc.update.assert_called_once_with("rg1", {"tags": {"b": "2"}})


def test_location_cannot_change(run_module, clients, auth):
    clients["resource"].resource_groups.get.return_value = group()
    result = run_module(resource_group.main, args(auth, location="northeurope"))
    assert result["failed"] and "cannot change to northeurope" in result["msg"] and clients.writes() == []


@pytest.mark.parametrize("extra, words", [
    ({"name": "bad/name"}, "not a valid resource group name"),
    ({"name": "x" * 91}, "not a valid resource group name"),
    ({"timeout": 0}, "timeout must be"),
    ({"location": None}, "location is required"),
    ({"state": "gone"}, "value of state must be one of"),
])
def test_bad_input_fails_before_writes(run_module, clients, auth, azure_error, extra, words):
    clients["resource"].resource_groups.get.side_effect = azure_error(404, "ResourceGroupNotFound")
    params = args(auth)
    params.update(extra)
    result = run_module(resource_group.main, params)
    assert result["failed"] and words in result["msg"] and clients.writes() == []


def test_absent_refuses_a_non_empty_group(run_module, clients, auth):
    rc = clients["resource"]
    rc.resource_groups.get.return_value = group()
    rc.resources.list_by_resource_group.return_value = iter([SimpleNamespace(id=RG_ID + "/providers/x/y/z")])
    result = run_module(resource_group.main, args(auth, state="absent"))
    assert result["failed"] and "force_delete_nonempty" in result["msg"] and clients.writes() == []


def test_absent_waits_for_the_cascade(run_module, clients, auth, poller):
    rc = clients["resource"]
    rc.resource_groups.get.return_value = group()
    done = poller()
    rc.resource_groups.begin_delete.return_value = done
    result = run_module(resource_group.main, args(auth, state="absent", force_delete_nonempty=True), diff=True)
    assert result["changed"] and done.waited and result["diff"]["after"] == {}


def test_absent_when_gone(run_module, clients, auth, azure_error):
    clients["resource"].resource_groups.get.side_effect = azure_error(404, "ResourceGroupNotFound")
    result = run_module(resource_group.main, args(auth, state="absent"))
    assert not result["changed"] and clients.writes() == []
