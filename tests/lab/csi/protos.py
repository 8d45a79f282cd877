"""The CSI protocol's Python code, generated from the spec module's ``csi.proto`` (never committed).

The lab's Go build (tests/lab/kube/build.sh, family ``csi-spec``) copies ``csi.proto`` of the pinned
spec version (``CSI_SPEC_VERSION`` in versions.env) to ``$KUBEDISK_CACHE/kube/csi-spec-<version>/``
(it is also in its Go module cache); ``load()`` runs grpcio-tools on it once into
``$KUBEDISK_CACHE/csi-proto/<version>/`` and imports ``csi_pb2`` / ``csi_pb2_grpc`` from there. A
stamp file keys the generated code by the proto's hash and the grpcio-tools version.
"""

import hashlib
import importlib
import os
import sys
import tempfile
from importlib.metadata import version as dist_version
from pathlib import Path

from lab.kube import controlplane

GENERATED = ("csi_pb2.py", "csi_pb2_grpc.py")
STAMP = "stamp.txt"


class ProtoError(RuntimeError):
    """csi.proto is missing or could not be compiled."""


def spec_version():
    """The pinned CSI spec version (``CSI_SPEC_VERSION`` in tests/lab/kube/versions.env)."""
    return controlplane.versions()["CSI_SPEC_VERSION"]


def proto_path(version=None):
    """``csi.proto`` of that spec version: the build's copy, else the Go module cache's (None when neither exists)."""
    version = version or spec_version()
    kube = controlplane.cache_dir()
    candidates = (kube / f"csi-spec-{version}" / "csi.proto",
                  kube / "go" / "mod" / "github.com" / "container-storage-interface" / f"spec@v{version}" / "csi.proto")
    return next((path for path in candidates if path.is_file()), None)


def output_dir(version=None):
    """The cache folder the generated modules go to."""
    root = os.environ.get("KUBEDISK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kubedisk")
    return Path(root) / "csi-proto" / (version or spec_version())


def generate(version=None):
    """Generate the modules unless the stamp says they are current; returns their folder."""
    # pylint: disable-next=import-outside-toplevel
    from grpc_tools import protoc
    # pylint: disable-next=import-outside-toplevel
    from grpc_tools import __file__ as tools_init

    source = proto_path(version)
    if source is None:
        raise ProtoError(f"csi.proto {version or spec_version()} is missing from {controlplane.cache_dir()}: "
                         "run tests/lab/kube/build.sh csi-spec (it fetches the CSI spec module from the Go module proxy)")
    target = output_dir(version)
    tools = dist_version("grpcio-tools")
    stamp = f"{hashlib.sha256(source.read_bytes()).hexdigest()} grpcio-tools {tools}\n"
    if (target / STAMP).is_file() and (target / STAMP).read_text(encoding="utf-8") == stamp \
            and all((target / name).is_file() for name in GENERATED):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        includes = os.path.join(os.path.dirname(tools_init), "_proto")
        code = protoc.main(["grpc_tools.protoc", f"-I{source.parent}", f"-I{includes}", f"--python_out={scratch}",
                            f"--grpc_python_out={scratch}", str(source)])
        if code != 0:
            raise ProtoError(f"grpc_tools.protoc failed on {source} (exit {code})")
        Path(scratch, STAMP).write_text(stamp, encoding="utf-8")
        target.mkdir(exist_ok=True)
        for name in GENERATED + (STAMP,):
            os.replace(os.path.join(scratch, name), target / name)
    return target


def load(version=None):
    """Generate if needed, put the folder on ``sys.path`` and return the (csi_pb2, csi_pb2_grpc) modules."""
    folder = str(generate(version))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("csi_pb2"), importlib.import_module("csi_pb2_grpc")
