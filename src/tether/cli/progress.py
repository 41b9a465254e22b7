"""A rich progress bar for sampling: samples done, samples/s, tokens/s, ETA."""

from __future__ import annotations

import contextlib
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text


class _Rates(ProgressColumn):
    def __init__(self, meter: SamplingMeter):
        super().__init__()
        self.meter = meter

    def render(self, task) -> Text:
        return Text(self.meter.rates(), style="progress.data.speed")


class SamplingMeter:
    """Feeds `tether.sampling.sample`'s callbacks into a rich progress bar."""

    def __init__(self, console: Console, description: str):
        self.samples = self.tokens = 0
        self.started = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), _Rates(self),
            TimeRemainingColumn(), console=console, transient=False,
        )
        self.description = description
        self.task = None

    def __enter__(self) -> SamplingMeter:
        return self

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.progress.__exit__(*exc)

    def on_start(self, total: int, already: int) -> None:
        """Show the bar once the run is validated and its size known."""
        self.progress.__enter__()
        self.task = self.progress.add_task(self.description, total=total, completed=already)
        self.started = time.perf_counter()

    def on_progress(self, samples: int, tokens: int) -> None:
        self.samples += samples
        self.tokens += tokens
        self.progress.advance(self.task, samples)

    def rates(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        return f"{self.samples / elapsed:,.1f} samples/s  {self.tokens / elapsed:,.0f} tok/s"


class RichBars:
    """A `tether.progress.ProgressFactory` drawing one rich bar per stage on `console`."""

    def __init__(self, console: Console):
        self.console = console

    @contextlib.contextmanager
    def __call__(self, description: str):
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=self.console, transient=True)
        bar = _RichBar(progress, description)
        try:
            yield bar
        finally:
            if bar.task is not None:
                progress.__exit__(None, None, None)


class _RichBar:
    def __init__(self, progress: Progress, description: str):
        self.progress, self.description, self.task = progress, description, None

    def start(self, total: int, completed: int = 0) -> None:
        if self.task is None:
            self.progress.__enter__()
            self.task = self.progress.add_task(self.description, total=total, completed=completed)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)
