"""Hold points (`tether.testing.hold`): the interruption tests rely on them, so they are tested too."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tether.testing import hold, parse

SCRIPT = "from tether.testing import hold\nfor i in range(3):\n    hold('p')\n    print(i, flush=True)\n"


def test_the_process_waits_at_the_nth_passage_until_released(tmp_path, holds):
    point = holds("p", 2)
    process = point.start([sys.executable, "-c", SCRIPT])
    assert point.reached(process) == process.pid
    assert process.stdout.readline() == "0\n" and process.stdout.readline() == "1\n"  # two passed, the third waits
    assert process.poll() is None
    point.release()
    assert process.communicate(timeout=60)[0] == "2\n" and process.returncode == 0


def test_other_points_and_no_variable_pass(tmp_path, monkeypatch):
    monkeypatch.delenv("TETHER_HOLD", raising=False)
    hold("p")
    monkeypatch.setenv("TETHER_HOLD", f"q@0:{tmp_path}")
    hold("p")
    assert not (tmp_path / "held").exists()


def test_a_run_that_ends_first_is_reported_not_waited_for(tmp_path, holds):
    point = holds("p", 5)  # never reached 6 times
    process = point.start([sys.executable, "-c", SCRIPT])
    with pytest.raises(AssertionError, match="ended .* before it reached p a 6th time"):
        point.reached(process)


def test_spec_errors_are_clear():
    assert parse("commit:samples@4:/tmp/x") == ("commit:samples", 4, "/tmp/x")
    with pytest.raises(ValueError, match="expected '<point>@<n>:<folder>'"):
        parse("commit:samples")


def test_a_held_process_whose_parent_died_gives_up(tmp_path, holds):
    point = holds("p", 0)
    launcher = (f"import subprocess, sys, time, pathlib\n"
                f"subprocess.Popen([sys.executable, '-c', {SCRIPT!r}], stderr=open({str(tmp_path / 'err')!r}, 'w'))\n"
                f"while not pathlib.Path({str(point.folder / 'held')!r}).exists(): time.sleep(0.01)\n")
    subprocess.run([sys.executable, "-c", launcher], env=point.env(), timeout=60, check=True)
    pid = int((point.folder / "held").read_text())
    deadline = time.monotonic() + 30
    while _running(pid):
        assert time.monotonic() < deadline, "the orphaned process is still waiting"
        time.sleep(0.05)
    assert "the process that held this one is gone" in (tmp_path / "err").read_text()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_ctrl_c_reaches_a_run_started_where_sigint_is_ignored(holds):
    """A test run started as a background job of a non-interactive shell has SIGINT ignored, and
    its children inherit that; `Hold.start` gives the run under test the default back."""
    point = holds("p", 0)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = point.start([sys.executable, "-c", SCRIPT])
    finally:
        signal.signal(signal.SIGINT, previous)
    point.reached(process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGINT and "KeyboardInterrupt" in err  # Python dies by the signal
