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
    # both rates over the same window, from the first report at 0:05: 5 samples' worth and 500 tokens in 5 s
    assert meter.line() == ("sample rl: 30/100 samples (30.0%), 1.0 samples/s, 100 tok/s, elapsed 0:10, "
                            "ETA 1:10")
    assert clock_time(3 * 3600 + 62) == "3:01:02"


def test_start_up_before_the_first_work_is_not_timed():
    """A minute of model loading and warm-up before the first decoding step does not slow the first ETA: the
    rates are timed from the first work reported; samples/s and tok/s over the same window agree with each
    other (20 tokens a sample's worth here)."""
    clock = Clock()
    meter = Meter("sample rl", "samples", clock=clock)
    meter.start(total=100)
    clock.now = 60.0
    meter.in_flight(0.5, tokens=10)  # the first decoding step of the first batch
    clock.now = 62.0
    meter.in_flight(2.5, tokens=50)
    assert meter.rate() == pytest.approx(1.0) and meter.token_rate() == pytest.approx(20.0)
    assert meter.eta() == pytest.approx(97.5)  # timed from the start: 2.5 / 62 a second, ETA 2,418 s
    clock.now = 64.0
    meter.in_flight(0.0)
    meter.advance(4, tokens=90)
    assert meter.rate() == pytest.approx(0.875) and meter.token_rate() == pytest.approx(20.0)


def test_a_burst_of_results_is_one_report():
    """An engine that reports only finished samples, a chunk at a time (vLLM), is timed from the start until
    a second chunk follows the first, then from the end of the first."""
    clock = Clock()
    meter = Meter("sample rl", "samples", clock=clock)
    meter.start(total=40)
    clock.now = 20.0
    for _ in range(10):
        meter.advance(1, tokens=8)
        clock.now += 0.01
    clock.now = 25.0
    assert meter.rate() == pytest.approx(10 / 25)  # nothing after the first chunk yet: from the start
    assert meter.token_rate() == pytest.approx(80 / 25)
    clock.now = 30.09  # 10 s after the first chunk's last result
    meter.advance(10, tokens=80)
    assert meter.rate() == pytest.approx(1.0) and meter.token_rate() == pytest.approx(8.0)
    assert meter.eta() == pytest.approx(20.0)


def test_a_resumed_stage_starts_its_window_afresh():
    clock = Clock()
    meter = Meter("grade", clock=clock)
    meter.start(total=10)
    clock.now = 1.0
    meter.advance(5)
    meter.start(total=10, completed=5)  # an adaptive round: the meter starts again
    clock.now = 3.0
    meter.advance(1)
    clock.now = 5.0
    meter.advance(1)
    assert meter.rate() == pytest.approx(0.5) and meter.token_rate() is None


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
