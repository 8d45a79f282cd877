"""``python -m lab``: the lab's command line (see ``lab.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
