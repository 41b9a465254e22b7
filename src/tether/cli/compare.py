"""`tether compare`, `tether report` and `tether show`: the comparison, the shareable report, and a task's completions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tether.cli.shell import app, friendly_errors, int_list, names, stderr, stdout, styled
from tether.errors import TetherError


@app.command("compare")
def compare_cmd(
    store: Annotated[str | None, typer.Argument(help="A store holding both models (a folder or an s3://… URL).")] = None,
    base: Annotated[str | None, typer.Option(help="Base model: a store or a JSONL/Parquet file of graded samples.")] = None,
    rl: Annotated[str | None, typer.Option(help="RL model: a store or a JSONL/Parquet file of graded samples.")] = None,
    base_label: Annotated[str | None, typer.Option(help="Label of the base model [default: base; in a file or a store given by --base: its only label, else base].")] = None,
    rl_label: Annotated[str | None, typer.Option(help="Label of the RL model [default: rl; in a file or a store given by --rl: its only label, else rl].")] = None,
    k_grid: Annotated[str | None, typer.Option(help="Comma-separated k values [default: powers of 2 up to the median n].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write compare.json and tasks.csv here.")] = None,
    allow_missing: Annotated[bool, typer.Option(help="Drop tasks present in only one model, with a warning.")] = False,
    reps: Annotated[int, typer.Option(help="Bootstrap replicates.", min=10)] = 1000,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.", min=0.5, max=0.999)] = 0.95,
    alpha: Annotated[float, typer.Option(help="False discovery rate for the S/E tests.", min=0.0, max=1.0)] = 0.05,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    match_budget: Annotated[bool, typer.Option(help="Compare both models on each task's first min(n_base, n_rl) samples.")] = True,
    extrapolate: Annotated[int, typer.Option(help="Doublings of k past the grid to estimate (a joint model of both models' chances; budgets the data cannot identify are refused with the reason; 0: none).", min=0, max=12)] = 4,
    self_label: Annotated[str | None, typer.Option("--self", help="Also compare this label of the store against itself (even vs odd samples): the noise floor, at the comparison's budget where the label holds twice it, else at half its own.")] = None,
    intervals: Annotated[str, typer.Option(help="What the intervals cover: tasks (tasks like these: resampled tasks) or fixed (this task set only: each task's samples resampled).")] = "tasks",
    verifiers: Annotated[str | None, typer.Option(help="Comma-separated verdict sets (auto,exact,math; stored by `tether grade --verifier auto,exact,math`): the regions under each side by side, and the tasks whose region moves.")] = None,
) -> None:
    """Compare a base model with its RL-tuned child: P/S/E/O, support rates, pass@k, crossover."""
    from tether.cli.render import render_comparison
    from tether.compare import CompareOptions, compare, save_comparison

    with friendly_errors(writing=out):
        options = CompareOptions(int_list(k_grid), allow_missing, reps, confidence, alpha, seed, match_budget,
                                 extrapolate, intervals=intervals)
        result = compare(base, rl, store=store, base_label=base_label, rl_label=rl_label, options=options,
                         self_label=self_label, verifiers=names(verifiers))
        for warning in result.warnings:
            stderr.print(styled("warning:", "yellow", f" {warning}"), highlight=False, soft_wrap=True)
        if out is not None:
            save_comparison(result, out)
        if as_json:
            sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
        else:
            render_comparison(result, stdout)


@app.command("report")
def report_cmd(
    store: Annotated[str, typer.Argument(help="A store holding both models (a folder or an s3://… URL).")],
    out: Annotated[Path, typer.Option(help="Folder for report.html, report.md, summary.json and figures/.")] = Path("report"),
    base_label: Annotated[str, typer.Option(help="Label of the base model.")] = "base",
    rl_label: Annotated[str, typer.Option(help="Label of the RL model.")] = "rl",
    k_grid: Annotated[str | None, typer.Option(help="Comma-separated k values [default: powers of 2 up to the median n].")] = None,
    allow_missing: Annotated[bool, typer.Option(help="Drop tasks present in only one model, with a warning naming them.")] = False,
) -> None:
    """Write the shareable report: one self-contained HTML page, Markdown with PNG figures, summary.json."""
    from tether.compare import CompareOptions
    from tether.report import build_report

    with friendly_errors(writing=out):
        files = build_report(store, out, base_label=base_label, rl_label=rl_label,
                             options=CompareOptions(k_grid=int_list(k_grid), allow_missing=allow_missing))
    stdout.print(f"wrote {files.html}, {files.markdown} and {files.summary}", highlight=False)


@app.command("show")
def show_cmd(
    store: Annotated[str, typer.Argument(help="A store holding graded samples (a folder or an s3://… URL).")],
    task: Annotated[str | None, typer.Argument(help="The task id to show (or --region).")] = None,
    region: Annotated[str | None, typer.Option(help="Instead of TASK: every task of this region, P, S, E or O, as `tether compare` gives it.")] = None,
    label: Annotated[list[str] | None, typer.Option(help="Label to show (repeatable); the first two are the base and the RL model of the region [default: base and rl, else the store's graded labels].")] = None,
    limit: Annotated[int, typer.Option(help="Completions per label and task: the correct ones first, then the rest by sample index (0: all).", min=0)] = 4,
    correct: Annotated[bool | None, typer.Option("--correct/--incorrect", help="Only the correct, or only the incorrect, completions [default: both].")] = None,
    max_tasks: Annotated[int | None, typer.Option(help="With --region: show at most this many tasks (by task id).", min=1)] = None,
    full: Annotated[bool, typer.Option(help="Print whole completions and prompts (long ones are cut in the middle, keeping the end).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout (whole texts).")] = False,
) -> None:
    """Show a task's graded completions of each model (answer, route, verdict, reason), its counts and region; or every task of a region."""
    from tether.cli.render_show import render_show_region, render_show_task
    from tether.compare.show import show_region, show_task

    which = "all" if correct is None else ("correct" if correct else "incorrect")
    with friendly_errors():
        if (task is None) == (region is None):
            raise TetherError("give a TASK or --region, not both" if task else "give a TASK id, or --region P|S|E|O")
        options = {"labels": label, "limit": limit or None, "which": which}
        view = (show_task(store, task, **options) if region is None
                else show_region(store, region, max_tasks=max_tasks, **options))
    if as_json:
        sys.stdout.write(json.dumps(view.to_dict(), allow_nan=False) + "\n")
    else:
        (render_show_task if region is None else render_show_region)(view, stdout, full)
