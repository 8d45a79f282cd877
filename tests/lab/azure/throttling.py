"""ARM's request throttling: token buckets per security principal, subscription, region and kind of request.

As Azure Resource Manager throttles since its move to regional limits ("Understand how Azure Resource
Manager throttles requests"): a bucket holds up to ``bucket`` tokens and gets ``refill`` tokens back each
second; a request takes one token from every bucket it counts against, and is refused while one is empty.

- A subscription request (a path under ``/subscriptions/{id}``) counts against the caller's bucket of that
  subscription and against the subscription's global bucket, which every principal shares (Azure: 15 times
  a principal's limits); any other request counts against the caller's bucket of its tenant.
- The caller is the token's ``oid``. Reads are GET and HEAD, deletes DELETE, writes every other method
  (POST included, as ARM counts it).
- Limits apply per region of the ARM instance that serves the request, not per region of the resource.
  The lab is one ARM instance: its region is the ``region`` setting (default ``westeurope``), which
  ``x-ms-routing-request-id`` names as ARM's does; another region starts with full buckets.
- Every ARM answer says what is left of the buckets the request counted against, in
  ``x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`` and
  ``x-ms-ratelimit-remaining-subscription-global-{...}`` (``x-ms-ratelimit-remaining-tenant-{...}`` for tenant
  requests). An empty bucket answers 429 ``SubscriptionRequestsThrottled`` (``TenantRequestsThrottled``)
  with ``Retry-After``: the whole seconds until a token is back.

The limits are the ``armThrottling`` runtime setting (Azure's defaults in both latency profiles); bucket
levels live in memory, so a restart starts with full buckets.
"""

import copy
import math
import re
import time
import uuid
from dataclasses import dataclass

from .arm import ArmError
from .models.resources import REGIONS

# The runtime setting (``python -m lab config``) that holds the limits.
SETTING = "armThrottling"
KINDS = ("reads", "writes", "deletes")
SCOPES = ("subscription", "global", "tenant")
# A subscription's global limits are this many times a principal's.
GLOBAL_FACTOR = 15
PRINCIPAL_LIMITS = {"reads": {"bucket": 250, "refill": 25}, "writes": {"bucket": 200, "refill": 10},
                    "deletes": {"bucket": 200, "refill": 10}}
DEFAULT_LIMITS = {
    "region": "westeurope",
    "subscription": copy.deepcopy(PRINCIPAL_LIMITS),
    "global": {kind: {key: value * GLOBAL_FACTOR for key, value in limit.items()} for kind, limit in PRINCIPAL_LIMITS.items()},
    "tenant": copy.deepcopy(PRINCIPAL_LIMITS),
}
HEADERS = {"subscription": "x-ms-ratelimit-remaining-subscription-{}", "global": "x-ms-ratelimit-remaining-subscription-global-{}",
           "tenant": "x-ms-ratelimit-remaining-tenant-{}"}
SUBSCRIPTION_PATH = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)


def merge_limits(current, change):
    """``current`` limits with the parts ``change`` names replaced; raises ValueError for anything unknown or not positive."""
    if not isinstance(change, dict):
        raise ValueError(f"{SETTING} must be an object with region, {', '.join(SCOPES)}")
    merged = copy.deepcopy(current)
    for scope, kinds in change.items():
        if scope == "region":
            if kinds not in REGIONS:
                raise ValueError(f"{SETTING}.region must be one of the lab's regions: {', '.join(REGIONS)}")
            merged["region"] = kinds
            continue
        if scope not in SCOPES or not isinstance(kinds, dict):
            raise ValueError(f"{SETTING}.{scope}: unknown; known: region, {', '.join(SCOPES)} (objects of {', '.join(KINDS)})")
        for kind, limit in kinds.items():
            if kind not in KINDS or not isinstance(limit, dict) or set(limit) - {"bucket", "refill"}:
                raise ValueError(f"{SETTING}.{scope}.{kind}: expected one of {', '.join(KINDS)} with bucket and refill")
            merged[scope][kind].update(limit)
            bucket, refill = merged[scope][kind]["bucket"], merged[scope][kind]["refill"]
            if not isinstance(bucket, int) or isinstance(bucket, bool) or bucket < 1:
                raise ValueError(f"{SETTING}.{scope}.{kind}.bucket must be an integer >= 1 (tokens)")
            if not isinstance(refill, (int, float)) or isinstance(refill, bool) or refill <= 0:
                raise ValueError(f"{SETTING}.{scope}.{kind}.refill must be a number > 0 (tokens a second)")
    return merged


def kind_of(method):
    """The bucket kind a request counts against."""
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


@dataclass
class Bucket:
    """One token bucket: its level when last looked at."""

    level: float
    updated: float

    def refill(self, now, size, rate):
        """Add the tokens earned since the last look, up to ``size`` (a smaller new size cuts the level)."""
        self.level = min(size, self.level + (now - self.updated) * rate)
        self.updated = now


class Throttle:
    """The buckets of one ARM instance; ``take`` admits or refuses one request."""

    def __init__(self, lab):
        self.lab = lab
        self.buckets = {}

    def take(self, claims, method, path):
        """Take a token for this request from each of its buckets and return the headers saying what is left.

        Raises ArmError 429 (with those headers and Retry-After) when a bucket is empty; nothing is taken then.
        """
        limits = self.lab.config(SETTING)
        kind = kind_of(method)
        region = limits["region"]
        principal = claims.get("oid") or claims.get("sub")
        owner = SUBSCRIPTION_PATH.match(path)
        if owner:
            subscription = owner.group(1).lower()
            counted = [("subscription", (region, subscription, principal, kind)), ("global", (region, subscription, None, kind))]
        else:
            counted = [("tenant", (region, claims.get("tid"), principal, kind))]
        now = time.monotonic()
        buckets = []
        for scope, key in counted:
            limit = limits[scope][kind]
            bucket = self.buckets.setdefault((scope,) + key, Bucket(limit["bucket"], now))
            bucket.refill(now, limit["bucket"], limit["refill"])
            buckets.append((scope, bucket, limit))
        empty = [(scope, bucket, limit) for scope, bucket, limit in buckets if bucket.level < 1]
        if not empty:
            for _scope, bucket, _limit in buckets:
                bucket.level -= 1
        headers = {HEADERS[scope].format(kind): str(int(bucket.level)) for scope, bucket, _limit in buckets}
        headers["x-ms-routing-request-id"] = f"{region.upper()}:{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}:{uuid.uuid4()}"
        if empty:
            wait = max(1, max(math.ceil((1 - bucket.level) / limit["refill"]) for _scope, bucket, limit in empty))
            headers["Retry-After"] = str(wait)
            raise ArmError(429, *_refusal(empty[0][0], kind, owner.group(1) if owner else claims.get("tid"), principal, wait), headers=headers)
        return headers


def _refusal(scope, kind, owner, principal, wait):
    """ARM's error code and message for an empty bucket."""
    actor = "" if scope == "global" else f" actor '{principal}'"
    where = "tenant" if scope == "tenant" else "subscription"
    code = "TenantRequestsThrottled" if scope == "tenant" else "SubscriptionRequestsThrottled"
    return code, (f"Number of '{kind[:-1]}' requests for {where} '{owner}'{actor} exceeded. Please try again after '{wait}' seconds "
                  "after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.")
