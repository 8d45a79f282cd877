"""Each Azure module's create, update and delete under each fault the emulator injects.

A run under a fault either succeeds after retrying within ``timeout``, or fails cleanly naming Azure's answer (code and
request id), within ``timeout`` plus a small margin (timed from the fork of the module's process to its exit).
Afterwards, with the faults gone, a rerun converges and the resource is what was asked for. Faults aimed at a case's
own request run many cases at once; the failing token endpoint fails every request, so its cases run at once under
one rule; resets of operation polls hit whichever poll comes next, so those cases run one at a time.
"""

from concurrent.futures import ThreadPoolExecutor

from harness import MARGIN

TIMEOUT = 15
# The rerun only has to converge: it gets more time, so a loaded machine does not fail it. A rerun after an endless
# operation waits for that operation and says so when its own (short) timeout ends.
RERUN_TIMEOUT = 30
HUNG_RERUN_TIMEOUT = 3
WORKERS = 6
POOLS = [{"name": "system", "mode": "System", "count": 1, "zones": ["1", "2"], "vm_size": "standard_d4s_v5"}]
POLL = r"/providers/[^/]+/locations/[^/]+/operations/"

# Where a fault's rule reaches: the case's own request, every request (cases at once), the next poll (one case at a time).
OWN, EVERY, NEXT_POLL = "own request", "every request", "next poll"
# name -> (fault rule without its path, where it reaches, what a failure must name; None: the run must succeed)
FAULTS = {
    "429 Retry-After 1": ({"action": "429", "retryAfter": 1, "count": 2}, OWN, None),
    "429 Retry-After 120": ({"action": "429", "retryAfter": 120, "count": 1}, OWN, ("TooManyRequests", "request id")),
    "500 x20": ({"action": "500", "count": 20}, OWN, ("InternalServerError", "request id")),
    "503 x2": ({"action": "503", "count": 2}, OWN, None),
    "reset on write": ({"action": "reset", "count": 1}, OWN, None),
    "reset on poll x2": ({"action": "reset", "count": 2, "method": "GET", "path": POLL}, NEXT_POLL, None),
    "operation Failed": ({"action": "lro-fail", "count": 1, "code": "InjectedOperationFailure"}, OWN, ("InjectedOperationFailure",)),
    "operation never ends": ({"action": "lro-hang", "count": 1}, OWN, ("did not finish within timeout",)),
    "token endpoint 500": ({"action": "500", "probability": 1.0, "path": r"/oauth2/"}, EVERY, ("authentication",)),
}
LRO_ONLY = ("reset on poll x2", "operation Failed", "operation never ends")
READ_FAULTS = ("429 Retry-After 1", "429 Retry-After 120", "500 x20", "503 x2", "reset on write", "token endpoint 500")


class Case:
    """One module operation, made ready in the lab: the args of the run, its request (method, path) and the end state."""

    def __init__(self, module, operation, args, method, path, names, check=None):
        self.module, self.operation, self.args = module, operation, dict(args, timeout=TIMEOUT)
        self.method, self.path, self.names, self.check = method, path, names, check


def prepare(lab, module, operation):
    """Make what ``operation`` of ``module`` needs (a group, a disk, the resource itself) and describe the run."""
    rg = lab.unique("hrg")
    if module == "resource_group":
        args = {"name": rg, "location": lab.location, "tags": {"case": operation}}
        if operation != "create":
            lab.group(rg)
        want = operation != "delete"
        if operation == "delete":
            args = {"name": rg, "state": "absent"}
        method = {"create": "PUT", "update": "PATCH", "delete": "DELETE"}[operation]
        return Case(module, operation, args, method, "/resourcegroups/%s$" % rg, [rg],
                    ("resource_group", None, rg, want))
    lab.group(rg)
    if module == "aks_cluster_info":
        cluster = lab.unique("haks")
        created = lab.run("aks_cluster", {"name": cluster, "resource_group": rg, "location": lab.location, "node_pools": POOLS,
                                          "timeout": 60})[0]
        assert not created.get("failed"), created
        args = {"name": cluster, "resource_group": rg, "kubeconfig": {"path": str(lab.dir / ("kubeconfig-" + cluster))}}
        return Case(module, operation, args, "GET", "/managedClusters/%s" % cluster, [cluster])
    if module == "aks_cluster":
        name = lab.unique("haks")
        base = {"name": name, "resource_group": rg, "location": lab.location, "node_pools": POOLS}
        return _resource_case(lab, module, operation, base, {"tags": {"case": "update"}}, name, rg,
                              "/managedClusters/%s$" % name)
    if module == "role_assignment":
        args = {"principal_id": lab.principal(lab.unique("hsp")), "principal_type": "ServicePrincipal", "role": "Reader",
                "scope": "/subscriptions/%s/resourceGroups/%s" % (lab.subscription, rg)}
        if operation == "delete":
            result = lab.run(module, args)[0]
            assert not result.get("failed"), result
            args["state"] = "absent"
        return Case(module, operation, args, "PUT" if operation == "create" else "DELETE",
                    "/resourceGroups/%s/providers/Microsoft.Authorization/roleAssignments/" % rg, [rg])
    disk = lab.disk(rg, lab.unique("hsrc"))
    name = lab.unique("hdst")
    if module == "disk_snapshot":
        base = {"name": name, "resource_group": rg, "source_disk_id": disk}
        return _resource_case(lab, module, operation, base, {"tags": {"case": "update"}}, name, rg, "/snapshots/%s$" % name)
    base = {"name": name, "resource_group": rg, "source_disk_id": disk, "zone": "1", "sku": "StandardSSD_LRS"}
    return _resource_case(lab, module, operation, base, {"tags": {"case": "update"}}, name, rg, "/disks/%s$" % name)


def _resource_case(lab, module, operation, base, update, name, rg, path):
    if operation != "create":
        result = lab.run(module, dict(base, timeout=60))[0]
        assert not result.get("failed"), result
    if operation == "create":
        return Case(module, operation, base, "PUT", path, [name], (module, rg, name, True))
    if operation == "update":
        return Case(module, operation, dict(base, **update), "PATCH", path, [name], (module, rg, name, True))
    return Case(module, operation, {"name": name, "resource_group": rg, "state": "absent"}, "DELETE", path, [name],
                (module, rg, name, False))


def rule_for(case, fault_name):
    """The fault rule of ``fault_name`` aimed at the request of ``case`` (or at every request it may meet)."""
    rule, reach = FAULTS[fault_name][:2]
    rule = dict(rule)
    if reach == OWN:
        rule.setdefault("method", case.method)
        rule["path"] = case.path
    return rule


def faulted_run(lab, case):
    """Run ``case`` (under whatever faults are set); ``(result, seconds, accepted writes)``."""
    since = lab.mark()
    result, seconds = lab.run(case.module, case.args)
    writes = lab.writes(since, *case.names)[0]
    return result, seconds, len(writes)


def judge(lab, case, fault_name, run):
    """Rerun ``case`` without faults and check both runs; the table row and the problems seen."""
    result, seconds, writes = run
    must_name = FAULTS[fault_name][2]
    problems = []
    if result.get("unhandled"):
        problems.append("unhandled: %s" % result["msg"])
    if seconds > TIMEOUT + MARGIN:
        problems.append("took %.1f s, more than timeout %d s + %g s" % (seconds, TIMEOUT, MARGIN))
    msg = result.get("msg") or ""
    if result.get("failed"):
        outcome = "failed: " + msg[:70]
        if must_name is None:
            problems.append("failed where a retry should succeed: %s" % msg)
        else:
            problems += ["the failure does not name %r: %s" % (word, msg) for word in must_name if word.lower() not in msg.lower()]
    else:
        outcome = "ok, changed" if result.get("changed") else "ok"
        if must_name is not None and fault_name != "429 Retry-After 120":
            problems.append("succeeded although the fault should fail it")
    hung = fault_name == "operation never ends"
    rerun = lab.run(case.module, dict(case.args, timeout=HUNG_RERUN_TIMEOUT if hung else RERUN_TIMEOUT))[0]
    rerun_msg = rerun.get("msg") or ""
    if hung and result.get("failed"):
        # The operation stays in flight for good: the rerun waits for it and says so when its own timeout ends.
        rerun_outcome = "still running" if "still running" in rerun_msg else ("ok" if not rerun.get("failed") else "failed")
        if rerun.get("failed") and "still running" not in rerun_msg:
            problems.append("rerun after a hung operation: %s" % rerun_msg)
    else:
        rerun_outcome = "failed" if rerun.get("failed") else ("converged, changed" if rerun.get("changed") else "converged")
        if rerun.get("failed"):
            problems.append("rerun failed: %s" % rerun_msg)
        elif case.check:
            kind, group, name, want = case.check
            state = lab.exists(kind, group, name)
            if bool(state) != want or (want and state != "Succeeded"):
                problems.append("after the rerun the resource is %s, wanted %s" % (state, "present" if want else "absent"))
    row = {"module": case.module, "operation": case.operation, "fault": fault_name, "outcome": outcome,
           "seconds": "%.1f" % seconds, "writes": writes, "rerun": rerun_outcome}
    print(" | ".join(str(v) for v in row.values()), flush=True)  # progress, seen with pytest -s
    return row, ["%s %s / %s: %s" % (case.module, case.operation, fault_name, p) for p in problems]


def run_alone(lab, case, fault_name):
    """``case`` under its own rule of ``fault_name``; the run."""
    rule_id = lab.fault(rule_for(case, fault_name))
    try:
        return faulted_run(lab, case)
    finally:
        lab.clear(rule_id)


def run_case(lab, case, fault_name):
    """``case`` under a fault of its own request, then rerun."""
    return judge(lab, case, fault_name, run_alone(lab, case, fault_name))


def run_shared(lab, pool, cases, fault_name):
    """``cases`` at once under one fault every request may meet, then each rerun."""
    rule_id = lab.fault(rule_for(None, fault_name))
    try:
        runs = list(pool.map(lambda case: faulted_run(lab, case), cases))
    finally:
        lab.clear(rule_id)
    return list(pool.map(lambda pair: judge(lab, pair[0], fault_name, pair[1]), zip(cases, runs)))


def plan():
    """(module, operation, fault) of the matrix."""
    operations = [("resource_group", "create"), ("resource_group", "update"), ("resource_group", "delete"),
                  ("aks_cluster", "create"), ("aks_cluster", "update"), ("aks_cluster", "delete"),
                  ("role_assignment", "create"), ("role_assignment", "delete"),
                  ("disk_snapshot", "create"), ("disk_snapshot", "update"), ("disk_snapshot", "delete"),
                  ("disk_restore", "create"), ("disk_restore", "update"), ("disk_restore", "delete")]
    sync = {("resource_group", "create"), ("resource_group", "update"), ("role_assignment", "create"), ("role_assignment", "delete")}
    return [(m, o, f) for m, o in operations for f in FAULTS if not (f in LRO_ONLY and (m, o) in sync)] + \
        [("aks_cluster_info", "read", f) for f in READ_FAULTS]


def test_fault_matrix(lab, report):
    cells = plan()
    rows, problems = [], []

    def add(results):
        for row, seen in results:
            rows.append(row)
            problems.extend(seen)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        own = [c for c in cells if FAULTS[c[2]][1] == OWN]
        add(pool.map(lambda cell: run_case(lab, prepare(lab, cell[0], cell[1]), cell[2]), own))
        for fault in [f for f in FAULTS if FAULTS[f][1] != OWN]:
            cases = list(pool.map(lambda cell: prepare(lab, cell[0], cell[1]), [c for c in cells if c[2] == fault]))
            if FAULTS[fault][1] == EVERY:
                add(run_shared(lab, pool, cases, fault))
            else:  # one faulted run at a time, then the reruns (no rule left) at once
                runs = [run_alone(lab, case, fault) for case in cases]
                add(pool.map(lambda pair, name=fault: judge(lab, pair[0], name, pair[1]), zip(cases, runs)))
    report("Fault matrix (timeout %d s, margin %g s; seconds from the fork of the run to its exit; writes = accepted ARM "
           "writes of the faulted run)" % (TIMEOUT, MARGIN), ["module", "operation", "fault", "outcome", "seconds", "writes", "rerun"],
           rows)
    report("Fault matrix counts", ["cells", "ok", "failed naming Azure's answer", "rerun converged", "rerun still running",
                                   "longest run", "problems"], [summary(rows, problems)])
    assert not problems, "\n".join(problems)


def summary(rows, problems):
    """The counts a reader quotes: outcomes of the faulted runs and of the reruns, the longest run, the problems."""
    return {"cells": len(rows), "ok": sum(1 for r in rows if r["outcome"].startswith("ok")),
            "failed naming Azure's answer": sum(1 for r in rows if r["outcome"].startswith("failed")),
            "rerun converged": sum(1 for r in rows if r["rerun"].startswith("converged")),
            "rerun still running": sum(1 for r in rows if r["rerun"] == "still running"),
            "longest run": "%s s" % max((r["seconds"] for r in rows), key=float), "problems": len(problems)}
