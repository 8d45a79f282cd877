# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The time budget of a module run: every wait, poll and retry of the collection goes through ``Deadline``.

A module gets ``timeout`` seconds in all. Polls and retries sleep between attempts, and no sleep reaches past
the end of the budget: the last attempt is made when the budget runs out, then the caller decides how to fail.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

# Pacing of polls: the first wait, and the ceiling when the waits double (Azure answers that take minutes).
FIRST_WAIT = 2.0
# A call made when the budget is (nearly) spent still gets this many seconds, so it can bring back an answer.
LAST_CALL_SECONDS = 1.0


class Deadline(object):
    """``seconds`` from now; ``clock`` and ``sleep`` are there for tests."""

    def __init__(self, seconds, clock=None, sleep=None):
        self.seconds = seconds
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self.started = self._clock()

    def elapsed(self):
        return self._clock() - self.started

    def remaining(self):
        """Seconds left, 0 once the budget is spent."""
        return max(0.0, self.seconds - self.elapsed())

    def expired(self):
        return self.remaining() <= 0

    def within(self, seconds):
        """A shorter budget inside this one: ``seconds`` from now, or what is left of this one if that ends first."""
        return Deadline(min(seconds, self.remaining()), clock=self._clock, sleep=self._sleep)

    def call_budget(self):
        """Seconds one more call may take: what is left, but never less than ``LAST_CALL_SECONDS``."""
        return max(LAST_CALL_SECONDS, self.remaining())

    def sleep(self, seconds):
        """Sleep ``seconds``, cut short where the budget ends."""
        wait = min(seconds, self.remaining())
        if wait > 0:
            self._sleep(wait)

    def poll_until(self, check, interval=FIRST_WAIT, max_interval=None):
        """Call ``check()`` -> ``(done, info)`` until done or the budget is spent; returns the last ``(done, info)``.

        The waits are ``interval`` seconds, or double from it up to ``max_interval`` when that is given.
        """
        while True:
            done, info = check()
            if done or self.expired():
                return done, info
            self.sleep(interval)
            if max_interval:
                interval = min(interval * 2, max_interval)

    def retry(self, func, retryable, interval=FIRST_WAIT, max_interval=None):
        """``func()``, called again (paced as ``poll_until``) while it raises an exception ``retryable(exc)`` accepts.

        Other exceptions propagate at once; when the budget ends the chain, the last retryable one is raised.
        """
        def attempt():
            try:
                return True, func()
            except Exception as exc:  # pylint: disable=broad-except  # ``retryable`` decides, the rest propagates
                if not retryable(exc):
                    raise
                return False, exc

        done, value = self.poll_until(attempt, interval, max_interval)
        if not done:
            raise value
        return value
