"""Lab control: ``python -m lab up | down [--keep] | status | cat NAMESPACE/PVC`` (run with ``PYTHONPATH=tests``).

``up`` starts the ARM emulator in the background (state, pid and log under ``.lab/`` at the repo
root), waits until it answers, then the Kubernetes side (``lab.cluster``: control plane, CSI
driver, bridge), and writes ``.lab/env`` with the shell exports clients need. ``LAB_KUBE=0`` runs
the emulator only. ``LAB_PROFILE`` (fast|realistic) and ``LAB_AZURE_PORT`` choose the latency
profile and the port; ``LAB_DIR`` puts the state elsewhere than ``.lab/``. ``down`` stops exactly the processes ``up`` started and, without ``--keep``,
removes the lab state. ``cat`` prints what the writer put on a PVC's disk.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("LAB_DIR") or REPO / ".lab").resolve()
AZURE_STATE = STATE / "azure"
AZURE_PID = STATE / "azure.pid"
AZURE_LOG = STATE / "azure.log"
BUNDLE = STATE / "ca-bundle.pem"
ENV_FILE = STATE / "env"
KUBE_STATE = STATE / "kube"
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_pid():
    if AZURE_PID.exists():
        pid = int(AZURE_PID.read_text().strip())
        if _alive(pid):
            return pid
    return None


def _answers(info):
    context = ssl.create_default_context(cafile=info["ca"])
    try:
        with urllib.request.urlopen(f"{info['admin_url']}/health", context=context, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _port_free(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _bundle(ca_path):
    """System CAs (certifi, else the OS bundle) plus the lab CA, for REQUESTS_CA_BUNDLE and SSL_CERT_FILE."""
    try:
        import certifi  # pylint: disable=import-outside-toplevel  # optional: requests brings it
        system = Path(certifi.where()).read_text(encoding="utf-8")
    except ImportError:
        system = Path(SYSTEM_CAS).read_text(encoding="utf-8") if Path(SYSTEM_CAS).exists() else ""
    BUNDLE.write_text(system.rstrip("\n") + "\n" + Path(ca_path).read_text(encoding="utf-8"), encoding="utf-8")
    return BUNDLE


def start_emulator(timeout=30.0):
    """Start the ARM emulator unless it runs; returns its ``azure.json`` description."""
    STATE.mkdir(exist_ok=True)
    info_path = AZURE_STATE / "azure.json"
    pid = _running_pid()
    if pid is None:
        info_path.unlink(missing_ok=True)
        command = [sys.executable, "-m", "lab.azure", "--state-dir", str(AZURE_STATE),
                   "--profile", os.environ.get("LAB_PROFILE", "fast"), "--port", os.environ.get("LAB_AZURE_PORT", "0")]
        environment = dict(os.environ, PYTHONPATH=str(REPO / "tests"))
        with open(AZURE_LOG, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment,  # pylint: disable=consider-using-with
                                       cwd=REPO, start_new_session=True)
        AZURE_PID.write_text(str(process.pid))
        pid = process.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise SystemExit(f"the ARM emulator exited; see {AZURE_LOG}")
        if info_path.exists():
            info = json.loads(info_path.read_text())
            if info["pid"] == pid and _answers(info):
                return info
        time.sleep(0.1)
    raise SystemExit(f"the ARM emulator did not answer within {timeout:.0f} s; see {AZURE_LOG}")


def stop_emulator():
    """Stop the emulator process ``up`` started and check its port is free again."""
    pid = _running_pid()
    port = None
    info_path = AZURE_STATE / "azure.json"
    if info_path.exists():
        port = json.loads(info_path.read_text())["port"]
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    AZURE_PID.unlink(missing_ok=True)
    if port is not None:
        deadline = time.monotonic() + 5
        while not _port_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _port_free(port):
            raise SystemExit(f"port {port} is still in use after stopping the emulator")


def environment_exports(info):
    """The exports of ``.lab/env`` for the emulator."""
    bundle = _bundle(info["ca"])
    return {
        "AZURE_CLOUD_ENVIRONMENT": info["url"], "AZURE_AUTHORITY_HOST": info["authority"],
        "AZURE_TENANT_ID": info["tenant"], "AZURE_TENANT": info["tenant"],
        "AZURE_CLIENT_ID": info["client_id"], "AZURE_CLIENT_SECRET": info["client_secret"], "AZURE_SECRET": info["client_secret"],
        "AZURE_SUBSCRIPTION_ID": info["subscription_id"], "REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle),
        "LAB_ADMIN_URL": info["admin_url"], "LAB_AZURE_CA": info["ca"],
    }


def up():
    """Start the lab and write ``.lab/env``."""
    began = time.monotonic()
    exports = environment_exports(start_emulator())
    if os.environ.get("LAB_KUBE", "1") != "0":
        from . import cluster  # pylint: disable=import-outside-toplevel  # needs the kubernetes client and the built binaries
        exports.update(cluster.up(exports, KUBE_STATE))
    ENV_FILE.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in exports.items()), encoding="utf-8")
    print(f"lab is up in {time.monotonic() - began:.1f} s: {exports['AZURE_CLOUD_ENVIRONMENT']} (source {ENV_FILE})")


def down(keep):
    """Stop the lab; remove its state unless ``keep``."""
    if KUBE_STATE.exists():
        from . import cluster  # pylint: disable=import-outside-toplevel
        cluster.down(KUBE_STATE, keep)
    stop_emulator()
    if not keep:
        for path in (AZURE_STATE, KUBE_STATE, ENV_FILE, BUNDLE, AZURE_LOG):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    print("lab is down" + (" (state kept)" if keep else ""))


def status():
    """Print whether the emulator runs and where; exit 1 when it does not."""
    pid = _running_pid()
    info_path = AZURE_STATE / "azure.json"
    if pid is None or not info_path.exists():
        print("azure: not running")
        return 1
    info = json.loads(info_path.read_text())
    print(f"azure: running, pid {pid}, {info['url']}, {'answering' if _answers(info) else 'NOT answering'}")
    return 0


def cat(claim):
    """Print the bytes of a PVC's disk (what the writer wrote), read through the emulator."""
    from . import cluster  # pylint: disable=import-outside-toplevel
    namespace, _slash, name = claim.rpartition("/")
    sys.stdout.write(cluster.disk_text(dict(line.split("=", 1) for line in _exports()), namespace or "default", name))
    return 0


def _exports():
    """The ``NAME=value`` pairs of ``.lab/env``."""
    if not ENV_FILE.exists():
        raise SystemExit("lab: not running (no .lab/env); run 'make lab-up' first")
    return [shlex.split(line[len("export "):])[0] for line in ENV_FILE.read_text(encoding="utf-8").splitlines() if line.startswith("export ")]


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the lab and write .lab/env")
    stop = commands.add_parser("down", help="stop the lab")
    stop.add_argument("--keep", action="store_true", help="keep the lab state (database, disks, certificates)")
    commands.add_parser("status", help="show whether the lab runs")
    show = commands.add_parser("cat", help="print what the writer put on a PVC's disk")
    show.add_argument("claim", metavar="NAMESPACE/PVC")
    arguments = parser.parse_args(argv)
    if arguments.command == "up":
        up()
    elif arguments.command == "down":
        down(arguments.keep)
    elif arguments.command == "cat":
        return cat(arguments.claim)
    else:
        return status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
