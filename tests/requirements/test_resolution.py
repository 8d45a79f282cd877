"""kubedisk.aks's Python requirements install beside those of the collections its execution environment carries.

The EE (extensions/ee/) installs ansible-core, ansible-runner, kubedisk.aks's requirements.txt and the requirement
files of kubernetes.core and azure.azcollection into one Python; one set of versions must satisfy them all. The peers'
files are read from the ``ansible`` package on PyPI, which ships both collections. uv resolves them (as pip would, by
the same standards, but fetching the index in parallel: pip took minutes here) for the EE's Python, without
installing anything, its cache kept under the kubedisk cache folder.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = pathlib.Path(os.environ.get("KUBEDISK_CACHE", pathlib.Path.home() / ".cache" / "kubedisk"))
EE = yaml.safe_load((ROOT / "extensions" / "ee" / "execution-environment.yml").read_text(encoding="utf-8"))
EE_PYTHON = re.search(r"python(\d+\.\d+)$", EE["dependencies"]["python_interpreter"]["python_path"]).group(1)
PEER_FILES = {
    "kubernetes.core": "ansible_collections/kubernetes/core/requirements.txt",
    "azure.azcollection": "ansible_collections/azure/azcollection/requirements.txt",
}


def ansible_wheel():
    """The newest ``ansible`` wheel in the cache (scripts/setup.sh puts one there), downloaded when there is none."""
    def version(path):
        return tuple(int(part) for part in re.findall(r"\d+", path.name.split("-")[1]))

    folder = CACHE / "wheels"
    if not list(folder.glob("ansible-[0-9]*-py3-none-any.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",  # noqa: S603
                        "-d", str(folder), "ansible"], check=True, timeout=600)
    return max(folder.glob("ansible-[0-9]*-py3-none-any.whl"), key=version)


@pytest.fixture(scope="module")
def peer_requirements(tmp_path_factory):
    """{collection: path of its requirements file}, extracted from the ``ansible`` wheel."""
    folder = tmp_path_factory.mktemp("peers")
    paths = {}
    with zipfile.ZipFile(ansible_wheel()) as wheel:
        for collection, member in PEER_FILES.items():
            paths[collection] = folder / (collection + ".txt")
            paths[collection].write_bytes(wheel.read(member))
    return paths


@pytest.fixture(scope="module")
def ee_ansible(tmp_path_factory):
    """The ansible-core and ansible-runner the EE installs, as a requirements file."""
    path = tmp_path_factory.mktemp("ee") / "ansible.txt"
    path.write_text("%s\n%s\n" % (EE["dependencies"]["ansible_core"]["package_pip"],
                                  EE["dependencies"]["ansible_runner"]["package_pip"]), encoding="utf-8")
    return path


def requirements(path):
    """The requirements of a requirements file (comments and blank lines left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(line) for line in lines if line]


def resolve(files):
    """uv's resolution of the requirement files together for the EE's Python: (completed process, {name: version}
    or None when there is no common set)."""
    uv = shutil.which("uv")
    assert uv, "uv is not installed (requirements-dev.txt pins it)"
    command = [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--python-version", EE_PYTHON]
    command += [str(path) for path in files]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,  # noqa: S603
                          env=dict(os.environ, UV_CACHE_DIR=str(CACHE / "uv"), NO_COLOR="1"))
    if done.returncode != 0:
        return done, None
    pinned = (re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line) for line in done.stdout.splitlines())
    return done, {m.group(1).lower().replace("_", "-"): m.group(2) for m in pinned if m}


def test_requirements_resolve_with_the_peer_collections(peer_requirements, ee_ansible):
    done, versions = resolve([ROOT / "requirements.txt", ee_ansible, *peer_requirements.values()])
    assert versions is not None, "no common set of versions:\n" + done.stderr[-4000:]
    for requirement in requirements(ROOT / "requirements.txt") + requirements(ee_ansible):
        name = requirement.name.lower()
        found = versions.get(name)
        assert found and requirement.specifier.contains(found), (str(requirement), found)


def test_a_conflicting_pin_is_reported(tmp_path, peer_requirements):
    """The check above can fail: a requirement azure.azcollection's exact pin excludes finds no common set."""
    pinned = [r for r in requirements(peer_requirements["azure.azcollection"]) if r.name == "azure-mgmt-compute"]
    assert pinned and str(pinned[0].specifier).startswith("=="), "azure.azcollection no longer pins azure-mgmt-compute"
    other = tmp_path / "other-pin.txt"
    other.write_text("azure-mgmt-compute!=%s\n" % str(pinned[0].specifier)[2:], encoding="utf-8")
    done, versions = resolve([other, peer_requirements["azure.azcollection"]])
    assert versions is None and "azure-mgmt-compute" in done.stderr
