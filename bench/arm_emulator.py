"""Benchmark: authenticated ARM GETs per second against a fresh ARM emulator (fast profile), 8 concurrent clients.

Each client is a thread with its own keep-alive HTTPS connection and a bearer token from the lab's
token endpoint; all of them GET the same managed disk for a fixed time.  Prints the rate and
writes ``bench/results/arm_emulator.json``.  Only loopback traffic; it stops by itself.

    PYTHONPATH=tests python bench/arm_emulator.py [--seconds 10] [--clients 8]
"""

import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
GOAL = 500.0


def _start(state_dir):
    info_path = Path(state_dir) / "azure.json"
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "lab.azure", "--state-dir", state_dir, "--profile", "fast"],
        env=dict(os.environ, PYTHONPATH=str(REPO / "tests")), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not info_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the emulator did not start")
        time.sleep(0.05)
    return process, json.loads(info_path.read_text())


def _setup(info):
    """A token, and a disk to read."""
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


def _client(info, path, headers, stop_at, counts, index):
    """One client: a keep-alive HTTPS connection issuing GETs until ``stop_at``."""
    context = ssl.create_default_context(cafile=info["ca"])
    connection = http.client.HTTPSConnection("127.0.0.1", info["port"], context=context, timeout=10)
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
    with tempfile.TemporaryDirectory(prefix="arm-bench-") as state_dir:
        process, info = _start(state_dir)
        try:
            path, headers = _setup(info)
            counts = [(0, 0)] * arguments.clients
            started = time.monotonic()
            stop_at = started + arguments.seconds
            threads = [threading.Thread(target=_client, args=(info, path, headers, stop_at, counts, index))
                       for index in range(arguments.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            process.terminate()
            process.wait(timeout=15)
    done = sum(count[0] for count in counts)
    errors = sum(count[1] for count in counts)
    rate = done / elapsed
    result = {"benchmark": "arm_emulator_authenticated_gets", "clients": arguments.clients, "seconds": round(elapsed, 2),
              "requests": done, "errors": errors, "per_second": round(rate, 1), "goal_per_second": GOAL, "meets_goal": rate >= GOAL}
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / "arm_emulator.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"ARM emulator: {rate:.0f} authenticated GETs/s with {arguments.clients} clients ({errors} errors; goal {GOAL:.0f}/s)")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
