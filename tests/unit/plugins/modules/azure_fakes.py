"""Answers of synchronous Azure SDK calls for the client mocks, given back the way the SDK gives them."""

from __future__ import annotations

from types import SimpleNamespace


def sdk_answers(*answers):
    """A ``side_effect`` answering each call with the next of ``answers`` (the last one again once they run out).

    An exception is raised; ``(status, body)`` is given back as the SDK does: through the ``cls`` the caller passes
    (``cls(pipeline_response, body, headers)``), or as the body alone.
    """
    queue = list(answers)

    def call(*args, **kwargs):  # pylint: disable=unused-argument
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        cls = kwargs.get("cls")
        return cls(SimpleNamespace(http_response=SimpleNamespace(status_code=status)), body, {}) if cls else body

    return call


def record_warnings(monkeypatch):
    """The list the module's ``warn`` messages go to from now on (the test's exit_json skips Ansible's own)."""
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warned.append(msg))
    return warned
