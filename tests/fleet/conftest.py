"""One fleet of clusters per session (``FLEET_CLUSTERS``, default 6; ``make fleet-report`` makes 200) in an emulator-only
lab of its own; the figures the tests measure are printed at the end."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import os

import pytest

from fleet import Fleet

FIGURES = []


@pytest.fixture(scope="session")
def fleet():
    size = int(os.environ.get("FLEET_CLUSTERS", "6"))
    # Pages smaller than the fleet, so the inventory has to follow nextLink: three or more pages.
    made = Fleet(size, page_size=max(1, size // 3))
    try:
        FIGURES.append(("fleet made (%d clusters, their kubelet roles)" % size, "%.1f s" % made.build()))
        yield made
    finally:
        made.close()


@pytest.fixture(scope="session")
def figure():
    """``figure(what, value)``: a line of the report printed after the tests."""
    def add(what, value):
        FIGURES.append((what, value))
    return add


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.write_line("")
        terminalreporter.write_line("fleet figures:")
        for what, value in FIGURES:
            terminalreporter.write_line("  %-64s %s" % (what, value))
