"""The peer of the ARM figures: azure.azcollection in a venv of its own, as its users install it.

ansible-core at the version the main venv pins, azure.azcollection from the ``ansible`` wheel on PyPI (Galaxy is
not reachable; scripts/setup.sh takes kubernetes.core from the same wheel) and that collection's own
requirements.txt, installed with uv (pip took many minutes for its ~70 pinned Azure packages). The venv is cached as
``<cache>/venv/azcollection-<key>`` (cache: ``KUBEDISK_CACHE``, default ``~/.cache/kubedisk``), keyed as
scripts/setup.sh keys its venvs: by the interpreter's version and the text of everything installed. A venv left
half-made (no ``.complete`` mark) is made again.

    PYTHONPATH=tests python bench/peers/azcollection.py    # build (or find) it; prints its path
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KUBEDISK_CACHE", Path.home() / ".cache" / "kubedisk"))
ANSIBLE_VERSION = "14.5.0"
COLLECTION = "ansible_collections/azure/azcollection/"


def _core_pin() -> str:
    """The ansible-core requirement the main venv pins for this interpreter (requirements-dev.txt)."""
    text = (REPO / "requirements-dev.txt").read_text(encoding="utf-8")
    wanted = ">=" if sys.version_info >= (3, 12) else "<"
    for line in text.splitlines():
        match = re.match(r"^(ansible-core==[0-9.]+);\s*python_version\s*([<>=]+)", line)
        if match and match.group(2) == wanted:
            return match.group(1)
    raise SystemExit("requirements-dev.txt pins no ansible-core for this Python")


def _ansible_wheel() -> Path:
    """The ``ansible`` wheel of ANSIBLE_VERSION in the cache, downloaded from PyPI when missing."""
    folder = CACHE / "wheels"
    wheel = folder / f"ansible-{ANSIBLE_VERSION}-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", str(folder), f"ansible=={ANSIBLE_VERSION}"], check=True, timeout=600)
    return wheel


def venv() -> Path:
    """The peer's venv (built when missing); ``<venv>/ansible_collections`` holds azure.azcollection."""
    wheel = _ansible_wheel()
    with zipfile.ZipFile(wheel) as archive:
        requirements = archive.read(COLLECTION + "requirements.txt").decode()
    core = _core_pin()
    python = "%d.%d.%d" % sys.version_info[:3]
    key = hashlib.sha256(f"{python}\n{core}\nansible=={ANSIBLE_VERSION}\n{requirements}".encode()).hexdigest()[:16]
    path = CACHE / "venv" / f"azcollection-{key}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"azcollection-{key}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path / ".complete").exists():
            _build(path, wheel, core, requirements)
    return path


def _build(path: Path, wheel: Path, core: str, requirements: str):
    print(f"azcollection: creating {path} (first run: several minutes)", file=sys.stderr, flush=True)
    shutil.rmtree(path, ignore_errors=True)
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    env = dict(os.environ, UV_CACHE_DIR=str(CACHE / "uv"), NO_COLOR="1")
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(path)], check=True, env=env, timeout=300)
    listed = path / "requirements.txt"
    listed.write_text(f"{core}\n{requirements}", encoding="utf-8")
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(path / "bin" / "python"), "-r", str(listed)],
                   check=True, env=env, timeout=3600)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(path, [name for name in archive.namelist() if name.startswith(COLLECTION)])
    (path / ".complete").touch()


if __name__ == "__main__":
    print(venv())
