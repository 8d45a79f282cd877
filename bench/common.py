"""What every benchmark figure shares: its result file, the row of the printed table, and a lab of its own.

A figure is a script ``bench/<name>.py`` with a ``main()``; it measures ours, a peer and a floor in the same run and
writes ``bench/results/<name>.json`` through :func:`write_result`. ``bench/run.py`` runs the figures and prints one
table from those files, so a figure can also run alone.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TESTS = REPO / "tests"
OPERATORS = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, "==": lambda a, b: a == b}


@dataclass
class Row:  # pylint: disable=too-many-instance-attributes
    """One line of the table: a measure of ours beside a peer's and a floor's, taken in the same run.

    ``ratio`` is ours over the floor when there is one, else ours over the peer; ``goal`` is compared with it
    (``goal_on='value'`` compares ``ours`` itself, for counts such as writes on a rerun).
    """

    name: str
    unit: str
    ours: float
    goal_op: str
    goal: float
    peer: float | None = None
    peer_name: str | None = None
    floor: float | None = None
    goal_on: str = "ratio"
    note: str = ""
    ratio: float | None = field(default=None, init=False)
    met: bool = field(default=False, init=False)

    def __post_init__(self):
        base = self.floor if self.floor is not None else self.peer
        if base not in (None, 0):
            self.ratio = round(self.ours / base, 3)
        compared = self.ours if self.goal_on == "value" else self.ratio
        self.met = compared is not None and OPERATORS[self.goal_op](compared, self.goal)


def write_result(figure: str, rows: list[Row], profile: str, started: float, details: dict | None = None) -> Path:
    """Write ``bench/results/<figure>.json``: the rows, the profile, the wall time and whatever the figure measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{figure}.json"
    result = {"figure": figure, "profile": profile, "seconds": round(time.monotonic() - started, 1),
              "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": [asdict(row) for row in rows],
              "details": details or {}}
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path


def _number(value):
    return "" if value is None else f"{value:g}"


def table(results: list[dict]) -> str:
    """The printed table of result files' rows: figure, ours, peer, floor, ratio, goal, met."""
    header = ("figure", "ours", "peer", "floor", "ratio", "goal", "met")
    lines = [header]
    for result in results:
        for row in result["rows"]:
            peer = _number(row["peer"]) + (f" ({row['peer_name']})" if row.get("peer_name") else "")
            goal = f"{'value' if row['goal_on'] == 'value' else 'ratio'} {row['goal_op']} {row['goal']:g}"
            lines.append((f"{result['figure']}: {row['name']} [{row['unit']}]", _number(row["ours"]), peer,
                          _number(row["floor"]), _number(row["ratio"]), goal, "yes" if row["met"] else "NO"))
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def timed(argv, env):
    """Run ``argv``; (its standard output, wall seconds from start to exit, CPU seconds). Fails on a non-zero exit.

    The CPU seconds (user and system) say what the run costs whatever else the machine is doing meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600)  # noqa: S603 - this Python
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit("%s failed (%d):\n%s\n%s" % (" ".join(argv[:3]), done.returncode, done.stdout[-2000:], done.stderr[-2000:]))
    return done.stdout, seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


class Lab:
    """A lab in a folder of its own, with ``python -m lab`` at hand and its variables for Ansible."""

    def __init__(self, root: Path, profile: str):
        self.root = root
        self.profile = profile
        self.env = dict(os.environ, LAB_DIR=str(root), LAB_PROFILE=profile, PYTHONPATH=str(TESTS))

    def cli(self, *arguments: str, check: bool = True) -> str:
        """Run ``python -m lab ARGUMENTS`` against this lab; its standard output."""
        done = subprocess.run([sys.executable, "-m", "lab", *arguments], cwd=REPO, env=self.env, check=check,
                              capture_output=True, text=True)
        return done.stdout

    def variables(self) -> dict:
        """``lab vars``: the module defaults of ``group/kubedisk.aks.azure`` (``lab_azure``) and the lab's exports."""
        return json.loads(self.cli("vars"))

    def vars_file(self) -> Path:
        """The variables written to a file readable by the owner only, for ``ansible-playbook -e @FILE``."""
        path = self.root / "bench-lab-vars.json"
        self.cli("vars", "--output", str(path))
        return path


@contextmanager
def lab(profile: str = "realistic", kube: bool = True):
    """Start a lab of ``profile`` in a temporary folder; stop it and remove the folder however the block ends."""
    root = Path(tempfile.mkdtemp(prefix="kubedisk-bench-"))
    started = Lab(root, profile)
    if not kube:
        started.env["LAB_KUBE"] = "0"
    try:
        started.cli("up")
        yield started
    finally:
        started.cli("down", check=False)
        subprocess.run(["rm", "-rf", str(root)], check=False)
