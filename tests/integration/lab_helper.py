"""Helper the integration targets call for what the modules under test do not do themselves.

    lab_helper.py mark                      -> prints the emulator's last request seq
    lab_helper.py count SEQ                 -> JSON {"reads", "writes" (accepted: status < 400), "write_attempts",
                                               "writes_list"} of the ARM calls after SEQ
    lab_helper.py fault JSON                -> POST /_lab/faults with JSON; prints the rule
    lab_helper.py clear-faults
    lab_helper.py config JSON               -> POST /_lab/config
    lab_helper.py principal NAME            -> adds a service principal to the directory; prints its objectId
    lab_helper.py disk RG NAME SIZE SKU [ZONE] [LOCATION] -> creates a managed disk (an Empty disk) and prints its id
    lab_helper.py operations SINCE_EPOCH    -> JSON list of operations ended after SINCE_EPOCH
    lab_helper.py count SEQ MODULE PHASE    -> also appends the counts to $LAB_COUNTS (JSON lines)
    lab_helper.py latency T1 T2 ...         -> for each module return time Ti, Ti minus the end of the last
                                               operation that ended before it; appends to $LAB_LATENCY

Reads LAB_ADMIN_URL, LAB_AZURE_CA and the AZURE_* variables of .lab/env from the environment.
"""

import json
import os
import ssl
import sys
import urllib.request

ADMIN = os.environ.get("LAB_ADMIN_URL", "")
CONTEXT = ssl.create_default_context(cafile=os.environ.get("LAB_AZURE_CA") or os.environ.get("SSL_CERT_FILE"))
# Credential listing is a POST that reads; token requests are not ARM.
READ_POSTS = ("/listclusteradmincredential", "/listclusterusercredential", "/listclustermonitoringusercredential")


def admin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(ADMIN + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=CONTEXT, timeout=30) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def arm_requests(since):
    items = admin("GET", "/requests?since=%d" % since)["requests"]
    return [r for r in items if r["path"].lower().startswith(("/subscriptions", "/providers"))]


def is_write(item):
    method = item["method"].upper()
    if method in ("PUT", "PATCH", "DELETE"):
        return True
    return method == "POST" and not item["path"].lower().endswith(READ_POSTS)


def main(argv):
    cmd = argv[1]
    if cmd == "mark":
        items = admin("GET", "/requests?since=0")["requests"]
        print(items[-1]["seq"] if items else 0)
    elif cmd == "count":
        items = arm_requests(int(argv[2]))
        attempts = [i for i in items if is_write(i)]
        writes = [i for i in attempts if i["status"] < 400]  # a rejected write (400 PrincipalNotFound) changed nothing
        counts = {"reads": len(items) - len(attempts), "writes": len(writes), "write_attempts": len(attempts),
                  "writes_list": ["%s %s %s" % (i["method"], i["path"], i["status"]) for i in writes]}
        if len(argv) > 4 and os.environ.get("LAB_COUNTS"):
            with open(os.environ["LAB_COUNTS"], "a", encoding="utf-8") as out:
                out.write(json.dumps({"module": argv[3], "phase": argv[4], "reads": counts["reads"], "writes": counts["writes"]}) + "\n")
        print(json.dumps(counts))
    elif cmd == "fault":
        print(json.dumps(admin("POST", "/faults", json.loads(argv[2]))))
    elif cmd == "clear-faults":
        admin("DELETE", "/faults")
    elif cmd == "config":
        print(json.dumps(admin("POST", "/config", json.loads(argv[2]))))
    elif cmd == "profile":
        print(json.dumps(admin("PUT", "/profile", {"name": argv[2]})))
    elif cmd == "principal":
        print(admin("POST", "/principals", {"displayName": argv[2], "principalType": "ServicePrincipal"})["objectId"])
    elif cmd == "operations":
        since = float(argv[2])
        ops = admin("GET", "/operations")["operations"]
        print(json.dumps([o for o in ops if o.get("ended") and o["ended"] >= since]))
    elif cmd == "latency":
        ended = sorted(o["ended"] for o in admin("GET", "/operations")["operations"] if o.get("ended"))
        deltas = []
        for returned in (float(t) for t in argv[2:]):
            before = [e for e in ended if e <= returned]
            if before:
                deltas.append(round(returned - before[-1], 3))
        if os.environ.get("LAB_LATENCY"):
            with open(os.environ["LAB_LATENCY"], "a", encoding="utf-8") as out:
                for delta in deltas:
                    out.write("%s\n" % delta)
        print(json.dumps(deltas))
    elif cmd == "disk":
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel
        rg, name, size, sku = argv[2], argv[3], int(argv[4]), argv[5]
        zone = argv[6] if len(argv) > 6 and argv[6] else None
        location = argv[7] if len(argv) > 7 else "westeurope"
        base = os.environ["AZURE_CLOUD_ENVIRONMENT"]
        credential = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
                                            authority=os.environ["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True)
        client = ComputeManagementClient(credential, os.environ["AZURE_SUBSCRIPTION_ID"], base_url=base,
                                         credential_scopes=["https://management.azure.com/.default"], polling_interval=1)
        body = {"location": location, "sku": {"name": sku},
                "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": size}}
        if zone:
            body["zones"] = [zone]
        print(client.disks.begin_create_or_update(rg, name, body).result().id)
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main(sys.argv)
