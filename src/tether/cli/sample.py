"""`tether sample`: one model's completions into a store, resumable; `--reset-label` to start a label anew."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tether import defaults
from tether.cli.shell import app, bars, engine_registry_name, friendly_errors, stderr, stdout
from tether.errors import TetherError


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
        kind = engine_registry_name(engine, engine_name)
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
