"""The lab's server processes and their loopback ports.

Every process the lab starts is recorded as ``{"name", "pid", "starttime", "argv", "log"}``: the
start time (from ``/proc``) is what makes a stop hit exactly that process and never a recycled pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

LOOPBACK = "127.0.0.1"


def start_time(pid: int):
    """Start time of a pid in clock ticks since boot; None when the pid is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[19])


def spawn(name: str, argv: list, log, env=None, cwd=None):
    """Start a server in its own session with its output appended to ``log``; returns (Popen, record)."""
    with open(log, "ab") as handle:
        handle.write(f"\n=== {name} start {time.strftime('%Y-%m-%dT%H:%M:%S')}\n{' '.join(map(str, argv))}\n".encode("utf-8"))
        process = subprocess.Popen(  # noqa: S603 - no shell  # pylint: disable=consider-using-with  # a server, ended by terminate()
            argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd, env=env,
            start_new_session=True, close_fds=True)
    return process, {"name": name, "pid": process.pid, "starttime": start_time(process.pid), "argv": list(map(str, argv)), "log": str(log)}


def alive(record: dict) -> bool:
    """The recorded process still runs (same pid and same start time: not a recycled pid)."""
    return record.get("starttime") is not None and start_time(record["pid"]) == record["starttime"]


def _signal(record: dict, sig: int) -> None:
    if alive(record):
        try:
            os.kill(record["pid"], sig)
        except ProcessLookupError:
            pass


def _reap(records: list, timeout: float) -> list:
    """Wait for the processes to go; reap the ones that are our children. Returns those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        for record in records:
            try:
                os.waitpid(record["pid"], os.WNOHANG)
            except ChildProcessError:
                pass
        left = [record for record in records if alive(record)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def terminate(records: list, grace: float, log) -> list:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns the processes that survived even that."""
    for record in records:
        _signal(record, signal.SIGTERM)
    for record in _reap(records, grace):
        log(f"{record['name']} (pid {record['pid']}) ignored SIGTERM for {grace}s: SIGKILL")
        _signal(record, signal.SIGKILL)
    return _reap(records, 5)


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port(taken: set) -> int:
    """A port nothing listens on now and not in ``taken``."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


def still_bound(ports: dict, timeout: float = 10) -> list:
    """``name:port`` of the ports (name -> port) still bound after waiting up to ``timeout`` seconds for them to be freed."""
    deadline = time.monotonic() + timeout
    busy = []
    for name, port in sorted(ports.items()):
        while not port_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not port_free(port):
            busy.append(f"{name}:{port}")
    return busy
