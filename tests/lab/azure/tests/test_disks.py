"""Disks and snapshots: creation rules, status codes, no shrink, copies of the bytes, incremental limits, CopyStart progress."""

import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from .helpers import empty_disk, error_code

GIB = 1 << 30


def _disk_id(subscription, group, name, kind="disks"):
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/{kind}/{name}"


def test_disk_create_get_list_delete(lab, compute, subscription, group):
    path = _disk_id(subscription, group, "data1")
    response = lab.arm("PUT", path, json=empty_disk(zones=["2"]))
    assert response.status_code == 202, "disks answer 200/202 only"
    assert response.headers["Azure-AsyncOperation"] and response.headers["Location"]
    assert response.json()["properties"]["provisioningState"] == "Creating"
    disk = compute.disks.begin_create_or_update(group, "data2", empty_disk(size=16, zones=["2"])).result()
    assert (disk.provisioning_state, disk.disk_state, disk.disk_size_bytes, disk.zones) == ("Succeeded", "Unattached", 16 * GIB, ["2"])
    assert disk.unique_id and disk.time_created
    assert {item.name for item in compute.disks.list_by_resource_group(group)} == {"data1", "data2"}
    assert "data2" in {item.name for item in compute.disks.list()}
    compute.disks.begin_delete(group, "data2").result()
    with pytest.raises(ResourceNotFoundError) as caught:
        compute.disks.get(group, "data2")
    assert error_code(caught) == "ResourceNotFound"
    assert lab.arm("DELETE", _disk_id(subscription, group, "data2")).status_code == 204


@pytest.mark.parametrize("body, code", [
    (empty_disk(sku="Premium_ZRS", zones=["1"]), "InvalidParameter"),
    (empty_disk(sku="PremiumV2_LRS"), "InvalidParameter"),
    (empty_disk(sku="Fancy_LRS"), "InvalidParameter"),
    (empty_disk(zones=["4"]), "InvalidParameter"),
    (empty_disk(location="westcentralus", zones=["1"]), "AvailabilityZoneNotSupported"),
    ({"location": "westeurope", "properties": {"creationData": {"createOption": "Empty"}}}, "InvalidParameter"),
    ({"location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": "/subscriptions/x/y"}}},
     "NotFound"),
])
def test_disk_creation_rules(compute, group, body, code):
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(group, "bad", body).result()
    assert error_code(caught) == code


def test_no_shrink_and_offline_grow(lab, compute, subscription, group):
    compute.disks.begin_create_or_update(group, "grow", empty_disk(size=8)).result()
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_update(group, "grow", {"properties": {"diskSizeGB": 4}}).result()
    assert error_code(caught) == "BadRequest" and "resized down" in caught.value.error.message
    grown = compute.disks.begin_update(group, "grow", {"properties": {"diskSizeGB": 32}}).result()
    assert grown.disk_size_gb == 32 and grown.disk_size_bytes == 32 * GIB
    data = lab.admin("GET", f"disks{_disk_id(subscription, group, 'grow')}/bytes", params={"offset": 32 * GIB - 4, "length": 4})
    assert data.content == b"\0" * 4, "the image grew with the disk"


def test_copies_carry_bytes(lab, compute, subscription, group):
    source = _disk_id(subscription, group, "src")
    compute.disks.begin_create_or_update(group, "src", empty_disk(size=4, zones=["1"])).result()
    assert lab.admin("POST", f"disks{source}/append", data=b"line 1\n").json()["dataEnd"] == 7
    lab.admin("POST", f"disks{source}/append", data=b"line 2\n")
    snapshot = compute.snapshots.begin_create_or_update(group, "snap", {
        "location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source}}}).result()
    assert (snapshot.sku.name, snapshot.incremental, snapshot.disk_size_gb) == ("Standard_LRS", False, 4)
    lab.admin("POST", f"disks{source}/append", data=b"after the snapshot\n")
    restored = compute.disks.begin_create_or_update(group, "restored", {
        "location": "westeurope", "sku": {"name": "StandardSSD_ZRS"},
        "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snapshot.id}, "diskSizeGB": 8}}).result()
    assert restored.disk_size_gb == 8 and restored.sku.name == "StandardSSD_ZRS"
    assert lab.admin("GET", f"disks{restored.id}/bytes").content == b"line 1\nline 2\n"
    assert lab.admin("GET", f"disks/{restored.unique_id}/bytes").content == b"line 1\nline 2\n"
    clone = compute.disks.begin_create_or_update(group, "clone", {
        "location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source}}}).result()
    assert lab.admin("GET", f"disks{clone.id}/bytes").content == b"line 1\nline 2\nafter the snapshot\n"
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(group, "small", {
            "location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source}, "diskSizeGB": 2}}).result()
    assert error_code(caught) == "BadRequest"
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(group, "far", {
            "location": "northeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source}}}).result()
    assert error_code(caught) == "BadRequest"


def test_incremental_snapshots_and_limit(compute, subscription, group):
    compute.disks.begin_create_or_update(group, "busy", empty_disk(size=4, zones=["3"])).result()
    source = _disk_id(subscription, group, "busy")
    families = set()
    for index in range(7):
        snapshot = compute.snapshots.begin_create_or_update(group, f"inc{index}", {
            "location": "westeurope", "properties": {"incremental": True, "creationData": {"createOption": "Copy", "sourceResourceId": source}}}).result()
        families.add(snapshot.incremental_snapshot_family_id)
        assert snapshot.sku.name == "Standard_ZRS" and snapshot.completion_percent == 100
    assert len(families) == 1
    with pytest.raises(HttpResponseError) as caught:
        compute.snapshots.begin_create_or_update(group, "inc7", {
            "location": "westeurope", "properties": {"incremental": True, "creationData": {"createOption": "Copy", "sourceResourceId": source}}}).result()
    assert error_code(caught) == "OperationNotAllowed"
    compute.snapshots.begin_delete(group, "inc0").result()
    assert "inc0" not in {item.name for item in compute.snapshots.list_by_resource_group(group)}


def test_copy_start_progress(compute, subscription, group):
    compute.disks.begin_create_or_update(group, "regional", empty_disk(size=4)).result()
    base = compute.snapshots.begin_create_or_update(group, "base", {
        "location": "westeurope", "properties": {"incremental": True, "creationData": {
            "createOption": "Copy", "sourceResourceId": _disk_id(subscription, group, "regional")}}}).result()
    with pytest.raises(HttpResponseError) as caught:
        compute.snapshots.begin_create_or_update(group, "full-copy", {
            "location": "northeurope",
            "properties": {"incremental": False, "creationData": {"createOption": "CopyStart", "sourceResourceId": base.id}}}).result()
    assert error_code(caught) == "BadRequest"
    copy = compute.snapshots.begin_create_or_update(group, "dr-copy", {
        "location": "northeurope", "properties": {"incremental": True, "creationData": {"createOption": "CopyStart", "sourceResourceId": base.id}}}).result()
    assert copy.provisioning_state == "Succeeded" and copy.completion_percent < 100
    assert copy.incremental_snapshot_family_id == base.incremental_snapshot_family_id
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(group, "too-early", {
            "location": "northeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": copy.id}}}).result()
    assert error_code(caught) == "OperationNotAllowed"
    seen = [copy.completion_percent]
    while seen[-1] < 100:
        time.sleep(0.3)
        seen.append(compute.snapshots.get(group, "dr-copy").completion_percent)
    assert seen == sorted(seen) and len(set(seen)) >= 3
    restored = compute.disks.begin_create_or_update(group, "dr-disk", {
        "location": "northeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": copy.id}}}).result()
    assert restored.location == "northeurope"
