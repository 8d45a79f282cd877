"""A counting front of the lab's kube-apiserver, to count the API requests one client makes.

The lab's apiserver keeps no audit log and its metrics carry no user agent, so a figure gives the client under test a
kubeconfig of this front instead: plain HTTP on loopback, each request passed on over one TLS connection per client
connection with the lab's admin client certificate, responses streamed back as they come (watches included), and
every request recorded with its time, method, path and user agent.
"""

import base64
import http.client
import json
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import yaml

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


class _Forward(BaseHTTPRequestHandler):
    """One client connection: its requests passed on to the apiserver in turn, counted."""

    protocol_version = "HTTP/1.1"
    upstream = None

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        """Quiet: the figure reads the counts, not a log."""

    def _connection(self):
        if self.upstream is None:
            front = self.server.front
            self.upstream = http.client.HTTPSConnection(front.host, front.port, context=front.context)
        return self.upstream

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.front.record(self.command, self.path, self.headers.get("User-Agent", ""))
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        try:
            self._connection().request(self.command, self.path, body=body, headers=headers)
            answer = self.upstream.getresponse()
        except (OSError, http.client.HTTPException):
            self.upstream = None
            self._connection().request(self.command, self.path, body=body, headers=headers)
            answer = self.upstream.getresponse()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("date", "server"):
                self.send_header(name, value)
        if answer.status in (204, 304) or self.command == "HEAD":
            self.send_header("Content-Length", "0")
            self.end_headers()
            answer.read()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                data = answer.read1(65536)
                if not data:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except ConnectionError:  # the client left (a watch it stopped): its answer is dropped, and the connection
            self.close_connection = True
            self.upstream.close()
            self.upstream = None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward


class CountingFront:
    """The front of the apiserver that ``kubeconfig`` names, serving on a loopback port until ``stop()``."""

    def __init__(self, kubeconfig: str):
        config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        server = urlsplit(cluster["server"])
        self.host, self.port = server.hostname, server.port or 443
        self.folder = Path(tempfile.mkdtemp(prefix="kube-front-"))
        files = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            files[key] = self.folder / key
            files[key].write_bytes(base64.b64decode(cluster.get(key) or user.get(key)))
            files[key].chmod(0o600)
        self.context = ssl.create_default_context(cafile=str(files["certificate-authority-data"]))
        self.context.load_cert_chain(str(files["client-certificate-data"]), str(files["client-key-data"]))
        self.requests = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Forward)
        self.server.daemon_threads = True
        self.server.front = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, method: str, path: str, agent: str) -> None:
        with self.lock:
            self.requests.append({"time": time.time(), "method": method, "path": path, "agent": agent})

    def kubeconfig(self) -> str:
        """A kubeconfig (a file readable by the owner only) of this front: no credentials, plain HTTP on loopback."""
        path = self.folder / "front.kubeconfig"
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "front",
                  "clusters": [{"name": "front", "cluster": {"server": f"http://127.0.0.1:{self.server.server_address[1]}"}}],
                  "users": [{"name": "front", "user": {}}],
                  "contexts": [{"name": "front", "context": {"cluster": "front", "user": "front"}}]}
        path.write_text(json.dumps(config), encoding="utf-8")
        path.chmod(0o600)
        return str(path)

    def between(self, start: float, end: float) -> list:
        with self.lock:
            return [request for request in self.requests if start <= request["time"] <= end]

    def stop(self) -> None:
        self.server.shutdown()
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()
