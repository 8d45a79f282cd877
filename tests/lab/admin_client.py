"""A client of the ARM emulator's admin API (``/_lab/``, served by ``lab.azure.admin``) over HTTPS, trusting the lab CA."""

import json
import ssl
import urllib.parse
import urllib.request


class AdminClient:
    """Calls ``$LAB_ADMIN_URL``: JSON for settings and logs, raw bytes for disk contents."""

    def __init__(self, url: str, ca: str, timeout: float = 30):
        if urllib.parse.urlsplit(url).scheme != "https":
            raise ValueError(f"the lab's admin URL must be https://, not {url!r}")
        self.url = url.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca)
        self.timeout = timeout

    def send(self, method: str, path: str, data=None, content_type="application/octet-stream") -> bytes:
        """One request with a raw body; the raw answer (``urllib.error.HTTPError`` for an error status)."""
        request = urllib.request.Request(  # noqa: S310 - https only, checked in __init__
            self.url + path, data=data, method=method, headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, context=self.context, timeout=self.timeout) as response:  # noqa: S310 - https only
            return response.read()

    def call(self, method: str, path: str, body=None):
        """One request with a JSON body (or none); the decoded JSON answer, None when it is empty."""
        raw = self.send(method, path, None if body is None else json.dumps(body).encode(), "application/json")
        return json.loads(raw) if raw else None

    def disk_bytes(self, disk_id: str) -> bytes:
        """The written bytes of a disk or snapshot named by its ARM id."""
        return self.send("GET", f"/disks/{_ref(disk_id)}/bytes")

    def append(self, disk_id: str, data: bytes) -> None:
        """Append bytes after the last written byte of a disk."""
        self.send("POST", f"/disks/{_ref(disk_id)}/append", data)


def _ref(disk_id: str) -> str:
    return urllib.parse.quote(disk_id.lstrip("/"), safe="/")
