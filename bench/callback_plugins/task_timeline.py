"""Each task's start, end and outcome as one JSON line in the file ``BENCH_TIMELINE`` names: the timeline a benchmark
reads to split a playbook's wall time (when its first drain began, how long a wait that could not end took)."""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_timeline
type: aggregate
short_description: task start, end and outcome as JSON lines, for the benchmarks
description:
  - Appends C({"task", "start", "end", "status", "msg"}) per task result to the file BENCH_TIMELINE names.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=task_timeline, BENCH_TIMELINE set
"""


class CallbackModule(CallbackBase):
    """Record when each task started and when its result came."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("BENCH_TIMELINE")
        self._started = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.time()  # pylint: disable=protected-access

    def _record(self, result, status):
        if not self._path:
            return
        task = result._task  # pylint: disable=protected-access
        line = {"task": task.get_name(), "start": self._started.get(task._uuid), "end": time.time(),  # pylint: disable=protected-access
                "status": status, "msg": str(result._result.get("msg", ""))[:300]}  # pylint: disable=protected-access
        with open(self._path, "a", encoding="utf-8") as timeline:
            timeline.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")
