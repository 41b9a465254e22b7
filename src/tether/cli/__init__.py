"""The `tether` command line: thin typer commands over the public library functions.

Every command does its work through a function importable from `tether`; this
module only parses flags, prints, and turns deliberate errors into one line on
stderr with exit code 2 (a traceback only with `--debug`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from tether import defaults
from tether._version import __version__
from tether.cli.progress import DEFAULT_EVERY, Bars
from tether.errors import TetherError, written_to

app = typer.Typer(
    name="tether",
    help="Did RL expand what your model can solve, or only sharpen what the base model could already sample?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text as written: "[default: base]" is text, not a markup tag
    add_completion=False,
)
_state = {"debug": False, "progress_every": DEFAULT_EVERY}
# markup off: paths, labels and messages print as they are (a "[red]" in a file name stays text)
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, markup=False)
stderr = Console(stderr=True, soft_wrap=True, markup=False)


def _styled(prefix: str, style: str, rest: str) -> Text:
    return Text.assemble((prefix, style), rest)


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
    progress_every: Annotated[float, typer.Option(
        envvar="TETHER_PROGRESS_EVERY", min=0.01,
        help="Seconds between progress lines when stderr is not a terminal (a log, a SLURM job).")] = DEFAULT_EVERY,
) -> None:
    _state["debug"] = debug
    _state["progress_every"] = progress_every


def bars() -> Bars:
    """Progress on stderr: live bars on a terminal, plain lines every --progress-every seconds in a log."""
    return Bars(stderr, _state["progress_every"])


@contextlib.contextmanager
def friendly_errors(writing: str | Path | None = None, resume: str | None = None) -> Iterator[None]:
    """One line on stderr and exit 2 for bad input; 130 for Ctrl-C. `writing`: where the command writes, named
    when the disk refuses a write whose own message names no file (a full disk); `resume`: how a long command
    goes on after Ctrl-C, said after it."""
    try:
        with written_to(writing):
            yield
    except (TetherError, OSError) as exc:
        if _state["debug"]:
            raise
        stderr.print(_styled("error:", "red", f" {exc}"), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        stderr.print("interrupted; everything already written is kept" + (f"; {resume}" if resume else ""),
                     highlight=False, soft_wrap=True)
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
        options = CompareOptions(_int_list(k_grid), allow_missing, reps, confidence, alpha, seed, match_budget,
                                 extrapolate, intervals=intervals)
        result = compare(base, rl, store=store, base_label=base_label, rl_label=rl_label, options=options,
                         self_label=self_label, verifiers=_names(verifiers))
        for warning in result.warnings:
            stderr.print(_styled("warning:", "yellow", f" {warning}"), highlight=False, soft_wrap=True)
        if out is not None:
            save_comparison(result, out)
        if as_json:
            sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
        else:
            render_comparison(result, stdout)


def _names(text: str | None) -> tuple[str, ...] | None:
    """A comma list of names (None when not given)."""
    return None if text is None else tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


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
        stderr.print(_styled("warning:", "yellow", " --model is deprecated for `tether import`; use --label"),
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


@app.command("check")
def check_cmd(
    store: Annotated[str, typer.Argument(help="The store to check (a folder or an object-storage URL).")],
    repair: Annotated[bool, typer.Option(help="Quarantine bad, copied and uncommitted shards (moved, never deleted) and remove temporary files.")] = False,
) -> None:
    """Check a store: readable shards, every (task, sample) once, no leftovers; --repair fixes what it can."""
    from tether.store.check import check_location

    with friendly_errors():
        report = check_location(store, repair)  # a lost or unreadable manifest is a finding too
    for problem in report.problems:
        state = "repaired" if problem.repaired else "problem"
        stdout.print(f"{state}: {problem.kind}: {problem.where}: {problem.detail}", highlight=False)
    for warning in report.warnings:  # fixed by `tether grade`; the store is not damaged
        stdout.print(_styled("warning:", "yellow", f" {warning.kind}: {warning.where}: {warning.detail}"),
                     highlight=False)
    verdict = "ok" if report.ok else "problems left (see above)"
    if report.warnings:
        verdict += f"; {len(report.warnings)} warning{'s' if len(report.warnings) > 1 else ''} (see above)"
    unproven = f" ({report.unsealed} written before seals: read, not proven byte for byte)" if report.unsealed else ""
    stdout.print(f"{report.root}: {report.shards} shards checked{unproven}; {verdict}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("bound")
def bound_cmd(
    k: Annotated[int | None, typer.Option(help="Samples per task.", min=1)] = None,
    epsilon: Annotated[float | None, typer.Option(help="Target detectable probability.")] = None,
    delta: Annotated[float, typer.Option(help="Allowed chance of missing an outcome of probability epsilon.")] = 0.05,
) -> None:
    """The detectability bound epsilon = 1 - delta^(1/k) (the paper's ln(1/delta)/k, exactly), or the k needed for a given epsilon."""
    from tether.metrics.bound import detectability_epsilon, format_probability, paper_epsilon, samples_needed

    with friendly_errors():
        if (k is None) == (epsilon is None):
            raise TetherError("give exactly one of --k or --epsilon")
        if k is not None:
            eps = detectability_epsilon(k, delta)
            print(f"epsilon = {format_probability(eps)}  (k = {k}, delta = {delta}): "
                  f"a correct outcome of probability above epsilon shows up in k samples with probability >= {1 - delta:g}"
                  f"; the paper's ln(1/delta)/k = {format_probability(paper_epsilon(k, delta))}")
        else:
            needed = samples_needed(epsilon, delta)
            print(f"k = {needed}  (epsilon = {format_probability(epsilon)}, delta = {delta}): "
                  f"samples needed to see an outcome of probability epsilon with probability >= {1 - delta:g}")


@app.command("sample")
def sample_cmd(
    model: Annotated[str, typer.Option(help="Model: a path, a hub id, a lab model (lab:base), or the server's model name with --engine openai.")],
    tasks: Annotated[str, typer.Option(help="Task spec: a preset (math500 ...), reasoning-gym:NAME?size=&seed=, hf:ID?split=, lab-sums:2-30, or a file.")],
    store: Annotated[str, typer.Option(help="Store directory or object-store URL (created if absent).")],
    label: Annotated[str, typer.Option(help="Label of this model in the store, e.g. base or rl.")],
    engine: Annotated[str, typer.Option(help="transformers, vllm (offline) or openai (a server).")] = defaults.ENGINE,
    k: Annotated[int, typer.Option(help="Samples per task.")] = defaults.SAMPLES_PER_TASK,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (finite, >= 0).")] = defaults.TEMPERATURE,
    top_p: Annotated[float, typer.Option(help="Nucleus: the smallest set of tokens holding this much probability, in (0, 1].")] = defaults.TOP_P,
    max_tokens: Annotated[int, typer.Option(help="Tokens per completion at most (below the model's context).")] = defaults.MAX_TOKENS,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Run seed; sample j of task t gets a seed derived from (seed, t, j).")] = 0,
    template: Annotated[str | None, typer.Option(help="Prompt rendering: auto, chat or plain [default: auto].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local copies of preset datasets.")] = None,
    columns: Annotated[str | None, typer.Option(help="Column mapping for files/datasets, e.g. question=problem,answer=answer,id=uid.")] = None,
    verifier: Annotated[str | None, typer.Option(help="Verifier for tasks from files/datasets [default: math].")] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N tasks.", min=1)] = None,
    base_url: Annotated[str | None, typer.Option(help="openai engine: server URL, e.g. http://127.0.0.1:8000/v1.")] = None,
    api: Annotated[str | None, typer.Option(help="openai engine: auto, completions or chat [default: auto].")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="OPENAI_API_KEY", help="openai engine: API key.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="openai engine: requests in flight [default: 16].", min=1)] = None,
    n_per_request: Annotated[int | None, typer.Option(help="openai engine: samples per request, checked against the server [default: 1].", min=1)] = None,
    tokenizer: Annotated[str | None, typer.Option(help="openai engine: tokenizer whose chat template renders prompts locally.")] = None,
    request_timeout: Annotated[float | None, typer.Option(help="openai engine: seconds per request before it is retried [default: 120].", min=1)] = None,
    batch_size: Annotated[int | None, typer.Option(help="transformers engine: rows per generate batch [default: 32].", min=1)] = None,
    device: Annotated[str | None, typer.Option(help="transformers engine: auto, cpu, cuda ... [default: auto].")] = None,
    dtype: Annotated[str | None, typer.Option(help="transformers/vllm engine: auto, float32, bfloat16, float16 [default: auto].")] = None,
    threads: Annotated[int | None, typer.Option(help="transformers engine: torch CPU threads [default: OMP_NUM_THREADS, else the usable cores; 1 on a busy machine is often much faster].", min=1)] = None,
    task_block: Annotated[int, typer.Option(help="Tasks per unit of work (one shard).")] = defaults.TASK_BLOCK,
    sample_block: Annotated[int, typer.Option(help="Samples per task per unit of work.")] = defaults.SAMPLE_BLOCK,
    ray: Annotated[str | None, typer.Option(help="Run the units on Ray: 'local' (start one here), 'auto' or a cluster address.")] = None,
    ray_workers: Annotated[int, typer.Option(help="Ray: engine workers (actors).", min=1)] = 2,
    ray_gpus: Annotated[float, typer.Option(help="Ray: GPUs per worker (1 for vLLM on a GPU node).", min=0)] = 0.0,
    adaptive: Annotated[bool, typer.Option(help="Sample in rounds (16, 32, ... k), grading between them, and stop a task once it is solved and its pass@k is settled (docs/adaptive.md).")] = False,
    adaptive_tol: Annotated[float, typer.Option(help="With --adaptive: stop once pass@k >= 1 - tol (95% Clopper-Pearson).", min=1e-12, max=0.5)] = 1e-3,
    adaptive_rule: Annotated[str | None, typer.Option(help="passk (the --adaptive rule) or regions: stop a task at the end of the round with its first success; the regions stay exact, pass@k beyond a task's samples is not measured. Implies --adaptive.")] = None,
    reset_label: Annotated[bool, typer.Option(help="First set aside the label's samples, verdicts and settings (moved to the store's quarantine/, not deleted) and sample it anew; asks unless --yes.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --reset-label: do not ask.")] = False,
) -> None:
    """Sample k completions per task from one model into a store; re-run the same command to resume."""
    from tether.cli.render import render_adaptive_summary, render_sample_summary
    from tether.engines import engine_name, engine_options
    from tether.experiment.schema import ModelSection, SamplingSection, from_flags
    from tether.experiment.stages import ray_executor, resolve_model, sample_model
    from tether.sampling.limits import check_run
    from tether.tasks import ColumnMap, load_tasks

    with friendly_errors(store, "re-run the same command to resume (finished units are not sampled again)"):
        # the flags are checked by the experiment file's own schema
        kind = _engine_name(engine, engine_name)
        options = engine_options(kind, dict(template=template, base_url=base_url, api=api, api_key=api_key,
                                            concurrency=concurrency, n_per_request=n_per_request,
                                            tokenizer=tokenizer, batch_size=batch_size, device=device, dtype=dtype,
                                            timeout=request_timeout, threads=threads))
        section = from_flags(ModelSection, model=model, engine=kind, **options)
        s = from_flags(SamplingSection, k=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                       stop=list(stop or ()), seed=seed, task_block=task_block, sample_block=sample_block, ray=ray,
                       ray_workers=ray_workers, ray_gpus=ray_gpus, adaptive=adaptive, adaptive_tol=adaptive_tol,
                       adaptive_rule=adaptive_rule)
        task_list = load_tasks(tasks, data_dir=data_dir, columns=ColumnMap.parse(columns), verifier=verifier,
                               limit=limit)
        check_run(s.config(), len(task_list))  # before a model is loaded (the engine's context: once it is)
        if reset_label:
            _reset_label(store, label, yes)
        path = resolve_model(section.model, progress=bars())
        executor = ray_executor(s.ray, s.ray_workers, s.ray_gpus) if s.ray else None
        rule = s.rule()
        with bars().sampling(f"{label}: {len(task_list)} tasks x {k}") as meter:
            summary = sample_model(task_list, section.engine, path, section.engine_options(), store, label,
                                   s.config(), executor, meter.on_progress, meter.start, meter.in_flight,
                                   (rule, _grade_options()) if rule else None)
    if not (render_adaptive_summary if rule else render_sample_summary)(summary, stdout, stderr):
        raise typer.Exit(1)


def _grade_options():
    from tether.grading import GradeOptions

    return GradeOptions()


def _reset_label(store: str, label: str, yes: bool) -> None:
    """--reset-label: say what would be set aside, ask (unless --yes), then do it."""
    from tether.store import is_store, open_store
    from tether.store.query import sample_counts

    if not is_store(store):
        return  # a new store: nothing to reset
    opened = open_store(store)
    samples = sum(sample_counts(opened, label).values()) if opened.shard_paths("samples", label) else 0
    what = f"label {label!r} of {opened.root}: {samples} samples, with their verdicts and run settings"
    if not yes and not _confirm(f"set aside {what} (moved to quarantine/, not deleted)?"):
        raise TetherError("--reset-label not confirmed; nothing changed (add --yes to skip the question)")
    moved, folder = opened.reset_label(label)
    stderr.print(f"reset {what}: {moved} shards moved to {folder}", highlight=False)


def _confirm(question: str) -> bool:
    """Ask on stderr; no answer (no terminal, end of input) is no."""
    import click

    try:
        return typer.confirm(question, default=False, err=True)
    except (click.exceptions.Abort, EOFError):
        return False


def _engine_name(given: str, engine_name) -> str:
    """The registry name of an engine, saying on stderr when the given one is deprecated."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        name = engine_name(given)
    for warning in caught:
        stderr.print(_styled("warning:", "yellow", f" {warning.message}"), highlight=False)
    return name


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


@app.command("diagnose")
def diagnose_cmd(
    store: Annotated[str, typer.Argument(help="A store holding both models' samples and verdicts.")],
    model: Annotated[list[str] | None, typer.Option(help="LABEL=PATH: the model to score LABEL's text with [default: the one it was sampled with] (repeatable).")] = None,
    engine: Annotated[str | None, typer.Option(help="transformers, vllm or openai [default: the sampling engine].")] = None,
    traces: Annotated[Path | None, typer.Option(help="JSONL of {task_id, trace}: reference solutions to measure perplexity on.")] = None,
    k: Annotated[int, typer.Option(help="Samples per task (avg@k, entropies).", min=1)] = 32,
    token_entropy: Annotated[bool, typer.Option(help="Teacher-force the samples for token entropy.")] = True,
    label: Annotated[list[str] | None, typer.Option(help="Label to diagnose (repeatable): the base's, then the RL model's [default: base, rl].")] = None,
    batch_size: Annotated[int, typer.Option(help="Completions per scoring call.", min=1)] = 16,
    device: Annotated[str | None, typer.Option(help="transformers engine: auto, cpu, cuda ...")] = None,
    threads: Annotated[int | None, typer.Option(help="transformers engine: torch CPU threads [default: OMP_NUM_THREADS, else the usable cores].", min=1)] = None,
    base_url: Annotated[str | None, typer.Option(help="openai engine: server URL [default: the sampling one].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diagnostics as one JSON object.")] = False,
) -> None:
    """avg@k, answer entropy, token entropy and perplexity on reference traces; stored and printed as the paper's Table 3."""
    from tether.cli.render import render_diagnostics
    from tether.diagnostics import diagnose, read_traces, sampling_engine
    from tether.engines import engine_name
    from tether.store import open_store

    with friendly_errors(store, "re-run the same command to compute them again (diagnostics are stored once "
                                "complete)"):
        opened = open_store(store)
        engine = _engine_name(engine, engine_name) if engine else None
        models = _assignments(model or [])
        names = tuple(label or ("base", "rl"))
        options = {key: value for key, value in {"device": device, "base_url": base_url, "threads": threads,
                                                 "batch_size": batch_size}.items() if value is not None}
        result = diagnose(opened, names, engines=lambda label: sampling_engine(opened, label, models.get(label), engine,
                                                                                   **options),
                          k=k, traces=read_traces(traces) if traces else None, token_entropy_on=token_entropy,
                          batch=batch_size, progress=bars())
    if as_json:
        rows = [dataclasses.asdict(row) for row in result.rows]
        sys.stdout.write(json.dumps({"run_id": result.run_id, "diagnostics": rows}) + "\n")
    else:
        render_diagnostics(result.rows, stdout)


def _assignments(items: list[str]) -> dict[str, str]:
    found = {}
    for item in items:
        label, sep, value = item.partition("=")
        if not sep or not label or not value:
            raise typer.BadParameter(f"expected LABEL=PATH, got {item!r}")
        found[label] = value
    return found


@app.command("likelihood")
def likelihood_cmd(
    store: Annotated[str, typer.Argument(help="A store holding both models' graded samples.")],
    tasks: Annotated[str, typer.Option(help="Regions whose tasks to estimate, comma-separated: E (the base's chance), S (the RL model's), P (the base's, all P tasks).")] = "E,S",
    p_tasks: Annotated[int, typer.Option(help="Without P in --tasks: this many P tasks (picked by --seed) as a check where the base's own rate is known.", min=0)] = 5,
    max_completions: Annotated[int | None, typer.Option(help="Use each model's first samples of a task up to its N-th correct one (fewer to score; still unbiased).", min=1)] = None,
    threshold: Annotated[float | None, typer.Option(help="An estimate above it is 'rare but reachable' [default: the ε of a 10x larger budget].")] = None,
    base_label: Annotated[str, typer.Option(help="Label of the base model.")] = "base",
    rl_label: Annotated[str, typer.Option(help="Label of the RL model.")] = "rl",
    seed: Annotated[int, typer.Option(help="Seed for picking P tasks and for the bootstrap.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
) -> None:
    """Each model's chance on the tasks only the other solved, by importance sampling over both models' samples (scores stored, resumable)."""
    from tether.cli.render import render_likelihood
    from tether.likelihood import cross_likelihood, save_likelihood

    regions = tuple(part.strip().upper() for part in tasks.split(",") if part.strip())
    with friendly_errors(store, "re-run the same command to resume (scores already stored are not computed "
                                "again)"):
        result = cross_likelihood(store, base_label, rl_label, regions=regions, p_tasks=p_tasks,
                                  max_completions=max_completions, threshold=threshold, seed=seed, progress=bars())
        save_likelihood(result, store)  # the report shows it
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False, default=str) + "\n")
    else:
        render_likelihood(result, stdout)


@app.command("plan")
def plan_cmd(
    store: Annotated[str, typer.Argument(help="A store holding a pilot run of both models (graded), e.g. 64 samples per task.")],
    k: Annotated[int, typer.Option(help="The budget to plan: samples per task and model.", min=1)],
    throughput: Annotated[float, typer.Option(help="Generated tokens per second per GPU, for the GPU hours.", min=1e-9)] = 5000.0,
    first: Annotated[int, typer.Option(help="Adaptive rule: samples in the first round.", min=1)] = 16,
    growth: Annotated[int, typer.Option(help="Adaptive rule: each round ends at this many times the previous.", min=2)] = 2,
    tol: Annotated[float, typer.Option(help="Adaptive rule: stop once pass@k >= 1 - tol (and solved).", min=1e-12, max=0.5)] = 1e-3,
    base_label: Annotated[str, typer.Option(help="Label of the base model.")] = "base",
    rl_label: Annotated[str, typer.Option(help="Label of the RL model.")] = "rl",
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
) -> None:
    """Plan a run of k samples per task from a pilot: samples, tokens and GPU hours of a full and an adaptive run, and the regions to expect."""
    from tether.cli.render import render_budget
    from tether.compare.budget import plan_budget
    from tether.metrics.adaptive import AdaptiveRule

    with friendly_errors():
        try:
            rule = AdaptiveRule(first, growth, tol)
        except ValueError as exc:
            raise TetherError(str(exc)) from None
        plan = plan_budget(store, k, rule=rule, throughput=throughput, base_label=base_label, rl_label=rl_label)
    if as_json:
        sys.stdout.write(json.dumps(plan.to_dict(), allow_nan=False) + "\n")
    else:
        render_budget(plan, stdout)


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
                             options=CompareOptions(k_grid=_int_list(k_grid), allow_missing=allow_missing))
    stdout.print(f"wrote {files.html}, {files.markdown} and {files.summary}", highlight=False)


@app.command("run")
def run_cmd(
    experiment: Annotated[Path, typer.Argument(help="The experiment's TOML file (see docs/experiment.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as one JSON object.")] = False,
    check: Annotated[bool, typer.Option(help="Only validate the file and print the plan: tasks, samples, tokens and GPU hours; loads no model.")] = False,
    throughput: Annotated[float, typer.Option(help="With --check: generated tokens per second per GPU, for the GPU-hour estimate.", min=1e-9)] = 5000.0,
    mean_tokens: Annotated[int | None, typer.Option(help="With --check: the mean completion length in tokens [default: max_tokens, the upper bound].", min=1)] = None,
) -> None:
    """Run an experiment file: sample both models, grade, compare; each stage resumes or is skipped when done."""
    from tether.cli.render import render_comparison, render_grade_summary
    from tether.experiment import run_experiment

    if check:
        from tether.cli.render import render_plan
        from tether.experiment.plan import plan_experiment

        with friendly_errors():
            plan = plan_experiment(experiment, throughput, mean_tokens)
        render_plan(plan, stdout)
        return

    def stage(name: str, status: str, detail: str) -> None:
        stderr.print(_styled(name, "bold", f": {status} ({detail})"), highlight=False)

    def graded(summary) -> None:  # on stderr: stdout holds the comparison (one JSON object with --json)
        render_grade_summary(summary, stderr)

    with friendly_errors(resume=f"re-run `tether run {experiment}` to resume (finished stages are skipped)"):
        result, store, _ = run_experiment(experiment, on_stage=stage, progress=bars(), on_graded=graded)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
    else:
        render_comparison(result, stdout)
        stdout.print(f"store: {store}", highlight=False)
    if not sum(n for region, n in result.counts.as_dict().items() if region != "O"):
        stderr.print(_styled("warning:", "bold red", f" every one of the {len(result.task_ids)} tasks is out of "
                                                     "support (O): neither model solved any, so the regions say "
                                                     "nothing about what RL did (the grading summary's format compliance and "
                                                     "examples say why)"),
                     highlight=False)


@app.command("convert-gguf")
def convert_gguf_cmd(
    file: Annotated[Path, typer.Argument(help="A GGUF checkpoint file (.gguf), quantized or not.")],
    out: Annotated[Path, typer.Argument(help="A new folder for the converted checkpoint.")],
) -> None:
    """Convert a GGUF checkpoint once into a float32 safetensors folder that every engine loads in about a second."""
    from tether.engines.gguf import check_conversion, convert_gguf

    with friendly_errors():
        check_conversion(file, out)
        started = time.perf_counter()
        folder = convert_gguf(file, out)
    stdout.print(f"wrote {folder} (float32 safetensors and tokenizer) in {time.perf_counter() - started:.0f} s; "
                 f"sample it with --model {folder}", highlight=False)


PAIRS = {"shipped": "model pair: the lab pair shipped with tether (the same on every machine, so are the exact "
                     "expectations below)",
         "trained": "model pair: trained on this machine just now (--train); the exact expectations below are this "
                    "pair's, not the shipped one's",
         "cached": "model pair: trained on this machine earlier (cached); the exact expectations below are this pair's"}


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("tether-demo"),
    quick: Annotated[bool, typer.Option(help="A smaller pair and setting (about a minute).")] = False,
    seed: Annotated[int | None, typer.Option(
        help="Sampling seed [default: the bundled experiment's]; the run is deterministic given it.")] = None,
    train: Annotated[bool, typer.Option(help="Train the base and RL pair from scratch on this machine instead of using the shipped one.")] = False,
) -> None:
    """The lab's whole story offline on CPU: a tiny base and RL pair (shipped, or --train), sampled, graded, compared, and every probability computed exactly."""
    from tether.cli.render import render_answer_stats, render_comparison, render_diagnostics, render_lab_analysis
    from tether.experiment.demo import run_demo

    last = [time.perf_counter()]

    def stage(name: str, status: str, detail: str) -> None:  # called as each stage ends: its time since the last
        now = time.perf_counter()
        stderr.print(_styled(name, "bold", f": {status} ({detail}; {now - last[0]:.1f} s)"), highlight=False)
        last[0] = now

    with friendly_errors():
        result = run_demo(out, quick=quick, seed=seed, on_stage=stage, progress=bars(), train=train)
    stdout.print(PAIRS[result.pair], highlight=False)
    render_comparison(result.comparison, stdout)
    render_lab_analysis(result.analysis, result.comparison, stdout)
    render_answer_stats(result.answers, result.analysis, stdout)
    render_diagnostics(result.diagnostics, stdout)
    stdout.print(f"done in {result.seconds:.0f} s; outputs in {result.folder.resolve()} "
                 f"(report: {result.report.resolve()})", highlight=False)


def main() -> None:
    app()
