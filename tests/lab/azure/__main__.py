"""``python -m lab.azure --state-dir DIR [--port N] [--profile fast|realistic]``: run the ARM emulator in the foreground."""

import argparse
import asyncio
import logging

from .profiles import PROFILES
from .server import serve


def main(argv=None):
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m lab.azure", description=__doc__)
    parser.add_argument("--state-dir", required=True, help="folder for the database, certificates, disk images and azure.json")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="latency profile (default: the stored one, else fast)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(arguments.state_dir, arguments.port, arguments.profile))


if __name__ == "__main__":
    main()
