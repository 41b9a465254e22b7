"""Interrupting a run at a known point: the test side of `tether.testing.hold`.

`Hold(folder, point, after)` starts the process under test (`start`) with the hold in its
environment; `reached(process)` waits until that process holds at the point, asserting all along
that it is still running, so the signal the test sends next can never arrive after the run has
finished, however fast or slow the machine is. The `holds` fixture makes them and kills, at the
end of the test, any process a failed test left waiting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tether.testing import VARIABLE


class Hold:
    def __init__(self, folder: Path, point: str, after: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.point, self.after = point, after
        self.started: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment plus the hold (and `extra`)."""
        return {**os.environ, VARIABLE: f"{self.point}@{self.after}:{self.folder}", **extra}

    def start(self, command: list[str], **popen) -> subprocess.Popen:
        """`command` with the hold (its output piped, as text, unless `popen` says otherwise), and
        Ctrl-C back at its default: a test run started as a background job of a non-interactive
        shell inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
        popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
        process = subprocess.Popen(command, env=self.env(), preexec_fn=_default_sigint, **popen)
        self.started.append(process)
        return process

    def reached(self, process: subprocess.Popen, timeout: float = 300) -> int:
        """Wait until `process` holds at the point; the pid that holds."""
        held = self.folder / "held"
        deadline = time.monotonic() + timeout
        while not held.exists():
            if process.poll() is not None:
                output = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"the run ended (exit {process.returncode}) before it reached "
                                     f"{self.point} a {self.after + 1}th time: {output[-2000:]}")
            assert time.monotonic() < deadline, f"the run did not reach {self.point} in {timeout:.0f} s"
            time.sleep(0.01)
        assert process.poll() is None
        return int(held.read_text())

    def release(self) -> None:
        (self.folder / "go").touch()

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def holds(tmp_path) -> Iterator:
    """`holds(point, after)`: a `Hold` in this test's folder; what it started is killed at the end."""
    made: list[Hold] = []

    def make(point: str, after: int) -> Hold:
        made.append(Hold(tmp_path / f"hold-{len(made)}", point, after))
        return made[-1]

    yield make
    for hold in made:
        hold.close()
