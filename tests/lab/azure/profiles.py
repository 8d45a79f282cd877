"""Latency profiles: how long each kind of operation takes and how clients are told to poll.

``realistic`` is shaped like Azure (AKS create in minutes, disk attach/detach 10-30 s, a
cross-region snapshot copy in minutes); ``fast`` keeps the same order of events in fractions of
a second for tests.  Durations can be overridden one by one at runtime through the admin API.

Azure's operation times vary: each operation takes its kind's duration times a factor drawn
uniformly from ``[1 - spread, 1 + spread]`` (realistic: 0.15, fast: 0).  The draws are seeded: the
n-th operation of a kind gets the same duration for the same ``seed`` whatever else runs, so a run
can be repeated.  Overrides are taken as given, without spread.  The ``pod.*`` kinds are the
kubelet's times the bridge reads (mount and container start; start to Ready of a pod without a
readiness probe, the kubelet's next status update; a container's exit after SIGTERM); with
``probeTimes`` (realistic) a pod's own readiness probe decides instead (``initialDelaySeconds`` +
``periodSeconds``), the fast profile keeps ``pod.ready`` for every pod.

AKS upgrades: ``cluster.upgrade`` is the control plane's part, ``agentPool.surgeNode`` the time a surge
instance takes to join, ``agentPool.reimage`` a node's reimage (the node NotReady meanwhile),
``agentPool.upgrade`` a whole pool upgrade of a cluster without nodes in the lab; ``upgrade.minute`` is
not an operation but the seconds one minute of a pool's ``drainTimeoutInMinutes`` and
``nodeSoakDurationInMinutes`` lasts (60 realistic, 1 under the fast profile). The realistic times are
modest estimates within what AKS reports (a surge node joins in one to two minutes, a reimage takes two
to three), not measurements.

The realistic profile sends ARM's integer ``Retry-After`` (at least one second) on polling
responses.  The fast profile sends ``retry-after-ms`` instead (azure-core reads it when there is
no ``Retry-After``, which would otherwise take precedence), so that tests poll every 100 ms.
"""

import random
import threading

REALISTIC = {
    "resourceGroup.delete": 20.0,
    "cluster.create": 240.0,
    "cluster.update": 90.0,
    "cluster.delete": 180.0,
    "cluster.stop": 120.0,
    "cluster.start": 150.0,
    "agentPool.create": 150.0,
    "agentPool.update": 60.0,
    "agentPool.delete": 90.0,
    "agentPool.upgrade": 600.0,
    "agentPool.surgeNode": 90.0,
    "agentPool.reimage": 150.0,
    "cluster.upgrade": 300.0,
    "upgrade.minute": 60.0,
    "disk.create": 4.0,
    "disk.update": 6.0,
    "disk.delete": 3.0,
    "snapshot.create": 8.0,
    "snapshot.delete": 3.0,
    "snapshot.copy": 180.0,
    "vm.attach": 20.0,
    "vm.detach": 15.0,
    "vm.update": 20.0,
    "vm.deallocate": 45.0,
    "vm.start": 35.0,
    "vm.powerOff": 20.0,
    "vm.restart": 30.0,
    "pod.start": 4.0,
    "pod.ready": 1.0,
    "pod.stop": 2.0,
}

FAST = {key: 0.15 for key in REALISTIC} | {
    "cluster.create": 0.4,
    "cluster.delete": 0.3,
    "snapshot.copy": 1.5,
    "agentPool.upgrade": 0.5,
    "agentPool.surgeNode": 0.3,
    "agentPool.reimage": 0.5,
    "cluster.upgrade": 0.3,
    "upgrade.minute": 1.0,
    "pod.start": 0.3,
    "pod.ready": 0.2,
    "pod.stop": 0.3,
}

PROFILES = {
    "fast": {"durations": FAST, "poll_ms": 100, "request_ms": 0, "tick": 0.05, "spread": 0.0, "probeTimes": False},
    "realistic": {"durations": REALISTIC, "poll_ms": None, "request_ms": 40, "tick": 0.5, "spread": 0.15, "probeTimes": True},
}
DEFAULT_SEED = 1


class LatencyProfile:
    """The active profile plus per-operation overrides, a spread (None: the profile's) and the seed of its draws."""

    def __init__(self, name="fast", overrides=None, spread=None, seed=DEFAULT_SEED):
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
        self.name = name
        self.overrides = dict(overrides or {})
        unknown = set(self.overrides) - set(REALISTIC)
        if unknown:
            raise ValueError(f"unknown operation kinds: {', '.join(sorted(unknown))}")
        if spread is not None and (isinstance(spread, bool) or not isinstance(spread, (int, float)) or not 0 <= spread < 1):
            raise ValueError(f"spread must be a number from 0 to below 1, not {spread!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, not {seed!r}")
        self.spread = PROFILES[name]["spread"] if spread is None else float(spread)
        self.seed = seed
        self.drawn = {}
        self.guard = threading.Lock()

    def nominal(self, kind):
        """Seconds an operation of this kind takes before the spread."""
        return float(self.overrides.get(kind, PROFILES[self.name]["durations"][kind]))

    def duration(self, kind):
        """Seconds the next operation of this kind takes: the nominal time times its seeded draw (overrides exactly)."""
        nominal = self.nominal(kind)
        if kind in self.overrides or not self.spread:
            return nominal
        with self.guard:
            count = self.drawn[kind] = self.drawn.get(kind, 0) + 1
        draw = random.Random(f"{self.seed}:{kind}:{count}").uniform(-self.spread, self.spread)  # noqa: S311 - latency, not security
        return nominal * (1 + draw)

    def retry_after(self, kind):
        """The integer Retry-After (seconds, at least 1) sent while an operation of this kind runs."""
        return max(1, min(15, int(self.nominal(kind) / 10)))

    @property
    def poll_ms(self):
        """Milliseconds between polls the fast profile asks for (None: the integer Retry-After)."""
        return PROFILES[self.name]["poll_ms"]

    @property
    def request_seconds(self):
        """Added latency of every ARM call."""
        return PROFILES[self.name]["request_ms"] / 1000

    @property
    def tick(self):
        """How often the server completes due operations in the background."""
        return PROFILES[self.name]["tick"]

    def describe(self):
        """The admin API's view of the profile."""
        return {"name": self.name, "overrides": self.overrides, "spread": self.spread, "seed": self.seed,
                "probeTimes": PROFILES[self.name]["probeTimes"],
                "durations": {kind: self.nominal(kind) for kind in REALISTIC}}
