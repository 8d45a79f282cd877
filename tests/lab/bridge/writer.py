"""The demo app's writer: one timestamp line per second onto the pod's disk while the pod runs.

The seed measures a move's downtime and checks for data loss from what an nginx container wrote
to its Azure Disk every second. In the lab a pod annotated ``lab.kubedisk.io/writer: "true"``
gets the same: while it is Running and Ready on a live node with its volume attached, a line
``<UTC time> <namespace>/<pod> <node>`` is appended to the bytes of its first CSI volume's disk
(through the emulator, which keeps each disk as a file). Gaps in the lines are the downtime; lines
that vanish would be data loss. The writer stops at SIGTERM, that is when the pod is deleted (the
pod stays Terminating while its containers exit); a pod annotated ``lab.kubedisk.io/ignores-sigterm:
"true"`` writes on until SIGKILL at the end of its grace period.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time

from .kubelet import IGNORES_SIGTERM, node_is_live

WRITER = "lab.kubedisk.io/writer"
INTERVAL = 1.0

log = logging.getLogger("lab.bridge.writer")


def _ready(pod) -> bool:
    return pod.status.phase == "Running" and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _signalled(pod) -> bool:
    """True once the pod's writer has stopped: deleted (SIGTERM), or for a pod that ignores SIGTERM, past its grace period."""
    deleted = pod.metadata.deletion_timestamp
    if not deleted:
        return False
    if (pod.metadata.annotations or {}).get(IGNORES_SIGTERM) != "true":
        return True
    return datetime.datetime.now(datetime.timezone.utc) >= deleted


class Writer:
    """Appends a line per writer pod once a second, on its own thread; ``append(disk_id, data)`` writes the disk.

    The reconcile loop hands over the pods that may write now (``update``); the thread keeps the
    one-second beat whatever a reconcile pass costs.
    """

    def __init__(self, append, interval=INTERVAL):
        self.append = append
        self.interval = interval
        self.targets = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def update(self, snap) -> None:
        """Take the writer pods that run now from a reconcile snapshot."""
        targets = {}
        for pod in snap.pods:
            if (pod.metadata.annotations or {}).get(WRITER) != "true" or _signalled(pod) or not _ready(pod):
                continue
            node = snap.nodes.get(pod.spec.node_name)
            volumes = [pv for _pvc, pv in snap.csi_volumes(pod) if pv is not None]
            if node is not None and node_is_live(node) and volumes and snap.volumes_ready(pod):
                targets[pod.metadata.uid] = (volumes[0].spec.csi.volume_handle, "%s/%s %s" % (pod.metadata.namespace, pod.metadata.name, node.metadata.name))
        with self.lock:
            self.targets = targets

    def write_once(self) -> None:
        """One line for every pod that may write."""
        with self.lock:
            targets = list(self.targets.values())
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for disk_id, who in targets:
            try:
                self.append(disk_id, ("%s %s\n" % (stamp, who)).encode())
            except Exception as exc:  # pylint: disable=broad-except  # a failed write is a missing line, as on a real disk
                log.warning("writer %s: %s", who, exc)

    def run(self) -> None:
        """Write every ``interval`` seconds until ``stopping`` is set."""
        beat = time.monotonic()
        while not self.stopping.is_set():
            self.write_once()
            beat += self.interval
            self.stopping.wait(max(0.0, beat - time.monotonic()))
