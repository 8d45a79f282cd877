"""Where a lab lives: ``$LAB_DIR`` (default ``.lab/`` at the repository root), its state and its ``env`` file.

``up`` writes the ``env`` file (shell exports of AZURE_*, REQUESTS_CA_BUNDLE, SSL_CERT_FILE,
LAB_ADMIN_URL, LAB_AZURE_CA, KUBECONFIG, ...); every other verb reads the running lab from it, so
callers need not export anything but ``LAB_DIR``.
"""

import os
import shlex
from pathlib import Path

from ..admin_client import AdminClient

REPO = Path(__file__).resolve().parents[3]
TESTS = REPO / "tests"


def read_exports(path) -> dict:
    """The ``NAME=value`` exports of an env file."""
    pairs = [shlex.split(line[len("export "):])[0] for line in Path(path).read_text(encoding="utf-8").splitlines()
             if line.startswith("export ")]
    return dict(pair.split("=", 1) for pair in pairs)


class LabDir:
    """The folder of one lab and what is in it."""

    def __init__(self, root=None):
        self.root = Path(root or os.environ.get("LAB_DIR") or REPO / ".lab").resolve()
        self.azure = self.root / "azure"
        self.kube = self.root / "kube"
        self.env_file = self.root / "env"

    def exports(self) -> dict:
        """The running lab's exports; exits when the lab is not up."""
        if not self.env_file.exists():
            raise SystemExit(f"lab: not running (no {self.env_file}); run 'make lab-up' first")
        return read_exports(self.env_file)

    def write_exports(self, exports: dict) -> None:
        """Write the env file ``up`` leaves for clients."""
        self.env_file.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in exports.items()), encoding="utf-8")

    def admin(self, timeout: float = 30) -> AdminClient:
        """A client of the running emulator's admin API."""
        exports = self.exports()
        return AdminClient(exports["LAB_ADMIN_URL"], exports["LAB_AZURE_CA"], timeout)
