"""Helpers of the emulator tests: a server process wrapper and request bodies."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from azure.identity import ClientSecretCredential

TESTS_ROOT = Path(__file__).resolve().parents[3]


class Emulator:
    """A running emulator process and what its ``azure.json`` says."""

    def __init__(self, state_dir, port=0):
        self.state_dir = Path(state_dir)
        self.port = port
        self.process = None
        self.info = None
        self._token = None

    def start(self, timeout=20):
        """Start the server and wait until it listens."""
        info_path = self.state_dir / "azure.json"
        info_path.unlink(missing_ok=True)
        command = [sys.executable, "-m", "lab.azure", "--state-dir", str(self.state_dir), "--port", str(self.port), "--profile", "fast"]
        self.process = subprocess.Popen(  # noqa: S603 - the lab's own argv, no shell  # pylint: disable=consider-using-with
            command, env=dict(os.environ, PYTHONPATH=str(TESTS_ROOT)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not info_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()  # a slow start must not outlive the test
                raise RuntimeError("the emulator did not start")
            time.sleep(0.05)
        self.info = json.loads(info_path.read_text())
        self._token = None
        self.port = self.info["port"]
        return self

    def kill(self):
        """SIGKILL, as a crash."""
        self.process.kill()
        self.process.wait()

    def stop(self):
        """SIGTERM and wait; SIGKILL when it has not stopped within 10 s, so no emulator outlives its test."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    @property
    def url(self):
        """Base URL."""
        return self.info["url"]

    def admin(self, method, path, **kwargs):
        """Call the admin API; returns the response."""
        return requests.request(method, f"{self.url}/_lab/{path}", verify=self.info["ca"], timeout=10, **kwargs)

    def credential(self):
        """A ClientSecretCredential against the lab authority."""
        return ClientSecretCredential(self.info["tenant"], self.info["client_id"], self.info["client_secret"], authority=self.url,
                                      disable_instance_discovery=True, connection_verify=self.info["ca"])

    def client(self, client_class, credential=None, **kwargs):
        """An SDK management client pointed at the lab."""
        return client_class(credential or self.credential(), self.info["subscription_id"], base_url=self.url,
                            connection_verify=self.info["ca"], **kwargs)

    def token(self):
        """A raw ARM access token (one per server start)."""
        if self._token is None:
            self._token = self.credential().get_token(f"{self.url}/.default").token
        return self._token

    def arm(self, method, path, token=None, **kwargs):
        """A raw ARM call (for status codes and headers)."""
        headers = kwargs.pop("headers", {})
        if token is not False:
            headers["Authorization"] = f"Bearer {token or self.token()}"
        params = kwargs.pop("params", {"api-version": "2024-01-01"})
        return requests.request(method, f"{self.url}{path}", headers=headers, params=params, verify=self.info["ca"], timeout=10, **kwargs)


def empty_disk(location="westeurope", size=8, sku="Premium_LRS", zones=None, **properties):
    """A disk PUT body (REST shape, as the compute SDK sends it)."""
    body = {"location": location, "sku": {"name": sku},
            "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": size, **properties}}
    if zones:
        body["zones"] = zones
    return body


def error_code(caught):
    """The ARM error code of an SDK exception."""
    return caught.value.error.code
