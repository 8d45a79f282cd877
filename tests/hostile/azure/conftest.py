"""One emulator-only lab for the whole suite; the tables the tests fill are printed at the end."""
# pylint: disable=redefined-outer-name  # pytest fixtures

import pytest

from harness import Lab, start_lab, stop_lab, table

TABLES = {}


@pytest.fixture(scope="session")
def lab():
    lab_dir = start_lab()
    try:
        yield Lab(lab_dir)
    finally:
        stop_lab(lab_dir)


@pytest.fixture(scope="session")
def report():
    """``report(title, columns, rows)``: a table printed after the tests."""
    def add(title, columns, rows):
        TABLES[title] = (columns, rows)
    return add


def pytest_terminal_summary(terminalreporter):
    for title, (columns, rows) in TABLES.items():
        terminalreporter.write_line("")
        terminalreporter.write_line(title)
        terminalreporter.write_line(table(rows, columns))
