"""Bad inputs to each Azure module: each is refused with a message that names what is wrong, before any ARM write.

Each input comes with a word its message must contain. The emulator's request log, read after every run, must show
no write (accepted or attempted) of any of the runs.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

GUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
UNKNOWN_SUBSCRIPTION = "5d2c7f0a-0000-4000-8000-00000000dead"
UNREACHABLE = {"host": "https://127.0.0.1:9", "validate_certs": False, "api_key": "x"}
MANY_TAGS = dict(("k%d" % i, "v") for i in range(51))


def common(base, tags=True):
    """Inputs every Azure module must refuse: the shared options."""
    cases = [
        ("subscription_id path", dict(base, subscription_id="../../x"), "subscription_id"),
        ("subscription_id newline", dict(base, subscription_id=GUID + "\n"), "subscription_id"),
        ("timeout 0", dict(base, timeout=0), "timeout"),
        ("unknown option", dict(base, colour="blue"), "colour"),
    ]
    if tags:
        cases += [
            ("51 tags", dict(base, tags=MANY_TAGS), "50"),
            ("tag key with /", dict(base, tags={"a/b": "1"}), "tag key"),
            ("tag value of 257", dict(base, tags={"k": "v" * 257}), "256"),
            ("tag key of 513", dict(base, tags={"k" * 513: "v"}), "512"),
        ]
    return cases


@pytest.fixture(scope="module")
def world(lab):
    """A group with a disk and a cluster-free scope, read by the inputs that get as far as Azure."""
    rg = lab.unique("hbad")
    lab.group(rg)
    disk = lab.disk(rg, "src")
    return {"rg": rg, "disk": disk, "scope": "/subscriptions/%s/resourceGroups/%s" % (lab.subscription, rg)}


def inputs(world, tmp_path):
    """module -> [(label, args, word the message names)]."""
    rg, disk, scope = world["rg"], world["disk"], world["scope"]
    group = {"name": rg + "x", "location": "westeurope"}
    cluster = {"name": "hbadaks", "resource_group": rg, "location": "westeurope",
               "node_pools": [{"name": "system", "mode": "System", "count": 1, "zones": ["1"], "vm_size": "standard_d4s_v5"}]}
    pool = cluster["node_pools"][0]
    grant = {"principal_id": GUID, "role": "Reader", "scope": scope, "principal_type": "ServicePrincipal"}
    snap = {"name": "hbadsnap", "resource_group": rg, "source_disk_id": disk}
    restore = {"name": "hbaddisk", "resource_group": rg, "source_disk_id": disk, "zone": "1", "sku": "StandardSSD_LRS"}
    info = {"name": "hbadaks", "resource_group": rg}
    return {
        "resource_group": common(group) + [
            ("name with a space", dict(group, name="bad name"), "not a valid resource group name"),
            ("name ending in .", dict(group, name="rg."), "not a valid resource group name"),
            ("name with a newline", dict(group, name="rg\n"), "not a valid resource group name"),
            ("name of 91", dict(group, name="r" * 91), "not a valid resource group name"),
            ("location mars", dict(group, location="mars"), "not a region"),
            ("no location", {"name": rg + "y"}, "location is required"),
            ("state maybe", dict(group, state="maybe"), "state"),
            ("unknown subscription, absent", dict(group, subscription_id=UNKNOWN_SUBSCRIPTION, state="absent"), "SubscriptionNotFound"),
            ("unknown subscription, present", dict(group, subscription_id=UNKNOWN_SUBSCRIPTION), "SubscriptionNotFound"),
        ],
        "aks_cluster": common(cluster) + [
            ("name starting with -", dict(cluster, name="-aks"), "name"),
            ("name with a newline", dict(cluster, name="aks\n"), "name"),
            ("resource group with /", dict(cluster, resource_group="a/b"), "resource_group"),
            ("location mars", dict(cluster, location="mars"), "not a region"),
            ("zone 4", dict(cluster, node_pools=[dict(pool, zones=["4"])]), "zone"),
            ("zones where there are none", dict(cluster, location="westcentralus"), "no availability zone"),
            ("pool name with capitals", dict(cluster, node_pools=[dict(pool, name="System")]), "pool"),
            ("pool name of 13", dict(cluster, node_pools=[dict(pool, name="a" * 13)]), "pool"),
            ("version with a newline", dict(cluster, kubernetes_version="1.33\n"), "kubernetes_version"),
            ("dns prefix with -", dict(cluster, dns_prefix="-x"), "dns_prefix"),
            ("bad taint", dict(cluster, node_pools=[dict(pool, taints=["a=b:Sometimes"])]), "taint"),
            ("no pools", dict(cluster, node_pools=None), "node_pools"),
            ("unknown subscription", dict(cluster, subscription_id=UNKNOWN_SUBSCRIPTION), "SubscriptionNotFound"),
        ],
        "aks_cluster_info": common(info, tags=False) + [
            ("name with a space", dict(info, name="a b"), "name"),
            ("name with a newline", dict(info, name="aks\n"), "name"),
            ("name ending in -", dict(info, name="aks-"), "name"),
            ("group with a newline", dict(info, resource_group=rg + "\n"), "resource_group"),
            ("name without group", {"name": "aks"}, "resource_group"),
            ("kubeconfig without name", {"resource_group": rg, "kubeconfig": {"path": str(tmp_path / "k")}}, "name"),
            ("kubeconfig credential root", dict(info, kubeconfig={"path": str(tmp_path / "k"), "credential": "root"}), "credential"),
            ("unknown subscription, list", {"subscription_id": UNKNOWN_SUBSCRIPTION}, "SubscriptionNotFound"),
            ("unknown subscription, one", dict(info, subscription_id=UNKNOWN_SUBSCRIPTION), "SubscriptionNotFound"),
            ("name of 64", dict(info, name="a" * 64), "name"),
            ("group of 91", dict(info, resource_group="r" * 91), "resource_group"),
        ],
        "role_assignment": common(grant, tags=False) + [
            ("principal with a newline", dict(grant, principal_id=GUID + "\n"), "principal_id"),
            ("principal by name", dict(grant, principal_id="my-app"), "principal_id"),
            ("role as a relative path", dict(grant, role="../../roleDefinitions/" + GUID), "role"),
            ("role with a newline", dict(grant, role="Reader\n"), "role"),
            ("role with a quote", dict(grant, role="Reader' or '1'='1"), "role"),
            ("empty role", dict(grant, role=" "), "role"),
            ("unknown role name", dict(grant, role="No Such Role"), "No Such Role"),
            ("unknown role GUID", dict(grant, role=GUID), "does not exist"),
            ("scope not an id", dict(grant, scope="/subscriptions/x"), "scope"),
            ("scope relative", dict(grant, scope="resourceGroups/" + rg), "scope"),
            ("two principals", dict(grant, kubelet_identity_of={"name": "a", "resource_group": rg}), "mutually exclusive"),
            ("no principal", dict((k, v) for k, v in grant.items() if k != "principal_id"), "one of"),
            ("principal type Robot", dict(grant, principal_type="Robot"), "principal_type"),
            ("cluster that is not there", {"role": "Reader", "scope": scope, "kubelet_identity_of": {"name": "nope", "resource_group": rg}},
             "nope"),
        ],
        "disk_snapshot": common(snap) + [
            ("name ending in -", dict(snap, name="snap-"), "snapshot name"),
            ("name ending in .", dict(snap, name="snap."), "snapshot name"),
            ("name starting with -", dict(snap, name="-snap"), "snapshot name"),
            ("name with a newline", dict(snap, name="snap\n"), "snapshot name"),
            ("name of 81", dict(snap, name="s" * 81), "snapshot name"),
            ("target_location mars", dict(snap, target_location="mars"), "not a region"),
            ("target_location its own", dict(snap, target_location="westeurope"), "target_location"),
            ("retain 0", dict(snap, retain=0), "retain"),
            ("premium incremental", dict(snap, sku="Premium_LRS"), "incremental"),
            ("source not an id", dict(snap, source_disk_id="disk1"), "source_disk_id"),
            ("source missing", dict(snap, source_disk_id=disk + "x"), "not found"),
            ("two sources", dict(snap, source_disk={"name": "src", "resource_group": rg}), "mutually exclusive"),
            ("no source", {"name": "hbadsnap", "resource_group": rg}, "source"),
            ("copy name ending in -", dict(snap, target_location="northeurope", copy_name="copy-"), "copy_name"),
        ],
        "disk_restore": common(restore) + [
            ("name ending in -", dict(restore, name="disk-"), "disk name"),
            ("name with a newline", dict(restore, name="disk\n"), "disk name"),
            ("zone 4", dict(restore, zone="4"), "zone"),
            ("zone with ZRS", dict(restore, sku="StandardSSD_ZRS"), "zone-redundant"),
            ("size 0", dict(restore, size_gb=0), "size_gb"),
            ("size 70000", dict(restore, size_gb=70000), "size_gb"),
            ("location mars", dict(restore, location="mars"), "not a region"),
            ("zone where there are none", dict(restore, location="westcentralus"), "no availability zone"),
            ("snapshot missing", dict((k, v) for k, v in restore.items() if k != "source_disk_id") | {
                "source_snapshot": {"name": "nope", "resource_group": rg}}, "not found"),
            ("pvc without pv", dict(restore, pvc={"name": "c", "namespace": "default"}), "pvc needs pv"),
            ("Kubernetes unreachable", dict(restore, pv={"name": "pv-hbad"}, kubernetes=UNREACHABLE), "Kubernetes"),
            ("PremiumV2 without zone", dict(restore, sku="PremiumV2_LRS", zone=None), "zone"),
            ("two sources", dict(restore, source_disk={"name": "src", "resource_group": rg}), "mutually exclusive"),
        ],
    }


# Which module a write path would come from.
WRITE_PATHS = {"resource_group": "/resourcegroups/", "aks_cluster": "/managedclusters/", "aks_cluster_info": "/managedclusters/",
               "role_assignment": "/roleassignments/", "disk_snapshot": "/snapshots/", "disk_restore": "/disks/"}


def written_by(module, path):
    path = path.lower()
    marker = WRITE_PATHS[module]
    return marker in path and (module != "resource_group" or "/providers/" not in path)


def test_bad_inputs(lab, world, report, tmp_path):
    cases = [(module, label, args, word) for module, items in inputs(world, tmp_path).items() for label, args, word in items]
    since = lab.mark()

    def one(case):
        module, label, args, word = case
        result = lab.run(module, dict(args, timeout=args.get("timeout", 20)))[0]
        return case, result

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, cases))
    accepted, attempts = lab.writes(since)
    problems = []
    counts = {}
    for (module, label, _args, word), result in results:
        counts[module] = counts.get(module, 0) + 1
        msg = result.get("msg") or ""
        if not result.get("failed") or result.get("unhandled"):
            problems.append("%s / %s: not refused cleanly: %s" % (module, label, msg or result))
        elif word.lower() not in msg.lower():
            problems.append("%s / %s: the message does not name %r: %s" % (module, label, word, msg))
    rows = [{"module": m, "inputs tried": n, "writes made": sum(1 for w in attempts if written_by(m, w["path"]))}
            for m, n in counts.items()]
    rows.append({"module": "all", "inputs tried": len(cases), "writes made": "%d (attempts %d)" % (len(accepted), len(attempts))})
    report("Bad inputs to the Azure modules", ["module", "inputs tried", "writes made"], rows)
    problems += ["write: %(method)s %(path)s %(status)s" % w for w in attempts]
    assert not problems, "\n".join(problems)
    assert all(n >= 15 for n in counts.values()), counts
