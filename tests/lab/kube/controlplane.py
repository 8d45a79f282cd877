"""Start and stop the lab's Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok and the snapshot-controller (with the snapshot v1 CRDs).

The binaries come from build.sh's cache (keyed by the versions in versions.env); everything a run
writes (certificates, kubeconfigs, etcd data, logs, pids, ports) lives in a state directory the
caller chooses (the lab uses ``.lab/kube/``). Every server binds to 127.0.0.1 only.

``stop()`` kills exactly the processes ``start()`` recorded (checked by pid *and* start time, so a
recycled pid is never hit) and checks that their ports are free again.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

from .. import pki, processes
from ..processes import LOOPBACK

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "versions.env"

# Annotation that hands a Node to kwok (the bridge creates Nodes with it).
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_SELECTOR = KWOK_NODE_ANNOTATION + "=fake"
# kwok stages (paths relative to the copied kustomize/stage folder): node initialise + lease heartbeat,
# pod ready / complete / delete. Callers may pass their own list (e.g. a pod stage gated on volumes).
DEFAULT_KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
SNAPSHOT_CRDS = (
    "snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
    "snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
    "snapshot.storage.k8s.io_volumesnapshots.yaml",
)
# Start order; stop goes the other way round (etcd last so the apiserver never loses its store first).
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "snapshot-controller")
PORT_NAMES = ("etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "snapshot-controller")
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
APISERVER_SANS = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost")
RUN_FILE = "run.json"
AUTHENTICATION_FILE = "authentication-config.json"


class ControlPlaneError(RuntimeError):
    """A component failed to build, start, become healthy or stop."""


# ------------------------------------------------------------------ versions and binaries

def cache_dir() -> Path:
    """Folder build.sh fills (outside the repository, shared by every checkout on the machine)."""
    root = os.environ.get("KUBEDISK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kubedisk")
    return Path(root) / "kube"


def versions() -> dict:
    """The pinned versions, read from versions.env so bash and Python share one source."""
    out = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip().strip('"')
    return out


def paths() -> dict:
    """Where each binary and data folder of the pinned versions lives in the cache."""
    ver = versions()
    kube = cache_dir()
    fam = {
        "etcd": kube / ("etcd-" + ver["ETCD_VERSION"]),
        "k8s": kube / ("k8s-" + ver["K8S_VERSION"]),
        "kwok": kube / ("kwok-" + ver["KWOK_VERSION"]),
        "snapshotter": kube / ("snapshotter-" + ver["SNAPSHOTTER_VERSION"]),
        "provisioner": kube / ("provisioner-" + ver["PROVISIONER_VERSION"]),
        "attacher": kube / ("attacher-" + ver["ATTACHER_VERSION"]),
        "resizer": kube / ("resizer-" + ver["RESIZER_VERSION"]),
    }
    return {
        "etcd": fam["etcd"] / "bin" / "etcd",
        "kube-apiserver": fam["k8s"] / "bin" / "kube-apiserver",
        "kube-controller-manager": fam["k8s"] / "bin" / "kube-controller-manager",
        "kube-scheduler": fam["k8s"] / "bin" / "kube-scheduler",
        "kubectl": fam["k8s"] / "bin" / "kubectl",
        "kwok": fam["kwok"] / "bin" / "kwok",
        "snapshot-controller": fam["snapshotter"] / "bin" / "snapshot-controller",
        "csi-snapshotter": fam["snapshotter"] / "bin" / "csi-snapshotter",
        "csi-provisioner": fam["provisioner"] / "bin" / "csi-provisioner",
        "csi-attacher": fam["attacher"] / "bin" / "csi-attacher",
        "csi-resizer": fam["resizer"] / "bin" / "csi-resizer",
        "kwok-stages": fam["kwok"] / "stage",
        "snapshot-crds": fam["snapshotter"] / "crd",
    }


def missing_binaries() -> list:
    """Names of what start() needs but build.sh has not produced yet (empty when ready)."""
    found = paths()
    missing = [name for name in COMPONENTS if not os.access(found[name], os.X_OK)]
    if not (found["kwok-stages"] / DEFAULT_KWOK_STAGES[0]).is_file():
        missing.append("kwok stage YAMLs")
    if not all((found["snapshot-crds"] / crd).is_file() for crd in SNAPSHOT_CRDS):
        missing.append("snapshot CRDs")
    return missing


# ------------------------------------------------------------------ certificates and kubeconfigs

def _pki_ready(certs: Path) -> bool:
    names = ("ca", "apiserver", "admin", "kube-controller-manager", "kube-scheduler")
    return all((certs / (n + ".crt")).is_file() and (certs / (n + ".key")).is_file() for n in names) and (certs / "sa.pub").is_file()


def generate_pki(certs: Path) -> None:
    """CA, apiserver serving+client cert (O=system:masters), client certs, service-account keys.

    Done once per state dir: keeping the CA and the service-account key is what lets a kept etcd
    (stop with keep_state) be reused, since its secrets and tokens were signed with them.
    """
    certs.mkdir(parents=True, exist_ok=True)
    authority = pki.Authority(pki.name("kubedisk-lab-ca"))
    pki.write(certs / "ca.key", pki.private_pem(authority.key), private=True)
    pki.write(certs / "ca.crt", pki.certificate_pem(authority.certificate))
    leaves = {
        "apiserver": (pki.name("kube-apiserver", "system:masters"), APISERVER_SANS + (LOOPBACK, SERVICE_IP)),
        "admin": (pki.name("kubedisk-lab-admin", "system:masters"), ()),
        "kube-controller-manager": (pki.name("system:kube-controller-manager"), ()),
        "kube-scheduler": (pki.name("system:kube-scheduler"), ()),
    }
    for file, (subject, server_names) in leaves.items():
        key, certificate = authority.issue(subject, server_names, client=True)
        pki.write(certs / (file + ".key"), pki.private_pem(key), private=True)
        pki.write(certs / (file + ".crt"), pki.certificate_pem(certificate))
    service_accounts = pki.rsa_key()
    pki.write(certs / "sa.key", pki.private_pem(service_accounts), private=True)
    pki.write(certs / "sa.pub", pki.public_pem(service_accounts))


def write_kubeconfig(path: Path, certs: Path, user: str, server: str) -> None:
    """Self-contained kubeconfig (certificates inlined) so it can be copied or exported as KUBECONFIG."""
    def b64(file: str) -> str:
        return base64.b64encode((certs / file).read_bytes()).decode("ascii")

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubedisk-lab", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(user + ".crt"), "client-key-data": b64(user + ".key")}}],
        "contexts": [{"name": "kubedisk-lab", "context": {"cluster": "kubedisk-lab", "user": user}}],
        "current-context": "kubedisk-lab",
        "preferences": {},
    }
    # JSON is YAML: kubectl, client-go and the Python client all read it.
    pki.write(path, (json.dumps(config, indent=2) + "\n").encode("utf-8"), private=True)


# ------------------------------------------------------------------ ports, health

def _choose_ports(requested, previous) -> dict:
    """Requested ports win; else last run's ports (a kept etcd remembers its peer URL); else free ones."""
    requested = dict(requested or {})
    unknown = set(requested) - set(PORT_NAMES)
    if unknown:
        raise ControlPlaneError(f"unknown port names {sorted(unknown)} (known: {', '.join(PORT_NAMES)})")
    ports, taken = {}, set()
    for name in PORT_NAMES:
        port = requested.get(name)
        if port is None and previous.get(name) and previous[name] not in taken and processes.port_free(previous[name]):
            port = previous[name]
        if port is None:
            port = processes.free_port(taken)
        elif not processes.port_free(port):
            raise ControlPlaneError(f"port {port} for {name} on {LOOPBACK} is already in use")
        ports[name] = int(port)
        taken.add(int(port))
    return ports


def _read_run(state: Path) -> dict:
    try:
        return json.loads((state / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_run(state: Path, run: dict) -> None:
    tmp = state / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, state / RUN_FILE)


def _tail(path, lines: int = 25) -> str:
    try:
        return "\n".join(Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _http_ok(url: str, context=None, expect: str = "") -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as resp:  # noqa: S310 - loopback lab URLs only
            body = resp.read(4096).decode("utf-8", "replace")
            return resp.status == 200 and expect in body
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _insecure_context() -> ssl.SSLContext:
    """The controller-manager and scheduler serve self-signed certs; health paths are anonymous."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _admin_context(certs: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    ctx.load_cert_chain(str(certs / "admin.crt"), str(certs / "admin.key"))
    return ctx


class _Launcher:
    """Starts processes in their own session and records them in run.json at once (so stop() can always clean up)."""

    def __init__(self, state: Path, run: dict):
        self.state = state
        self.run = run
        self.procs = {}

    def spawn(self, name: str, argv: list, env=None) -> None:
        """Start one server; its pid and start time are on disk before we wait for it."""
        proc, record = processes.spawn(name, argv, self.state / "logs" / f"{name}.log", env, cwd=str(self.state))
        self.procs[name] = proc
        self.run["processes"].append(record)
        _write_run(self.state, self.run)

    def wait(self, name: str, check, timeout: float, what: str) -> None:
        """Poll check() until true; fail fast with the log tail when the process dies."""
        deadline = time.monotonic() + timeout
        proc = self.procs[name]
        log = self.state / "logs" / f"{name}.log"
        while True:
            if check():
                return
            code = proc.poll()
            if code is not None:
                raise ControlPlaneError(f"{name} exited with code {code} before it was {what}; log {log}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{name} not {what} after {timeout}s; log {log}:\n{_tail(log)}")
            time.sleep(0.2)


# ------------------------------------------------------------------ Kubernetes API helpers

def api_client(kubeconfig):
    """A kubernetes.client.ApiClient for the lab's admin kubeconfig."""
    # pylint: disable-next=import-outside-toplevel
    from kubernetes import config as kconfig
    return kconfig.new_client_from_config(config_file=str(kubeconfig))


def install_snapshot_crds(client, crd_dir: Path, timeout: float = 30) -> None:  # pylint: disable=too-many-locals
    """Create (or update) the snapshot v1 CRDs and wait until they are Established."""
    # pylint: disable-next=import-outside-toplevel
    import yaml
    # pylint: disable-next=import-outside-toplevel
    from kubernetes import client as kclient
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    api = kclient.ApiextensionsV1Api(client)
    names = []
    for file in SNAPSHOT_CRDS:
        body = yaml.safe_load((crd_dir / file).read_text(encoding="utf-8"))
        names.append(body["metadata"]["name"])
        try:
            api.create_custom_resource_definition(body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = api.read_custom_resource_definition(body["metadata"]["name"])
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            api.replace_custom_resource_definition(body["metadata"]["name"], body)
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for crd_name in list(pending):
            conds = api.read_custom_resource_definition(crd_name).status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conds):
                pending.discard(crd_name)
        if pending and time.monotonic() > deadline:
            raise ControlPlaneError(f"CRDs not Established after {timeout}s: {sorted(pending)}")
        if pending:
            time.sleep(0.2)


def _wait_api_ready(client, timeout: float) -> None:
    """The default ServiceAccount exists (pods can be admitted) and a Node passes admission (dry run)."""
    # pylint: disable-next=import-outside-toplevel
    from kubernetes import client as kclient
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    core = kclient.CoreV1Api(client)
    deadline = time.monotonic() + timeout
    while True:
        try:
            core.read_namespaced_service_account("default", "default")
            break
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise ControlPlaneError(f"default/default ServiceAccount not created after {timeout}s (see the kube-controller-manager log)") from exc
            time.sleep(0.2)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "lab-readiness-probe", "annotations": {KWOK_NODE_ANNOTATION: "fake"}}}
    core.create_node(node, dry_run="All")


# ------------------------------------------------------------------ start / stop

def _server_env() -> dict:
    """The servers' environment: ours without a KUBECONFIG or proxies, loopback never proxied."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("kubeconfig", "http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def status(state_dir) -> dict:
    """Recorded processes with whether each still runs, and the ports of the last start."""
    run = _read_run(Path(state_dir))
    procs = [dict(p, alive=processes.alive(p)) for p in run.get("processes", [])]
    return {"ports": run.get("ports", {}), "processes": procs, "kubeconfig": run.get("kubeconfig"), "server": run.get("server")}


def write_authentication_config(path: Path, jwt_authenticators) -> None:
    """kube-apiserver's structured authentication configuration (``--authentication-config``): the JWT authenticators
    (issuer, audiences, claim mappings) it trusts besides client certificates and service-account tokens."""
    config = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration", "jwt": list(jwt_authenticators)}
    pki.write(path, (json.dumps(config, indent=2) + "\n").encode("utf-8"))


class _Plan:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """Everything one start needs to build the command lines: state paths, binaries, ports, kubeconfigs."""

    def __init__(self, state: Path, ports: dict, extra_args: dict, authentication: Path | None = None):
        self.state = state
        self.authentication = authentication
        self.pki = state / "pki"
        self.bins = paths()
        self.ports = ports
        self.extra = extra_args
        self.server = f"https://{LOOPBACK}:{ports['kube-apiserver']}"
        self.etcd_url = f"http://{LOOPBACK}:{ports['etcd']}"
        self.kubeconfig = {user: state / f"{user}.kubeconfig" for user in ("admin", "kube-controller-manager", "kube-scheduler")}

    def local(self, name: str, scheme: str = "https") -> str:
        """Base URL of a component's own server on loopback."""
        return f"{scheme}://{LOOPBACK}:{self.ports[name]}"

    def argv(self, name: str, args: list) -> list:
        """Binary + our flags + the caller's extra flags for that component."""
        return [str(self.bins[name])] + args + list(self.extra.get(name, []))


def _etcd_args(plan: _Plan) -> list:
    peer = plan.local("etcd-peer", "http")
    return [
        "--name=node0", f"--data-dir={plan.state / 'etcd'}",
        f"--listen-client-urls={plan.etcd_url}", f"--advertise-client-urls={plan.etcd_url}",
        f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}", f"--initial-cluster=node0={peer}",
        "--initial-cluster-state=new", "--unsafe-no-fsync", "--log-level=warn", "--snapshot-count=10000",
    ]


def _apiserver_args(plan: _Plan) -> list:
    certs = plan.pki
    return [
        f"--etcd-servers={plan.etcd_url}", f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}",
        f"--secure-port={plan.ports['kube-apiserver']}",
        f"--tls-cert-file={certs / 'apiserver.crt'}", f"--tls-private-key-file={certs / 'apiserver.key'}", f"--client-ca-file={certs / 'ca.crt'}",
        f"--kubelet-client-certificate={certs / 'apiserver.crt'}", f"--kubelet-client-key={certs / 'apiserver.key'}",
        f"--service-account-key-file={certs / 'sa.pub'}", f"--service-account-signing-key-file={certs / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--authorization-mode=Node,RBAC", "--allow-privileged=true",
        "--endpoint-reconciler-type=none", "--profiling=false",
        # A request-header CA fills kube-system/extension-apiserver-authentication; without it the controller-manager and
        # scheduler log "missing content for CA bundle" errors in a loop.
        f"--requestheader-client-ca-file={certs / 'ca.crt'}", "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    ] + ([f"--authentication-config={plan.authentication}"] if plan.authentication else [])


def _controller_manager_args(plan: _Plan) -> list:
    kubeconfig, certs = plan.kubeconfig["kube-controller-manager"], plan.pki
    return [
        f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}", f"--secure-port={plan.ports['kube-controller-manager']}", "--leader-elect=false",
        f"--root-ca-file={certs / 'ca.crt'}", f"--service-account-private-key-file={certs / 'sa.key'}", "--use-service-account-credentials=true",
        f"--cluster-signing-cert-file={certs / 'ca.crt'}", f"--cluster-signing-key-file={certs / 'ca.key'}",
        "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
    ]


def _scheduler_args(plan: _Plan) -> list:
    kubeconfig = plan.kubeconfig["kube-scheduler"]
    return [
        f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}", f"--secure-port={plan.ports['kube-scheduler']}", "--leader-elect=false",
    ]


def _kwok_args(plan: _Plan, stages) -> list:
    args = [
        f"--kubeconfig={plan.kubeconfig['admin']}", "--manage-all-nodes=false", f"--manage-nodes-with-annotation-selector={KWOK_NODE_SELECTOR}",
        f"--cidr={POD_CIDR}", f"--server-address={LOOPBACK}:{plan.ports['kwok']}", "--node-lease-duration-seconds=40",
    ]
    for stage in stages:
        stage_path = Path(stage) if os.path.isabs(stage) else plan.bins["kwok-stages"] / stage
        if not stage_path.is_file():
            raise ControlPlaneError(f"kwok stage file not found: {stage_path}")
        args.append(f"--config={stage_path}")
    return args


def _snapshot_controller_args(plan: _Plan) -> list:
    return [
        f"--kubeconfig={plan.kubeconfig['admin']}", "--leader-election=false",
        f"--http-endpoint={LOOPBACK}:{plan.ports['snapshot-controller']}", "--worker-threads=4",
    ]


def _prepare(state: Path, ports, extra_args, jwt_authenticators=None) -> _Plan:
    """Refuse a second start, make the folders, the PKI (once), this run's kubeconfigs and authentication configuration."""
    missing = missing_binaries()
    if missing:
        raise ControlPlaneError(f"lab Kubernetes binaries not built ({', '.join(missing)}): run tests/lab/kube/build.sh (cache {cache_dir()})")
    previous = _read_run(state)
    if any(processes.alive(p) for p in previous.get("processes", [])):
        raise ControlPlaneError(f"the control plane in {state} is already running; stop it first")
    for sub in ("logs", "etcd", "kwok-home"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(state / "etcd", 0o700)  # etcd warns about anything wider
    authentication = state / AUTHENTICATION_FILE if jwt_authenticators else None
    if authentication:
        write_authentication_config(authentication, jwt_authenticators)
    plan = _Plan(state, _choose_ports(ports, previous.get("ports", {})), extra_args or {}, authentication)
    if not _pki_ready(plan.pki):
        generate_pki(plan.pki)
    for user, path in plan.kubeconfig.items():
        write_kubeconfig(path, plan.pki, user, plan.server)
    return plan


# pylint: disable-next=too-many-arguments,too-many-locals
def start(state_dir, *, ports=None, kwok_stages=DEFAULT_KWOK_STAGES, extra_args=None, addons=None, jwt_authenticators=None,
          timeout: float = 90, log=print) -> dict:
    """Start the control plane and wait until it is healthy; returns kubeconfig, server URL, ports, seconds.

    ports: overrides by name (see PORT_NAMES); the rest reuse the last run's ports when free, else any free port.
    kwok_stages: stage YAML paths, relative to the cached kustomize/stage folder or absolute.
    extra_args: {component: [flags]} appended to a component's command line.
    jwt_authenticators: kube-apiserver's JWT authenticators (``AuthenticationConfiguration.jwt`` entries), written to
      its ``--authentication-config`` file; client certificates keep working beside them.
    addons: a function called with the admin kubeconfig path once the API is ready; it returns more
      processes to run as [(name, argv, env, ready)] (ready: a no-argument check, or None), which are
      started in order, recorded like the rest (so stop() ends them too) and waited for.
    On any failure the processes started so far are stopped (state kept) and ControlPlaneError is raised.
    """
    began = time.monotonic()
    state = Path(state_dir).resolve()
    plan = _prepare(state, ports, extra_args, jwt_authenticators)
    run = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "ports": plan.ports, "server": plan.server,
           "kubeconfig": str(plan.kubeconfig["admin"]), "processes": []}
    _write_run(state, run)
    launcher = _Launcher(state, run)
    env = _server_env()
    insecure = _insecure_context()
    try:
        launcher.spawn("etcd", plan.argv("etcd", _etcd_args(plan)), env)
        launcher.wait("etcd", lambda: _http_ok(plan.etcd_url + "/health", expect='"true"'), 30, "healthy")
        launcher.spawn("kube-apiserver", plan.argv("kube-apiserver", _apiserver_args(plan)), env)
        admin_ctx = _admin_context(plan.pki)
        launcher.wait("kube-apiserver", lambda: _http_ok(plan.server + "/readyz", admin_ctx, "ok"), timeout, "ready (/readyz)")
        launcher.spawn("kube-controller-manager", plan.argv("kube-controller-manager", _controller_manager_args(plan)), env)
        launcher.spawn("kube-scheduler", plan.argv("kube-scheduler", _scheduler_args(plan)), env)
        # HOME points into the state dir so a user's ~/.kwok/kwok.yaml never leaks in.
        launcher.spawn("kwok", plan.argv("kwok", _kwok_args(plan, kwok_stages)), dict(env, HOME=str(state / "kwok-home")))
        client = api_client(plan.kubeconfig["admin"])
        install_snapshot_crds(client, plan.bins["snapshot-crds"])
        launcher.spawn("snapshot-controller", plan.argv("snapshot-controller", _snapshot_controller_args(plan)), env)
        checks = (
            ("kube-controller-manager", plan.local("kube-controller-manager") + "/healthz", insecure, "ok"),
            ("kube-scheduler", plan.local("kube-scheduler") + "/readyz", insecure, "ok"),
            ("kwok", plan.local("kwok", "http") + "/healthz", None, ""),
            ("snapshot-controller", plan.local("snapshot-controller", "http") + "/metrics", None, ""),
        )
        for name, url, ctx, expect in checks:
            launcher.wait(name, lambda u=url, c=ctx, e=expect: _http_ok(u, c, e), timeout, f"healthy ({url})")
        _wait_api_ready(client, timeout)
        client.close()
        for name, argv, extra_env, ready in (addons(plan.kubeconfig["admin"]) if addons else []):
            launcher.spawn(name, argv, dict(env, **(extra_env or {})))
            if ready is not None:
                launcher.wait(name, ready, timeout, "ready")
    except BaseException:
        stop(state, keep_state=True, log=lambda *_: None)
        raise
    run["ready_seconds"] = seconds = round(time.monotonic() - began, 1)
    _write_run(state, run)
    log(f"kube control plane up in {seconds:.1f}s: {plan.server} (KUBECONFIG={plan.kubeconfig['admin']})")
    return {"kubeconfig": str(plan.kubeconfig["admin"]), "server": plan.server, "ports": plan.ports, "seconds": seconds, "state_dir": str(state)}


def _terminate(entries: list, grace: float, log) -> None:
    left = processes.terminate(entries, grace, log)
    if left:
        raise ControlPlaneError("processes survived SIGKILL: " + ", ".join(f"{e['name']} pid {e['pid']}" for e in left))


def stop(state_dir, keep_state: bool = False, grace: float = 10, log=print) -> dict:
    """Stop exactly the processes start() recorded (SIGTERM, then SIGKILL after grace seconds) and check their ports are free.

    keep_state=False also deletes the etcd data (the next start is a fresh cluster); certificates and logs stay.
    """
    state = Path(state_dir).resolve()
    run = _read_run(state)
    running = [e for e in run.get("processes", []) if processes.alive(e)]
    # Everything but etcd first, so the apiserver never runs without its store; etcd last.
    _terminate([e for e in running if e["name"] != "etcd"], grace, log)
    _terminate([e for e in running if e["name"] == "etcd"], grace, log)
    busy = processes.still_bound(run.get("ports", {}))
    if run:
        run["processes"] = []
        run["stopped"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        _write_run(state, run)
    if not keep_state and (state / "etcd").exists():
        shutil.rmtree(state / "etcd")
    if busy:
        raise ControlPlaneError("ports still bound after stop (not by processes this lab started?): " + ", ".join(busy))
    log(f"kube control plane stopped ({len(running)} processes, {'state kept' if keep_state else 'etcd data deleted'})")
    return {"stopped": [e["name"] for e in running], "ports": run.get("ports", {}), "kept": keep_state}


def restart_apiserver(state_dir, *, kill: bool = False, down_for: float = 0, timeout: float = 90, log=print) -> dict:
    """Stop the running kube-apiserver (SIGTERM, or SIGKILL with ``kill``), keep it down ``down_for`` seconds, start it
    again with the argv ``start()`` recorded (same ports, certificates, etcd) and wait until /readyz answers.

    Everything else keeps running, as when a managed control plane restarts under its clients; returns
    {"pid", "down_seconds", "ready_seconds"}.
    """
    state = Path(state_dir).resolve()
    run = _read_run(state)
    record = next((p for p in run.get("processes", []) if p["name"] == "kube-apiserver" and processes.alive(p)), None)
    if record is None:
        raise ControlPlaneError(f"no running kube-apiserver recorded in {state / RUN_FILE}; start the lab first")
    began = time.monotonic()
    if kill:
        os.kill(record["pid"], signal.SIGKILL)
    # terminate() sends SIGTERM (a no-op once killed) and waits until the process is gone: a graceful stop takes up to
    # the apiserver's 60 s request timeout while it drains the requests in flight.
    _terminate([record], 75, log)
    busy = processes.still_bound({"kube-apiserver": run["ports"]["kube-apiserver"]})
    if busy:
        raise ControlPlaneError(f"the kube-apiserver port is still bound after it stopped: {busy[0]}")
    time.sleep(down_for)
    run["processes"].remove(record)
    launcher = _Launcher(state, run)
    restarted = time.monotonic()
    launcher.spawn("kube-apiserver", record["argv"], _server_env())
    admin_ctx = _admin_context(state / "pki")
    launcher.wait("kube-apiserver", lambda: _http_ok(run["server"] + "/readyz", admin_ctx, "ok"), timeout, "ready (/readyz) again")
    seconds = {"down_seconds": round(restarted - began, 1), "ready_seconds": round(time.monotonic() - restarted, 1)}
    log(f"kube-apiserver restarted: down {seconds['down_seconds']:.1f}s, ready {seconds['ready_seconds']:.1f}s after its start")
    return dict(seconds, pid=launcher.run["processes"][-1]["pid"])
