"""Deadline: polls and retries pace themselves and never sleep past the end of the budget."""

from __future__ import annotations

import pytest

from ansible_collections.kubedisk.aks.plugins.module_utils.deadline import Deadline


class FakeTime:
    """A clock that only moves when something sleeps on it."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake():
    return FakeTime()


def budget(fake, seconds):
    return Deadline(seconds, clock=fake.clock, sleep=fake.sleep)


def test_poll_until_times_out_and_returns_info(fake):
    calls = []
    done, info = budget(fake, 10).poll_until(lambda: calls.append(fake.now) or (False, "pending"))
    assert not done and info == "pending"
    assert sum(fake.slept) == 10 and max(fake.slept) <= 2.0
    assert calls[-1] == 10  # the last check is made when the budget runs out
    assert budget(fake, 0.5).poll_until(lambda: (True, "x")) == (True, "x")


def test_no_sleep_reaches_past_the_deadline(fake):
    deadline = budget(fake, 7)
    deadline.poll_until(lambda: (False, None), interval=3.0)
    assert fake.slept == [3.0, 3.0, 1.0] and fake.now == 7
    deadline.sleep(5)
    assert fake.now == 7 and deadline.expired() and deadline.remaining() == 0


def test_waits_double_up_to_the_ceiling(fake):
    budget(fake, 60).poll_until(lambda: (False, None), interval=2.0, max_interval=10.0)
    assert fake.slept[:5] == [2.0, 4.0, 8.0, 10.0, 10.0] and sum(fake.slept) == 60


def test_poll_stops_as_soon_as_done(fake):
    answers = iter([(False, 1), (False, 2), (True, 3)])
    assert budget(fake, 100).poll_until(lambda: next(answers)) == (True, 3)
    assert fake.slept == [2.0, 2.0]


class Transient(Exception):
    pass


def test_retry_until_success_and_other_errors_propagate(fake):
    attempts = iter([Transient(), Transient(), "ok"])

    def call():
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert budget(fake, 30).retry(call, lambda exc: isinstance(exc, Transient)) == "ok"
    assert fake.slept == [2.0, 2.0]
    with pytest.raises(KeyError):
        budget(fake, 30).retry(lambda: {}["x"], lambda exc: isinstance(exc, Transient))


def test_retry_raises_the_last_retryable_error_at_the_deadline(fake):
    seen = []

    def call():
        seen.append(fake.now)
        raise Transient(len(seen))

    with pytest.raises(Transient) as raised:
        budget(fake, 9).retry(call, lambda exc: True, max_interval=20.0)
    assert raised.value.args == (len(seen),) and seen[-1] == 9 and sum(fake.slept) == 9


def test_call_budget_never_below_one_second(fake):
    deadline = budget(fake, 100)
    assert deadline.call_budget() == 100
    fake.now = 70
    assert deadline.call_budget() == 30 and round(deadline.elapsed()) == 70
    fake.now = 250
    assert deadline.call_budget() == 1.0 and deadline.remaining() == 0
