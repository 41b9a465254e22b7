"""The `tether` command line: thin typer commands over the public library functions.

Every command does its work through a function importable from `tether`; this
module only parses flags, prints, and turns deliberate errors into one line on
stderr with exit code 2 (a traceback only with `--debug`).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tether import __version__
from tether.errors import TetherError

app = typer.Typer(
    name="tether",
    help="Did RL expand what your model can solve, or only sharpen what the base model could already sample?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False}
stdout = Console()
stderr = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"tether {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """One line on stderr and exit 2 for bad input; 130 for Ctrl-C."""
    try:
        yield
    except (TetherError, OSError) as exc:
        if _state["debug"]:
            raise
        stderr.print(f"[red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        stderr.print("interrupted; everything already written is kept", highlight=False)
        raise typer.Exit(130) from None


def _int_list(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None


@app.command("compare")
def compare_cmd(
    store: Annotated[Path | None, typer.Argument(help="A store holding both models.")] = None,
    base: Annotated[Path | None, typer.Option(help="Base model: a store or a JSONL/Parquet file of graded samples.")] = None,
    rl: Annotated[Path | None, typer.Option(help="RL model: a store or a JSONL/Parquet file of graded samples.")] = None,
    base_label: Annotated[str | None, typer.Option(help="Label of the base model inside a store/file [default: base, or the only one].")] = None,
    rl_label: Annotated[str | None, typer.Option(help="Label of the RL model inside a store/file [default: rl, or the only one].")] = None,
    k_grid: Annotated[str | None, typer.Option(help="Comma-separated k values [default: powers of 2 up to min n].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write compare.json and tasks.csv here.")] = None,
    allow_missing: Annotated[bool, typer.Option(help="Drop tasks present in only one model, with a warning.")] = False,
    reps: Annotated[int, typer.Option(help="Bootstrap replicates.", min=10)] = 1000,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.", min=0.5, max=0.999)] = 0.95,
    alpha: Annotated[float, typer.Option(help="False discovery rate for the S/E tests.", min=0.0, max=1.0)] = 0.05,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Compare a base model with its RL-tuned child: P/S/E/O, support rates, pass@k, crossover."""
    from tether.cli.render import render_comparison
    from tether.compare import CompareOptions, compare, save_comparison

    options = CompareOptions(_int_list(k_grid), allow_missing, reps, confidence, alpha, seed)
    with friendly_errors():
        result = compare(base, rl, store=store, base_label=base_label, rl_label=rl_label, options=options)
        for warning in result.warnings:
            stderr.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
        if out is not None:
            save_comparison(result, out)
        if as_json:
            sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
        else:
            render_comparison(result, stdout)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="JSONL (.jsonl, .jsonl.gz) or Parquet file of samples.")],
    store: Annotated[Path, typer.Option(help="Store directory (created if absent).")],
    model: Annotated[str | None, typer.Option(help="Model label, e.g. base or rl (default: each row's 'model').")] = None,
) -> None:
    """Import samples produced elsewhere (vLLM scripts, lm-eval, lighteval dumps) into a store."""
    from tether.importer import import_samples

    with friendly_errors():
        summary = import_samples(file, store, model)
    graded = "graded" if summary.graded else "ungraded"
    stdout.print(
        f"imported {summary.rows} {graded} samples of {summary.tasks} tasks "
        f"({', '.join(summary.models)}) into {store}",
        highlight=False,
    )
    if summary.ignored_fields:
        stderr.print(f"ignored fields: {', '.join(summary.ignored_fields)}", highlight=False)


@app.command("bound")
def bound_cmd(
    k: Annotated[int | None, typer.Option(help="Samples per task.", min=1)] = None,
    epsilon: Annotated[float | None, typer.Option(help="Target detectable probability.")] = None,
    delta: Annotated[float, typer.Option(help="Allowed chance of missing an outcome of probability epsilon.")] = 0.05,
) -> None:
    """The detectability bound epsilon = ln(1/delta)/k, or the k needed for a given epsilon."""
    from tether.metrics import detectability_epsilon, format_probability, samples_needed

    with friendly_errors():
        if (k is None) == (epsilon is None):
            raise TetherError("give exactly one of --k or --epsilon")
        if k is not None:
            eps = detectability_epsilon(k, delta)
            print(f"epsilon = {format_probability(eps)}  (k = {k}, delta = {delta}): "
                  f"a correct outcome of probability above epsilon shows up in k samples with probability >= {1 - delta:g}")
        else:
            needed = samples_needed(epsilon, delta)
            print(f"k = {needed}  (epsilon = {format_probability(epsilon)}, delta = {delta}): "
                  f"samples needed to see an outcome of probability epsilon with probability >= {1 - delta:g}")


def main() -> None:
    app()
