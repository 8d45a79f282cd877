"""``up``, ``down``, ``status`` and ``restart``: the lab's processes.

``up`` starts the ARM emulator in the background (state, process record and log in the lab
folder), waits until it answers, then the Kubernetes side (``lab.cluster``: control plane, CSI
driver, bridge) unless ``LAB_KUBE=0``, and writes the ``env`` file. ``LAB_PROFILE`` (fast|realistic)
and ``LAB_AZURE_PORT`` choose the latency profile and the port. ``down`` stops exactly the
processes ``up`` started and, without ``--keep``, removes the lab state. ``restart`` stops one
server (the emulator or the kube-apiserver) under its running clients and starts it again on the
same port with the same state, as a restart of ARM or of a managed control plane looks to them.
"""

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from .. import processes
from ..admin_client import AdminClient
from .labdir import REPO, TESTS

SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def _paths(lab):
    """The emulator's files in the lab folder."""
    return {"info": lab.azure / "azure.json", "process": lab.root / "azure.process.json", "log": lab.root / "azure.log",
            "bundle": lab.root / "ca-bundle.pem"}


def _emulator(lab):
    """The recorded emulator process while it runs, else None."""
    try:
        record = json.loads(_paths(lab)["process"].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if processes.alive(record) else None


def _answers(info) -> bool:
    try:
        AdminClient(info["admin_url"], info["ca"], timeout=2).call("GET", "/health")
    except OSError:
        return False
    return True


def _bundle(lab, ca_path):
    """System CAs (certifi, else the OS bundle) plus the lab CA, for REQUESTS_CA_BUNDLE and SSL_CERT_FILE."""
    try:
        import certifi  # pylint: disable=import-outside-toplevel  # optional: requests brings it
        system = Path(certifi.where()).read_text(encoding="utf-8")
    except ImportError:
        system = Path(SYSTEM_CAS).read_text(encoding="utf-8") if Path(SYSTEM_CAS).exists() else ""
    bundle = _paths(lab)["bundle"]
    bundle.write_text(system.rstrip("\n") + "\n" + Path(ca_path).read_text(encoding="utf-8"), encoding="utf-8")
    return bundle


def start_emulator(lab, timeout=30.0, port=None, profile=None):
    """Start the ARM emulator unless it runs; returns its ``azure.json`` description.

    port: None for a free one; profile: None keeps the one stored in the state (fast in a new lab).
    """
    lab.root.mkdir(parents=True, exist_ok=True)
    paths = _paths(lab)
    record = _emulator(lab)
    if record is None:
        paths["info"].unlink(missing_ok=True)
        command = [sys.executable, "-m", "lab.azure", "--state-dir", str(lab.azure), "--port", str(port or 0)]
        command += ["--profile", profile] if profile else []
        _process, record = processes.spawn("azure", command, paths["log"], dict(os.environ, PYTHONPATH=str(TESTS)), cwd=REPO)
        paths["process"].write_text(json.dumps(record), encoding="utf-8")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes.alive(record):
            raise SystemExit(f"the ARM emulator exited; see {paths['log']}")
        if paths["info"].exists():
            info = json.loads(paths["info"].read_text())
            if info["pid"] == record["pid"] and _answers(info):
                return info
        time.sleep(0.1)
    raise SystemExit(f"the ARM emulator did not answer within {timeout:.0f} s; see {paths['log']}")


def stop_emulator(lab, kill=False):
    """Stop the emulator process ``up`` started (SIGTERM, or SIGKILL with ``kill``) and check its port is free again."""
    paths = _paths(lab)
    record = _emulator(lab)
    if record is not None and kill:
        os.kill(record["pid"], signal.SIGKILL)
    # terminate() sends SIGTERM (a no-op once killed) and waits until the process is gone.
    if record is not None and processes.terminate([record], 10, print):
        raise SystemExit(f"the ARM emulator (pid {record['pid']}) survived SIGKILL")
    paths["process"].unlink(missing_ok=True)
    if paths["info"].exists():
        busy = processes.still_bound({"azure": json.loads(paths["info"].read_text())["port"]}, timeout=5)
        if busy:
            raise SystemExit(f"port {busy[0]} is still in use after stopping the emulator")


def environment_exports(lab, info):
    """The exports of the env file for the emulator."""
    bundle = str(_bundle(lab, info["ca"]))
    return {
        "AZURE_CLOUD_ENVIRONMENT": info["url"], "AZURE_AUTHORITY_HOST": info["authority"],
        "AZURE_TENANT_ID": info["tenant"], "AZURE_TENANT": info["tenant"],
        "AZURE_CLIENT_ID": info["client_id"], "AZURE_CLIENT_SECRET": info["client_secret"], "AZURE_SECRET": info["client_secret"],
        "AZURE_SUBSCRIPTION_ID": info["subscription_id"], "REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle,
        "LAB_ADMIN_URL": info["admin_url"], "LAB_AZURE_CA": info["ca"], "LAB_IMDS_URL": info["imds_url"],
    }


def up(lab, _arguments):
    """Start the lab and write its env file."""
    began = time.monotonic()
    exports = environment_exports(lab, start_emulator(lab, port=os.environ.get("LAB_AZURE_PORT"), profile=os.environ.get("LAB_PROFILE", "fast")))
    if os.environ.get("LAB_KUBE", "1") != "0":
        from .. import cluster  # pylint: disable=import-outside-toplevel  # needs the kubernetes client and the built binaries
        exports.update(cluster.up(exports, lab.kube))
    lab.write_exports(exports)
    print(f"lab is up in {time.monotonic() - began:.1f} s: {exports['AZURE_CLOUD_ENVIRONMENT']} (source {lab.env_file})")


def down(lab, arguments):
    """Stop the lab; remove its state unless ``--keep``."""
    if lab.kube.exists():
        from .. import cluster  # pylint: disable=import-outside-toplevel
        cluster.down(lab.kube, arguments.keep)
    stop_emulator(lab)
    if not arguments.keep:
        paths = _paths(lab)
        for path in (lab.azure, lab.kube, lab.env_file, paths["bundle"], paths["log"]):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    print("lab is down" + (" (state kept)" if arguments.keep else ""))


def status(lab, _arguments):
    """Print whether the emulator runs and where; exit 1 when it does not."""
    record = _emulator(lab)
    info_path = _paths(lab)["info"]
    if record is None or not info_path.exists():
        print("azure: not running")
        return 1
    info = json.loads(info_path.read_text())
    print(f"azure: running, pid {record['pid']}, {info['url']}, {'answering' if _answers(info) else 'NOT answering'}")
    return 0


def restart(lab, arguments):
    """Stop the emulator or the kube-apiserver, keep it down ``--down-for`` seconds, start it again on its port; print the times."""
    began = time.monotonic()
    if arguments.server == "azure":
        info_path = _paths(lab)["info"]
        if _emulator(lab) is None or not info_path.exists():
            raise SystemExit("lab: the ARM emulator is not running; nothing to restart")
        port = json.loads(info_path.read_text(encoding="utf-8"))["port"]
        stop_emulator(lab, arguments.kill)
        time.sleep(arguments.down_for)
        restarted = time.monotonic()
        # No --profile: the emulator keeps the stored latency profile, as it keeps every other setting.
        info = start_emulator(lab, port=port)
        times = {"down_seconds": round(restarted - began, 1), "ready_seconds": round(time.monotonic() - restarted, 1)}
        print(json.dumps(dict(times, server="azure", pid=info["pid"], port=info["port"])))
        return
    from ..kube import controlplane  # pylint: disable=import-outside-toplevel  # only a lab with Kubernetes has one
    try:
        times = controlplane.restart_apiserver(lab.kube, kill=arguments.kill, down_for=arguments.down_for,
                                               log=lambda line: print(line, file=sys.stderr))
    except controlplane.ControlPlaneError as exc:
        raise SystemExit(f"lab: {exc}") from exc
    print(json.dumps(dict(times, server="apiserver")))


def add_verbs(verbs):
    """Register ``up``, ``down``, ``status`` and ``restart``."""
    verbs.add_parser("up", help="start the lab and write its env file").set_defaults(run=up)
    stop = verbs.add_parser("down", help="stop exactly what 'up' started; remove the lab state")
    stop.add_argument("--keep", action="store_true", help="keep the lab state (database, disks, certificates) for the next 'up'")
    stop.set_defaults(run=down)
    verbs.add_parser("status", help="show whether the lab runs (exit 1 when it does not)").set_defaults(run=status)
    again = verbs.add_parser("restart", help="stop one server and start it again on the same port with the same state")
    again.add_argument("server", choices=("azure", "apiserver"), help="the ARM emulator or the kube-apiserver")
    again.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM: no graceful shutdown")
    again.add_argument("--down-for", type=float, default=0, metavar="SECONDS", help="keep it stopped this long before the start")
    again.set_defaults(run=restart)
