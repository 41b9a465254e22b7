"""Watch a test run; once its process is gone, stop every process it started that still runs.

    python tests/reaper.py PID

The conftest starts this, in a session of its own, when a run begins. Every second it notes the
run's descendants (pid and start time, so a reused pid is never mistaken for one of them). When the
run's process has ended, normally or killed, it sends SIGTERM to those still alive, then SIGKILL
after a grace period. This catches what outlives a killed run although its starter meant to stop
it: Ray's dashboard and runtime-env agents, a `tether sample --ray local` driver's Ray instance, a
CLI run a test was waiting on. (Servers are also supervised on their own: tests/supervise.py.)
"""

from __future__ import annotations

import os
import sys
import time

import psutil

GRACE = 5.0


def main(pid: int) -> int:
    try:
        run = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return 0
    seen: dict[int, float] = {}
    while run.is_running():
        try:
            for child in run.children(recursive=True):
                if child.pid != os.getpid():
                    seen.setdefault(child.pid, _started(child))
        except psutil.NoSuchProcess:
            break
        time.sleep(1.0)
    left = [process for process in map(_same, seen.items()) if process is not None]
    for process in left:
        _signal(process.terminate)
    _, alive = psutil.wait_procs(left, timeout=GRACE)
    for process in alive:
        _signal(process.kill)
    return 0


def _started(process: psutil.Process) -> float:
    try:
        return process.create_time()
    except psutil.Error:
        return -1.0


def _same(entry: tuple[int, float]) -> psutil.Process | None:
    """The process noted as `entry`, if it still runs (not a new process that reuses its pid)."""
    pid, started = entry
    try:
        process = psutil.Process(pid)
        return process if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def _signal(send) -> None:
    try:
        send()
    except psutil.Error:
        pass


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
