"""Interrupting a run at a known point: the test side of `tether.testing.hold`.

`Hold(folder, point, after)` gives the environment for the process under test;
`reached(process)` waits until that process holds at the point, asserting all
along that it is still running, so the signal the test sends next can never
arrive after the run has finished, however fast or slow the machine is.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tether.testing import VARIABLE


class Hold:
    def __init__(self, folder: Path, point: str, after: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.point, self.after = point, after

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment plus the hold (and `extra`)."""
        return {**os.environ, VARIABLE: f"{self.point}@{self.after}:{self.folder}", **extra}

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
