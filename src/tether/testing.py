"""Hold points: a test stops a run at a named point by construction, instead of racing it.

An interruption test (Ctrl-C, ``kill -9``) must hit the run while it is still
running, whatever the machine's speed. Code that writes to a store calls
`hold(point)` at a few named points; it does nothing unless the process was
started with the environment variable

    TETHER_HOLD=<point>@<n>:<folder>

Then the ``n + 1``-th time this process reaches `point` (the first ``n`` pass),
it writes ``<folder>/held`` (holding its pid) and waits until ``<folder>/go``
exists, so the test knows exactly what was written before it sends its signal.
A held process gives up with an error after `MAX_WAIT` seconds, or at once
when the process that started it is gone, so a killed test run leaves nothing
waiting behind.

Points:

- ``commit:<table>``: in `Store.write`, every shard of the group staged (hidden
  temp files) and none linked yet; ``<table>`` is the group's first shard's.
- ``ray:unit-done``: the Ray driver, just after a worker reported a unit.
- ``grading:build-verifier``: a grading pool's worker, before it builds a verifier.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

VARIABLE = "TETHER_HOLD"
MAX_WAIT = 600.0
_passed: dict[str, int] = {}
_ORIGIN = (os.getpid(), os.getppid())  # this process and the one that started it (the test), as at import


def _parent() -> int:
    """The process that started this one: as at import, or, in a process forked after the import (a grading
    worker from a fork server that preloaded this module), its parent now."""
    pid, parent = _ORIGIN
    return parent if pid == os.getpid() else os.getppid()


def hold(point: str) -> None:
    """Wait here if this process was told to hold at `point` this time (see the module's doc)."""
    spec = os.environ.get(VARIABLE)
    if not spec:
        return
    target, after, folder = parse(spec)
    if target != point:
        return
    _passed[point] = _passed.get(point, 0) + 1
    if _passed[point] == after + 1:
        _wait(Path(folder))


def parse(spec: str) -> tuple[str, int, str]:
    """``"<point>@<n>:<folder>"`` as (point, n, folder)."""
    try:
        point, rest = spec.split("@", 1)
        after, folder = rest.split(":", 1)
        return point, int(after), folder
    except ValueError:
        raise ValueError(f"{VARIABLE}={spec!r}: expected '<point>@<n>:<folder>'") from None


def _wait(folder: Path) -> None:
    (folder / ".held").write_text(str(os.getpid()))
    os.replace(folder / ".held", folder / "held")  # seen whole or not at all
    deadline, parent = time.monotonic() + MAX_WAIT, _parent()
    while not (folder / "go").exists():
        if os.getppid() != parent:
            raise RuntimeError(f"{VARIABLE}: the process that held this one is gone")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{VARIABLE}: not released within {MAX_WAIT:.0f} s")
        time.sleep(0.01)
