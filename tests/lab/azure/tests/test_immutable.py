"""A disk's or snapshot's creationData is fixed at creation: a PUT over it naming another source is refused, as Compute
answers it (400 BadRequest "Changing property 'sourceResourceId' is not allowed for existing disk ..."), and changes nothing."""

import pytest
from azure.core.exceptions import HttpResponseError

from .helpers import empty_disk, error_code


def _copy_of(source_id, location="westeurope", **extra):
    return {"location": location, "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source_id}}, **extra}


@pytest.fixture
def two_disks(compute, group):
    """Ids of two empty disks of the group."""
    return [compute.disks.begin_create_or_update(group, name, empty_disk(size=4, zones=["1"])).result().id for name in ("one", "two")]


def test_snapshot_keeps_its_source(compute, group, two_disks):
    first, second = two_disks
    made = compute.snapshots.begin_create_or_update(group, "snap", _copy_of(first, tags={"source": "one"})).result()
    with pytest.raises(HttpResponseError) as caught:
        compute.snapshots.begin_create_or_update(group, "snap", _copy_of(second, tags={"source": "two"})).result()
    assert caught.value.status_code == 400 and error_code(caught) == "BadRequest"
    assert "Changing property 'sourceResourceId' is not allowed for existing disk 'snap'" in caught.value.error.message
    after = compute.snapshots.get(group, "snap")
    assert after.creation_data.source_resource_id.lower() == first.lower()
    assert (after.tags, after.unique_id) == ({"source": "one"}, made.unique_id), "the refused PUT rewrote nothing"
    again = compute.snapshots.begin_create_or_update(group, "snap", _copy_of(first.upper(), tags={"run": "2"})).result()
    assert (again.tags, again.unique_id) == ({"run": "2"}, made.unique_id), "the same source (ids compare without case) is an update"


def test_disk_keeps_its_source(compute, group, two_disks):
    first, second = two_disks
    compute.disks.begin_create_or_update(group, "copy", dict(_copy_of(first), zones=["1"])).result()
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(group, "copy", dict(_copy_of(second), zones=["1"])).result()
    assert caught.value.status_code == 400 and "'sourceResourceId' is not allowed" in caught.value.error.message
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(group, "one", dict(_copy_of(second), zones=["1"])).result()
    assert "Changing property 'createOption' is not allowed for existing disk 'one'" in caught.value.error.message
    assert compute.disks.get(group, "copy").creation_data.source_resource_id.lower() == first.lower()
    assert compute.disks.get(group, "one").creation_data.create_option == "Empty"
