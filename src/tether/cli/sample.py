"""`tether sample`: one model's completions into a store, resumable; `--reset-label` to start a label anew."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tether import defaults
from tether.cli.shell import EngineOptions, app, bars, emit_json, engine_registry_name, friendly_errors, stderr, stdout
from tether.cli.spellings import (
    OldApi,
    OldApiKey,
    OldBaseUrl,
    OldBatchSize,
    OldConcurrency,
    OldDevice,
    OldDtype,
    OldPerRequest,
    OldRayWorkers,
    OldStore,
    OldThreads,
    OldTimeout,
    OldTokenizer,
    old_engine_flags,
    old_workers,
    store_argument,
)
from tether.errors import TetherError


@app.command("sample")
def sample_cmd(
    store: Annotated[str | None, typer.Argument(metavar="STORE", help="Store directory or object-store URL (created if absent).", show_default=False)] = None,
    model: Annotated[str, typer.Option(help="Model: a path, a hub id, a lab model (lab:base), or the server's model name with --engine openai.")] = ...,
    tasks: Annotated[str, typer.Option(help="Task spec: a preset (math500 ...), reasoning-gym:NAME?size=&seed=, hf:ID?split=, lab-sums:2-30, or a file.")] = ...,
    label: Annotated[str, typer.Option(help="Label of this model in the store, e.g. base or rl.")] = ...,
    engine: Annotated[str, typer.Option(help="transformers, vllm (offline) or openai (a server); `tether engines` lists each one's options.")] = defaults.ENGINE,
    option: EngineOptions = None,
    k: Annotated[int, typer.Option(help="Samples per task.")] = defaults.SAMPLES_PER_TASK,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (finite, >= 0).")] = defaults.TEMPERATURE,
    top_p: Annotated[float, typer.Option(help="Nucleus: the smallest set of tokens holding this much probability, in (0, 1].")] = defaults.TOP_P,
    max_tokens: Annotated[int, typer.Option(help="Tokens per completion at most (below the model's context).")] = defaults.MAX_TOKENS,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Run seed; sample j of task t gets a seed derived from (seed, t, j).")] = 0,
    template: Annotated[str | None, typer.Option(help="Prompt rendering: auto, chat or plain [default: auto] (the engine's template option).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local copies of preset datasets.")] = None,
    columns: Annotated[str | None, typer.Option(help="Column mapping for files/datasets, e.g. question=problem,answer=answer,id=uid.")] = None,
    verifier: Annotated[str | None, typer.Option(help="The verifier that grades the tasks: math, exact, choice, numeric, reasoning_gym, judge or code [default: the preset's own; math for files].")] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N tasks.")] = None,
    task_block: Annotated[int, typer.Option(help="Tasks per unit of work (one shard).")] = defaults.TASK_BLOCK,
    sample_block: Annotated[int, typer.Option(help="Samples per task per unit of work.")] = defaults.SAMPLE_BLOCK,
    ray: Annotated[str | None, typer.Option(help="Run the units on Ray: 'local' (start one here), 'auto' or a cluster address.")] = None,
    workers: Annotated[int, typer.Option(help="With --ray: engine workers (Ray actors), each holding its own engine.")] = defaults.WORKERS,
    ray_gpus: Annotated[float, typer.Option(help="With --ray: GPUs per worker (1 for vLLM on a GPU node).")] = 0.0,
    adaptive: Annotated[bool, typer.Option(help="Sample in rounds (16, 32, ... k), grading between them, and stop a task once it is solved and its pass@k is settled (docs/adaptive.md).")] = False,
    adaptive_rule: Annotated[str | None, typer.Option(help="passk (the --adaptive rule) or regions: stop a task at the end of the round with its first success; the regions stay exact, pass@k beyond a task's samples is not measured. Implies --adaptive.")] = None,
    adaptive_first: Annotated[int | None, typer.Option(help=f"Adaptive rule: samples in the first round [default: {defaults.ADAPTIVE_FIRST}; 8 with --adaptive-rule regions].")] = None,
    adaptive_growth: Annotated[int, typer.Option(help="Adaptive rule: each round ends at this many times the previous.")] = defaults.ADAPTIVE_GROWTH,
    adaptive_tol: Annotated[float, typer.Option(help="Adaptive rule: stop once pass@k >= 1 - tol (95% Clopper-Pearson).")] = defaults.ADAPTIVE_TOL,
    run: Annotated[str | None, typer.Option("--run", metavar="NAME", help="With --step: the label is this training run's checkpoint (recorded in the store's manifest; a study's trajectory).")] = None,
    step: Annotated[int | None, typer.Option("--step", metavar="N", help="With --run: the training step the checkpoint was saved at (>= 0); it is sampled with run seed --seed + N.")] = None,
    reset_label: Annotated[bool, typer.Option(help="First set aside the label's samples, verdicts and settings (moved to the store's quarantine/, not deleted) and sample it anew; asks unless --yes.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --reset-label: do not ask.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as one JSON object (tasks, samples written and skipped, tokens, the adaptive rounds).")] = False,
    old_store: OldStore = None,
    base_url: OldBaseUrl = None,
    api: OldApi = None,
    api_key: OldApiKey = None,
    concurrency: OldConcurrency = None,
    n_per_request: OldPerRequest = None,
    tokenizer: OldTokenizer = None,
    request_timeout: OldTimeout = None,
    batch_size: OldBatchSize = None,
    device: OldDevice = None,
    dtype: OldDtype = None,
    threads: OldThreads = None,
    ray_workers: OldRayWorkers = None,
) -> None:
    """Sample k completions per task from one model into a store; re-run the same command to resume."""
    from tether.cli.render import render_adaptive_summary, render_sample_summary
    from tether.engines import engine_name, parse_engine_options
    from tether.experiment.run import mark_checkpoint
    from tether.experiment.schema import GradingSection, ModelSection, SamplingSection, from_flags
    from tether.experiment.stages import ray_executor, resolve_model, sample_model
    from tether.sampling.limits import check_run
    from tether.tasks import ColumnMap, load_tasks

    with friendly_errors():
        store = store_argument(store, old_store, "sample")
    with friendly_errors(store, "re-run the same command to resume (finished units are not sampled again)"):
        # every flag is checked by the experiment file's own schema, the engine's options by the engine's
        name = engine_registry_name(engine, engine_name)
        options = {**old_engine_flags(name, base_url=base_url, api=api, api_key=api_key, concurrency=concurrency,
                                      n_per_request=n_per_request, tokenizer=tokenizer, timeout=request_timeout,
                                      batch_size=batch_size, device=device, dtype=dtype, threads=threads),
                   **({"template": template} if template is not None else {}),
                   **parse_engine_options(name, option or [])}
        if (run is None) != (step is None):
            raise TetherError("give --run and --step together: the label is the checkpoint of training run --run "
                              "saved at --step (e.g. --run dapo --step 30)")
        section = from_flags(ModelSection, model=model, engine=name, run=run, step=step, **options)
        s = from_flags(SamplingSection, k=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                       stop=list(stop or ()), seed=seed, task_block=task_block, sample_block=sample_block, ray=ray,
                       workers=old_workers(workers, ray_workers), ray_gpus=ray_gpus, adaptive=adaptive,
                       adaptive_rule=adaptive_rule, adaptive_first=adaptive_first, adaptive_growth=adaptive_growth,
                       adaptive_tol=adaptive_tol)
        t = _tasks_section(spec=tasks, columns=columns, verifier=verifier, limit=limit)
        task_list = load_tasks(t.spec, data_dir=data_dir, columns=ColumnMap.parse(t.columns), verifier=t.verifier,
                               limit=t.limit)
        check_run(s.config(), len(task_list))  # before a model is loaded (the engine's context: once it is)
        if reset_label:
            _reset_label(store, label, yes)
        path = resolve_model(section.model, progress=bars())
        executor = ray_executor(s.ray, s.workers, s.ray_gpus) if s.ray else None
        rule = s.rule()
        with bars().sampling(f"{label}: {len(task_list)} tasks x {k}") as meter:
            summary = sample_model(task_list, section.engine, path, section.engine_options(), store, label,
                                   section.sampling(s.config()), executor, meter.on_progress, meter.start,
                                   meter.in_flight,
                                   (rule, GradingSection().options()) if rule else None)
        if run is not None:
            mark_checkpoint(store, label, (section.run, section.step))
    # with --json the one object is stdout's; the lines a person reads go to stderr
    ok = (render_adaptive_summary if rule else render_sample_summary)(summary, stderr if as_json else stdout, stderr)
    if as_json:
        emit_json({"store": str(store), **summary.to_dict()})
    if not ok:
        raise typer.Exit(1)


def _tasks_section(**flags):
    """The [tasks] section from the flags; its `spec` is the --tasks flag."""
    from tether.errors import InputError
    from tether.experiment.schema import TasksSection, from_flags

    try:
        return from_flags(TasksSection, **flags)
    except InputError as exc:
        if str(exc).startswith("--spec:"):  # its one rule: not empty
            raise InputError("--tasks: is empty; give a task spec (a preset, a file, hf:ID ...)") from None
        raise


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
    try:
        return typer.confirm(question, default=False, err=True)
    except (typer.Abort, EOFError):
        stderr.print()  # the question's line ends here
        return False
