"""Issue 29's smaller items as a user meets them: the pass@k table's columns at a console's width."""

from __future__ import annotations

import contextlib
import importlib
import io
import re

import numpy as np
import pytest
from rich.console import Console

from tether.cli.render import render_comparison
from tether.compare import CompareOptions, compare_counts
from tether.store import TaskCounts

from ..cli_run import tether


@pytest.fixture(scope="module")
def k1024():
    """A comparison on a grid of 11 k (1 .. 1024) whose CIs have two-digit bounds of both signs."""
    rng = np.random.default_rng(0)
    ids = np.array([f"t{i}" for i in range(12)])
    n = np.full(12, 1024)
    base = TaskCounts("base", "b.jsonl", ids, n, rng.integers(0, 40, 12))
    rl = TaskCounts("rl", "r.jsonl", ids, n, rng.integers(0, 40, 12))
    return compare_counts(base, rl, CompareOptions(bootstrap_reps=50, extrapolate=0))


def _pass_at_k_lines(result, width: int, tty: bool = False) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, soft_wrap=True, markup=False, force_terminal=tty)
    render_comparison(result, console)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # a terminal's colours
    block = text[text.index("Mean pass@k over tasks"):text.index("crossover")]
    return block.splitlines()


def _ks(lines: list[str]) -> list[int]:
    """The k of the table's columns ("k=32"), or of its rows when it has one per k."""
    text = "\n".join(lines)
    if "one row per k" in text:
        return [int(m) for m in re.findall(r"^│\s+(\d+) │", text, flags=re.MULTILINE)]
    return [int(k) for k in re.findall(r"k=(\d+)", text)]


ALL = [2 ** i for i in range(11)]


def _table(lines: list[str]) -> list[str]:
    """The table's own lines (the sentence under it is prose, soft-wrapped by the terminal)."""
    return [line for line in lines if line.startswith(("Mean pass@k", *"┏┃┡│└"))]


@pytest.mark.parametrize("width", [250])
def test_one_column_per_k_when_the_console_is_wide_enough(k1024, width):
    lines = _pass_at_k_lines(k1024, width, tty=True)
    assert "one row per k" not in lines[0]
    assert _ks(lines) == ALL  # k = 32 was dropped at 250 columns
    assert all(len(line) <= width for line in _table(lines))


@pytest.mark.parametrize("width", [200, 160, 100, 60])
def test_a_narrower_console_gets_one_row_per_k(k1024, width):
    lines = _pass_at_k_lines(k1024, width)  # 160: the CLI's width when stdout is not a terminal
    assert "one row per k" in lines[0]
    assert _ks(lines) == ALL
    assert all(len(line) <= width for line in _table(lines))


@pytest.mark.parametrize("width", [250, 160, 60, 30])
def test_no_interval_loses_a_digit(k1024, width):
    text = "\n".join(_pass_at_k_lines(k1024, width))
    assert "…" not in text
    if width >= 100:  # narrower, cells fold onto several lines, every digit kept
        assert len(re.findall(r"[+-]\d\.\d{3}\.\.[+-]\d\.\d{3}", text)) == 22  # pointwise CI and band
    else:
        assert len(re.findall(r"\d", text)) > 11 * 4 * 3


def test_max_k_columns_caps_the_columns(k1024):
    out = io.StringIO()
    render_comparison(k1024, Console(file=out, width=250, markup=False), max_k_columns=5)
    assert "one row per k" in out.getvalue()


class _Recorder:
    """A progress bar that keeps what it was told."""

    def __init__(self):
        self.samples = self.tokens = 0

    def start(self, total: int, completed: int = 0) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        self.samples += n

    def on_progress(self, samples: int, tokens: int) -> None:
        self.samples, self.tokens = self.samples + samples, self.tokens + tokens


class _Stop(Exception):
    pass


def test_tether_run_counts_every_generated_token(tmp_path, monkeypatch):
    """`tether run`'s sampling bars were told samples without their tokens, so tok/s counted only a batch in
    flight ("0.4 items/s, 1 tok/s"); the sampling stage's reports now reach the bar whole."""
    from tether.experiment import run

    from ..experiment.test_run import write_experiment

    def sample_model(tasks, engine, model, options, store, label, config, executor, on_progress, *rest):
        on_progress(8, 120)
        raise _Stop

    monkeypatch.setattr(run, "resolve_model", lambda model, *args: model)
    monkeypatch.setattr(run, "sample_model", sample_model)
    bars: dict[str, _Recorder] = {}

    @contextlib.contextmanager
    def progress(description: str):
        yield bars.setdefault(description, _Recorder())

    with pytest.raises(_Stop):
        run.run_experiment(write_experiment(tmp_path, tmp_path / "model"), progress=progress)
    assert (bars["sample base"].samples, bars["sample base"].tokens) == (8, 120)


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("args,stops,hint", [
    (("sample", "s", "--model", "m", "--tasks", "t.jsonl", "--label", "base"), "tether.tasks.load_tasks",
     "re-run the same command to resume (finished units are not sampled again)"),
    (("grade", "s"), "tether.grading.grade", "re-run the same command to resume (samples with a verdict"),
    (("diagnose", "s"), "tether.diagnostics.diagnose", "re-run the same command to compute them again"),
    (("likelihood", "s"), "tether.likelihood.cross_likelihood", "re-run the same command to resume"),
    (("run", "exp.toml"), "tether.experiment.run_experiment", "re-run `tether run exp.toml` to resume"),
])
def test_ctrl_c_says_how_to_resume(monkeypatch, tmp_path, args, stops, hint):
    module, name = stops.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), name, _interrupt)
    if args[0] in ("diagnose", "likelihood"):
        monkeypatch.setattr("tether.store.open_store", lambda *a, **k: None)
    out = tether(*args, cwd=tmp_path)
    assert out.returncode == 130, out.stderr
    assert out.stderr.startswith(f"interrupted; everything already written is kept; {hint}"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
