"""The facts a playbook run set (``set_fact`` and modules' ``ansible_facts``), written to a JSON file at its end.

The benchmark figures read what the collection's roles report (``volume_resize_result``, ``node_recovery_report``,
``cluster_upgrade_report``) from this file instead of parsing the screen output.
"""

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_facts
type: aggregate
short_description: Write the facts the run set to a JSON file
description:
  - Keeps the C(ansible_facts) of every successful task result, per host, the later ones winning, and writes them
    to the file named by E(BENCH_FACTS_FILE) when the run ends.
requirements:
  - enabled in callbacks_enabled (ANSIBLE_CALLBACKS_ENABLED=bench_facts)
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_facts"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._facts = {}

    def _keep(self, result):
        facts = result._result.get("ansible_facts")  # pylint: disable=protected-access  # the callback API's result
        if facts:
            self._facts.setdefault(result._host.get_name(), {}).update(facts)  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        self._keep(result)

    def v2_runner_item_on_ok(self, result):
        self._keep(result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_FACTS_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self._facts, handle, default=str)
