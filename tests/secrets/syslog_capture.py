"""Receive what processes send to syslog on a Unix datagram socket and append it to a file.

The sandbox has no syslog daemon, so AnsibleModule's invocation log (syslog.syslog on ``/dev/log``) would vanish
unread; bound to that path for the run, this stands in for the daemon so the scan can read every line. A socket
left there by a run that was killed is replaced; one that a daemon serves is not (exit 3).
Usage: python syslog_capture.py SOCKET_PATH OUTPUT_FILE (ends on SIGTERM).
"""

import os
import signal
import socket
import sys


def served(socket_path):
    """Something receives on the socket at ``socket_path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(socket_path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def main(socket_path, output):
    if os.path.exists(socket_path):
        if served(socket_path):
            sys.exit(3)
        os.unlink(socket_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(socket_path)
    os.chmod(socket_path, 0o666)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with open(output, "ab") as handle:
            while True:
                handle.write(server.recv(65536) + b"\n")
                handle.flush()
    finally:
        server.close()
        os.unlink(socket_path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
