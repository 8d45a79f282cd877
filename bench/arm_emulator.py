"""Benchmark: authenticated ARM GETs per second against a fresh ARM emulator (fast profile), 8 concurrent clients.

Each client is a thread with its own keep-alive HTTPS connection and a bearer token from the lab's
token endpoint; all of them GET the same managed disk for a fixed time. The floor is measured in
the same run with the same clients: the same stack (uvicorn + Starlette over TLS with the lab's
certificate) answering the disk's JSON from memory, so the ratio is the emulator's own cost
(authentication, routing, throttling buckets, SQLite, request log). ARM's read quota (25 a second per
principal, which the emulator applies as Azure does) is raised far above the rate measured for the run, so the
figure is the emulator's throughput, not the quota. Goals: at least 0.9 of the floor's rate, and at least
500 GETs/s. Prints both rates and the ratio and writes ``bench/results/arm_emulator.json`` (through
``common.write_result``). Only loopback traffic; it stops by itself (about 30 s).

    PYTHONPATH=tests python bench/arm_emulator.py [--seconds 10] [--clients 8]
"""

import argparse
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from lab.admin_client import AdminClient

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, Row, write_result  # noqa: E402  pylint: disable=wrong-import-position

GOAL = 500.0
FLOOR_RATIO_GOAL = 0.9
# Read buckets far above any rate measured here: each request still takes its tokens, none is refused.
UNTHROTTLED = {scope: {"reads": {"bucket": 10**7, "refill": 10**6}} for scope in ("subscription", "global", "tenant")}


def _start(state_dir):
    info_path = Path(state_dir) / "azure.json"
    process = subprocess.Popen(  # noqa: S603 - this Python, fixed arguments  pylint: disable=consider-using-with
        [sys.executable, "-m", "lab.azure", "--state-dir", state_dir, "--profile", "fast"],
        env=dict(os.environ, PYTHONPATH=str(REPO / "tests")), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not info_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the emulator did not start")
        time.sleep(0.05)
    return process, json.loads(info_path.read_text())


def _floor_server(state_dir, body):
    """The stack alone: one route answering ``body`` over TLS with the emulator's certificate; returns (process, port)."""
    code = (
        "import sys, uvicorn\n"
        "from starlette.applications import Starlette\n"
        "from starlette.responses import Response\n"
        "from starlette.routing import Route\n"
        "body = open(sys.argv[2], 'rb').read()\n"
        "async def disk(_request):\n"
        "    return Response(body, media_type='application/json')\n"
        "app = Starlette(routes=[Route('/{path:path}', disk)])\n"
        "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4], log_level='warning')\n"
    )
    body_path = Path(state_dir) / "floor-body.json"
    body_path.write_bytes(body)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - this Python, fixed arguments  pylint: disable=consider-using-with
        [sys.executable, "-c", code, str(port), str(body_path), str(Path(state_dir) / "server.pem"), str(Path(state_dir) / "server-key.pem")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the floor server did not start")
        time.sleep(0.05)


def _measure(info, port, path, headers, clients, seconds):
    """GETs per second and errors of ``clients`` threads against 127.0.0.1:port for ``seconds``."""
    counts = [(0, 0)] * clients
    started = time.monotonic()
    threads = [threading.Thread(target=_client, args=(info, port, path, headers, started + seconds, counts, index)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(c[0] for c in counts) / elapsed, sum(c[1] for c in counts)


def _setup(info):
    """A token, a disk to read, and read quotas that do not throttle the measurement."""
    AdminClient(info["admin_url"], info["ca"]).call("POST", "/config", {"armThrottling": UNTHROTTLED})
    token = requests.post(f"{info['url']}/{info['tenant']}/oauth2/v2.0/token", verify=info["ca"], timeout=10, data={
        "grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"],
        "scope": "https://management.azure.com/.default"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    group = f"{info['url']}/subscriptions/{info['subscription_id']}/resourceGroups/bench"
    params = {"api-version": "2025-01-02"}
    requests.put(group, json={"location": "westeurope"}, headers=headers, params=params, verify=info["ca"], timeout=10).raise_for_status()
    disk = f"{group}/providers/Microsoft.Compute/disks/bench"
    body = {"location": "westeurope", "sku": {"name": "Premium_LRS"}, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 8}}
    requests.put(disk, json=body, headers=headers, params=params, verify=info["ca"], timeout=10).raise_for_status()
    return f"{disk[len(info['url']):]}?api-version={params['api-version']}", headers


def _client(info, port, path, headers, stop_at, counts, index):  # pylint: disable=too-many-arguments
    """One client: a keep-alive HTTPS connection issuing GETs until ``stop_at``."""
    context = ssl.create_default_context(cafile=info["ca"])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    done = errors = 0
    while time.monotonic() < stop_at:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            done += 1
        else:
            errors += 1
    connection.close()
    counts[index] = (done, errors)


def main(argv=None):
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="arm-bench-") as state_dir:
        process, info = _start(state_dir)
        floor = None
        try:
            path, headers = _setup(info)
            body = requests.get(info["url"] + path, headers=headers, verify=info["ca"], timeout=10).content
            floor, floor_port = _floor_server(state_dir, body)
            rate, errors = _measure(info, info["port"], path, headers, arguments.clients, arguments.seconds)
            floor_rate, floor_errors = _measure(info, floor_port, path, headers, arguments.clients, arguments.seconds)
        finally:
            for server in (process, floor):
                if server is not None:
                    server.terminate()
                    server.wait(timeout=15)
    note = f"{arguments.clients} clients for {arguments.seconds:g} s each; floor: the same stack answering from memory"
    rows = [Row("authenticated GETs/s", "GETs/s", round(rate, 1), ">=", FLOOR_RATIO_GOAL,
                floor=round(floor_rate, 1), note=note),
            Row("authenticated GETs/s, absolute", "GETs/s", round(rate, 1), ">=", GOAL, floor=round(floor_rate, 1), goal_on="value",
                note=note)]
    write_result("arm_emulator", rows, "fast", started, {
        "clients": arguments.clients, "seconds": arguments.seconds, "per_second": round(rate, 1), "errors": errors,
        "floor_per_second": round(floor_rate, 1), "floor_errors": floor_errors})
    print(f"ARM emulator: {rate:.0f} authenticated GETs/s with {arguments.clients} clients ({errors} errors; goal {GOAL:.0f}/s)")
    print(f"floor (same stack, static answer): {floor_rate:.0f} GETs/s; emulator / floor = {rate / floor_rate:.2f}")
    return 0 if errors == 0 and floor_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
