"""csi-sanity (kubernetes-csi/csi-test) against the controller: every Identity and Controller test must pass.

The node plugin is emulated elsewhere (kwok + the lab's kubelet emulation), so the ``Node Service``
specs are skipped. A few controller specs ask the node endpoint for ``NodeGetInfo`` (the volume
lifecycle publishes to that node): a small stub answers it for one of the cluster's scale-set
nodes, with its zone, so those specs create, attach and detach real emulated disks.
"""

import os
import re
import subprocess
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from lab.csi import nodes, servicer
from lab.kube import controlplane

from .conftest import ATTACH_LIMIT, LOCATION

CSI, CSI_GRPC = servicer.CSI, servicer.CSI_GRPC
SUMMARY = re.compile(r"(\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped")


def csi_sanity():
    """The csi-sanity binary: ``$CSI_SANITY``, else the one tests/lab/kube/build.sh builds (csi-test family), else None."""
    if os.environ.get("CSI_SANITY"):
        return Path(os.environ["CSI_SANITY"])
    built = controlplane.cache_dir() / f"csi-test-{controlplane.versions()['CSI_TEST_VERSION']}" / "bin" / "csi-sanity"
    return built if built.is_file() else None


class NodeStub(CSI_GRPC.NodeServicer):
    """NodeGetInfo of one lab node, as the driver's node plugin answers it there: node name, zone, attach limit.

    It mounts nothing, so csi-sanity's clean-up NodeUnpublishVolume has nothing to undo (OK, as the spec's idempotence asks).
    """

    def __init__(self, node, zone):
        self.node, self.zone = node, zone

    def NodeGetInfo(self, request, context):
        return CSI.NodeGetInfoResponse(node_id=self.node, max_volumes_per_node=ATTACH_LIMIT,
                                       accessible_topology=CSI.Topology(segments={nodes.TOPOLOGY_KEY: f"{LOCATION}-{self.zone}"}))

    def NodeGetCapabilities(self, request, context):
        return CSI.NodeGetCapabilitiesResponse()

    def NodeUnpublishVolume(self, request, context):
        return CSI.NodeUnpublishVolumeResponse()


@pytest.fixture
def node_endpoint(cluster, tmp_path):
    """A unix socket serving Identity and the node stub for the first node of zone 1."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    CSI_GRPC.add_IdentityServicer_to_server(servicer.IdentityServicer(), server)
    CSI_GRPC.add_NodeServicer_to_server(NodeStub(cluster.zones["1"][0], "1"), server)
    endpoint = f"unix://{tmp_path}/node.sock"
    server.add_insecure_port(endpoint)
    server.start()
    yield endpoint
    server.stop(grace=1).wait()


NOT_BUILT = "csi-sanity is not built: run tests/lab/kube/build.sh csi-test (from the Go module proxy), or set CSI_SANITY to a binary"


@pytest.mark.skipif(csi_sanity() is None, reason=NOT_BUILT)
def test_csi_sanity(controller, node_endpoint, tmp_path):
    """Run csi-sanity with the Node Service specs skipped; no failures."""
    parameters = tmp_path / "volume-parameters.yaml"
    # csi-sanity asks for no topology; on a zonal cluster only a zone-redundant disk attaches to any node
    parameters.write_text("skuName: StandardSSD_ZRS\n")
    command = [str(csi_sanity()), f"-csi.endpoint={node_endpoint}", f"-csi.controllerendpoint={controller.endpoint}",
               f"-csi.testvolumeparameters={parameters}", "-csi.testnodevolumeattachlimit", "-ginkgo.skip=Node Service", "-ginkgo.no-color",
               f"-ginkgo.junit-report={tmp_path / 'junit.xml'}",
               # its own mount and staging paths: the defaults under /tmp collide with another run's
               f"-csi.mountdir={tmp_path / 'mount'}", f"-csi.stagingdir={tmp_path / 'staging'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=False)  # noqa: S603 - the built csi-sanity, no shell
    output = result.stdout + result.stderr
    (tmp_path / "csi-sanity.log").write_text(output)
    counts = SUMMARY.findall(output)
    assert result.returncode == 0 and counts, f"csi-sanity failed (exit {result.returncode}):\n{output[-6000:]}"
    passed, failed, pending, skipped = map(int, counts[-1])
    print(f"csi-sanity: {passed} passed, {failed} failed, {pending} pending, {skipped} skipped")
    assert failed == 0
