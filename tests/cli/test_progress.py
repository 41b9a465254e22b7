"""Progress that works in logs: rates and a real ETA from work done inside units, plain lines off a terminal."""

import io
import threading

import pytest
from rich.console import Console

from tether.cli.progress import Bars, Meter, clock_time


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_eta_counts_work_in_flight_and_ignores_resumed_work():
    clock = Clock()
    meter = Meter("sample rl", "samples", clock=clock)
    assert meter.line() == "sample rl: starting"
    meter.start(total=100, completed=20)  # 20 done by an earlier run: not part of this run's rate
    clock.now = 5.0
    assert meter.eta() is None and "ETA unknown until the first work is done" in meter.line()
    meter.in_flight(5.0, tokens=400)  # a batch a quarter through, no sample finished yet
    assert meter.rate() == pytest.approx(1.0) and meter.eta() == pytest.approx(75.0)
    clock.now = 10.0
    meter.in_flight(0.0)
    meter.advance(10, tokens=900)
    assert meter.completed == 30 and meter.rate() == pytest.approx(1.0) and meter.eta() == pytest.approx(70.0)
    assert meter.line() == ("sample rl: 30/100 samples (30.0%), 1.0 samples/s, 90 tok/s, elapsed 0:10, "
                            "ETA 1:10")
    assert clock_time(3 * 3600 + 62) == "3:01:02"


def test_plain_lines_every_interval_and_a_final_one():
    """Off a terminal (a SLURM log), the meter prints plain lines on a timer, even while nothing advances
    (a long batch), and one with the totals when the stage ends; nothing before the size is known."""
    out = io.StringIO()
    bars = Bars(Console(file=out, width=200), every=0.02, live=False)
    ticked = threading.Event()
    with bars.sampling("rl: 2 tasks x 4") as meter:
        original = meter.view._print
        meter.view._print = lambda: (original(), ticked.set())
        meter.start(8)
        meter.in_flight(2.5, tokens=30)
        assert ticked.wait(30)  # a periodic line while no sample has finished
        meter.in_flight(0.0)
        meter.advance(8, tokens=96)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("rl: 2 tasks x 4: ") for line in lines)
    assert "/8 samples" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("rl: 2 tasks x 4: 8/8 samples (100.0%)")


def test_a_stage_that_never_started_prints_nothing():
    out = io.StringIO()
    with Bars(Console(file=out), every=0.01, live=False)("grading", "samples"):
        pass
    assert out.getvalue() == ""


def test_a_live_bar_shows_the_description_once():
    """A description with ': ' in it (sampling's "rl: 2 tasks x 4") is the bar's own column; the numbers
    column holds only the numbers."""
    meter = Meter("rl: 2 tasks x 4", "samples", clock=Clock())
    meter.start(8)
    assert meter.numbers().startswith("0/8 samples (0.0%)") and meter.line() == f"rl: 2 tasks x 4: {meter.numbers()}"
