"""A fork server for module runs: Ansible, the Azure SDK and the collection's Azure modules are imported once, then
each run is a process forked from this one, so a run costs a fork instead of an interpreter start and its imports.

``python module_server.py SOCKET``: listens on the Unix socket ``SOCKET``, prints ``ready`` once the imports are done,
and stops when its standard input closes (the test process that started it is gone). A request is one connection:
the client sends ``{"module": NAME, "args": {...}}`` and closes its side; a handler process forks the run, which sets
``ANSIBLE_MODULE_ARGS`` where ``AnsibleModule`` reads them (as ``python -m MODULE ARGS_FILE`` would), calls the module's
``main()`` with its standard output and error in files, and exits as a module process does. The handler answers
``{"rc", "stdout", "stderr", "seconds"}``, ``seconds`` being the time from the fork of the run to its exit.

Nothing here starts a thread or a connection before forking: the server holds only imported code.
"""

import atexit
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback

from ansible.module_utils import basic
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import CLIENTS

MODULES = ("resource_group", "aks_cluster", "aks_cluster_info", "role_assignment", "disk_snapshot", "disk_restore")
PACKAGE = "ansible_collections.kubedisk.aks.plugins.modules."


def preload():
    """Import the modules and what their runs import on first use (the SDK clients, azure-identity)."""
    for name in MODULES:
        importlib.import_module(PACKAGE + name)
    for python_module, _class, _package in CLIENTS.values():
        importlib.import_module(python_module)
    importlib.import_module("azure.identity")


def accept(listener):
    """Serve until standard input closes; returns (in a forked handler only) the connection to handle."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _mask in events.select():
            if key.fileobj is sys.stdin:
                if not os.read(sys.stdin.fileno(), 1024):
                    sys.exit(0)
                continue
            conn, _address = listener.accept()
            if os.fork() == 0:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                events.close()
                listener.close()
                return conn
            conn.close()


def receive(conn):
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return json.loads(b"".join(chunks))
        chunks.append(chunk)


def run_module(request, stdout, stderr):
    """In the forked run: the module's main() with its args, output to ``stdout``/``stderr``; never returns.

    The run ends as an interpreter does (atexit handlers, a wait for non-daemon threads), but skips tearing down the
    objects imported before the fork, which would take a second of copy-on-write.
    """
    with open(os.devnull, "rb") as nothing:
        os.dup2(nothing.fileno(), 0)
    os.dup2(stdout.fileno(), 1)
    os.dup2(stderr.fileno(), 2)
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": request["args"]}).encode()  # pylint: disable=protected-access
    basic._ANSIBLE_PROFILE = "legacy"  # pylint: disable=protected-access  # what a run with an args file uses
    sys.argv = [request["module"]]
    code = 0
    try:
        importlib.import_module(PACKAGE + request["module"]).main()
    except SystemExit as exc:
        code = exit_status(exc.code)
    except BaseException:  # pylint: disable=broad-except  # reported as the interpreter would: traceback, status 1
        traceback.print_exc()
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # pylint: disable=protected-access
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access


def exit_status(code):
    """The exit status ``sys.exit(code)`` gives."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


def handle(conn):
    """In a handler: fork the run, wait for it, answer with its exit status, output and time."""
    request = receive(conn)
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            conn.close()
            run_module(request, stdout, stderr)
        status = os.waitpid(pid, 0)[1]
        seconds = time.monotonic() - started
        stdout.seek(0)
        stderr.seek(0)
        answer = {"rc": os.waitstatus_to_exitcode(status), "seconds": seconds,
                  "stdout": stdout.read().decode(errors="replace"), "stderr": stderr.read().decode(errors="replace")}
    conn.sendall(json.dumps(answer).encode())
    conn.close()
    os._exit(0)  # pylint: disable=protected-access  # a handler leaves nothing to clean up


def main():
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sys.argv[1])
    listener.listen(64)
    print("ready", flush=True)
    handle(accept(listener))


if __name__ == "__main__":
    main()
