"""Progress on stderr: a live bar on a terminal, one plain line every N seconds in a log.

A `Meter` holds how far a stage is: units done (samples, answers, ...), work in
flight inside units not finished yet (an engine's batch half generated), tokens,
and the time since it started, from which it derives the rates and an ETA
(remaining work at the average rate so far). The rates are timed from the first
work reported, not from the start, so a model's loading, warm-up and first prompt
encoding do not slow the first ETA; samples/s and tok/s share that window (a burst
of results reported together, as a vLLM chunk's, counts as one report; until more
work follows it, the rates are timed from the start). `Bars` hands out meters for the
library's `ProgressFactory` hooks and for sampling; each meter is drawn as a rich
bar when stderr is a terminal, and otherwise as plain lines (every `every`
seconds, and one with the totals at the end) that a SLURM or CI log keeps.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

DEFAULT_EVERY = 30.0  # seconds between plain progress lines
SETTLE = 1.0  # seconds after the first report during which further reports join it (a burst of results)


class Meter:
    """How far one stage is; fed by `start`, `advance` and `in_flight`, read by the views."""

    def __init__(self, description: str, unit: str = "", clock: Callable[[], float] = time.monotonic):
        self.description, self.unit, self.clock = description, unit, clock
        self.total: int | None = None
        self.already = self.done = self.tokens = 0
        self.flight = 0.0  # units' worth of work done inside units not finished yet
        self.flight_tokens = 0
        self.started = clock()
        self.first: float | None = None  # when the first work of this run was reported
        self.window = (self.started, 0.0, 0)  # (time, units, tokens) the rates are measured from

    def start(self, total: int, completed: int = 0) -> None:
        self.total, self.already, self.done, self.started = total, completed, completed, self.clock()
        self.tokens, self.flight, self.flight_tokens, self.first = 0, 0.0, 0, None
        self.window = (self.started, float(completed), 0)

    def advance(self, n: int = 1, tokens: int = 0) -> None:
        self.done += n
        self.tokens += tokens
        self._reported()

    def in_flight(self, amount: float, tokens: int = 0) -> None:
        """Replace the in-flight estimate: `amount` units of work and `tokens` tokens not yet in `advance`."""
        self.flight, self.flight_tokens = max(0.0, amount), max(0, tokens)
        if amount > 0:
            self._reported()

    def _reported(self) -> None:
        """The rates' window opens at the first report of work (start-up before it is not timed), and moves along
        with the reports that follow within `SETTLE` seconds: a burst of results is one report."""
        now = self.clock()
        if self.first is None:
            self.first = now
        if now - self.first <= SETTLE:
            self.window = (now, self.completed, self.all_tokens)

    @property
    def completed(self) -> float:
        return self.done + self.flight

    @property
    def all_tokens(self) -> int:
        """Tokens generated in this run, in finished units and in flight."""
        return self.tokens + self.flight_tokens

    def _measured(self) -> tuple[float, float, int]:
        """(seconds, units, tokens) of this run's rates: since the window opened once work followed it, else
        since the start (resumed work excluded either way)."""
        now, (opened, units, tokens) = self.clock(), self.window
        if self.first is not None and self.completed > units and now > opened:
            return now - opened, self.completed - units, self.all_tokens - tokens
        return now - self.started, self.completed - self.already, self.all_tokens

    def rate(self) -> float | None:
        """Units per second in this run (resumed work excluded), in-flight work included."""
        elapsed, progressed, _ = self._measured()
        return progressed / elapsed if elapsed > 0 and progressed > 0 else None

    def token_rate(self) -> float | None:
        """Tokens generated per second over the same window as `rate`."""
        elapsed, progressed, tokens = self._measured()
        return tokens / elapsed if elapsed > 0 and progressed > 0 and tokens > 0 else None

    def eta(self) -> float | None:
        rate = self.rate()
        if self.total is None or rate is None:
            return None
        return max(0.0, self.total - self.completed) / rate

    def line(self) -> str:
        """`sample rl: 1,234/8,192 samples (15.1%), 3.2 samples/s, 812 tok/s, elapsed 6:25, ETA 36:12`."""
        return f"{self.description}: {self.numbers()}"

    def numbers(self) -> str:
        """The line without its description (a rich bar shows the description in a column of its own)."""
        unit = f" {self.unit}" if self.unit else ""
        if self.total is None:
            return "starting"
        share = self.completed / self.total if self.total else 1.0
        parts = [f"{int(self.completed):,}/{self.total:,}{unit} ({share:.1%})"]
        rate, tokens = self.rate(), self.token_rate()
        if rate is not None:
            parts.append(f"{rate:,.1f}{unit or ' items'}/s")
        if tokens is not None:
            parts.append(f"{tokens:,.0f} tok/s")
        parts.append(f"elapsed {clock_time(self.clock() - self.started)}")
        eta = self.eta()
        parts.append(f"ETA {clock_time(eta)}" if eta is not None else "ETA unknown until the first work is done")
        return ", ".join(parts)


def clock_time(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _Numbers(ProgressColumn):
    def __init__(self, meter: Meter):
        super().__init__()
        self.meter = meter

    def render(self, task) -> Text:
        return Text(self.meter.numbers(), style="progress.data.speed")


class _RichView:
    """A live rich bar on a terminal, fed from the meter."""

    def __init__(self, meter: Meter, console: Console, transient: bool):
        self.meter = meter
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), _Numbers(meter),
                                 console=console, transient=transient)
        self.task = None

    def refresh(self) -> None:
        if self.meter.total is None:
            return
        if self.task is None:
            self.progress.__enter__()
            self.task = self.progress.add_task(self.meter.description, total=self.meter.total)
        self.progress.update(self.task, completed=self.meter.completed)

    def close(self) -> None:
        if self.task is not None:
            self.refresh()
            self.progress.__exit__(None, None, None)


class _PlainView:
    """Plain lines: every `every` seconds once the size is known (from a timer, so a batch that runs
    for minutes still reports), and one at the end with the totals."""

    def __init__(self, meter: Meter, console: Console, every: float):
        self.meter, self.console, self.every = meter, console, every
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def refresh(self) -> None:
        if self.meter.total is not None and self.thread is None:
            self.thread = threading.Thread(target=self._tick, daemon=True, name="tether-progress")
            self.thread.start()

    def _tick(self) -> None:
        while not self.stopped.wait(self.every):
            self._print()

    def _print(self) -> None:
        self.console.print(self.meter.line(), highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
            self._print()


class LiveMeter(Meter):
    """A `Meter` that redraws its view as it is fed; also a `tether.progress.Bar`."""

    def __init__(self, description: str, view_factory, unit: str = ""):
        super().__init__(description, unit)
        self.view = view_factory(self)

    def start(self, total: int, completed: int = 0) -> None:
        super().start(total, completed)
        self.view.refresh()

    def advance(self, n: int = 1, tokens: int = 0) -> None:
        super().advance(n, tokens)
        self.view.refresh()

    def in_flight(self, amount: float, tokens: int = 0) -> None:
        super().in_flight(amount, tokens)
        self.view.refresh()

    def on_progress(self, samples: int, tokens: int) -> None:
        """`tether.sampling.sample`'s per-result callback."""
        self.advance(samples, tokens)


class Bars:
    """A `tether.progress.ProgressFactory` (and a source of sampling meters) drawing on `console`:
    live bars on a terminal, plain lines every `every` seconds otherwise."""

    def __init__(self, console: Console, every: float = DEFAULT_EVERY, live: bool | None = None):
        self.console, self.every = console, every
        self.live = console.is_terminal if live is None else live

    def meter(self, description: str, unit: str = "", transient: bool = False) -> LiveMeter:
        if self.live:
            return LiveMeter(description, lambda m: _RichView(m, self.console, transient), unit)
        return LiveMeter(description, lambda m: _PlainView(m, self.console, self.every), unit)

    def __call__(self, description: str, unit: str = "") -> contextlib.AbstractContextManager[LiveMeter]:
        return self._shown(description, unit, transient=True)

    def sampling(self, description: str) -> contextlib.AbstractContextManager[LiveMeter]:
        """Sampling's meter: in samples, and left on screen when done."""
        return self._shown(description, "samples", transient=False)

    @contextlib.contextmanager
    def _shown(self, description: str, unit: str, transient: bool) -> Iterator[LiveMeter]:
        meter = self.meter(description, unit, transient)
        try:
            yield meter
        finally:
            meter.view.close()
