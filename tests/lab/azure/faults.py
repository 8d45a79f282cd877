"""Fault injection and the request log, as one ASGI middleware in front of everything but ``/_lab/``.

A fault rule matches a method and a path regular expression and applies to the next ``count``
matching requests, or to each with a ``probability``.  Actions:
- ``429``: ARM throttling (``TooManyRequests``) with ``Retry-After: <retryAfter>``;
- ``500`` / ``503``: ``InternalServerError`` / ``ServiceUnavailable`` (503 with Retry-After);
- ``reset``: the TCP connection is reset before any answer;
- ``lro-fail``: the request is served, but the operation it starts ends Failed with ``code``;
- ``lro-hang``: the request is served, but the operation it starts never ends.

Rules are kept in the state database with their remaining counts, so a restart keeps them (an operation
marked to fail still fails; one an ``lro-hang`` rule made endless then takes its kind's normal time).
"""

import asyncio
import collections
import itertools
import random
import re
import socket
import struct
import time
from dataclasses import asdict, dataclass, field

from .arm import dumps, new_guid
from .lro import REQUEST_FAULT

ACTIONS = ("429", "500", "503", "reset", "lro-fail", "lro-hang")
STATUS_ERRORS = {
    "429": (429, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow."),
    "500": (500, "InternalServerError", "Encountered internal server error. Diagnostic information: lab fault injection."),
    "503": (503, "ServiceUnavailable", "The server (lab fault injection) is currently unable to handle the request."),
}


@dataclass
class FaultRule:
    """One fault rule (see the module docstring)."""

    action: str
    path: str
    method: str | None = None
    count: int | None = 1
    probability: float | None = None
    retry_after: int = 1
    code: str = "InternalServerError"
    message: str = "The operation failed (injected by the lab)."
    id: str = field(default_factory=new_guid)
    matched: int = 0

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; known: {', '.join(ACTIONS)}")
        if not isinstance(self.retry_after, int) or self.retry_after < 1:
            raise ValueError("retryAfter must be an integer >= 1 (ARM's Retry-After)")
        self.regex = re.compile(self.path, re.IGNORECASE)
        if self.probability is not None:
            self.count = None

    def public(self):
        """The admin API's view of the rule."""
        view = asdict(self)
        view["retryAfter"] = view.pop("retry_after")
        return view


def _rule(spec):
    """A rule from its admin API JSON (``retryAfter``)."""
    spec = dict(spec)
    if "retryAfter" in spec:
        spec["retry_after"] = spec.pop("retryAfter")
    return FaultRule(**spec)


class Faults:
    """The active rules, in memory and in the state database."""

    def __init__(self, store):
        self.store = store
        self.rules = [_rule(spec) for spec in store.faults()]

    def add(self, spec):
        """Add a rule from the admin API's JSON; returns it."""
        rule = _rule(spec)
        self.store.save_fault(rule.id, rule.public())
        self.rules.append(rule)
        return rule

    def remove(self, rule_id=None):
        """Remove one rule, or all."""
        for rule in self.rules:
            if rule_id is None or rule.id == rule_id:
                self.store.delete_fault(rule.id)
        self.rules = [rule for rule in self.rules if rule_id is not None and rule.id != rule_id]

    def match(self, method, path):
        """The first rule that fires for this request (its budget is used up)."""
        for rule in self.rules:
            if rule.method and rule.method.upper() != method:
                continue
            if not rule.regex.search(path):
                continue
            if rule.probability is not None and random.random() >= rule.probability:  # noqa: S311 - fault odds, not a secret
                continue
            rule.matched += 1
            if rule.count is not None:
                rule.count -= 1
            if rule.count is not None and rule.count <= 0:
                self.rules.remove(rule)
                self.store.delete_fault(rule.id)
            else:
                self.store.save_fault(rule.id, rule.public())
            return rule
        return None


class RequestLog:
    """Every request outside ``/_lab/``: sequence number, arrival (epoch seconds), method, path, status, milliseconds."""

    def __init__(self, size=200_000):
        self.entries = collections.deque(maxlen=size)
        self.sequence = itertools.count(1)

    def add(self, arrived, method, path, status, milliseconds):
        """Record one request that arrived at epoch ``arrived``."""
        self.entries.append({"seq": next(self.sequence), "time": round(arrived, 3), "method": method, "path": path, "status": status,
                             "ms": round(milliseconds, 2)})

    def since(self, seq):
        """Requests after sequence number ``seq``."""
        return [entry for entry in self.entries if entry["seq"] > seq]


class LabMiddleware:
    """Logs requests, applies fault rules and the profile's per-request latency."""

    def __init__(self, app, lab, faults, log):
        self.app = app
        self.lab = lab
        self.faults = faults
        self.log = log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_lab/"):
            await self.app(scope, receive, send)
            return
        arrived, started = time.time(), time.perf_counter()
        answered = {"status": 0}

        async def recording_send(message):
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        rule = self.faults.match(scope["method"], scope["path"])
        try:
            if rule and rule.action == "reset":
                _reset(scope)
            elif rule and rule.action in STATUS_ERRORS:
                await _error(recording_send, rule)
            else:
                REQUEST_FAULT.set(rule.public() if rule else None)
                if self.lab.profile.request_seconds and not scope["path"].startswith("/metadata"):
                    await asyncio.sleep(self.lab.profile.request_seconds)
                await self.app(scope, receive, recording_send)
        finally:
            self.log.add(arrived, scope["method"], scope["path"], answered["status"], (time.perf_counter() - started) * 1000)


async def _error(send, rule):
    status, code, message = STATUS_ERRORS[rule.action]
    body = dumps({"error": {"code": code, "message": message}})
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"x-ms-request-id", new_guid().encode())]
    if rule.action in ("429", "503"):
        headers.append((b"retry-after", str(rule.retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _reset(scope):
    """Abort the connection with a TCP RST (SO_LINGER 0), as a dropped connection looks to a client."""
    transport = scope.get("extensions", {}).get("lab.transport")
    if transport is None:
        raise ConnectionResetError("lab fault: connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
