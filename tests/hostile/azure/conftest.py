"""One emulator-only lab per test process; the tables the tests fill are printed at the end.

Run with pytest-xdist (``-n 2 --dist loadfile``), each worker starts a lab of its own, so a test's request log holds only
its own writes; the workers hand their tables to the controller, which prints them. The fault matrix, the longest
test, is collected first so that it starts at once while the other files share the second worker.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures

import json

import pytest

from harness import Lab, start_lab, stop_lab, table

TABLES = {}
FIRST = "test_faults.py"


@pytest.fixture(scope="session")
def lab():
    lab_dir = start_lab()
    try:
        running = Lab(lab_dir)
        try:
            yield running
        finally:
            running.close()
    finally:
        stop_lab(lab_dir)


@pytest.fixture(scope="session")
def report():
    """``report(title, columns, rows)``: a table printed after the tests."""
    def add(title, columns, rows):
        TABLES[title] = (columns, rows)
    return add


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name != FIRST)


def pytest_sessionfinish(session):
    """On an xdist worker: hand the tables to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["tables"] = json.dumps(TABLES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument  # xdist's hook signature
    """On the xdist controller: the tables a worker filled."""
    TABLES.update(json.loads(getattr(node, "workeroutput", {}).get("tables", "{}")))


def pytest_terminal_summary(terminalreporter):
    for title, (columns, rows) in TABLES.items():
        terminalreporter.write_line("")
        terminalreporter.write_line(title)
        terminalreporter.write_line(table(rows, columns))
