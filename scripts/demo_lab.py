"""Lab-only helper of ``make demo`` (never used against real Azure): read the writer's data, power a VM.

``demo_lab.py disk NAMESPACE/PVC [SINCE]``: what the lab's writer put on the claim's disk, as JSON
``{"lines", "first", "last", "max_gap", "gap_at"}``; ``max_gap`` is the longest pause between two lines
from line SINCE on (1-based; default 1), so a step's downtime is read from the data it wrote.
``demo_lab.py power deallocate|start PROVIDER_ID``: power operation on the scale-set VM behind a node.
Needs the lab's environment (``$LAB_DIR/env``) and ``LAB_DIR``.
"""

import datetime
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stamp(line):
    return datetime.datetime.strptime(line.split()[0].rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f")


def disk(claim, since=1):
    text = subprocess.run([sys.executable, "-m", "lab", "cat", claim], cwd=ROOT, check=True, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests"))).stdout
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    window = lines[max(since - 1, 0):]
    gap, gap_at = 0.0, None
    for before, after in zip(window, window[1:]):
        seconds = (_stamp(after) - _stamp(before)).total_seconds()
        if seconds > gap:
            gap, gap_at = seconds, before
    print(json.dumps({"lines": len(lines), "first": lines[0] if lines else None, "last": lines[-1] if lines else None,
                      "max_gap": round(gap, 1), "gap_at": gap_at}))


def power(action, provider_id):
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel
    pattern = (r"azure:///subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft.Compute/"
               r"virtualMachineScaleSets/([^/]+)/virtualMachines/(\d+)$")
    match = re.match(pattern, provider_id, re.IGNORECASE)
    if not match:
        sys.exit("not a scale-set providerID: %s" % provider_id)
    subscription, group, vmss, instance = match.groups()
    base = os.environ["AZURE_CLOUD_ENVIRONMENT"]
    credential = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
                                        authority=os.environ["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True)
    client = ComputeManagementClient(credential, subscription, base_url=base, credential_scopes=[base + "/.default"], polling_interval=1)
    getattr(client.virtual_machine_scale_set_vms, "begin_" + action)(group, vmss, instance).result()
    print(json.dumps({"action": action, "vm": provider_id}))


if __name__ == "__main__":
    if sys.argv[1] == "disk":
        disk(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    elif sys.argv[1] == "power":
        power(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
