"""`tether grade` and `tether import`: verdicts on a store's samples, and samples written elsewhere brought in."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from tether import defaults
from tether.cli.shell import app, bars, deprecated, emit_json, friendly_errors, stderr, stdout
from tether.cli.spellings import OldStore, store_argument
from tether.errors import TetherError


@app.command("grade")
def grade_cmd(
    store: Annotated[str | None, typer.Argument(metavar="STORE", help="Store directory or object-store URL.", show_default=False)] = None,
    verifier: Annotated[str, typer.Option(help="The verifier that grades the tasks: auto (each task's own), math, reasoning_gym, exact, choice, numeric, judge, code, vision_math or livebench; a comma list (auto,exact,math) grades a verdict set under each: counts use the first, `tether compare --verifiers` shows them side by side.")] = "auto",
    workers: Annotated[int, typer.Option(help="Verifier worker processes (or Ray actors with --ray).")] = defaults.WORKERS,
    label: Annotated[list[str] | None, typer.Option(help="Grade only this model label (repeatable).")] = None,
    tasks: Annotated[str | None, typer.Option(help="Task spec giving the reference answers of imported samples.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local copies of preset datasets (with --tasks).")] = None,
    columns: Annotated[str | None, typer.Option(help="Column mapping for --tasks files.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="judge: the grader model's name on the server (vision_math: its fallback for answers the rules cannot read).")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="judge: OpenAI-compatible base URL.")] = None,
    judge_api_key: Annotated[str | None, typer.Option(envvar="TETHER_JUDGE_API_KEY", help="judge: API key.")] = None,
    judge_template: Annotated[Path | None, typer.Option(help="judge: a grading template file with {question}, {target} and {answer} slots [default: tether's, docs/grading.md].")] = None,
    judge_retries: Annotated[int, typer.Option(help="judge: retries of a failed request before the answer counts as not graded (retried by the next run).", min=0)] = 5,
    judge_check: Annotated[bool, typer.Option(help="judge: grade the bundled calibration set, print the agreement, and stop.")] = False,
    timeout: Annotated[int, typer.Option(help="math: Math-Verify's timeout in whole seconds; a worker is stopped after max(30, 6 x timeout) seconds on one answer.")] = defaults.MATH_TIMEOUT,
    ray: Annotated[str | None, typer.Option(help="Verify on Ray: 'local', 'auto' or a cluster address (--workers actors).")] = None,
    regrade: Annotated[bool, typer.Option(help="Grade again the verdicts of the statuses in --status (all by default), of the tasks in --tasks (all by default), under a new verifier version.")] = False,
    status: Annotated[str | None, typer.Option(help="With --regrade: the statuses to grade again, comma-separated (ok, no_answer, timeout, error).")] = None,
    update_tasks: Annotated[bool, typer.Option(help="Accept --tasks whose reference answers differ from the stored ones; regrade those tasks.")] = False,
    strict: Annotated[bool, typer.Option(help="Explicit answers only: none read out of the text (the last sentence's result, the last line, Math-Verify's full-text parse); a completion without one (box, tag, 'the answer is', bold) is no_answer.")] = False,
    extraction: Annotated[str, typer.Option(help="reasoning_gym: 'fair' (tag, box, after </think>, last line; for support accounting) or 'strict' (Reasoning Gym's own: <answer> tags only; for comparable numbers).")] = "fair",
    unsafe_local_exec: Annotated[bool, typer.Option(help="code: where bubblewrap cannot isolate programs, run the models' programs with resource limits only (no network or file-system isolation; docs/code.md).")] = False,
    correct_threshold: Annotated[float, typer.Option(help="livebench: the score from which a verdict is correct (1: LiveBench's full score only; lower counts partial credit as solved; the score is stored either way).")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the grading summary as one JSON object (verdict counts, failures, format compliance, verdict sets).")] = False,
    old_store: OldStore = None,
) -> None:
    """Grade every ungraded sample (each distinct answer once, cached in the store); re-run to resume."""
    from tether.cli.render import (
        render_grade_summary,
        render_grading_failures,
        render_grading_warnings,
        render_verdict_sets,
    )
    from tether.experiment.schema import GradingSection, from_flags
    from tether.experiment.stages import ray_executor
    from tether.grading import grade
    from tether.tasks import ColumnMap, load_tasks

    judge = {"judge": {"model": judge_model, "base_url": judge_base_url, "api_key": judge_api_key,
                       "max_retries": judge_retries, "template": str(judge_template) if judge_template else None}
             } if judge_model or judge_base_url else {}
    if judge:  # vision_math sends the answers its rules cannot read to the same judge, and only when one is given
        judge["vision_math"] = {f"judge_{key}": value for key, value in judge["judge"].items()}
    if judge_check:
        _judge_check(judge.get("judge", {"model": None, "base_url": None}), as_json)
        return
    with friendly_errors():
        store = store_argument(store, old_store, "grade")
    with friendly_errors(store, "re-run the same command to resume (samples with a verdict are not graded again)"):
        # the flags of the [grading] section are checked by it, and make the same options as a file's
        section = from_flags(GradingSection, verifier=verifier, workers=workers, timeout=timeout, strict=strict,
                             extraction=extraction, unsafe_local_exec=unsafe_local_exec,
                             correct_threshold=correct_threshold)
        given = load_tasks(tasks, data_dir=data_dir, columns=ColumnMap.parse(columns)) if tasks else None
        options = section.options()  # and what only the command line says: the judge, what to grade again
        options = dataclasses.replace(options, verifier_options={**options.verifier_options, **judge},
                                      regrade=_regrade_statuses(regrade, status), update_tasks=update_tasks,
                                      regrade_tasks=tuple(t.task_id for t in given) if given and regrade else ())
        executor = ray_executor(ray, section.workers) if ray else None
        with bars()("grading", "samples") as bar:
            summary = grade(store, options, label, given, bar.advance, bar.start, executor=executor)
    if as_json:  # the one object on stdout; the warnings and failures a person must see on stderr
        render_grading_warnings(summary, stderr)
        emit_json(summary.to_dict())
    else:
        render_grade_summary(summary, stdout)
        render_verdict_sets(summary, stdout)
    if not summary.ok:
        render_grading_failures(summary, stderr)
        raise typer.Exit(1)


def _judge_check(judge: dict, as_json: bool) -> None:
    """--judge-check: the judge's agreement with the bundled calibration set."""
    from tether.cli.render import render_judge_agreement
    from tether.grading.judge import JudgeVerifier, judge_agreement

    with friendly_errors():
        agreement = judge_agreement(JudgeVerifier(**judge))
    if as_json:
        emit_json(agreement.to_dict())
    else:
        render_judge_agreement(agreement, stdout)


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
    store: Annotated[str | None, typer.Argument(metavar="STORE", help="Store directory or object-store URL (created if absent).", show_default=False)] = None,
    file: Annotated[Path | None, typer.Argument(metavar="FILE", help="Samples: tether's JSONL (.jsonl, .jsonl.gz) or Parquet rows, an lm-eval --log_samples file, a lighteval details Parquet, or verl's validation dumps (a folder of <step>.jsonl, or one).", show_default=False)] = None,
    label: Annotated[str | None, typer.Option(help="Label of every row in the store, e.g. base or rl [default: each row's 'model'; required for harness files]. verl: the training run, each step labelled <label>-<step> [default: the folder's name].")] = None,
    format: Annotated[str, typer.Option(help="auto, tether, lm-eval, lighteval or verl (see docs/import.md).")] = "auto",
    metric: Annotated[str | None, typer.Option(help="Harness files: the 0/1 per-document metric that says correct [default: exact_match, else the file's first 0/1 metric]. verl: the field of a line that says correct [default: acc where 0/1, else score].")] = None,
    correct_threshold: Annotated[float | None, typer.Option(help="verl: a score (or --metric) at least this is correct [default: none: scores other than 0/1 are imported ungraded].")] = None,
    columns: Annotated[str | None, typer.Option(help="verl: id=FIELD, the field of a line holding its prompt's id [default: a hash of the prompt's text].")] = None,
    filter: Annotated[str | None, typer.Option(help="lm-eval files: the filter whose lines to import [default: the file's first].")] = None,
    verifier: Annotated[str | None, typer.Option(help="Harness files: the verifier that grades their tasks (when `tether grade` grades them again): math, exact, choice, numeric, reasoning_gym, judge or code [default: math, as for task files].")] = None,
    benchmark: Annotated[str | None, typer.Option(help="Harness files and verl dumps: the benchmark (task) of every document, the first part of its task id [default: the task the file names: lm-eval's samples_<task>_<time>.jsonl, lighteval's task_name; verl: verl].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was imported as one JSON object (rows, tasks, labels, graded, notes).")] = False,
    old_store: OldStore = None,
    model: Annotated[str | None, typer.Option(hidden=True, help="Deprecated: --label.")] = None,
) -> None:
    """Import samples produced elsewhere (your scripts, lm-eval --log_samples, lighteval details, verl's validation
    dumps) into a store: tether import STORE FILE."""
    from tether.ingest import HarnessOptions, import_samples

    with friendly_errors():
        store, file = _store_and_file(store, file, old_store)
    if model is not None:
        deprecated("--model", "--label")
        label = label or model
    with friendly_errors(writing=store):
        harness = HarnessOptions(metric=metric, filter=filter, benchmark=benchmark, correct_threshold=correct_threshold,
                                 id_key=_id_column(columns),
                                 **({"verifier": _verifier(verifier)} if verifier is not None else {}))
        summary = import_samples(file, store, label, format=format, harness=harness)
    for note in summary.notes:
        stderr.print(f"note: {note}", highlight=False, soft_wrap=True)
    if summary.ignored_fields:
        stderr.print(f"ignored fields: {', '.join(summary.ignored_fields)}", highlight=False)
    if as_json:
        emit_json({"store": str(store), **summary.to_dict()})
        return
    graded = "graded" if summary.graded else "ungraded"
    source = {"lm-eval": " from lm-eval's --log_samples", "lighteval": " from lighteval's details",
              "verl": " from verl's validation dumps"}.get(summary.format, "")
    stdout.print(
        f"imported {summary.rows} {graded} samples of {summary.tasks} tasks{source} "
        f"({', '.join(summary.labels) or 'no new label'}) into {store}",
        highlight=False,
    )


def _store_and_file(store: str | None, file: Path | None, old_store: str | None) -> tuple[str, Path]:
    """STORE FILE; or, in the old spelling, FILE --store STORE (said, for one release)."""
    if old_store is not None:  # the one argument given is then the file
        if file is not None:
            store_argument(store, old_store, "import")  # the store given twice: refused
        store, file = store_argument(None, old_store, "import"), Path(store) if store is not None else None
    if store is None:
        raise TetherError("missing the STORE and FILE arguments: tether import STORE FILE")
    if file is None:
        raise TetherError("missing the FILE argument: tether import STORE FILE")
    return store, file


def _id_column(columns: str | None) -> str | None:
    """--columns id=FIELD of `tether import` (verl's dumps): the field holding a prompt's id."""
    if columns is None:
        return None
    key, sep, value = columns.partition("=")
    if key.strip() != "id" or not sep or not value.strip() or "," in value:
        raise TetherError(f"--columns {columns!r}: tether import takes id=FIELD (verl: the field of a line holding "
                          "its prompt's id)")
    return value.strip()


def _verifier(name: str) -> str:
    """A verifier's name, checked (a harness file's tasks are stored with it, for `tether grade`)."""
    from tether.grading.registry import VERIFIERS

    if name not in VERIFIERS:
        raise TetherError(f"--verifier {name!r}: not a verifier; known: {', '.join(VERIFIERS)}")
    return name
