"""The demo's report table: one row per step, timed from the plays the step spans."""

import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: demo_report
type: aggregate
short_description: The demo's report table (step, result, seconds, data intact, downtime per pod)
description:
  - A task publishes the rows of the steps that end with its play as the list C(demo_steps) of
    ansible.builtin.set_stats data; each row has C(step) and C(result), and optionally C(outcome) (default C(ok)),
    C(data) (whether the data survived) and C(downtime) (default C(-)).
  - A step spans the plays since the previous step's last play, up to and including the play that publishes its
    row. When one play publishes several rows, a row's C(plays) says how many of those plays its step spans
    (default 1; the last row takes the rest).
  - Prints the table at the end of the run.
requirements:
  - enabled in callbacks_enabled (ANSIBLE_CALLBACKS_ENABLED=demo_report)
options:
  report_file:
    description: Also write the table to this file.
    type: path
    env:
      - name: DEMO_REPORT_FILE
"""

HEADER = "%-34s %-6s %-8s %-7s %s" % ("step", "result", "seconds", "data", "downtime per pod")
ROW = "%-34s %-6s %8s %-7s %s"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "demo_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._play_starts = []  # start of each play since the previous step ended
        self._published = []  # rows published in the current play
        self._rows = []

    def v2_playbook_on_play_start(self, play):
        now = time.monotonic()
        self._close_steps(now)
        self._play_starts.append(now)

    def v2_runner_on_ok(self, result):
        self._published.extend(result._result.get("ansible_stats", {}).get("data", {}).get("demo_steps", []))

    def v2_playbook_on_stats(self, stats):
        self._close_steps(time.monotonic())
        table = self._table()
        self._display.display(table)
        report_file = self.get_option("report_file")
        if report_file:
            with open(report_file, "w", encoding="utf-8") as handle:
                handle.write(table + "\n")

    def _close_steps(self, now):
        """The play that published rows has ended: share its plays (and those before it) out among its rows."""
        if not self._published:
            return
        bounds = self._play_starts + [now]
        first = 0
        for index, row in enumerate(self._published):
            last = len(bounds) - 1 if index == len(self._published) - 1 else min(first + int(row.get("plays", 1)), len(bounds) - 1)
            self._rows.append(dict(row, seconds=round(bounds[last] - bounds[first], 1)))
            first = last
        self._play_starts, self._published = [], []

    def _table(self):
        lines = [HEADER, "-" * 110]
        lines += [ROW % (row["step"], row.get("outcome", "ok"), row["seconds"], row.get("data", "-"), row.get("downtime", "-"))
                  for row in self._rows]
        lines.append("")
        lines += ["%2d. %s: %s" % (number, row["step"], " ".join(str(row["result"]).split())) for number, row in enumerate(self._rows, 1)]
        return "\n".join(lines)
