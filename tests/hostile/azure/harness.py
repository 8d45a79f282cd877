"""The ARM emulator alone, in a lab folder of its own, and the collection's Azure modules run against it each in a
process of its own, as Ansible runs them, with no ``AZURE_*`` in the environment (the modules get the lab's settings
as options). The runs are forked from a process that imported Ansible and the Azure SDK once (``module_server.py``),
and timed from fork to exit. The request log says what each run wrote."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TESTS = ROOT / "tests"
sys.path.insert(0, str(TESTS))

from lab.admin_client import AdminClient  # noqa: E402  pylint: disable=wrong-import-position
from lab.cli.compute import sdk_client  # noqa: E402  pylint: disable=wrong-import-position
from lab.cli.labdir import read_exports  # noqa: E402  pylint: disable=wrong-import-position

# Credential listings are POSTs that read (as the lab's `requests count` sees them).
READ_POSTS = ("/listclusteradmincredential", "/listclusterusercredential")
# The fast profile asks for a poll every 100 ms where ARM's Retry-After is at least a second: the suite's lab takes
# reads ten times as fast as ARM's quota (the armThrottling setting), so runs at once meet only the faults their
# cells inject, not ARM's read throttling.
READ_LIMITS = {"subscription": {"reads": {"bucket": 2500, "refill": 250}}, "global": {"reads": {"bucket": 37500, "refill": 3750}}}
# A module run (timed from its fork to its exit) may take its timeout plus this: the last call of a spent deadline
# gets a second (deadline.LAST_CALL_SECONDS), then the module reports and exits. Measured: at most 1.4 s over, on
# 2 cores at a load average of 8.
MARGIN = 3.0


def lab_cli(lab_dir, *args, **environment):
    """``python -m lab ARGS`` on the lab in ``lab_dir``; its output."""
    result = subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, LAB_DIR=str(lab_dir), PYTHONPATH=str(TESTS), **environment), check=False)
    if result.returncode:
        raise RuntimeError("python -m lab %s failed:\n%s\n%s" % (" ".join(args), result.stdout, result.stderr))
    return result.stdout


def is_write(item):
    method = item["method"].upper()
    return method in ("PUT", "PATCH", "DELETE") or (method == "POST" and not item["path"].lower().endswith(READ_POSTS))


class ModuleServer:
    """``module_server.py`` started in ``folder`` with ``env``; ``run`` forks one module run from it."""

    def __init__(self, folder, env):
        self.socket = str(Path(folder) / ("modules-%s.sock" % uuid.uuid4().hex[:8]))
        self.process = subprocess.Popen([sys.executable, str(HERE / "module_server.py"), self.socket],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=str(ROOT))
        ready = self.process.stdout.readline()
        if ready.strip() != b"ready":
            self.close()
            raise RuntimeError("the module server did not start (it said %r)" % ready)

    def run(self, module, args):
        """``{"rc", "stdout", "stderr", "seconds"}`` of one run of ``module`` with ``args``."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(600)
            conn.connect(self.socket)
            conn.sendall(json.dumps({"module": module, "args": args}).encode())
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        if not chunks:
            raise RuntimeError("the module server gave no answer for %s" % module)
        return json.loads(b"".join(chunks))

    def close(self):
        """Closing its standard input stops the server (runs in flight finish on their own)."""
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        if os.path.exists(self.socket):
            os.unlink(self.socket)


class Lab:
    """A running emulator-only lab: module runs, fault rules, the request log and SDK clients for checking state."""

    def __init__(self, lab_dir):
        self.dir = Path(lab_dir)
        self.exports = read_exports(self.dir / "env")
        self.azure = json.loads(lab_cli(self.dir, "vars"))["lab_azure"]
        self.admin = AdminClient(self.exports["LAB_ADMIN_URL"], self.exports["REQUESTS_CA_BUNDLE"])
        self.subscription = self.exports["AZURE_SUBSCRIPTION_ID"]
        self.location = "westeurope"
        self._clients = {}
        self._seen = 0
        self.env = dict((k, v) for k, v in os.environ.items() if not k.startswith("AZURE_") and k not in ("REQUESTS_CA_BUNDLE",))
        self.env.update(PYTHONPATH=str(ROOT / ".build"), ANSIBLE_NOCOLOR="1")
        self.modules = ModuleServer(self.dir, self.env)

    def close(self):
        self.modules.close()

    @staticmethod
    def unique(prefix):
        return "%s%s" % (prefix, uuid.uuid4().hex[:8])

    # ----- module runs -------------------------------------------------------------------------
    def run(self, module, args, check_mode=False, auth=True):
        """Run one module; returns ``(result, seconds)`` (``result['failed']`` on failure)."""
        payload = dict(self.azure, **args) if auth else dict(args)
        if check_mode:
            payload["_ansible_check_mode"] = True
        answer = self.modules.run(module, payload)
        try:
            result = json.loads(answer["stdout"])
        except ValueError:
            output = "%s %s" % (answer["stdout"][-2000:], answer["stderr"][-2000:])
            result = {"failed": True, "msg": "no JSON result (exit %d): %s" % (answer["rc"], output), "unhandled": True}
        seconds = answer["seconds"]
        return result, seconds

    # ----- request log and faults --------------------------------------------------------------
    def mark(self):
        """The sequence number of the last logged request (read from the last mark on: the log only grows)."""
        items = self.admin.call("GET", "/requests?since=%d" % self._seen)["requests"]
        if items:
            self._seen = max(self._seen, items[-1]["seq"])
        return self._seen

    def writes(self, since, *names):
        """``(accepted writes, write attempts)`` after ``since``; only requests whose path names one of ``names``."""
        items = [i for i in self.admin.call("GET", "/requests?since=%d" % since)["requests"]
                 if i["path"].lower().startswith("/subscriptions") and is_write(i)
                 and (not names or any(n.lower() in i["path"].lower() for n in names))]
        return [i for i in items if 0 < i["status"] < 400], items  # status 0: the connection was reset, nothing answered

    def fault(self, rule):
        return self.admin.call("POST", "/faults", rule)["id"]

    def clear(self, *rule_ids):
        for rule_id in rule_ids:
            try:
                self.admin.call("DELETE", "/faults/%s" % rule_id)
            except Exception:  # pylint: disable=broad-except  # a rule used up is already gone
                pass

    # ----- SDK clients and fixtures made straight through the SDK ------------------------------
    def client(self, name):
        if name not in self._clients:
            from azure.mgmt.authorization import AuthorizationManagementClient  # pylint: disable=import-outside-toplevel
            from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel
            from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel
            from azure.mgmt.resource.resources import ResourceManagementClient  # pylint: disable=import-outside-toplevel
            classes = {"resource": ResourceManagementClient, "compute": ComputeManagementClient,
                       "containerservice": ContainerServiceClient, "authorization": AuthorizationManagementClient}
            self._clients[name] = sdk_client(classes[name], self.exports)
        return self._clients[name]

    def group(self, name):
        self.client("resource").resource_groups.create_or_update(name, {"location": self.location})
        return "/subscriptions/%s/resourceGroups/%s" % (self.subscription, name)

    def disk(self, group, name, size=4):
        body = {"location": self.location, "sku": {"name": "StandardSSD_LRS"}, "zones": ["1"],
                "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": size}}
        return self.client("compute").disks.begin_create_or_update(group, name, body).result().id

    def principal(self, name):
        """A new service principal of the lab's directory; its object id."""
        return self.admin.call("POST", "/principals", {"displayName": name, "principalType": "ServicePrincipal"})["objectId"]

    def exists(self, kind, group, name):
        """Whether the resource is there (and its provisioningState)."""
        from azure.core.exceptions import ResourceNotFoundError  # pylint: disable=import-outside-toplevel
        readers = {"resource_group": lambda: self.client("resource").resource_groups.get(name),
                   "aks_cluster": lambda: self.client("containerservice").managed_clusters.get(group, name),
                   "disk_snapshot": lambda: self.client("compute").snapshots.get(group, name),
                   "disk_restore": lambda: self.client("compute").disks.get(group, name)}
        try:
            found = readers[kind]()
        except ResourceNotFoundError:
            return None
        return getattr(found, "provisioning_state", None) or getattr(getattr(found, "properties", None), "provisioning_state", None) \
            or "Succeeded"


def start_lab():
    """Start an emulator-only lab in a new temporary folder, with ``READ_LIMITS``; returns its folder."""
    lab_dir = tempfile.mkdtemp(prefix="hostile-azure-")
    lab_cli(lab_dir, "up", LAB_KUBE="0")
    lab_cli(lab_dir, "config", json.dumps({"armThrottling": READ_LIMITS}))
    return lab_dir


def stop_lab(lab_dir):
    """Stop the lab and remove its folder (with the files the tests wrote there: the lab's vars, kubeconfigs)."""
    lab_cli(lab_dir, "down")
    shutil.rmtree(lab_dir, ignore_errors=True)


def table(rows, columns):
    """A plain text table of ``rows`` (dicts) under ``columns``."""
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)
