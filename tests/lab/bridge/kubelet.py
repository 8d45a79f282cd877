"""The kubelet's part of volumes, for kwok nodes that have no kubelet.

kwok runs pods but knows nothing of volumes, and the real controllers decide from what a kubelet
reports. This module reports it the way the kubelet's volume manager does, so the real
attach/detach, PV and expansion controllers behave as on AKS:

* ``node.status.volumesInUse`` lists every CSI volume of the pods assigned to a live node (the
  kubelet marks a volume in use before it waits for the attach and keeps it until the pod is gone).
  The attach/detach controller detaches only volumes no longer in use; on a dead node the list
  freezes, so a stranded volume stays attached until the out-of-service taint or the 6-minute
  forced detach, as the seed observed.
* a pod is started only once each of its CSI volumes has an attached VolumeAttachment to its node:
  the pod gets the ``lab.kubedisk.io/volumes-attached`` mark with the times its containers run
  (``started-at``: mount and container start, the profile's ``pod.start`` later) and it turns Ready
  (``ready-at``: its readiness probe's ``initialDelaySeconds`` + ``periodSeconds`` under a profile
  with ``probeTimes``, else ``pod.ready``), and the lab's kwok stages wait for those times (the
  kubelet keeps a pod in ContainerCreating until its volumes are mounted, then NotReady until its
  probe passes).
* a deleted pod on a live node gets ``stopped-at``, when its containers have exited: SIGTERM at the
  deletion (as this pass sees it), exit ``pod.stop`` later but within the grace period, or only at
  the grace period's end (SIGKILL) for a pod annotated ``lab.kubedisk.io/ignores-sigterm: "true"``;
  the lab's kwok pod-delete stage removes the pod then, so it stays Terminating meanwhile.
* a PVC in ``FileSystemResizePending`` is finished (capacity raised, resize conditions and allocated
  resource status cleared) once a running pod on a live node mounts it: the kubelet's NodeExpand.

A node is live while the VM behind it runs (the bridge's ``lab.kubedisk.io/power`` annotation);
when it stops the bridge also takes the node's lease from kwok, which is how a dead kubelet looks.
"""

from __future__ import annotations

import datetime
import logging

from kubernetes.client.exceptions import ApiException

DRIVER = "disk.csi.azure.com"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_LIVE = "fake"
VOLUMES_ATTACHED = "lab.kubedisk.io/volumes-attached"
STARTED_AT = "lab.kubedisk.io/started-at"
READY_AT = "lab.kubedisk.io/ready-at"
STOPPED_AT = "lab.kubedisk.io/stopped-at"
IGNORES_SIGTERM = "lab.kubedisk.io/ignores-sigterm"
POWER = "lab.kubedisk.io/power"
RUNNING = "running"
FINISHED_PHASES = ("Succeeded", "Failed")
# the conditions the kubelet's MarkFSResizeFinished clears once the file system has grown
RESIZE_CONDITIONS = ("Resizing", "FileSystemResizePending", "ControllerResizeError", "NodeResizeError")

log = logging.getLogger("lab.bridge.kubelet")


def unique_volume_name(volume_handle: str) -> str:
    """Name the kubelet reports in volumesInUse for a CSI volume (``kubernetes.io/csi/<driver>^<handle>``)."""
    return "kubernetes.io/csi/%s^%s" % (DRIVER, volume_handle)


def stamp(moment: datetime.datetime) -> str:
    """RFC 3339 with microseconds, as kwok's stage delays read a time from an annotation."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def readiness_seconds(pod, profile: dict) -> float:
    """Seconds from container start to Ready: the slowest container's readiness probe, or the profile's ``pod.ready``."""
    probes = [c.readiness_probe for c in pod.spec.containers or [] if c.readiness_probe is not None]
    if not profile.get("probeTimes") or not probes:
        return profile["durations"]["pod.ready"]
    return max((probe.initial_delay_seconds or 0) + (probe.period_seconds or 10) for probe in probes)


def stop_time(pod, profile: dict, seen: datetime.datetime) -> datetime.datetime:
    """When a deleted pod's containers have exited: ``pod.stop`` after SIGTERM (the deletion, ``seen`` by this pass),
    at most at the end of the grace period (``deletionTimestamp``, SIGKILL), which is also when a pod that ignores SIGTERM goes.

    The deletion is dated by when the kubelet sees it: ``deletionTimestamp`` has whole seconds only.
    """
    killed = pod.metadata.deletion_timestamp
    if (pod.metadata.annotations or {}).get(IGNORES_SIGTERM) == "true":
        return killed
    return min(killed, seen + datetime.timedelta(seconds=profile["durations"]["pod.stop"]))


def node_is_live(node) -> bool:
    """True while the node's VM runs (so kwok acts as its kubelet)."""
    annotations = node.metadata.annotations or {}
    return annotations.get(KWOK_ANNOTATION) == KWOK_LIVE and annotations.get(POWER) == RUNNING


class Snapshot:  # pylint: disable=too-few-public-methods
    """One consistent read of what the kubelet emulation looks at."""

    def __init__(self, core, storage):
        self.nodes = {n.metadata.name: n for n in core.list_node().items}
        self.pods = [p for p in core.list_pod_for_all_namespaces().items if p.spec.node_name]
        self.pvcs = {(c.metadata.namespace, c.metadata.name): c for c in core.list_persistent_volume_claim_for_all_namespaces().items}
        self.pvs = {v.metadata.name: v for v in core.list_persistent_volume().items}
        self.attachments = storage.list_volume_attachment().items

    def csi_volumes(self, pod) -> list:
        """(PVC, PV) pairs of the pod's volumes that our driver serves; a PVC not yet bound gives PV None."""
        found = []
        for volume in pod.spec.volumes or []:
            source = volume.persistent_volume_claim
            if not source:
                continue
            pvc = self.pvcs.get((pod.metadata.namespace, source.claim_name))
            pv = self.pvs.get(pvc.spec.volume_name) if pvc is not None and pvc.spec.volume_name else None
            if pv is not None and (pv.spec.csi is None or pv.spec.csi.driver != DRIVER):
                continue
            found.append((pvc, pv))
        return found

    def attached(self, pv_name: str, node_name: str) -> bool:
        """True when a VolumeAttachment of the PV to the node reports attached."""
        return any(
            va.spec.node_name == node_name and va.spec.source.persistent_volume_name == pv_name and va.status is not None and va.status.attached
            for va in self.attachments
        )

    def volumes_ready(self, pod) -> bool:
        """True when every CSI volume of the pod is bound and attached to the pod's node."""
        return all(pv is not None and self.attached(pv.metadata.name, pod.spec.node_name) for _pvc, pv in self.csi_volumes(pod))


class KubeletEmulator:
    """Reconciles volumesInUse, the volumes-attached mark and file-system resizes, once per call."""

    def __init__(self, core, storage):
        self.core = core
        self.storage = storage

    def reconcile(self, profile: dict) -> Snapshot:
        """One pass over the cluster with the emulator's latency ``profile`` (admin API view); returns the snapshot it acted on."""
        snap = Snapshot(self.core, self.storage)
        live = {name for name, node in snap.nodes.items() if node_is_live(node)}
        self._report_volumes_in_use(snap, live)
        self._mark_started_pods(snap, live, profile)
        self._mark_stopping_pods(snap, live, profile)
        self._finish_fs_resizes(snap, live)
        return snap

    def _report_volumes_in_use(self, snap: Snapshot, live: set) -> None:
        wanted = {name: set() for name in live}
        for pod in snap.pods:
            if pod.spec.node_name in wanted and pod.status.phase not in FINISHED_PHASES:
                wanted[pod.spec.node_name].update(unique_volume_name(pv.spec.csi.volume_handle) for _pvc, pv in snap.csi_volumes(pod) if pv is not None)
        for name, volumes in wanted.items():
            current = set(snap.nodes[name].status.volumes_in_use or [])
            if current != volumes:
                log.info("node %s volumesInUse %s", name, sorted(volumes))
                self.core.patch_node_status(name, {"status": {"volumesInUse": sorted(volumes)}})

    def _mark_started_pods(self, snap: Snapshot, live: set, profile: dict) -> None:
        for pod in snap.pods:
            annotations = pod.metadata.annotations or {}
            if pod.spec.node_name not in live or pod.metadata.deletion_timestamp or annotations.get(VOLUMES_ATTACHED) == "true":
                continue
            if snap.volumes_ready(pod):
                started = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=profile["durations"]["pod.start"])
                ready = started + datetime.timedelta(seconds=readiness_seconds(pod, profile))
                log.info("pod %s/%s volumes attached on %s; running at %s, ready at %s", pod.metadata.namespace, pod.metadata.name,
                         pod.spec.node_name, stamp(started), stamp(ready))
                self.core.patch_namespaced_pod(pod.metadata.name, pod.metadata.namespace, {"metadata": {"annotations": {
                    VOLUMES_ATTACHED: "true", STARTED_AT: stamp(started), READY_AT: stamp(ready)}}})

    def _mark_stopping_pods(self, snap: Snapshot, live: set, profile: dict) -> None:
        for pod in snap.pods:
            if pod.spec.node_name not in live or not pod.metadata.deletion_timestamp or STOPPED_AT in (pod.metadata.annotations or {}):
                continue
            stopped = stop_time(pod, profile, datetime.datetime.now(datetime.timezone.utc))
            log.info("pod %s/%s stopping on %s; containers exited at %s", pod.metadata.namespace, pod.metadata.name, pod.spec.node_name,
                     stamp(stopped))
            try:
                self.core.patch_namespaced_pod(pod.metadata.name, pod.metadata.namespace, {"metadata": {"annotations": {STOPPED_AT: stamp(stopped)}}})
            except ApiException as exc:
                if exc.status != 404:  # gone meanwhile (a forced deletion)
                    raise

    def _finish_fs_resizes(self, snap: Snapshot, live: set) -> None:
        mounted = set()
        for pod in snap.pods:
            if pod.spec.node_name in live and pod.status.phase == "Running" and not pod.metadata.deletion_timestamp and snap.volumes_ready(pod):
                mounted.update((pvc.metadata.namespace, pvc.metadata.name) for pvc, _pv in snap.csi_volumes(pod))
        for key in mounted:
            pvc = snap.pvcs[key]
            conditions = pvc.status.conditions or []
            if not any(c.type == "FileSystemResizePending" for c in conditions):
                continue
            size = (pvc.status.allocated_resources or {}).get("storage") or pvc.spec.resources.requests["storage"]
            log.info("pvc %s/%s file system resized to %s", key[0], key[1], size)
            body = {"status": {
                "capacity": {"storage": size},
                "conditions": [self.core.api_client.sanitize_for_serialization(c) for c in conditions
                               if c.type not in RESIZE_CONDITIONS] or None,
                "allocatedResourceStatuses": None,
            }}
            # a JSON merge patch: a strategic one would merge the conditions list by type and keep the old one
            self.core.patch_namespaced_persistent_volume_claim_status(key[1], key[0], body, _content_type="application/merge-patch+json")
