"""The lab control plane end to end: start, a kwok Node turns Ready, a scheduled Pod runs, stop leaves no process or port.

The start/stop test needs the binaries from tests/lab/kube/build.sh (tens of minutes cold) and is skipped without them;
the certificate and port tests run everywhere.
"""

from __future__ import annotations

import os

import pytest

from lab import processes
from lab.kube import controlplane as cp
from lab.tests.conftest import wait_for

MISSING = cp.missing_binaries()
needs_binaries = pytest.mark.skipif(bool(MISSING), reason=f"lab Kubernetes binaries not built ({', '.join(MISSING)}); run tests/lab/kube/build.sh")


def _node(name):
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
                     "annotations": {cp.KWOK_NODE_ANNOTATION: "fake", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"providerID": "kwok://" + name},
    }


def _pod(name, node):
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
    }


def _node_ready(core, name):
    node = core.read_node(name)
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def _pod_running(core, name):
    pod = core.read_namespaced_pod(name, "default")
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    return pod if pod.status.phase == "Running" and ready else None


def _pod_gone(core, name):
    # pylint: disable-next=import-outside-toplevel
    from kubernetes.client.rest import ApiException
    try:
        core.read_namespaced_pod(name, "default")
    except ApiException as exc:
        return exc.status == 404
    return False


def _assert_all_gone(state):
    info = cp.status(state)
    assert not [p for p in info["processes"] if p["alive"]], info
    for name, port in info["ports"].items():
        assert processes.port_free(port), f"{name} port {port} still bound"


def test_pki_has_the_apiserver_identity(tmp_path):
    """The apiserver cert must be valid for every name a client or in-cluster pod uses, and be a system:masters client."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel

    cp.generate_pki(tmp_path)
    cert = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(sans.get_values_for_type(x509.DNSName)) | {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert names >= set(cp.APISERVER_SANS) | {"127.0.0.1", "10.96.0.1"}
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert oct(os.stat(tmp_path / "sa.key").st_mode & 0o777) == "0o600"


def test_ports_are_loopback_and_distinct():
    """Free ports are picked per name and never twice; a requested port that is taken is refused."""
    ports = cp._choose_ports({}, {})  # pylint: disable=protected-access
    assert set(ports) == set(cp.PORT_NAMES) and len(set(ports.values())) == len(ports)
    import socket  # pylint: disable=import-outside-toplevel
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        with pytest.raises(cp.ControlPlaneError, match="already in use"):
            cp._choose_ports({"kube-apiserver": sock.getsockname()[1]}, {})  # pylint: disable=protected-access


@needs_binaries
def test_start_node_pod_stop(tmp_path):
    """Start; a kwok Node goes Ready; a Pod is scheduled onto it and runs; stop frees everything; a kept state restarts."""
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel

    state = tmp_path / "kube"
    try:
        info = cp.start(state)
        assert info["server"].startswith("https://127.0.0.1:")
        api = cp.api_client(info["kubeconfig"])
        core = kclient.CoreV1Api(api)
        core.create_node(_node("kwok-node-0"))
        wait_for(lambda: _node_ready(core, "kwok-node-0"), 60, "node Ready")
        core.create_namespaced_pod("default", _pod("app-0", "kwok-node-0"))
        pod = wait_for(lambda: _pod_running(core, "app-0"), 60, "pod Running and Ready")
        assert pod.spec.node_name == "kwok-node-0" and pod.status.pod_ip
        core.delete_namespaced_pod("app-0", "default")
        wait_for(lambda: _pod_gone(core, "app-0"), 60, "pod deleted")
        crds = {c.metadata.name for c in kclient.ApiextensionsV1Api(api).list_custom_resource_definition().items}
        assert "volumesnapshots.snapshot.storage.k8s.io" in crds
        api.close()

        cp.stop(state, keep_state=True)
        _assert_all_gone(state)
        assert (state / "etcd" / "member").is_dir()

        info = cp.start(state)
        api = cp.api_client(info["kubeconfig"])
        core = kclient.CoreV1Api(api)
        assert core.read_node("kwok-node-0").metadata.name == "kwok-node-0"
        wait_for(lambda: _node_ready(core, "kwok-node-0"), 60, "node Ready after restart")
        api.close()
    finally:
        cp.stop(state, keep_state=False)
    _assert_all_gone(state)
    assert not (state / "etcd").exists()
