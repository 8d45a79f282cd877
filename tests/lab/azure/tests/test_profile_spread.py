"""The latency profile's seeded spread: operation times vary within the spread and repeat with the seed."""

import pytest

from .helpers import empty_disk

FAST_DISK_CREATE = 0.15


def _disk_create_times(lab, compute, group, prefix, count):
    """Create ``count`` disks one after another; the planned duration (deadline - start) of each one's operation."""
    for index in range(count):
        compute.disks.begin_create_or_update(group, f"{prefix}-{index}", empty_disk()).result()
    created = {f"{prefix}-{index}".lower() for index in range(count)}
    found = [operation for operation in lab.admin("GET", "operations").json()["operations"]
             if operation["kind"] == "disk.create" and operation["resourceId"].rsplit("/", 1)[-1].lower() in created]
    found.sort(key=lambda operation: operation["started"])
    return [round(operation["deadline"] - operation["started"], 6) for operation in found]


@pytest.fixture
def spread_profile(lab):
    """Switch to the fast profile with a spread for one test, then back to the plain fast profile."""
    def switch(**spec):
        answer = lab.admin("PUT", "profile", json={"name": "fast", **spec})
        assert answer.status_code == 200, answer.text
        return answer.json()
    yield switch
    lab.admin("PUT", "profile", json={"name": "fast"})


def test_durations_spread_within_bounds_and_repeat_with_the_seed(lab, compute, group, spread_profile):
    """Each operation takes its kind's time times a draw within the spread; the same seed gives the same times."""
    shown = spread_profile(spread=0.3, seed=11)
    assert (shown["spread"], shown["seed"], shown["durations"]["disk.create"]) == (0.3, 11, FAST_DISK_CREATE)
    first = _disk_create_times(lab, compute, group, "seeded-a", 6)
    assert len(first) == 6
    assert all(FAST_DISK_CREATE * 0.7 - 1e-6 <= seconds <= FAST_DISK_CREATE * 1.3 + 1e-6 for seconds in first), first
    assert len(set(first)) > 1, f"no spread in {first}"

    spread_profile(spread=0.3, seed=11)
    assert _disk_create_times(lab, compute, group, "seeded-b", 6) == first

    spread_profile(spread=0.3, seed=12)
    assert _disk_create_times(lab, compute, group, "seeded-c", 6) != first


def test_no_spread_and_overrides_are_exact(lab, compute, group, spread_profile):
    """The fast profile has no spread by default, and an override is taken as given even with a spread."""
    assert spread_profile()["spread"] == 0.0
    assert set(_disk_create_times(lab, compute, group, "plain", 3)) == {FAST_DISK_CREATE}
    spread_profile(spread=0.3, overrides={"disk.create": 0.2})
    assert set(_disk_create_times(lab, compute, group, "exact", 3)) == {0.2}


@pytest.mark.parametrize("spec", [{"spread": 1.0}, {"spread": -0.1}, {"spread": "wide"}, {"seed": "one"}])
def test_invalid_spread_or_seed_is_refused(lab, spec):
    """A spread outside [0, 1) or a seed that is not an integer is a 400, and the profile stays."""
    before = lab.admin("GET", "profile").json()
    answer = lab.admin("PUT", "profile", json={"name": "fast", **spec})
    assert answer.status_code == 400, answer.text
    assert lab.admin("GET", "profile").json() == before
