"""Two runs of each Azure module on the same name at once: one resource, and neither fails with an obscure error
(the later one finds the creation in flight and waits for it, or finds it done)."""

from concurrent.futures import ThreadPoolExecutor

POOLS = [{"name": "system", "mode": "System", "count": 1, "zones": ["1", "2"], "vm_size": "standard_d4s_v5"}]


def twice(lab, module, args):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda attempt: lab.run(module, dict(args, timeout=60)), range(2)))


def test_two_runs_at_once(lab, report, tmp_path):
    rg = lab.unique("hcon")
    lab.group(rg)
    disk = lab.disk(rg, "src")
    cluster = lab.unique("haks")
    principal = lab.principal(lab.unique("hsp"))
    scope = "/subscriptions/%s/resourceGroups/%s" % (lab.subscription, rg)
    new_rg = lab.unique("hcon")
    cases = [
        ("resource_group", {"name": new_rg, "location": lab.location}, lambda: [new_rg] if lab.exists("resource_group", None, new_rg) else []),
        ("aks_cluster", {"name": cluster, "resource_group": rg, "location": lab.location, "node_pools": POOLS},
         lambda: [c.name for c in lab.client("containerservice").managed_clusters.list_by_resource_group(rg)]),
        ("aks_cluster_info", {"name": cluster, "resource_group": rg, "kubeconfig": {"path": str(tmp_path / "kubeconfig")}},
         lambda: [p.name for p in tmp_path.iterdir()]),
        ("role_assignment", {"principal_id": principal, "principal_type": "ServicePrincipal", "role": "Reader", "scope": scope},
         lambda: [a.name for a in lab.client("authorization").role_assignments.list_for_scope(scope, filter="atScope()")
                  if a.principal_id == principal]),
        ("disk_snapshot", {"name": "snap", "resource_group": rg, "source_disk_id": disk},
         lambda: [s.name for s in lab.client("compute").snapshots.list_by_resource_group(rg)]),
        ("disk_restore", {"name": "copy", "resource_group": rg, "source_disk_id": disk, "zone": "1", "sku": "StandardSSD_LRS"},
         lambda: [d.name for d in lab.client("compute").disks.list_by_resource_group(rg) if d.name == "copy"]),
    ]
    rows, problems = [], []
    for module, args, made in cases:
        (first, first_s), (second, second_s) = twice(lab, module, args)
        found = made()
        outcomes = []
        for result in (first, second):
            if result.get("failed"):
                outcomes.append("failed: %s" % result.get("msg", "")[:60])
                problems.append("%s: a run failed: %s" % (module, result.get("msg")))
            else:
                outcomes.append("ok, changed" if result.get("changed") else "ok")
        if len(found) != 1:
            problems.append("%s: %d resources made (%s), wanted 1" % (module, len(found), found))
        rows.append({"module": module, "run 1": outcomes[0], "run 2": outcomes[1], "resources": len(found),
                     "seconds": "%.1f / %.1f" % (first_s, second_s)})
    report("Two runs at once on the same name", ["module", "run 1", "run 2", "resources", "seconds"], rows)
    assert not problems, "\n".join(problems)
