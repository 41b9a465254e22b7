"""Run a test server, and take its whole process group down when the test run that started it dies.

    python tests/supervise.py COMMAND [ARGS...]

tests/servers.py starts this in a new session (so it leads a process group of its own), with the
server as its child. A server cannot be trusted to stop on its own when its parent dies: vLLM's
OpenAI server ignores SIGTERM while its engine core is starting. So this process watches its
parent; when the parent is gone (the test run was killed), it sends SIGTERM to the group, waits a
few seconds, then SIGKILL. The group holds the server and everything it started (vLLM's engine
core and model worker). A normal stop (`Server.stop`) signals the group the same way. Its exit
code is the server's (128 + the signal for a server killed by one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

GRACE = 10.0  # seconds between SIGTERM and SIGKILL


def main(command: list[str]) -> int:
    parent = os.getppid()
    server = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, lambda *_: None)  # the group got it as well: wait for the server below
    while True:
        try:
            code = server.wait(timeout=0.5)
            return code if code >= 0 else 128 - code
        except subprocess.TimeoutExpired:
            pass
        if os.getppid() != parent:
            os.killpg(0, signal.SIGTERM)
            try:
                server.wait(timeout=GRACE)
            finally:
                os.killpg(0, signal.SIGKILL)  # whatever is left of the group, this process included


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
