"""Benchmark: each Azure module's wall time, run as Ansible runs it, against a plain Python script making the same
ARM calls through the Azure SDK (fast profile, the ARM emulator alone).

Ours: ``python -m ansible_collections.kubedisk.aks.plugins.modules.NAME ARGS.json`` (the module file run by a new
interpreter with its arguments in a file, as Ansible's module runner hands them over; no ansible-playbook start-up),
timed from the process's start to its exit. The peer: a plain script (this file with ``--replay``) in a new
interpreter that signs in with azure-identity's ``ClientSecretCredential``, builds the management client the module
builds (``ContainerServiceClient``, ``ComputeManagementClient``, ... of the same SDK, with the lab's cloud and CA) and
sends through its pipeline exactly the ARM calls the emulator's request log shows for the module's run just before
it: same methods, same paths, in the same order. What the module asks of ARM beyond what it needs shows as calls;
what it costs beyond the SDK (Ansible's module machinery, the collection's module utils, cloud metadata, its own
logic) as seconds.

Cases: ``resource_group`` creating a group (a new name each run) and rerun on an existing one; ``role_assignment``,
``aks_cluster``, ``disk_snapshot`` and ``disk_restore`` rerun with nothing to change; ``aks_cluster_info`` of a
cluster made once. Each case runs ``--runs`` times (module and script in turn); the table shows the median wall times,
goal: module <= 1.3x script. ``details`` holds every run's wall and CPU seconds, the calls replayed, the requests the
module made outside ARM (token, cloud metadata: the modules keep its document between runs, in a cache folder the
set-up runs fill), and the start-up and import time of the module (with its SDK client) and of the script. About a
minute on 2 cores (five when the machine is busy).

    PYTHONPATH=tests python bench/module_overhead.py [--runs 5]
"""

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, Row, lab, timed, write_result  # noqa: E402  pylint: disable=wrong-import-position

GOAL = 1.3
MODULES = "ansible_collections.kubedisk.aks.plugins.modules."
ARM_PREFIXES = ("/subscriptions", "/providers")
# The emulator takes any api-version; these are the ones the collection's SDK clients send.
API_VERSIONS = {"microsoft.containerservice": "2025-08-01", "microsoft.compute": "2025-01-02",
                "microsoft.authorization": "2022-04-01"}
RESOURCES_API_VERSION = "2022-09-01"
LOCATION = "westeurope"
POOLS = [{"name": "system", "mode": "System", "count": 1, "zones": ["1", "2"], "vm_size": "standard_d4s_v5"}]
# The SDK client each module builds (plugins/module_utils/azure_module.py's CLIENTS), which the plain script builds too.
SDK_CLIENTS = {"resource_group": ("azure.mgmt.resource.resources", "ResourceManagementClient"),
               "role_assignment": ("azure.mgmt.authorization", "AuthorizationManagementClient"),
               "aks_cluster": ("azure.mgmt.containerservice", "ContainerServiceClient"),
               "aks_cluster_info": ("azure.mgmt.containerservice", "ContainerServiceClient"),
               "disk_snapshot": ("azure.mgmt.compute", "ComputeManagementClient"),
               "disk_restore": ("azure.mgmt.compute", "ComputeManagementClient")}


# ----- the plain script (``--replay``) -----------------------------------------------------------
def replay(path):
    """Sign in, build the SDK client and send the calls of ``path`` (``{"settings", "client", "calls"}``) as a plain
    SDK script would; exit 1 on an answer other than the module's."""
    from azure.core.rest import HttpRequest  # pylint: disable=import-outside-toplevel
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel

    plan = json.loads(Path(path).read_text(encoding="utf-8"))
    settings = plan["settings"]
    python_module, class_name = plan["client"]
    client_class = getattr(importlib.import_module(python_module), class_name)
    credential = ClientSecretCredential(settings["tenant"], settings["client_id"], settings["secret"],
                                        authority=settings["authority_host"], disable_instance_discovery=True,
                                        connection_verify=settings["ca_bundle"])
    client = client_class(credential, settings["subscription_id"], base_url=settings["arm"],
                          credential_scopes=[settings["arm"] + "/.default"], connection_verify=settings["ca_bundle"])
    # The multi-API clients (authorization) keep their pipeline client apart.
    send = getattr(client, "send_request", None) or client._client.send_request  # pylint: disable=protected-access
    for method, call_path, status, body in plan["calls"]:
        response = send(HttpRequest(method, settings["arm"] + call_path, params={"api-version": api_version(call_path)},
                                    json=body))
        if response.status_code != status:
            raise SystemExit("%s %s: %d, the module's run had %d" % (method, call_path, response.status_code, status))


def api_version(path):
    """The api-version an SDK client sends for ``path``, by the provider it names."""
    lowered = path.lower()
    return next((version for provider, version in API_VERSIONS.items() if "/providers/%s/" % provider in lowered),
                RESOURCES_API_VERSION)


# ----- the measurement ---------------------------------------------------------------------------


class Bench:
    """Module runs and their replays against one emulator-only lab."""

    def __init__(self, started_lab):
        from lab.admin_client import AdminClient  # pylint: disable=import-outside-toplevel

        self.lab = started_lab
        self.azure = started_lab.variables()["lab_azure"]
        exports = started_lab.variables()["lab_env"]
        self.admin = AdminClient(exports["LAB_ADMIN_URL"], exports["REQUESTS_CA_BUNDLE"])
        self.subscription = self.azure["subscription_id"]
        # Runs as Ansible's: no AZURE_* or CA settings from this process, the collection tree on the path.
        self.env = {name: value for name, value in os.environ.items()
                    if not name.startswith(("AZURE_", "LAB_")) and name not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
        self.env["PYTHONPATH"] = str(REPO / ".build")
        # The modules keep the cloud's metadata document between runs, as on a controller: in the lab's folder here,
        # filled by the set-up runs, so that the measured runs read it as the tasks of a play after the first do.
        self.env["XDG_CACHE_HOME"] = str(started_lab.root / "cache")
        self.files = 0

    def private_file(self, content):
        """A JSON file readable by the owner only (module arguments and the script's settings hold the secret)."""
        self.files += 1
        path = self.lab.root / ("bench-%d.json" % self.files)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(content, handle)
        return path

    def mark(self):
        items = self.admin.call("GET", "/requests?since=0")["requests"]
        return items[-1]["seq"] if items else 0

    def module(self, name, args):
        """One run of module ``name``: (its result, wall and CPU seconds, the requests it made)."""
        path = self.private_file({"ANSIBLE_MODULE_ARGS": dict(self.azure, **args)})
        mark = self.mark()
        output, seconds, cpu = timed([sys.executable, "-m", MODULES + name, str(path)], self.env)
        result = json.loads(output)
        if result.get("failed"):
            raise SystemExit("%s failed: %s" % (name, result.get("msg")))
        return result, (seconds, cpu), self.admin.call("GET", "/requests?since=%d" % mark)["requests"]

    def plain(self, module, calls):
        """The plain script building ``module``'s SDK client and sending ``calls``: (wall and CPU seconds, the
        requests it made)."""
        settings = {key: self.azure[key] for key in ("tenant", "client_id", "secret", "authority_host", "ca_bundle",
                                                     "subscription_id")}
        settings["arm"] = self.azure["cloud_environment"].rstrip("/")
        path = self.private_file({"settings": settings, "client": SDK_CLIENTS[module], "calls": calls})
        mark = self.mark()
        _output, seconds, cpu = timed([sys.executable, str(Path(__file__).resolve()), "--replay", str(path)], self.env)
        return (seconds, cpu), self.admin.call("GET", "/requests?since=%d" % mark)["requests"]

    def import_seconds(self, statement):
        """Median wall time of a new interpreter running ``statement`` (three runs): start-up and imports."""
        return round(statistics.median(timed([sys.executable, "-c", statement], self.env)[1] for _run in range(3)), 3)


def arm_calls(requests, bodies):
    """``[method, path, status, body]`` of the ARM calls among ``requests``; ``bodies(method, path)`` gives a write's."""
    return [[item["method"], item["path"], item["status"], bodies(item["method"], item["path"])]
            for item in requests if item["path"].lower().startswith(ARM_PREFIXES)]


def cases(bench):
    """Make what the cases need (a group, a principal, a cluster, a disk and its snapshot) through the modules and the
    lab; returns ``[(case name, module, args for run i, bodies of its writes, whether the run must change)]``."""
    group = "bench-overhead"
    bench.module("resource_group", {"name": group, "location": LOCATION})
    principal = bench.admin.call("POST", "/principals", {"displayName": "bench-overhead", "principalType": "ServicePrincipal"})
    role = {"principal_id": principal["objectId"], "principal_type": "ServicePrincipal", "role": "Reader",
            "scope": "/subscriptions/%s/resourceGroups/%s" % (bench.subscription, group)}
    bench.module("role_assignment", role)
    cluster = {"name": "bench-aks", "resource_group": group, "location": LOCATION, "node_pools": POOLS, "timeout": 600}
    bench.module("aks_cluster", cluster)
    disk = bench.lab.cli("disk", "create", group, "bench-source", "--size", "4").strip()
    snapshot = {"name": "bench-snapshot", "resource_group": group, "source_disk_id": disk}
    snapshot_id = bench.module("disk_snapshot", snapshot)[0]["snapshot"]["id"]
    restore = {"name": "bench-restored", "resource_group": group, "source_snapshot_id": snapshot_id}
    bench.module("disk_restore", restore)

    def no_body(_method, _path):
        return None

    def group_body(method, _path):
        return {"location": LOCATION} if method == "PUT" else None

    return [
        ("resource_group, create", "resource_group", lambda i: {"name": "bench-new-%d" % i, "location": LOCATION}, group_body, True),
        ("resource_group, rerun", "resource_group", lambda i: {"name": group, "location": LOCATION}, no_body, False),
        ("role_assignment, rerun", "role_assignment", lambda i: role, no_body, False),
        ("aks_cluster, rerun", "aks_cluster", lambda i: cluster, no_body, False),
        ("aks_cluster_info", "aks_cluster_info", lambda i: {"name": cluster["name"], "resource_group": group}, no_body, False),
        ("disk_snapshot, rerun", "disk_snapshot", lambda i: snapshot, no_body, False),
        ("disk_restore, rerun", "disk_restore", lambda i: restore, no_body, False),
    ]


def measure(bench, case, runs):
    """Module and plain script in turn ``runs`` times; the row and the case's details."""
    name, module, args, bodies, changes = case
    module_runs, plain_runs, calls_made, other = [], [], [], set()
    for index in range(runs):
        result, seconds, requests = bench.module(module, args(index))
        if bool(result.get("changed")) != changes:
            raise SystemExit("%s: changed=%s, expected %s" % (name, result.get("changed"), changes))
        calls = arm_calls(requests, bodies)
        # A create: the script writes a name of its own, so that its calls meet the same state as the module's did.
        own = [[method, path.replace("bench-new-%d" % index, "bench-plain-%d" % index), status, body]
               for method, path, status, body in calls]
        plain, replayed = bench.plain(module, own)
        if [call[:2] for call in arm_calls(replayed, bodies)] != [call[:2] for call in own]:
            raise SystemExit("%s: the script's calls differ from the module's" % name)
        module_runs.append([round(value, 3) for value in seconds])
        plain_runs.append([round(value, 3) for value in plain])
        calls_made.append(len(calls))
        other.update("%s %s" % (item["method"], item["path"]) for item in requests
                     if not item["path"].lower().startswith(ARM_PREFIXES))
    ours, peer = (statistics.median(run[0] for run in runs_) for runs_ in (module_runs, plain_runs))
    ours_cpu, peer_cpu = (statistics.median(run[1] for run in runs_) for runs_ in (module_runs, plain_runs))
    row = Row(name, "s", round(ours, 3), "<=", GOAL, peer=round(peer, 3), peer_name="plain SDK script",
              note="median wall time of %d runs; %d ARM calls each; CPU seconds %.2f vs %.2f (x%.2f)"
              % (runs, statistics.median(calls_made), ours_cpu, peer_cpu, ours_cpu / peer_cpu))
    return row, {"module_wall_cpu_seconds": module_runs, "plain_wall_cpu_seconds": plain_runs,
                 "module_cpu_median": round(ours_cpu, 3), "plain_cpu_median": round(peer_cpu, 3),
                 "arm_calls": calls_made, "calls": [call[:3] for call in calls], "other_requests": sorted(other),
                 "module_import_seconds": bench.import_seconds(
                     "import %s%s, azure.identity, %s" % (MODULES, module, SDK_CLIENTS[module][0])),
                 "plain_import_seconds": bench.import_seconds("import azure.identity, %s" % SDK_CLIENTS[module][0])}


def main(argv=None):
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replay", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.replay:
        replay(arguments.replay)
        return 0
    started = time.monotonic()
    rows, details = [], {}
    with lab(profile="fast", kube=False) as started_lab:
        bench = Bench(started_lab)
        for case in cases(bench):
            row, details[case[0]] = measure(bench, case, arguments.runs)
            rows.append(row)
            print("%-24s module %.2f s, plain script %.2f s (x%.2f), %s; start-up and imports: module %.2f s, script %.2f s"
                  % (row.name, row.ours, row.peer, row.ratio, row.note, details[row.name]["module_import_seconds"],
                     details[row.name]["plain_import_seconds"]))
        details["python_start_seconds"] = bench.import_seconds("pass")
    write_result("module_overhead", rows, "fast", started, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
