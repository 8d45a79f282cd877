"""``cat`` and ``data``: what the lab's writer put on a claim's disk, read through the emulator.

The writer (``lab.bridge.writer``) appends ``<UTC time> <namespace>/<pod> <node>`` once a second
while its pod runs, so downtime is the longest pause between two lines and data loss is lines
that vanish.
"""

import datetime
import json
import sys


def claim_text(lab, claim: str) -> str:
    """The text on the disk behind a PVC (``NAMESPACE/NAME``; the namespace defaults to ``default``)."""
    namespace, _slash, name = claim.rpartition("/")
    namespace = namespace or "default"
    # pylint: disable=import-outside-toplevel  # the Kubernetes client is slow to import and only these verbs need it
    from kubernetes import client

    from ..kube import controlplane

    core = client.CoreV1Api(controlplane.api_client(lab.exports()["KUBECONFIG"]))
    pvc = core.read_namespaced_persistent_volume_claim(name, namespace)
    if not pvc.spec.volume_name:
        raise SystemExit(f"lab: PVC {namespace}/{name} is not bound yet")
    handle = core.read_persistent_volume(pvc.spec.volume_name).spec.csi.volume_handle
    return lab.admin().disk_bytes(handle).rstrip(b"\0").decode("utf-8", "replace")


def _stamp(line):
    return datetime.datetime.strptime(line.split()[0].rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f")


def report(text: str, since: int = 1) -> dict:
    """``{"lines", "first", "last", "max_gap", "gap_at"}`` of the writer's text.

    ``max_gap`` is the longest pause (seconds, rounded to 0.1) between two consecutive lines from
    line ``since`` on (1-based), ``gap_at`` the line before it.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    window = lines[max(since - 1, 0):]
    gap, gap_at = 0.0, None
    for before, after in zip(window, window[1:]):
        seconds = (_stamp(after) - _stamp(before)).total_seconds()
        if seconds > gap:
            gap, gap_at = seconds, before
    return {"lines": len(lines), "first": lines[0] if lines else None, "last": lines[-1] if lines else None,
            "max_gap": round(gap, 1), "gap_at": gap_at}


def cat(lab, arguments):
    """Print the writer's lines."""
    sys.stdout.write(claim_text(lab, arguments.claim))


def data(lab, arguments):
    """Print the report of the writer's lines."""
    print(json.dumps(report(claim_text(lab, arguments.claim), arguments.since)))


def add_verbs(verbs):
    """Register ``cat`` and ``data``."""
    show = verbs.add_parser("cat", help="print what the writer put on a PVC's disk")
    show.add_argument("claim", metavar="NAMESPACE/PVC")
    show.set_defaults(run=cat)
    summary = verbs.add_parser("data", help='print {"lines", "first", "last", "max_gap", "gap_at"} of what the writer put on a PVC\'s disk')
    summary.add_argument("claim", metavar="NAMESPACE/PVC")
    summary.add_argument("--since", type=int, default=1, metavar="N",
                         help="measure the longest pause (max_gap, the line before it: gap_at) from line N on (1-based)")
    summary.set_defaults(run=data)
