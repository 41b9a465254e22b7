"""A pool of worker processes that grade with deadlines and replace hung or crashed workers.

Never threads: Math-Verify's timeout is ``signal.alarm``, which only works in a
process's main thread (and raises off it). Each worker grades one job at a
time; the parent waits on all of them with `multiprocessing.connection.wait`
and a deadline per job. A worker that overruns its deadline (a computation
that ignores the alarm, such as a C-level power of a huge integer) is killed
and replaced, and its job gets status ``timeout``; a worker that dies is replaced too, and its
job is ``failed`` (not a verdict on the answer: `grade` retries it). Workers that die as they
start, before any has built a verifier, stop the pool at once with `GradingError` (the usual
cause: a script calling `tether.grade` without an ``if __name__ == "__main__":`` guard, which
worker processes re-run on import).

The deadline covers the verification only: a worker reports once it has built
the job's verifier (imports such as Math-Verify's take seconds on a busy
machine, and must not turn a fresh worker's first answer into a timeout), and
building gets its own, generous `STARTUP_DEADLINE`.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from tether.errors import TetherError
from tether.grading.base import Grade
from tether.testing import hold


class GradingError(TetherError):
    """The grading pool cannot work at all (its workers die as they start)."""


@dataclass(frozen=True)
class Job:
    key: Any
    verifier: str
    options: dict
    answer: str
    reference: dict


STARTUP_DEADLINE = 300.0  # seconds for a worker to build a verifier (imports) before its job's deadline starts
# imported once by the fork server that starts the workers, so that each worker begins with them loaded: a fresh
# pool then starts in a tenth of the time (every `tether grade`, every adaptive round's grading), and a worker
# replaced after a timeout is grading again at once ("__main__" is the fork server's own default)
PRELOAD = ["__main__", "tether.grading.registry", "tether.grading.math", "math_verify"]
_READY = "ready"


def _worker(connection: Connection) -> None:
    from tether.grading.registry import make_verifier

    verifiers: dict = {}
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        name_key = (job.verifier, tuple(sorted(job.options.items())))
        try:
            if name_key not in verifiers:
                hold("grading:build-verifier")
                verifiers[name_key] = make_verifier(job.verifier, **job.options)
                warm = getattr(verifiers[name_key], "warm", None)
                if warm is not None:
                    warm()  # first-use imports count as building the verifier, not as this answer's time
        except Exception as exc:  # noqa: BLE001 - the verifier, not the answer, failed
            connection.send(_READY)
            connection.send((job.key, Grade.failed(f"building verifier {job.verifier!r}: {type(exc).__name__}: {exc}")))
            continue
        connection.send(_READY)
        try:
            grade = verifiers[name_key].compare(job.answer, job.reference)
        except Exception as exc:  # noqa: BLE001 - reported as this answer's error
            grade = Grade.error(f"{type(exc).__name__}: {exc}")
        connection.send((job.key, grade))


class _Slot:
    def __init__(self, context):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.started = 0.0
        self.verifying = False  # the job's verifier is built; its deadline runs from `started`

    def assign(self, job: Job) -> None:
        self.job, self.started, self.verifying = job, time.monotonic(), False
        try:
            self.connection.send(job)
        except OSError:
            pass  # the worker is dead already: its connection reads as closed, and the pool replaces it

    def limit(self, deadline: float) -> float:
        """Seconds the job may take from `started`: the deadline once verifying, else the startup's."""
        return deadline if self.verifying else STARTUP_DEADLINE

    def time_left(self, deadline: float, now: float) -> float:
        return self.limit(deadline) - (now - self.started)

    def overrun(self, deadline: float) -> str:
        return f"{deadline:.0f} s" if self.verifying else f"{STARTUP_DEADLINE:.0f} s building the verifier"

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class GradingPool:
    """`workers` processes; `deadline` seconds per job before its worker is killed."""

    def __init__(self, workers: int = 2, deadline: float = 20.0):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)  # no effect once this process's fork server runs
        self.deadline = deadline
        self.slots = [_Slot(self.context) for _ in range(max(1, workers))]
        self.replaced = 0
        self.started = False  # some worker has built a verifier
        self.deaths_at_start = 0

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for slot in self.slots:
            slot.stop()

    def grade(self, jobs: Iterable[Job]) -> Iterator[tuple[Any, Grade]]:
        """(job key, grade) for every job, in completion order."""
        queue = deque(jobs)
        while queue or any(slot.job for slot in self.slots):
            for slot in self.slots:
                if slot.job is None and queue:
                    slot.assign(queue.popleft())
            busy = [slot for slot in self.slots if slot.job]
            ready = wait([slot.connection for slot in busy], timeout=self._next_timeout(busy))
            for slot in busy:
                if slot.connection in ready:
                    received = self._receive(slot)
                    if received is not None:
                        yield received
                elif slot.time_left(self.deadline, time.monotonic()) < 0:
                    overrun = f"worker killed after {slot.overrun(self.deadline)}"
                    yield self._replace(slot, Grade.timeout(overrun) if slot.verifying else Grade.failed(overrun))

    def _next_timeout(self, busy: list[_Slot]) -> float:
        now = time.monotonic()
        return max(0.01, min(slot.time_left(self.deadline, now) for slot in busy) + 0.01)

    def _receive(self, slot: _Slot) -> tuple[Any, Grade] | None:
        """The job's (key, grade), or None when the worker only reported that verifying began."""
        try:
            message = slot.connection.recv()
        except (EOFError, OSError):
            slot.process.join(timeout=2)
            code = slot.process.exitcode
            if not self.started:
                self._died_at_start(code)
            return self._replace(slot, Grade.failed(f"worker process died (exit code {code})"))
        if message == _READY:
            slot.started, slot.verifying = time.monotonic(), True
            self.started, self.deaths_at_start = True, 0
            return None
        slot.job = None
        return message

    def _died_at_start(self, code) -> None:
        """Count a worker that died before any worker started; give up once every slot's has, and once more."""
        self.deaths_at_start += 1
        if self.deaths_at_start > len(self.slots):
            self.close()
            raise GradingError(f"grading workers die as they start ({self.deaths_at_start} in a row, exit code {code}; "
                               f"their error is printed above){main_guard_hint()}")

    def _replace(self, slot: _Slot, grade: Grade) -> tuple[Any, Grade]:
        key = slot.job.key
        slot.stop()
        index = self.slots.index(slot)
        self.slots[index] = _Slot(self.context)
        self.replaced += 1
        return key, grade


def main_guard_hint() -> str:
    """A hint when this process runs a script without an ``if __name__ == "__main__":`` guard."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as handle:
        source = handle.read()
    if "__main__" in source:
        return ""
    return (f"; {path} has no `if __name__ == \"__main__\":` guard: worker processes re-run a script's top level "
            "when they start, so put the call to tether.grade under that guard")
