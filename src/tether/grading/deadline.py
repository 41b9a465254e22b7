"""A deadline for work done in this process (answer extraction), like the pool's for comparison.

`time_limit(seconds)` raises `DeadlineExceeded` inside the block once `seconds` have passed, by a
real-time interval timer (``SIGALRM``): Python's regular-expression engine checks for signals as
it runs, so even a pathological pattern of a custom verifier is stopped. Signals reach only the
main thread; elsewhere (a library user grading from a thread) the block runs without a limit,
which tether's own extractors never need (they are linear in a capped tail of the text).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class DeadlineExceeded(Exception):
    """The block ran past its deadline."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(signum, frame):
        raise DeadlineExceeded(f"ran past its {seconds:g} s deadline")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
