"""`tether likelihood`, `tether diagnose`, `tether plan` and `tether bound`: estimates beyond the counts, and planning a budget."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tether.cli.shell import app, bars, engine_registry_name, friendly_errors, stdout
from tether.errors import TetherError


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
        engine = engine_registry_name(engine, engine_name) if engine else None
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
