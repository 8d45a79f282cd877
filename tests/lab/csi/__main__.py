"""Run the lab's Azure Disk CSI controller: ``PYTHONPATH=tests python -m lab.csi --endpoint unix:///path/csi.sock --config FILE``.

Serves the Identity and Controller services of ``disk.csi.azure.com`` on a unix socket (the
sidecars' ``--csi-address``) until SIGTERM / SIGINT, like the driver's controller container with
``--endpoint``. The cloud configuration comes from ``--config`` and the environment (see
``lab.csi.config``); ``--resource-group`` and ``--location`` override the node resource group and location.
"""

import argparse
import logging
import os
import signal
import sys
import threading
from concurrent import futures

import grpc

from . import config as cloud_config
from .azureops import Azure

LOG = logging.getLogger("lab.csi")


def listen_address(endpoint):
    """The gRPC address of a CSI endpoint (``unix:///abs/path`` or ``host:port``); a stale socket file is removed."""
    if endpoint.startswith("unix://"):
        path = endpoint[len("unix://"):]
        if not path.startswith("/"):
            raise ValueError(f"{endpoint}: a unix endpoint needs an absolute path (unix:///path/csi.sock)")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.remove(path)
        return f"unix://{path}"
    return endpoint


def build_server(config, endpoint, workers=16, batch_delay=1.0):
    """A started gRPC server with the controller's services on ``endpoint`` (``batch_delay``: seconds an attach or detach waits for more)."""
    # pylint: disable-next=import-outside-toplevel
    from . import servicer  # generates the CSI protos on first use
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csi"))
    servicer.add_to_server(server, Azure(config), batch_delay)
    if not server.add_insecure_port(listen_address(endpoint)):
        raise OSError(f"cannot listen on {endpoint}")
    server.start()
    return server


def main(argv=None):
    """Parse the command line, serve until a stop signal, exit 0 (2 on a configuration error)."""
    parser = argparse.ArgumentParser(prog="python -m lab.csi", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--endpoint", required=True, help="unix:///path/csi.sock (or host:port)")
    parser.add_argument("--config", help="cloud config JSON (azure.json keys, see lab.csi.config)")
    parser.add_argument("--resource-group", default="", help="node resource group (overrides the config)")
    parser.add_argument("--location", default="", help="the cluster's location (overrides the config)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent CSI calls")
    parser.add_argument("--attach-detach-initial-delay-ms", type=int, default=1000,
                        help="how long the first attach or detach of a VM waits for more to batch (the driver's flag and default)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        config = cloud_config.LiveConfig(args.config, resource_group=args.resource_group, location=args.location)
        server = build_server(config, args.endpoint, args.workers, args.attach_detach_initial_delay_ms / 1000)
    except (cloud_config.ConfigError, OSError, ValueError, RuntimeError) as error:
        LOG.error("cannot start: %s", error)
        return 2
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    LOG.info("disk.csi.azure.com controller serving on %s (ARM %s, cloud config %s)", args.endpoint, config.arm_endpoint, args.config)
    stopping.wait()
    LOG.info("stopping")
    server.stop(grace=5).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
