"""extensions/ee/execution-environment.yml makes a build context with ansible-builder (``create``: no image is built).

The context must start from the named base image, install the ansible-core and ansible-runner the definition asks
for, and carry the collection list, kubedisk.aks's requirements.txt and the bindep file unchanged.
"""

import os
import pathlib
import shutil
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "extensions" / "ee" / "execution-environment.yml"


@pytest.fixture(scope="module")
def definition():
    """The execution environment definition, parsed."""
    return yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The build context ``ansible-builder create`` writes for the definition."""
    builder = shutil.which("ansible-builder")
    assert builder, "ansible-builder is not installed (requirements-dev.txt pins it)"
    folder = tmp_path_factory.mktemp("ee") / "context"
    done = subprocess.run([builder, "create", "-f", str(DEFINITION), "-c", str(folder),  # noqa: S603
                           "--output-filename", "Containerfile"],
                          capture_output=True, text=True, timeout=600, check=False, env=dict(os.environ, NO_COLOR="1"))
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def test_containerfile_builds_from_the_base_image_with_the_pinned_ansible(context, definition):
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    deps = definition["dependencies"]
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in containerfile
    assert 'ARG PYCMD="%s"' % deps["python_interpreter"]["python_path"] in containerfile
    refs = "%s %s" % (deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"])
    assert 'ARG ANSIBLE_INSTALL_REFS="%s"' % refs in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile


@pytest.mark.parametrize("name, source", [
    ("requirements.txt", ROOT / "requirements.txt"),
    ("requirements.yml", ROOT / "extensions" / "ee" / "requirements.yml"),
    ("bindep.txt", ROOT / "extensions" / "ee" / "bindep.txt"),
])
def test_context_carries_the_dependency_files(context, name, source):
    assert (context / "_build" / name).read_bytes() == source.read_bytes()


def test_collections_of_the_environment():
    listed = yaml.safe_load((ROOT / "extensions" / "ee" / "requirements.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in listed["collections"]]
    assert names == ["kubedisk.aks", "kubernetes.core", "azure.azcollection"]
    dependency = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["dependencies"]["kubernetes.core"]
    assert listed["collections"][1]["version"] == dependency, "the EE's kubernetes.core range differs from galaxy.yml's"
