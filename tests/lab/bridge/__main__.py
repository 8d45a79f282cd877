"""The lab's bridge between the ARM emulator and the Kubernetes control plane.

``python -m lab.bridge --kubeconfig FILE --admin-url URL --ca FILE`` (with ``PYTHONPATH=tests``)
runs until stopped: every ``--interval`` seconds it reads the backed AKS cluster from the
emulator's admin API and keeps the Nodes, the kubelet's volume reports and the writer pods in
step (see ``nodes``, ``kubelet`` and ``writer``), carries out the Kubernetes steps of AKS pool
upgrades (``upgrade``) and, for a cluster with Entra ID integration, the
cluster-admin binding of its admin groups (``aad``), with the pod times of the emulator's latency
profile (read on every pass, so ``python -m lab profile`` switches both sides). Like AKS writing
``/etc/kubernetes/azure.json`` for its managed CSI driver, it writes the backed cluster's cloud
config to ``--cloud-config``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from kubernetes import client, config

from ..admin_client import AdminClient
from .aad import AdminGroups
from .kubelet import KubeletEmulator
from .nodes import NodeBridge
from .upgrade import UpgradeDriver
from .writer import Writer

log = logging.getLogger("lab.bridge")


def cloud_config(cluster: dict) -> dict:
    """The cluster's cloud config in the driver's ``azure.json`` keys: AKS's managed driver signs in as the kubelet identity through IMDS."""
    return {"subscriptionId": cluster["subscription"], "resourceGroup": cluster["nodeResourceGroup"], "location": cluster["location"],
            "vmType": "vmss", "useManagedIdentityExtension": True, "userAssignedIdentityID": cluster["kubeletIdentityClientId"]}


def publish_cloud_config(path: str, cluster) -> None:
    """Write (atomically) or, with no backed cluster, remove the cloud config file the CSI controller reads."""
    if cluster is None:
        if os.path.exists(path):
            os.remove(path)
        return
    text = json.dumps(cloud_config(cluster), indent=2, sort_keys=True) + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


def run(args) -> None:
    """Reconcile until SIGTERM."""
    config.load_kube_config(config_file=args.kubeconfig)
    core, storage = client.CoreV1Api(), client.StorageV1Api()
    admin = AdminClient(args.admin_url, args.ca, timeout=10)
    nodes, kubelet, writer = NodeBridge(core, storage, client.CoordinationV1Api()), KubeletEmulator(core, storage), Writer(admin.append)
    upgrades = UpgradeDriver(core, client.PolicyV1Api(), lambda **step: admin.call("POST", "/upgrades", step))
    admin_groups = AdminGroups(client.RbacAuthorizationV1Api())
    signal.signal(signal.SIGTERM, lambda *_args: writer.stopping.set())
    threading.Thread(target=writer.run, name="writer", daemon=True).start()
    log.info("bridge running against %s", args.admin_url)
    while not writer.stopping.is_set():
        started = time.monotonic()
        try:
            view = admin.call("GET", "/kube")
            publish_cloud_config(args.cloud_config, view["cluster"])
            admin_groups.reconcile(view["cluster"])  # first: the binding does not wait for nodes or upgrades
            nodes.reconcile(view["cluster"], view["instances"])
            upgrades.reconcile(view.get("upgrades") or [])
            writer.update(kubelet.reconcile(admin.call("GET", "/profile")))
        except Exception as exc:  # pylint: disable=broad-except  # keep running through a restart of either side
            log.warning("reconcile failed: %s", exc)
        writer.stopping.wait(max(0.0, args.interval - (time.monotonic() - started)))


def main(argv=None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m lab.bridge", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--admin-url", required=True, help="base of the emulator's admin API (LAB_ADMIN_URL)")
    parser.add_argument("--ca", required=True, help="the lab CA the emulator's certificate is signed by")
    parser.add_argument("--cloud-config", required=True, help="where to write the backed cluster's cloud config for the CSI controller")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    run(args)


if __name__ == "__main__":
    main()
