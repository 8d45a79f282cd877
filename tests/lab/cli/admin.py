"""Verbs on the emulator's admin API: the request log, fault rules, settings, the directory, operations.

What the tests need to arrange or measure that the modules under test do not do themselves:
count a module's ARM calls, make Azure throttle or fail, slow operations down, add a principal.
"""

import argparse
import json

# Credential listings are POSTs that read.
READ_POSTS = ("/listclusteradmincredential", "/listclusterusercredential", "/listclustermonitoringusercredential")


def _print(value):
    print(json.dumps(value))


def _append(path, lines):
    with open(path, "a", encoding="utf-8") as out:
        out.writelines(f"{line}\n" for line in lines)


def _is_write(item):
    method = item["method"].upper()
    return method in ("PUT", "PATCH", "DELETE") or (method == "POST" and not item["path"].lower().endswith(READ_POSTS))


def mark(lab, _arguments):
    """Print the sequence number of the emulator's last logged request."""
    items = lab.admin().call("GET", "/requests?since=0")["requests"]
    print(items[-1]["seq"] if items else 0)


def count(lab, arguments):
    """Print the ARM reads and writes after a mark; a rejected write (status >= 400) changed nothing and is no write."""
    items = [item for item in lab.admin().call("GET", f"/requests?since={arguments.seq}")["requests"]
             if item["path"].lower().startswith(("/subscriptions", "/providers"))]
    attempts = [item for item in items if _is_write(item)]
    writes = [item for item in attempts if item["status"] < 400]
    counts = {"reads": len(items) - len(attempts), "writes": len(writes), "write_attempts": len(attempts),
              "writes_list": [f"{item['time']:.3f} {item['method']} {item['path']} {item['status']}" for item in writes]}
    if arguments.record:
        path, module, phase = arguments.record
        _append(path, [json.dumps({"module": module, "phase": phase, "reads": counts["reads"], "writes": counts["writes"]})])
    _print(counts)


def add_fault(lab, arguments):
    """Add a fault rule; print it."""
    _print(lab.admin().call("POST", "/faults", json.loads(arguments.rule)))


def clear_faults(lab, _arguments):
    """Remove every fault rule."""
    lab.admin().call("DELETE", "/faults")


def config(lab, arguments):
    """Change runtime settings (with JSON) and print them all."""
    _print(lab.admin().call("POST", "/config", json.loads(arguments.settings)) if arguments.settings else lab.admin().call("GET", "/config"))


def _duration(text):
    """``KIND=SECONDS`` as (kind, seconds)."""
    kind, _equals, seconds = text.partition("=")
    try:
        return kind, float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not KIND=SECONDS (vm.attach=5)") from None


def profile(lab, arguments):
    """Switch the latency profile (with a name, and ``--set`` durations of its own) and print it."""
    change = {"name": arguments.name} if arguments.name else {}
    if arguments.set:
        change["overrides"] = dict(arguments.set)
    _print(lab.admin().call("PUT", "/profile", change) if change else lab.admin().call("GET", "/profile"))


def principal(lab, arguments):
    """Add a service principal to the directory, with built-in roles and group memberships; print its objectId, or its
    sign-in with ``--secret``."""
    spec = {"displayName": arguments.name, "principalType": "ServicePrincipal", "secret": arguments.secret,
            "roles": [{"role": role, "scope": arguments.scope} for role in arguments.role], "groups": arguments.group}
    created = lab.admin().call("POST", "/principals", spec)
    if arguments.secret:
        _print({"objectId": created["objectId"], "clientId": created["clientId"], "secret": created["secret"]})
    else:
        print(created["objectId"])


def _ended_operations(lab):
    return [operation for operation in lab.admin().call("GET", "/operations")["operations"] if operation.get("ended")]


def operations(lab, arguments):
    """Print the long-running operations that ended at or after ``--since``."""
    _print([operation for operation in _ended_operations(lab) if operation["ended"] >= arguments.since])


def latency(lab, arguments):
    """For each module return time, print how long after the last operation that ended before it the module returned."""
    ended = sorted(operation["ended"] for operation in _ended_operations(lab))
    deltas = []
    for returned in arguments.returns:
        before = [moment for moment in ended if moment <= returned]
        if before:
            deltas.append(round(returned - before[-1], 3))
    if arguments.record:
        _append(arguments.record, deltas)
    _print(deltas)


def upgrades(lab, _arguments):
    """Print the AKS pool upgrades running on the cluster the lab backs, and what each of its instances runs."""
    view = lab.admin().call("GET", "/kube")
    runs = [{key: run[key] for key in ("poolName", "operation", "step", "index", "nodes", "surgeNodes", "version", "image")}
            for run in view.get("upgrades") or []]
    instances = [{key: instance.get(key) for key in ("pool", "vmss", "instanceId", "zone", "power", "kubeletVersion", "nodeImage")}
                 for instance in view["instances"]]
    _print({"runs": runs, "instances": instances})


def add_verbs(verbs):
    """Register the admin API verbs."""
    requests = verbs.add_parser("requests", help="the emulator's request log").add_subparsers(dest="action", required=True)
    requests.add_parser("mark", help="print the last request's sequence number").set_defaults(run=mark)
    counting = requests.add_parser("count", help='print {"reads", "writes", "write_attempts", "writes_list"} of the ARM calls after SEQ')
    counting.add_argument("seq", type=int, metavar="SEQ")
    counting.add_argument("--record", nargs=3, metavar=("FILE", "MODULE", "PHASE"),
                          help='also append {"module", "phase", "reads", "writes"} to FILE as a JSON line')
    counting.set_defaults(run=count)

    faults = verbs.add_parser("fault", help="fault rules (429, 5xx, resets, failed or endless operations)")
    faults = faults.add_subparsers(dest="action", required=True)
    adding = faults.add_parser("add", help="add a rule given as JSON (see lab.azure.faults); print it")
    adding.add_argument("rule", metavar="JSON")
    adding.set_defaults(run=add_fault)
    faults.add_parser("clear", help="remove every rule").set_defaults(run=clear_faults)

    settings = verbs.add_parser("config", help="print the runtime settings; with JSON, change them first (onlineResize, ...)")
    settings.add_argument("settings", nargs="?", metavar="JSON")
    settings.set_defaults(run=config)
    latency_profile = verbs.add_parser("profile", help="print the latency profile; with NAME (fast|realistic), switch to it first")
    latency_profile.add_argument("name", nargs="?", metavar="NAME")
    latency_profile.add_argument("--set", action="append", type=_duration, metavar="KIND=SECONDS",
                                 help="an operation's duration instead of the profile's (vm.attach=5); a switch without it clears them")
    latency_profile.set_defaults(run=profile)
    directory = verbs.add_parser("principal", help="add a service principal named NAME to the directory; print its objectId")
    directory.add_argument("name", metavar="NAME")
    directory.add_argument("--role", action="append", default=[], metavar="ROLE",
                           help="a built-in role (name or GUID) to assign it at --scope; repeatable")
    directory.add_argument("--scope", metavar="SCOPE", help="where --role applies (default: the subscription)")
    directory.add_argument("--group", action="append", default=[], metavar="OBJECTID",
                           help="a directory group (object id) to make it a member of: its tokens for the AKS server app "
                                "carry the group in their groups claim; repeatable")
    directory.add_argument("--secret", action="store_true",
                           help='make it an application with a client secret; print {"objectId", "clientId", "secret"}')
    directory.set_defaults(run=principal)
    verbs.add_parser("upgrades", help='print {"runs", "instances"}: the AKS pool upgrades in progress on the cluster the lab backs '
                                      "(step, the batch of nodes, surge nodes) and each instance's kubelet version and node image").set_defaults(run=upgrades)
    ended = verbs.add_parser("operations", help="print the long-running operations that ended (at or after --since) as JSON")
    ended.add_argument("--since", type=float, default=0.0, metavar="EPOCH")
    ended.set_defaults(run=operations)
    lag = verbs.add_parser("latency", help="for each module return time (epoch seconds), print the time since the last operation ended")
    lag.add_argument("returns", nargs="*", type=float, metavar="EPOCH")
    lag.add_argument("--record", metavar="FILE", help="also append each value to FILE, one a line")
    lag.set_defaults(run=latency)
