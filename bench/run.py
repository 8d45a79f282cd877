"""``make bench``: run the benchmark figures, each measuring ours, a peer and a floor in the same run, and print one
table of every ratio with its goal from ``bench/results/*.json``.

    python bench/run.py [--only drain,resize] [--table]

``--table`` prints the table of the result files already there without measuring. A figure that crashes makes the
run fail; a goal missed does not (the table says which).
"""

import argparse
import json
import subprocess
import sys
import time

from common import REPO, RESULTS, table

# In the order they run: the quick ones first, the realistic lab runs after.
FIGURES = ("arm_emulator", "module_overhead", "arm_requests", "fleet", "drain", "resize_recovery", "upgrade")


def main(argv=None):
    """Run the figures asked for (all by default) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated figures: " + ", ".join(FIGURES))
    parser.add_argument("--table", action="store_true", help="print the table of the existing results only")
    arguments = parser.parse_args(argv)
    chosen = [name.strip() for name in arguments.only.split(",") if name.strip()] or list(FIGURES)
    unknown = sorted(set(chosen) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    failed = []
    if not arguments.table:
        for name in chosen:
            began = time.monotonic()
            print(f"bench: {name} ...", flush=True)
            if subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py")], cwd=REPO, check=False).returncode:
                failed.append(name)
            print(f"bench: {name} took {time.monotonic() - began:.0f} s", flush=True)
    results = [json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8")) for name in chosen
               if (RESULTS / f"{name}.json").exists() and name not in failed]
    print(table(results))
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
