# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""azure-core's retry policy, bounded by the module's deadline on every call.

A ``RetryPolicy`` built with ``timeout=N`` gives every request the same N seconds, however late in the run it
is made. ``DeadlineRetryPolicy`` reads what is left of the deadline when each request starts, and ends a retry
chain at once when the wait Azure asks for (``Retry-After``) or the backoff would reach past the deadline: the
caller then gets Azure's last answer (ARM code, HTTP status, request id) instead of a bare "Response timeout".
Throttling (429 with Retry-After) is waited out for as long as the deadline allows, however often it comes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from azure.core.pipeline.policies import RetryPolicy
except ImportError:  # AzureModule fails with missing_required_lib before it builds a client
    RetryPolicy = object


# azure-core retries a dropped connection only for these methods. ARM's PUT, PATCH and DELETE are idempotent (the
# same request again converges to the same resource), so a write whose connection was reset is retried too.
IDEMPOTENT_METHODS = frozenset(["HEAD", "GET", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])


def _throttled(response):
    """True for ARM's throttling answer: 429 with a Retry-After."""
    answer = getattr(response, "http_response", None)
    return answer is not None and answer.status_code == 429 and bool(answer.headers.get("Retry-After"))


class DeadlineRetryPolicy(RetryPolicy):
    """RetryPolicy whose per-request budget and waits follow ``deadline`` (a ``Deadline``)."""

    def __init__(self, deadline, **kwargs):
        super(DeadlineRetryPolicy, self).__init__(**kwargs)
        self.deadline = deadline
        self._method_whitelist = IDEMPOTENT_METHODS

    def configure_retries(self, options):
        settings = super(DeadlineRetryPolicy, self).configure_retries(options)
        settings["timeout"] = min(settings["timeout"], self.deadline.call_budget())
        return settings

    def next_wait(self, settings, response=None):
        """Seconds before the next attempt: the answer's Retry-After, else the backoff."""
        retry_after = self.get_retry_after(response) if hasattr(response, "http_response") else None
        return retry_after if retry_after else self.get_backoff_time(settings)

    def increment(self, settings, response=None, error=None):
        if not error and _throttled(response):
            # ARM asks a throttled client to wait Retry-After and try again: the deadline alone bounds that, not the
            # retry counts, which are for failures (several modules at once share one principal's token bucket).
            settings["total"] += 1
            settings["status"] += 1
        if not super(DeadlineRetryPolicy, self).increment(settings, response=response, error=error):
            return False
        return self.next_wait(settings, None if error else response) < self.deadline.remaining()

    def sleep(self, settings, transport, response=None):
        wait = min(self.next_wait(settings, response), self.deadline.remaining())
        if wait > 0:
            transport.sleep(wait)
