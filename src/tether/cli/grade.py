"""`tether grade` and `tether import`: verdicts on a store's samples, and samples written elsewhere brought in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tether.cli.shell import app, bars, friendly_errors, stderr, stdout, styled
from tether.errors import TetherError


@app.command("grade")
def grade_cmd(
    store: Annotated[str, typer.Option(help="Store directory or object-store URL.")],
    verifier: Annotated[str, typer.Option(help="auto (each task's own), math, reasoning_gym, exact, choice, numeric, judge or code; a comma list (auto,exact,math) grades a verdict set under each: counts use the first, `tether compare --verifiers` shows them side by side.")] = "auto",
    workers: Annotated[int, typer.Option(help="Verification worker processes (or Ray actors with --ray).", min=1)] = 2,
    label: Annotated[list[str] | None, typer.Option(help="Grade only this model label (repeatable).")] = None,
    tasks: Annotated[str | None, typer.Option(help="Task spec giving the reference answers of imported samples.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local copies of preset datasets (with --tasks).")] = None,
    columns: Annotated[str | None, typer.Option(help="Column mapping for --tasks files.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="judge: the grader model's name on the server.")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="judge: OpenAI-compatible base URL.")] = None,
    judge_api_key: Annotated[str | None, typer.Option(envvar="TETHER_JUDGE_API_KEY", help="judge: API key.")] = None,
    judge_template: Annotated[Path | None, typer.Option(help="judge: a grading template file with {question}, {target} and {answer} slots [default: tether's, docs/grading.md].")] = None,
    judge_retries: Annotated[int, typer.Option(help="judge: retries of a failed request before the answer counts as not graded (retried by the next run).", min=0)] = 5,
    judge_check: Annotated[bool, typer.Option(help="judge: grade the bundled calibration set, print the agreement, and stop.")] = False,
    timeout: Annotated[int, typer.Option(help="math: Math-Verify timeout in whole seconds.", min=1)] = 5,
    ray: Annotated[str | None, typer.Option(help="Verify on Ray: 'local', 'auto' or a cluster address (--workers actors).")] = None,
    regrade: Annotated[bool, typer.Option(help="Grade again the verdicts of the statuses in --status (all by default), of the tasks in --tasks (all by default), under a new verifier version.")] = False,
    status: Annotated[str | None, typer.Option(help="With --regrade: the statuses to grade again, comma-separated (ok, no_answer, timeout, error).")] = None,
    update_tasks: Annotated[bool, typer.Option(help="Accept --tasks whose reference answers differ from the stored ones; regrade those tasks.")] = False,
    strict: Annotated[bool, typer.Option(help="Explicit answers only: none read out of the text (the last sentence's result, the last line, Math-Verify's full-text parse); a completion without one (box, tag, 'the answer is', bold) is no_answer.")] = False,
    extraction: Annotated[str, typer.Option(help="reasoning_gym: 'fair' (tag, box, after </think>, last line; for support accounting) or 'strict' (Reasoning Gym's own: <answer> tags only; for comparable numbers).")] = "fair",
    unsafe_local_exec: Annotated[bool, typer.Option(help="code: where bubblewrap cannot isolate programs, run the models' programs with resource limits only (no network or file-system isolation; docs/code.md).")] = False,
) -> None:
    """Grade every ungraded sample (each distinct answer once, cached in the store); re-run to resume."""
    from tether.cli.render import render_grade_summary, render_grading_failures, render_verdict_sets
    from tether.experiment.stages import ray_executor
    from tether.grading import GradeOptions, grade
    from tether.grading.sets import parse_set_names
    from tether.tasks import ColumnMap, load_tasks

    verifier_options = {"math": {"timeout_seconds": timeout}, "reasoning_gym": {"extraction": extraction},
                        "code": {"unsafe_local_exec": unsafe_local_exec}}
    if judge_model or judge_base_url:
        verifier_options["judge"] = {"model": judge_model, "base_url": judge_base_url, "api_key": judge_api_key,
                                     "max_retries": judge_retries,
                                     "template": str(judge_template) if judge_template else None}
    if judge_check:
        from tether.cli.render import render_judge_agreement
        from tether.grading.judge import JudgeVerifier, judge_agreement

        with friendly_errors():
            agreement = judge_agreement(JudgeVerifier(**verifier_options.get("judge", {"model": None, "base_url": None})))
        render_judge_agreement(agreement, stdout)
        return
    with friendly_errors(store, "re-run the same command to resume (samples with a verdict are not graded again)"):
        first, *also = parse_set_names(verifier)
        given = load_tasks(tasks, data_dir=data_dir, columns=ColumnMap.parse(columns)) if tasks else None
        options = GradeOptions(first, workers, verifier_options=verifier_options, deadline=max(30.0, 6.0 * timeout),
                               regrade=_regrade_statuses(regrade, status), update_tasks=update_tasks, strict=strict,
                               regrade_tasks=tuple(t.task_id for t in given) if given and regrade else (),
                               also=tuple(also))
        executor = ray_executor(ray, workers) if ray else None
        with bars()("grading", "samples") as bar:
            summary = grade(store, options, label, given, bar.advance, bar.start, executor=executor)
    render_grade_summary(summary, stdout)
    render_verdict_sets(summary, stdout)
    if not summary.ok:
        render_grading_failures(summary, stderr)
        raise typer.Exit(1)


def _regrade_statuses(regrade: bool, status: str | None) -> tuple[str, ...]:
    from tether.grading.run import STATUSES

    if status and not regrade:
        raise TetherError("--status selects what --regrade grades again; add --regrade")
    chosen = tuple(s.strip() for s in (status or ",".join(STATUSES)).split(",") if s.strip()) if regrade else ()
    unknown = [s for s in chosen if s not in STATUSES]
    if unknown:
        raise TetherError(f"--status {', '.join(unknown)}: not a verdict status; known: {', '.join(STATUSES)}")
    return chosen


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Samples: tether's JSONL (.jsonl, .jsonl.gz) or Parquet rows, an lm-eval --log_samples file, or a lighteval details Parquet.")],
    store: Annotated[str, typer.Option(help="Store directory or object-store URL (created if absent).")],
    label: Annotated[str | None, typer.Option(help="Label of every row in the store, e.g. base or rl [default: each row's 'model'; required for harness files].")] = None,
    format: Annotated[str, typer.Option(help="auto, tether, lm-eval or lighteval (see docs/import.md).")] = "auto",
    metric: Annotated[str | None, typer.Option(help="Harness files: the 0/1 per-document metric that says correct [default: exact_match, else the file's first 0/1 metric].")] = None,
    filter: Annotated[str | None, typer.Option(help="lm-eval files: the filter whose lines to import [default: the file's first].")] = None,
    verifier: Annotated[str, typer.Option(help="Harness files: the verifier `tether grade` uses on their tasks.")] = "math",
    benchmark: Annotated[str | None, typer.Option(help="Harness files: the benchmark (task) of every document, the first part of its task id [default: the task the file names: lm-eval's samples_<task>_<time>.jsonl, lighteval's task_name].")] = None,
    model: Annotated[str | None, typer.Option(hidden=True, help="Deprecated name of --label.")] = None,
) -> None:
    """Import samples produced elsewhere (your scripts, lm-eval --log_samples, lighteval details) into a store."""
    from tether.ingest import HarnessOptions, import_samples

    if model is not None:
        stderr.print(styled("warning:", "yellow", " --model is deprecated for `tether import`; use --label"),
                     highlight=False)
        label = label or model
    with friendly_errors(writing=store):
        summary = import_samples(file, store, label, format=format,
                                 harness=HarnessOptions(metric=metric, filter=filter, verifier=verifier,
                                                        benchmark=benchmark))
    graded = "graded" if summary.graded else "ungraded"
    source = {"lm-eval": " from lm-eval's --log_samples", "lighteval": " from lighteval's details"}.get(summary.format, "")
    stdout.print(
        f"imported {summary.rows} {graded} samples of {summary.tasks} tasks{source} "
        f"({', '.join(summary.labels)}) into {store}",
        highlight=False,
    )
    for note in summary.notes:
        stderr.print(f"note: {note}", highlight=False, soft_wrap=True)
    if summary.ignored_fields:
        stderr.print(f"ignored fields: {', '.join(summary.ignored_fields)}", highlight=False)
