"""The lab's Kubernetes side, as AKS presents it to a cluster's users.

On top of the control plane (``lab.kube.controlplane``) this adds what AKS manages for a cluster:
the Azure Disk CSI driver (``disk.csi.azure.com``: the CSIDriver object, the lab's controller
``lab.csi`` and the upstream sidecars csi-provisioner, csi-attacher, csi-resizer and
csi-snapshotter with the flags AKS runs them with) and the bridge (``lab.bridge``) that turns the
emulated cluster's scale-set instances into Nodes and plays the kubelet's part. The emulator is
told the control plane's kubeconfig so ``listClusterAdminCredential`` of the cluster the lab backs
returns it. Like an AKS API server with Entra ID integration, kube-apiserver trusts the emulator's Entra ID
tokens for the AKS server application (``entra_id_authenticator``). Every process is started and stopped through
the control plane's launcher, so ``make lab-down`` ends exactly what ``make lab-up`` started.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .admin_client import AdminClient
from .azure.identity import AKS_SERVER_APP
from .kube import controlplane

HERE = Path(__file__).resolve().parent
POD_STAGES = HERE / "bridge" / "stages"
# the pod stages that follow the kubelet emulation's times (start, readiness, exit after SIGTERM)
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    str(POD_STAGES / "pod-start.yaml"),
    str(POD_STAGES / "pod-ready.yaml"),
    "pod/fast/pod-complete.yaml",
    str(POD_STAGES / "pod-delete.yaml"),
)
DRIVER = "disk.csi.azure.com"
# how long the driver's first attach or detach of a VM waits for more to batch: AKS's 1000 ms under the
# realistic profile, a tenth of it under the fast one (set when the lab starts, from LAB_PROFILE)
BATCH_DELAY_MS = {"fast": 100, "realistic": 1000}
# AKS's managed driver deployment: strict topology (the disk goes where the pod is scheduled),
# claim/snapshot metadata as parameters, generous timeouts for Azure's attach and snapshot times.
SIDECARS = {
    "csi-provisioner": ["--feature-gates=Topology=true", "--strict-topology=true", "--extra-create-metadata=true", "--timeout=120s",
                        "--default-fstype=ext4", "--worker-threads=20"],
    "csi-attacher": ["--timeout=120s", "--worker-threads=20"],
    "csi-resizer": ["--timeout=240s", "--handle-volume-inuse-error=false"],
    "csi-snapshotter": ["--timeout=600s", "--extra-create-metadata=true"],
}


def ensure_csidriver(kubeconfig: str) -> None:
    """The CSIDriver object AKS installs: attach required, no pod info, fsGroup applied by the kubelet."""
    api = client.StorageV1Api(controlplane.api_client(kubeconfig))
    body = {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": DRIVER},
            "spec": {"attachRequired": True, "podInfoOnMount": False, "fsGroupPolicy": "File", "volumeLifecycleModes": ["Persistent"]}}
    try:
        api.create_csi_driver(body)
    except ApiException as exc:
        if exc.status != 409:
            raise


def entra_id_authenticator(exports: dict) -> dict:
    """kube-apiserver's JWT authenticator for the lab tenant's Entra ID tokens, as an AKS API server accepts them.

    The tokens are v1 tokens (issuer ``https://sts.windows.net/<tenant>/``) for the AKS server application; their
    issuer's discovery document and keys are served by the emulator (over the lab CA), so ``discoveryURL`` names it.
    The user is the token's ``upn`` (a user) or ``oid`` (a service principal or managed identity), the groups the
    ``groups`` claim (group object ids), both without a prefix, as AKS names them in RBAC bindings.
    """
    tenant = exports["AZURE_TENANT_ID"]
    return {
        "issuer": {"url": f"https://sts.windows.net/{tenant}/",
                   "discoveryURL": f"{exports['AZURE_AUTHORITY_HOST'].rstrip('/')}/{tenant}/.well-known/openid-configuration",
                   "certificateAuthority": Path(exports["LAB_AZURE_CA"]).read_text(encoding="utf-8"),
                   "audiences": [AKS_SERVER_APP]},
        "claimMappings": {"username": {"expression": "has(claims.upn) ? claims.upn : claims.oid"},
                          "groups": {"claim": "groups", "prefix": ""}},
    }


def configure_emulator(exports: dict, kubeconfig) -> None:
    """Point the emulator's AKS credentials at this control plane (or, with None, back at the placeholder)."""
    AdminClient(exports["LAB_ADMIN_URL"], exports["LAB_AZURE_CA"], timeout=10).call("POST", "/config", {"kubeconfig": kubeconfig})


def addons(exports: dict, state: Path):
    """The processes AKS runs for a cluster, as the control plane's ``addons`` hook wants them."""
    socket = state / "csi" / "csi.sock"
    cloud_config = state / "cloud-config.json"
    bins = controlplane.paths()
    python_env = dict(exports, PYTHONPATH=str(HERE.parent))
    # On a node, azure-identity reaches IMDS at 169.254.169.254; the lab's controller at the emulator's IMDS listener.
    controller_env = dict(python_env, AZURE_POD_IDENTITY_AUTHORITY_HOST=exports["LAB_IMDS_URL"])

    def processes(kubeconfig):
        kubeconfig = str(kubeconfig)
        ensure_csidriver(kubeconfig)
        (state / "csi").mkdir(parents=True, exist_ok=True)
        found = [
            ("csi-controller", [sys.executable, "-m", "lab.csi", "--endpoint", "unix://%s" % socket, "--config", str(cloud_config),
                                "--attach-detach-initial-delay-ms", str(BATCH_DELAY_MS[os.environ.get("LAB_PROFILE", "fast")])],
             controller_env, socket.exists),
        ]
        for name, flags in SIDECARS.items():
            argv = [str(bins[name]), "--csi-address=%s" % socket, "--kubeconfig=%s" % kubeconfig, "--leader-election=false", "--v=2"] + flags
            found.append((name, argv, None, None))
        found.append(("bridge", [sys.executable, "-m", "lab.bridge", "--kubeconfig", kubeconfig, "--admin-url", exports["LAB_ADMIN_URL"],
                                 "--ca", exports["LAB_AZURE_CA"], "--cloud-config", str(cloud_config)], python_env, None))
        return found

    return processes


def up(exports: dict, state: Path) -> dict:
    """Start the control plane with the AKS add-ons; returns the exports it adds to ``.lab/env``."""
    missing = controlplane.missing_binaries()
    if missing:
        raise SystemExit("lab: the Kubernetes binaries are not built (%s): run 'make lab-setup'" % ", ".join(missing))
    try:
        started = controlplane.start(state, kwok_stages=KWOK_STAGES, addons=addons(exports, state),
                                     jwt_authenticators=[entra_id_authenticator(exports)])
    except controlplane.ControlPlaneError as exc:
        raise SystemExit("lab: %s" % exc) from exc
    configure_emulator(exports, started["kubeconfig"])
    return {"KUBECONFIG": str(started["kubeconfig"]), "K8S_AUTH_KUBECONFIG": str(started["kubeconfig"])}


def down(state: Path, keep: bool) -> None:
    """Stop every process ``up`` started."""
    if state.exists():
        try:
            controlplane.stop(state, keep_state=keep)
        except controlplane.ControlPlaneError as exc:
            raise SystemExit("lab: %s" % exc) from exc
