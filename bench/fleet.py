"""Benchmark: the kubedisk.aks.aks inventory over a fleet of 200 AKS clusters, cold and cached, and the fleet
playbook's ARM requests per cluster (fast profile, the ARM emulator alone).

The fleet is made as ``tests/fleet`` makes it (``tests/fleet/fleet.py``: groups, clusters and kubelet role
assignments through ARM, three clusters drifted), with the emulator's list page size at its default, 100 clusters.

- Inventory, cold: ``ansible-inventory --list`` (``--flush-cache`` after the first) of a ``fleet.aks.yml`` with keyed
  and constructed groups; its ARM reads (the emulator's request log) against the floor, the fewest reads that list
  the clusters: one per page of the subscription's list; its wall time against a plain script's (a new interpreter
  listing the clusters with azure-identity and ``ContainerServiceClient``). Goals: reads == floor, wall <= 2x the
  plain list (the rest is Ansible's start-up and its groups; ``details`` has ``ansible-inventory`` alone).
- Inventory, cached: the same command again, answered from the jsonfile cache. Goals: 0 ARM reads, faster than cold.
- Fleet playbook (``playbooks/fleet_storage.yml`` over the last ``--playbook-clusters`` clusters of the inventory,
  which hold the three drifted ones, 10 forks; a module run costs about a second of CPU, so the whole fleet would take
  several minutes a run): writes per cluster on converge against the drift (one per drifted setting, goal: no more);
  reads per cluster on the rerun against the playbook's documented budget (one read of the cluster, two per kubelet
  role: 5); writes on the rerun (goal 0).

About 2 minutes on 2 cores (up to 9 when the machine is busy), most of it making the fleet and running the playbook.

    PYTHONPATH=tests python bench/fleet.py [--clusters 200] [--playbook-clusters 20]
"""

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, Row, timed, write_result  # noqa: E402  pylint: disable=wrong-import-position

PAGE_SIZE = 100  # the emulator's default, as ARM pages managed clusters
COLD_RUNS = 3
WALL_GOAL = 2.0
READS_PER_CLUSTER_BUDGET = 5  # playbooks/fleet_storage.yml: one read of the cluster and two per kubelet role


def plain_list():
    """The plain script (``--plain-list``): list the subscription's clusters through the SDK; print how many."""
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel

    env = os.environ
    base, verify = env["AZURE_CLOUD_ENVIRONMENT"], env["REQUESTS_CA_BUNDLE"]
    credential = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"],
                                        authority=env["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True,
                                        connection_verify=verify)
    client = ContainerServiceClient(credential, env["AZURE_SUBSCRIPTION_ID"], base_url=base,
                                    credential_scopes=[base + "/.default"], connection_verify=verify)
    print(sum(1 for _cluster in client.managed_clusters.list()))


def fleet_module():
    """``tests/fleet/fleet.py``, loaded from its path (this file has the same name)."""
    spec = importlib.util.spec_from_file_location("fleet_tests", REPO / "tests" / "fleet" / "fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed_seconds(argv, env):
    """``common.timed`` with its seconds as {"wall", "cpu"}."""
    output, wall, cpu = timed(argv, env)
    return output, {"wall": wall, "cpu": cpu}


def inventory_figures(fleet, arm_calls, list_pages, cache_dir):
    """Rows and details of the inventory, cold and cached."""
    path = fleet.inventory_file(cache_dir)
    cold = []
    for run in range(COLD_RUNS):
        inventory, seconds, requests = fleet.inventory(path, *(["--flush-cache"] if run else []))
        if len(inventory["_meta"]["hostvars"]) != fleet.size:
            raise SystemExit("the inventory has %d hosts, not %d" % (len(inventory["_meta"]["hostvars"]), fleet.size))
        cold.append({"wall": round(seconds["wall"], 3), "cpu": round(seconds["cpu"], 3), **arm_calls(requests)})
    cached_inventory, seconds, requests = fleet.inventory(path)
    if cached_inventory != inventory:
        raise SystemExit("the cached inventory differs from the listed one")
    cached = {"wall": round(seconds["wall"], 3), "cpu": round(seconds["cpu"], 3), **arm_calls(requests)}

    env = fleet.env()
    plain = [timed_seconds([sys.executable, str(Path(__file__).resolve()), "--plain-list"], env) for _run in range(COLD_RUNS)]
    if any(int(output) != fleet.size for output, _seconds in plain):
        raise SystemExit("the plain list found %s clusters, not %d" % ([output.strip() for output, _seconds in plain], fleet.size))
    startup = [timed_seconds([str(Path(sys.executable).parent / "ansible-inventory"), "-i", "localhost,", "--list"], env)[1]
               for _run in range(COLD_RUNS)]

    cold_wall, cold_cpu = (statistics.median(run[key] for run in cold) for key in ("wall", "cpu"))
    plain_wall, plain_cpu = (statistics.median(seconds[key] for _output, seconds in plain) for key in ("wall", "cpu"))
    startup_cpu = statistics.median(seconds["cpu"] for seconds in startup)
    reads = max(run["reads"] for run in cold)
    pages = list_pages(fleet.size, fleet.page_size)
    rows = [
        Row("inventory, cold: ARM reads", "reads", reads, "<=", 1.0, floor=pages,
            note="%d clusters, %d per page of the list" % (fleet.size, fleet.page_size)),
        Row("inventory, cold: wall time", "s", round(cold_wall, 3), "<=", WALL_GOAL, floor=round(plain_wall, 3),
            note="median of %d; floor: a plain SDK list in a new interpreter; CPU seconds %.2f vs %.2f, ansible-inventory "
            "alone %.2f" % (COLD_RUNS, cold_cpu, plain_cpu, startup_cpu)),
        Row("inventory, cached: ARM reads", "reads", cached["reads"], "==", 0, goal_on="value", note="jsonfile cache"),
        Row("inventory, cached: wall time", "s", cached["wall"], "<=", 1.0, peer=round(cold_wall, 3), peer_name="cold",
            note="jsonfile cache; CPU seconds %.2f" % cached["cpu"]),
    ]
    details = {"cold": [{key: run[key] for key in ("wall", "cpu", "reads", "writes", "throttled")} for run in cold],
               "cached": {key: cached[key] for key in ("wall", "cpu", "reads", "writes")},
               "plain_list_seconds": [seconds for _output, seconds in plain], "ansible_inventory_alone_seconds": startup,
               "list_pages": pages}
    return rows, details


def playbook_figures(fleet, arm_calls, host_count, cache_dir):
    """Rows and details of the fleet playbook over the last ``host_count`` clusters (the drifted ones among them)."""
    chosen = fleet.clusters[-host_count:]
    hosts = ",".join(cluster["name"] for cluster in chosen)
    drift_writes = sum(2 if cluster["drift"] == "roles" else 1 for cluster in chosen if cluster["drift"])
    inventory = fleet.inventory_file(cache_dir)
    runs = {}
    for phase in ("converge", "rerun"):
        rc, output, seconds, requests = fleet.playbook(inventory, "-e", "fleet_storage_hosts=" + hosts)
        if rc:
            raise SystemExit("the fleet playbook failed (%s):\n%s" % (phase, output[-3000:]))
        calls = arm_calls(requests)
        runs[phase] = {"wall": round(seconds["wall"], 1), "cpu": round(seconds["cpu"], 1), "reads": calls["reads"],
                       "writes": calls["writes"], "throttled": calls["throttled"], "writes_list": calls["writes_list"]}
    note = "%d of the %d clusters (the 3 drifted among them), 10 forks" % (host_count, fleet.size)
    converge, rerun = runs["converge"], runs["rerun"]
    rows = [
        Row("fleet playbook, converge: ARM writes per cluster", "writes", round(converge["writes"] / host_count, 3), "<=", 1.0,
            floor=round(drift_writes / host_count, 3), note=note + "; floor: one write per drifted setting; %.2f reads per "
            "cluster (the operations' polls included)" % (converge["reads"] / host_count)),
        Row("fleet playbook, rerun: ARM reads per cluster", "reads", round(rerun["reads"] / host_count, 2), "<=",
            READS_PER_CLUSTER_BUDGET, goal_on="value", note=note + "; goal: the playbook's documented budget"),
        Row("fleet playbook, rerun: ARM writes", "writes", rerun["writes"], "==", 0, goal_on="value", note=note),
    ]
    return rows, {"hosts": host_count, "drift_writes": drift_writes, **runs}


def main(argv=None):
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--playbook-clusters", type=int, default=20)
    parser.add_argument("--plain-list", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.plain_list:
        plain_list()
        return 0
    started = time.monotonic()
    fleet_tests = fleet_module()
    Fleet, arm_calls, list_pages = fleet_tests.Fleet, fleet_tests.arm_calls, fleet_tests.list_pages  # pylint: disable=invalid-name

    os.environ["LAB_PROFILE"] = "fast"  # the lab Fleet starts; clusters made in seconds
    fleet = Fleet(arguments.clusters, page_size=PAGE_SIZE)
    try:
        made = fleet.build()
        print("fleet: %d clusters made in %.0f s" % (fleet.size, made))
        with tempfile.TemporaryDirectory(prefix="bench-fleet-cache-") as cache_dir:
            rows, details = inventory_figures(fleet, arm_calls, list_pages, Path(cache_dir))
            playbook_rows, details["playbook"] = playbook_figures(fleet, arm_calls, arguments.playbook_clusters, Path(cache_dir))
        rows += playbook_rows
        details["fleet_made_seconds"] = round(made, 1)
    finally:
        fleet.close()
    for row in rows:
        print("%-52s %g %s (floor %s, peer %s; %s)" % (row.name, row.ours, row.unit, row.floor, row.peer, row.note))
    write_result("fleet", rows, "fast", started, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
