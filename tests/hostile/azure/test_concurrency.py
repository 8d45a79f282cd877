"""Two runs of each Azure module on the same name at once: one resource, one run that made it (changed), and one that
reports what it found (the resource made by the other run, changed=false) without writing it again. Two snapshots or
restores of the same name from different sources: one resource, whose source and source tag are the first run's, and
the other run refused with the reason."""

from concurrent.futures import ThreadPoolExecutor

POOLS = [{"name": "system", "mode": "System", "count": 1, "zones": ["1", "2"], "vm_size": "standard_d4s_v5"}]
# What each module returns the resource under.
RETURNED = {"resource_group": "resource_group", "aks_cluster": "cluster", "role_assignment": "assignment", "disk_snapshot": "snapshot",
            "disk_restore": "disk"}
# Synchronous creates without a condition in Azure: a second PUT that lands on the resource made meanwhile is answered 200
# (201 is a creation) and repeats the same body.
REPEAT_ANSWERED_200 = ("resource_group", "role_assignment")
SOURCE_TAG = "kubedisk-aks-source"
ROUNDS = 3


def at_once(lab, module, first, second):
    """Both runs started together; ``[(result, seconds), (result, seconds)]``."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda args: lab.run(module, dict(args, timeout=60)), (first, second)))


def outcome(result):
    if result.get("failed"):
        return "failed: %s" % result.get("msg", "")[:70]
    if result.get("found_existing"):
        return "ok, found it made meanwhile"
    return "ok, changed" if result.get("changed") else "ok, found it"


def creations(lab, mark, module, path_part):
    """Writes after ``mark`` on ``path_part`` that Azure accepted as something other than a repeat of the same body."""
    accepted, attempts = lab.writes(mark, path_part)
    made = [w for w in accepted if not (module in REPEAT_ANSWERED_200 and w["status"] == 200)]
    return made, accepted, attempts


def same_resource_problems(module, results, found, made):
    """What is wrong with two same-argument runs: ``found`` the ids of that name, ``made`` the creating writes."""
    problems = []
    if len(found) != 1:
        problems.append("%d resources made (%s), wanted 1" % (len(found), found))
    failed = [r for r in results if r.get("failed")]
    if failed:
        return problems + ["a run failed: %s" % r.get("msg") for r in failed]
    changed = [r for r in results if r.get("changed")]
    if len(changed) != 1:
        problems.append("%d runs report changed, wanted exactly 1" % len(changed))
        return problems
    other = [r for r in results if not r.get("changed")][0]
    returned = (other.get(RETURNED[module]) or {}).get("id") or ""
    if found and returned.lower() != found[0].lower():
        problems.append("the unchanged run returned %r, not the resource there (%s)" % (returned, found[0]))
    if other.get("found_existing") and "created meanwhile by another run" not in str(other.get("warnings")):
        problems.append("found_existing without the warning that says so: %s" % other.get("warnings"))
    if len(made) != 1:
        problems.append("%d accepted creating writes (%s), wanted only the first run's" % (
            len(made), ["%s %s %d" % (w["method"], w["path"], w["status"]) for w in made]))
    return problems


def same_name_cases(lab, rg, disk, scope, run):
    """``(module, args, path part of its writes, ids of what is there)`` for round ``run``, with names of their own."""
    new_rg, cluster, snap, copy = lab.unique("hcon"), lab.unique("haks"), "snap%d" % run, "copy%d" % run
    principal = lab.principal(lab.unique("hsp"))
    compute = lab.client("compute")
    return [
        ("resource_group", {"name": new_rg, "location": lab.location}, "/resourcegroups/%s" % new_rg,
         lambda: [lab.client("resource").resource_groups.get(new_rg).id] if lab.exists("resource_group", None, new_rg) else []),
        ("aks_cluster", {"name": cluster, "resource_group": rg, "location": lab.location, "node_pools": POOLS},
         "/managedclusters/%s" % cluster,
         lambda: [c.id for c in lab.client("containerservice").managed_clusters.list_by_resource_group(rg) if c.name == cluster]),
        ("role_assignment", {"principal_id": principal, "principal_type": "ServicePrincipal", "role": "Reader", "scope": scope},
         "/roleassignments/",
         lambda: [a.id for a in lab.client("authorization").role_assignments.list_for_scope(scope, filter="atScope()")
                  if a.principal_id == principal]),
        ("disk_snapshot", {"name": snap, "resource_group": rg, "source_disk_id": disk}, "/snapshots/%s" % snap,
         lambda: [s.id for s in compute.snapshots.list_by_resource_group(rg) if s.name == snap]),
        ("disk_restore", {"name": copy, "resource_group": rg, "source_disk_id": disk, "zone": "1", "sku": "StandardSSD_LRS"},
         "/disks/%s" % copy, lambda: [d.id for d in compute.disks.list_by_resource_group(rg) if d.name == copy]),
    ]


def test_two_runs_at_once(lab, report, tmp_path):
    """``ROUNDS`` rounds, as which run reaches Azure first (and whether the second one reads before or after the
    first one's write) varies from round to round."""
    rg = lab.unique("hcon")
    lab.group(rg)
    disk = lab.disk(rg, "src")
    scope = "/subscriptions/%s/resourceGroups/%s" % (lab.subscription, rg)
    rows, problems, clusters = [], [], []
    for run in range(ROUNDS):
        for module, args, path_part, made in same_name_cases(lab, rg, disk, scope, run):
            if module == "aks_cluster":
                clusters.append(args["name"])
            mark = lab.mark()
            (first, first_s), (second, second_s) = at_once(lab, module, args, args)
            found = made()
            creating, accepted, attempts = creations(lab, mark, module, path_part)
            problems.extend("%s (round %d): %s" % (module, run + 1, p) for p in same_resource_problems(module, [first, second], found, creating))
            rows.append({"module": module, "round": run + 1, "run 1": outcome(first), "run 2": outcome(second), "resources": len(found),
                         "writes (accepted/tried)": "%d/%d" % (len(accepted), len(attempts)),
                         "seconds": "%.1f / %.1f" % (first_s, second_s)})

    # aks_cluster_info writes no Azure resource but a kubeconfig file, which both runs may find absent and write (with
    # the same content, each through a file of its own renamed over it): at least one changed, none failed, no ARM write.
    mark = lab.mark()
    info_args = {"name": clusters[0], "resource_group": rg, "kubeconfig": {"path": str(tmp_path / "kubeconfig")}}
    (first, first_s), (second, second_s) = at_once(lab, "aks_cluster_info", info_args, info_args)
    accepted, attempts = lab.writes(mark)
    files = [p.name for p in tmp_path.iterdir()]
    if any(r.get("failed") for r in (first, second)) or not (first.get("changed") or second.get("changed")):
        problems.append("aks_cluster_info: wanted a run that wrote the file and none failed: %s / %s" % (outcome(first), outcome(second)))
    if files != ["kubeconfig"] or attempts:
        problems.append("aks_cluster_info: files %s, ARM writes %s" % (files, attempts))
    rows.append({"module": "aks_cluster_info", "round": 1, "run 1": outcome(first), "run 2": outcome(second), "resources": len(files),
                 "writes (accepted/tried)": "%d/%d" % (len(accepted), len(attempts)), "seconds": "%.1f / %.1f" % (first_s, second_s)})
    report("Two runs at once on the same name", ["module", "round", "run 1", "run 2", "resources", "writes (accepted/tried)", "seconds"], rows)
    assert not problems, "\n".join(problems)


def test_same_name_other_source_at_once(lab, report):
    """A snapshot's and a disk's creationData cannot change: the run that comes second must not rewrite the source tag
    (the one retention counts by) nor anything else, and says the name is taken by another source."""
    rg = lab.unique("hsrc")
    lab.group(rg)
    disks = [lab.disk(rg, "one"), lab.disk(rg, "two")]
    compute = lab.client("compute")
    cases = [
        ("disk_snapshot", "/snapshots/snap", lambda source: {"name": "snap", "resource_group": rg, "source_disk_id": source},
         lambda: list(compute.snapshots.list_by_resource_group(rg))),
        ("disk_restore", "/disks/copy", lambda source: {"name": "copy", "resource_group": rg, "source_disk_id": source, "zone": "1"},
         lambda: [d for d in compute.disks.list_by_resource_group(rg) if d.name == "copy"]),
    ]
    rows, problems = [], []
    for module, path_part, args, made in cases:
        mark = lab.mark()
        runs = at_once(lab, module, args(disks[0]), args(disks[1]))
        results = [result for result, _seconds in runs]
        found = made()
        accepted, attempts = lab.writes(mark, path_part)
        if len(found) != 1:
            problems.append("%s: %d resources, wanted 1" % (module, len(found)))
            continue
        source = found[0].creation_data.source_resource_id.lower()
        winners = [r for r in results if not r.get("failed") and r.get("changed")]
        losers = [r for r in results if r.get("failed")]
        if len(winners) != 1 or len(losers) != 1:
            problems.append("%s: wanted one run that made it and one refused: %s" % (module, [outcome(r) for r in results]))
        elif (winners[0].get(RETURNED[module]) or {}).get("source_resource_id", "").lower() != source:
            problems.append("%s: the run that made it returned another source than %s" % (module, source))
        elif "from another source" not in losers[0]["msg"] and "was made from" not in losers[0]["msg"]:
            problems.append("%s: the refused run does not say the name is taken by another source: %s" % (module, losers[0]["msg"]))
        if module == "disk_snapshot" and (found[0].tags or {}).get(SOURCE_TAG) != source:
            problems.append("disk_snapshot: the source tag %r is not the snapshot's source %s" % ((found[0].tags or {}).get(SOURCE_TAG), source))
        if len(accepted) != 1:
            problems.append("%s: %d accepted writes (%s), wanted only the creation" % (
                module, len(accepted), ["%s %s %d" % (w["method"], w["path"], w["status"]) for w in accepted]))
        rows.append({"module": module, "run 1": outcome(results[0]), "run 2": outcome(results[1]), "resources": len(found),
                     "writes (accepted/tried)": "%d/%d" % (len(accepted), len(attempts))})
    report("Two runs at once on the same name from other sources", ["module", "run 1", "run 2", "resources", "writes (accepted/tried)"],
           rows)
    assert not problems, "\n".join(problems)
