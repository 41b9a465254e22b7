"""`tether compare`, `tether report` and `tether show`: the comparison, the shareable report, and a task's completions.

compare and report take the same comparison flags, checked by the experiment file's [compare] section
(`from_flags(CompareSection, ...)`), whose defaults are `tether.compare.CompareOptions`' (`tether.defaults`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tether import defaults
from tether.cli.labels import Base, OldBase, OldRl, pair
from tether.cli.shell import app, deprecated, emit_json, friendly_errors, int_list, names, stdout, warn
from tether.cli.study import Domains, Pair, is_study, run_study
from tether.errors import TetherError

Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]
KGrid = Annotated[str | None, typer.Option(
    help="Comma-separated k values [default: powers of 2 up to the median n].")]
AllowMissing = Annotated[bool, typer.Option(help="Drop tasks present in only one model, with a warning naming them.")]
BootstrapReps = Annotated[int, typer.Option(help="Bootstrap replicates (at least 10).")]
Confidence = Annotated[float, typer.Option(help="Confidence level of the intervals, in [0.5, 1).")]
Alpha = Annotated[float, typer.Option(help="False discovery rate for the S/E tests, in [0, 1].")]
Seed = Annotated[int, typer.Option(help="Bootstrap seed.")]
MatchBudget = Annotated[bool, typer.Option(
    help="Compare both models on each task's first min(n_base, n_rl) samples.")]
Extrapolate = Annotated[int, typer.Option(
    help="Doublings of k past the grid to estimate, 0 to 12 (a joint model of both models' chances; budgets the "
         "data cannot identify are refused with the reason; 0: none).")]
Intervals = Annotated[str, typer.Option(
    help="What the intervals cover: tasks (tasks like these: resampled tasks) or fixed (this task set only: each "
         "task's samples resampled).")]


def compare_section(k_grid: str | None, **flags):
    """The comparison's settings from the flags, checked as the experiment file's [compare] section is."""
    from tether.experiment.schema import CompareSection, from_flags

    grid = int_list(k_grid)
    return from_flags(CompareSection, k_grid=list(grid) if grid is not None else None, **flags)


@app.command("compare")
def compare_cmd(
    store: Annotated[str | None, typer.Argument(metavar="STORE",
        help="A store holding both models (a folder or an s3://… URL); or, with RL_SOURCE, the base model's "
             "source: a store or a JSONL/Parquet file of graded samples.")] = None,
    rl_source: Annotated[str | None, typer.Argument(metavar="RL_SOURCE",
        help="The RL model's source: a store or a JSONL/Parquet file of graded samples.")] = None,
    base: Annotated[str | None, typer.Option(
        "--base", metavar="LABEL", help="Label of the base model [default: base; in a file or a store given as a "
                                        "source: its only label, else base].")] = None,
    rl: Annotated[list[str] | None, typer.Option(
        "--rl", metavar="LABEL", help="Label of the RL model [default: rl; in a file or a store given as a source: "
                                      "its only label, else rl]. Repeat it, or give a pattern such as 'grpo-*', "
                                      "for a study: every child against the base, per benchmark and domain.")] = None,
    k_grid: KGrid = None,
    as_json: Json = False,
    out: Annotated[Path | None, typer.Option(help="A folder to also write compare.json and tasks.csv into.")] = None,
    allow_missing: AllowMissing = False,
    bootstrap_reps: BootstrapReps = defaults.BOOTSTRAP_REPS,
    confidence: Confidence = defaults.CONFIDENCE,
    alpha: Alpha = defaults.ALPHA,
    seed: Seed = 0,
    match_budget: MatchBudget = True,
    extrapolate: Extrapolate = defaults.EXTRAPOLATE,
    self_label: Annotated[str | None, typer.Option("--self", metavar="LABEL", help="Also compare this label of the store against itself (even vs odd samples): the noise floor, at the comparison's budget where the label holds twice it, else at half its own.")] = None,
    intervals: Intervals = defaults.INTERVALS,
    verifiers: Annotated[str | None, typer.Option(help="Comma-separated verdict sets (auto,exact,math; stored by `tether grade --verifier auto,exact,math`): the regions under each side by side, and the tasks whose region moves.")] = None,
    domains: Domains = None,
    pair_of: Pair = None,
    base_label: OldBase = None,
    rl_label: OldRl = None,
    reps: Annotated[int | None, typer.Option(hidden=True, help="Deprecated spelling of --bootstrap-reps.")] = None,
) -> None:
    """Compare a base model with its RL-tuned child: P/S/E/O, support rates, pass@k, crossover.

    tether compare STORE, or tether compare BASE_SOURCE RL_SOURCE (each a store or a JSONL/Parquet file)."""
    from tether.cli.render import render_comparison
    from tether.compare import compare, save_comparison
    from tether.compare.store import compare_and_keep

    with friendly_errors(writing=out):
        base_source, rl_from = (store, rl_source) if rl_source is not None else (None, None)
        study = is_study(rl, domains, pair_of)  # several --rl, a pattern, --domains or --pair; one --rl: a pair
        if not study:
            rl = rl[0] if rl else None
        if store is None and not study and _old_sources(base, rl):
            deprecated("--base PATH --rl PATH", "the BASE_SOURCE RL_SOURCE arguments")
            (base_source, rl_from), base, rl = (base, rl), None, None
        elif store is None:
            raise TetherError("give a STORE holding both models, or BASE_SOURCE RL_SOURCE (stores or JSONL/Parquet "
                              "files of graded samples)")
        if study:
            base, _ = pair(base, None, base_label, None, default=(None, None))
        else:
            base, rl = pair(base, rl, base_label, rl_label, default=(None, None))
        if reps is not None:
            deprecated("--reps", "--bootstrap-reps")
            bootstrap_reps = reps
        section = compare_section(k_grid, allow_missing=allow_missing, bootstrap_reps=bootstrap_reps,
                                  confidence=confidence, alpha=alpha, seed=seed, match_budget=match_budget,
                                  extrapolate=extrapolate, intervals=intervals, self_label=self_label)
        if study:
            return _study(store, rl, base, section.options(), domains, as_json, out, rl_source=rl_source,
                          self_label=self_label, verifiers=verifiers, pair=pair_of)
        if store is not None and rl_source is None:  # one store: its comparison, kept there as `tether run` keeps it
            kept, not_kept = compare_and_keep(store, base or "base", rl or "rl", section.options(),
                                              section.self_label, names(verifiers))
            result, payload = kept.overall, kept.to_dict()
        else:  # two sources: nothing is kept
            result = compare(base_source, rl_from, base_label=base, rl_label=rl, options=section.options(),
                             self_label=section.self_label, verifiers=names(verifiers))
            not_kept, payload = None, result.to_dict()
        for warning in result.warnings + ([not_kept] if not_kept else []):
            warn(warning)
        if out is not None:
            save_comparison(result, out, payload)
    if as_json:
        emit_json(payload)
    else:
        render_comparison(result, stdout)


def _study(store, rl, base, options, domains, as_json: bool, out, **refused) -> None:
    """The study path of compare (`tether.cli.study`): several --rl, a pattern, or --domains."""
    from tether.cli.render_study import render_study

    with friendly_errors(writing=out):
        found = run_study(store, rl, base, options, domains, out=out, **refused)
        for warning in found.warnings:
            warn(warning)
    if as_json:
        emit_json(found.to_dict())
    else:
        render_study(found, stdout)


def _old_sources(base: str | None, rl: str | None) -> bool:
    """Whether --base/--rl are the old spelling of the two sources: either one an existing path or a URL."""
    from tether.store import is_remote

    return any(value is not None and (is_remote(value) or Path(value).exists()) for value in (base, rl))


@app.command("report")
def report_cmd(
    store: Annotated[str, typer.Argument(metavar="STORE", help="A store holding both models (a folder or an s3://… URL).")],
    out: Annotated[Path, typer.Option(help="Folder for report.html, report.md, summary.json and figures/.")] = Path("report"),
    base: Base = None,
    rl: Annotated[list[str] | None, typer.Option(
        "--rl", metavar="LABEL", help="Label of the RL model in the store [default: rl]. Repeat it, or give a "
                                      "pattern such as 'grpo-*', for a study's report (docs/report.md).")] = None,
    as_json: Json = False,
    k_grid: KGrid = None,
    allow_missing: AllowMissing = False,
    bootstrap_reps: BootstrapReps = defaults.BOOTSTRAP_REPS,
    confidence: Confidence = defaults.CONFIDENCE,
    alpha: Alpha = defaults.ALPHA,
    seed: Seed = 0,
    match_budget: MatchBudget = True,
    extrapolate: Extrapolate = defaults.EXTRAPOLATE,
    intervals: Intervals = defaults.INTERVALS,
    domains: Domains = None,
    pair_of: Pair = None,
    base_label: OldBase = None,
    rl_label: OldRl = None,
) -> None:
    """Write the shareable report: one self-contained HTML page, Markdown with PNG figures, summary.json."""
    from tether.report import build_report
    from tether.report.study import build_study_report

    with friendly_errors(writing=out):
        study = is_study(rl, domains, pair_of)  # several --rl, a pattern, --domains or --pair: a study's report
        base, one = pair(base, None if study else (rl[0] if rl else None), base_label, None if study else rl_label)
        section = compare_section(k_grid, allow_missing=allow_missing, bootstrap_reps=bootstrap_reps,
                                  confidence=confidence, alpha=alpha, seed=seed, match_budget=match_budget,
                                  extrapolate=extrapolate, intervals=intervals)
        if study:
            found = run_study(store, rl, base, section.options(), domains, rl_source=None, self_label=None,
                              verifiers=None, out=None, pair=pair_of)
            files = build_study_report(found, out)
        else:
            files = build_report(store, out, base_label=base, rl_label=one, options=section.options())
    if as_json:
        emit_json(files.to_dict())
    else:
        stdout.print(f"wrote {files.html}, {files.markdown} and {files.summary}", highlight=False)


@app.command("show")
def show_cmd(
    store: Annotated[str, typer.Argument(metavar="STORE", help="A store holding graded samples (a folder or an s3://… URL).")],
    task: Annotated[str | None, typer.Argument(metavar="TASK", help="The task id to show (or --region).")] = None,
    region: Annotated[str | None, typer.Option(help="Instead of TASK: every task of this region, P, S, E or O, as `tether compare` gives it.")] = None,
    label: Annotated[list[str] | None, typer.Option(help="Label to show (repeatable); the first two are the base and the RL model of the region [default: base and rl, else the store's graded labels].")] = None,
    completions: Annotated[int, typer.Option(help="Completions per label and task: the correct ones first, then the rest by sample index (0: all).", min=0)] = 4,
    correct: Annotated[bool | None, typer.Option("--correct/--incorrect", help="Only the correct, or only the incorrect, completions [default: both].")] = None,
    limit: Annotated[int | None, typer.Option(help="With --region: the first N tasks (by task id).")] = None,
    full: Annotated[bool, typer.Option(help="Print whole completions and prompts (long ones are cut in the middle, keeping the end).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout (whole texts).")] = False,
    max_tasks: Annotated[int | None, typer.Option(hidden=True, help="Deprecated spelling of --limit.")] = None,
) -> None:
    """Show a task's graded completions of each model (answer, route, verdict, reason), its counts and region; or every task of a region."""
    from tether.cli.render_show import render_show_region, render_show_task
    from tether.compare.show import show_region, show_task

    which = "all" if correct is None else ("correct" if correct else "incorrect")
    with friendly_errors():
        if (task is None) == (region is None):
            raise TetherError("give a TASK or --region, not both" if task else "give a TASK id, or --region P|S|E|O")
        if max_tasks is not None:
            deprecated("--max-tasks", "--limit")
            limit = limit if limit is not None else max_tasks
        if limit is not None and region is None:  # a TASK has no tasks to limit: the old --limit, completions
            deprecated("--limit N for a TASK's completions", "--completions N")
            completions, limit = limit, None
        if limit is not None and limit < 1:
            raise TetherError(f"--limit: the first N tasks, N >= 1; got {limit}")
        options = {"labels": label, "limit": completions or None, "which": which}
        view = (show_task(store, task, **options) if region is None
                else show_region(store, region, max_tasks=limit, **options))
    if as_json:
        emit_json(view.to_dict())
    else:
        (render_show_task if region is None else render_show_region)(view, stdout, full)
