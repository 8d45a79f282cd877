"""Every task result as Ansible holds it (invocation included), one JSON line each, for the secrets scan."""

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: result_dump
type: aggregate
short_description: Append every raw task result, one JSON line each, to a file
description:
  - Writes what a registered variable would hold (with the injected C(invocation)) for every task, loop item
    included, whatever its outcome, so that the secrets suite can scan it.
requirements:
  - enabled in callbacks_enabled (ANSIBLE_CALLBACKS_ENABLED=result_dump)
options:
  results_file:
    description: The file the JSON lines are appended to.
    type: path
    env:
      - name: SECRETS_RESULTS_FILE
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "result_dump"
    CALLBACK_NEEDS_ENABLED = True

    def _dump(self, status, result):
        path = os.environ.get("SECRETS_RESULTS_FILE")
        if not path:
            return
        row = {"status": status, "task": result._task.get_name(), "result": result._result}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._dump("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._dump("failed", result)

    def v2_runner_on_skipped(self, result):
        self._dump("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._dump("unreachable", result)

    def v2_runner_item_on_ok(self, result):
        self._dump("item ok", result)

    def v2_runner_item_on_failed(self, result):
        self._dump("item failed", result)

    def v2_runner_item_on_skipped(self, result):
        self._dump("item skipped", result)
