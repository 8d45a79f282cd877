"""The benchmark framework: a row's ratio and goal, the result files and the printed table, and run.py's choice of
figures (``--only``) and ``--table``, which prints the results already there without measuring."""

import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402  pylint: disable=wrong-import-position
import run  # noqa: E402  pylint: disable=wrong-import-position
from common import Row, table, write_result  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(name="results")
def results_folder(tmp_path, monkeypatch):
    """Result files in a folder of the test's own, where write_result writes and run.py reads."""
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(run, "RESULTS", tmp_path)
    return tmp_path


def test_ratio_is_ours_over_the_floor_when_there_is_one():
    row = Row("drain", "s", 63.0, "<=", 1.05, peer=90.0, peer_name="kubectl", floor=60.0)
    assert row.ratio == 1.05 and row.met


def test_ratio_is_ours_over_the_peer_without_a_floor():
    row = Row("module", "s", 1.5, "<=", 1.3, peer=1.0, peer_name="plain SDK script")
    assert row.ratio == 1.5 and not row.met


def test_a_higher_is_better_goal_compares_the_ratio_from_below():
    assert Row("GETs/s", "GETs/s", 950.0, ">=", 0.9, floor=1000.0).met
    assert not Row("GETs/s", "GETs/s", 850.0, ">=", 0.9, floor=1000.0).met


def test_a_value_goal_compares_ours_itself_not_the_ratio():
    assert Row("rerun writes", "writes", 0, "==", 0, goal_on="value").met
    assert not Row("rerun writes", "writes", 2, "==", 0, goal_on="value").met
    absolute = Row("GETs/s", "GETs/s", 600.0, ">=", 500, floor=3000.0, goal_on="value")
    assert absolute.ratio == 0.2 and absolute.met


@pytest.mark.parametrize("base", [{}, {"floor": 0}, {"peer": 0}])
def test_without_a_base_to_divide_by_a_ratio_goal_is_not_met(base):
    row = Row("nothing to compare with", "s", 1.0, "<=", 100, **base)
    assert row.ratio is None and not row.met


def test_write_result_keeps_the_rows_with_their_ratio_and_verdict(results):
    path = write_result("fleet", [Row("cached reads", "reads", 0, "==", 0, goal_on="value")], "fast", 0.0,
                        {"cold": [{"reads": 2}]})
    assert path == results / "fleet.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    assert (written["figure"], written["profile"], written["details"]) == ("fleet", "fast", {"cold": [{"reads": 2}]})
    assert written["seconds"] > 0 and written["rows"][0]["met"] is True and written["rows"][0]["ratio"] is None


def test_table_has_a_line_per_row_with_the_peer_named_and_the_goal():
    rows = [asdict(Row("drain a zone", "s", 66.0, "<=", 1.05, peer=80.0, peer_name="kubectl drain", floor=60.0)),
            asdict(Row("rerun writes", "writes", 0, "==", 0, goal_on="value"))]
    lines = table([{"figure": "drain", "rows": rows}]).splitlines()
    assert lines[0].split() == ["figure", "ours", "peer", "floor", "ratio", "goal", "met"]
    assert lines[1].split() == ["drain:", "drain", "a", "zone", "[s]", "66", "80", "(kubectl", "drain)", "60", "1.1",
                                "ratio", "<=", "1.05", "NO"]
    assert lines[2].split() == ["drain:", "rerun", "writes", "[writes]", "0", "value", "==", "0", "yes"]


def test_only_refuses_an_unknown_figure_naming_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exited:
        run.main(["--only", "fleet,nosuch"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "unknown figure(s) nosuch" in error and "arm_emulator, module_overhead" in error


def test_table_prints_the_results_there_without_running_a_figure(results, monkeypatch, capsys):
    def no_figure(*args, **kwargs):
        raise AssertionError("--table ran %s" % (args,))

    monkeypatch.setattr(run.subprocess, "run", no_figure)
    write_result("fleet", [Row("cached reads", "reads", 0, "==", 0, goal_on="value")], "fast", 0.0)
    write_result("drain", [Row("drain a zone", "s", 70.0, "<=", 1.05, floor=60.0)], "realistic", 0.0)
    assert run.main(["--table", "--only", "drain,fleet,upgrade"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[1:]] == ["drain", "fleet"]
    assert lines[1].split()[-1] == "NO" and lines[2].split()[-1] == "yes"
