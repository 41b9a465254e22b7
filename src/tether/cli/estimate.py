"""`tether likelihood`, `tether diagnose`, `tether plan` and `tether bound`: estimates beyond the counts, and planning a budget."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Annotated

import typer

from tether import defaults
from tether.cli.labels import Base, OldBase, OldRl, Rl, pair
from tether.cli.shell import (
    EngineOptions,
    app,
    bars,
    deprecated,
    emit_json,
    engine_registry_name,
    friendly_errors,
    names,
    stdout,
)
from tether.cli.spellings import OldBaseUrl, OldDevice, OldThreads, said_engine_flags
from tether.errors import TetherError

Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]


@app.command("likelihood")
def likelihood_cmd(
    store: Annotated[str, typer.Argument(metavar="STORE", help="A store holding both models' graded samples.")],
    regions: Annotated[str, typer.Option(help="Regions whose tasks to estimate, comma-separated: E (the base's chance), S (the RL model's), P (the base's, all P tasks).")] = ",".join(defaults.LIKELIHOOD_REGIONS),
    p_tasks: Annotated[int, typer.Option(help="Without P in --regions: this many P tasks (picked by --seed) as a check where the base's own rate is known.")] = defaults.P_TASKS,
    max_completions: Annotated[int | None, typer.Option(help="Use each model's first samples of a task up to its N-th correct one (fewer to score; still unbiased).")] = None,
    threshold: Annotated[float | None, typer.Option(help="An estimate above it is 'rare but reachable' [default: the ε of a 10x larger budget].")] = None,
    base: Base = None,
    rl: Rl = None,
    seed: Annotated[int, typer.Option(help="Seed for picking P tasks and for the bootstrap.")] = 0,
    as_json: Json = False,
    tasks: Annotated[str | None, typer.Option(hidden=True, help="Deprecated spelling of --regions.")] = None,
    base_label: OldBase = None,
    rl_label: OldRl = None,
) -> None:
    """Each model's chance on the tasks only the other solved, by importance sampling over both models' samples (scores stored, resumable)."""
    from tether.cli.render import render_likelihood
    from tether.experiment.schema import LikelihoodSection, from_flags
    from tether.likelihood import cross_likelihood, save_likelihood

    with friendly_errors(store, "re-run the same command to resume (scores already stored are not computed "
                                "again)"):
        if tasks is not None:
            deprecated("--tasks", "--regions")
            regions = tasks
        base, rl = pair(base, rl, base_label, rl_label)
        section = from_flags(LikelihoodSection, regions=[r.upper() for r in names(regions) or ()], p_tasks=p_tasks,
                             max_completions=max_completions, threshold=threshold)
        result = cross_likelihood(store, base, rl, regions=tuple(section.regions), p_tasks=section.p_tasks,
                                  max_completions=section.max_completions, threshold=section.threshold, seed=seed,
                                  progress=bars())
        save_likelihood(result, store)  # the report shows it
    if as_json:
        emit_json(result.to_dict())
    else:
        render_likelihood(result, stdout)


@app.command("diagnose")
def diagnose_cmd(
    store: Annotated[str, typer.Argument(metavar="STORE", help="A store holding both models' samples and verdicts.")],
    label: Annotated[list[str] | None, typer.Option(help="Label to diagnose (repeatable): the base's, then the RL model's [default: base, rl].")] = None,
    scorer: Annotated[list[str] | None, typer.Option(metavar="LABEL=MODEL", help="The model to score LABEL's text with (a path or hub id) [default: the one it was sampled with] (repeatable).")] = None,
    engine: Annotated[str | None, typer.Option(help="transformers, vllm or openai [default: the one each label was sampled with].")] = None,
    option: EngineOptions = None,
    traces: Annotated[Path | None, typer.Option(help="JSONL of {task_id, trace}: reference solutions to measure perplexity on.")] = None,
    k: Annotated[int, typer.Option(help="Samples per task (avg@k, entropies).")] = defaults.DIAGNOSE_K,
    token_entropy: Annotated[bool, typer.Option(help="Teacher-force the samples for token entropy.")] = True,
    batch_size: Annotated[int, typer.Option(help="Completions per scoring call.")] = defaults.SCORING_BATCH,
    as_json: Json = False,
    model: Annotated[list[str] | None, typer.Option(hidden=True, help="Deprecated spelling of --scorer.")] = None,
    device: OldDevice = None,
    threads: OldThreads = None,
    base_url: OldBaseUrl = None,
) -> None:
    """avg@k, answer entropy, token entropy and perplexity on reference traces; stored and printed as the paper's Table 3."""
    from tether.cli.render import render_diagnostics
    from tether.diagnostics import diagnose, read_traces, sampling_engine
    from tether.diagnostics.run import scoring_engine_name
    from tether.engines import engine_name, parse_engine_options
    from tether.experiment.schema import DiagnosticsSection, from_flags
    from tether.store import open_store

    with friendly_errors(store, "re-run the same command to compute them again (diagnostics are stored once "
                                "complete)"):
        if model:
            deprecated("--model", "--scorer")
        old = said_engine_flags(device=device, threads=threads, base_url=base_url)
        section = from_flags(DiagnosticsSection, k=k, token_entropy=token_entropy, batch_size=batch_size,
                             traces=str(traces) if traces is not None else None)
        opened = open_store(store)
        engine = engine_registry_name(engine, engine_name) if engine else None
        scorers = _assignments([*(scorer or []), *(model or [])])
        labels = tuple(label or ("base", "rl"))
        # -o is checked against each label's engine before anything runs
        options = {name: parse_engine_options(scoring_engine_name(opened, name, engine), option) if option else {}
                   for name in labels}
        shared = {"batch_size": section.batch_size, **old}
        result = diagnose(opened, labels, k=section.k, token_entropy_on=section.token_entropy,
                          engines=lambda name: sampling_engine(opened, name, scorers.get(name), engine,
                                                               **{**shared, **options[name]}),
                          traces=read_traces(Path(section.traces)) if section.traces else None,
                          batch=section.batch_size, progress=bars())
    if as_json:
        emit_json({"run_id": result.run_id, "diagnostics": [_finite(dataclasses.asdict(row)) for row in result.rows]})
    else:
        render_diagnostics(result.rows, stdout)


def _finite(row: dict) -> dict:
    """A row for JSON: a value that is not a number (no samples to average) is null."""
    return {key: None if isinstance(value, float) and not math.isfinite(value) else value for key, value in row.items()}


def _assignments(items: list[str]) -> dict[str, str]:
    found = {}
    for item in items:
        label, sep, value = item.partition("=")
        if not sep or not label or not value:
            raise TetherError(f"--scorer: expected LABEL=MODEL, got {item!r}")
        found[label] = value
    return found


@app.command("plan")
def plan_cmd(
    store: Annotated[str, typer.Argument(metavar="STORE", help="A store holding a pilot run of both models (graded), e.g. 64 samples per task.")],
    k: Annotated[int, typer.Option(help="The budget to plan: samples per task and model.", min=1)],
    throughput: Annotated[float, typer.Option(help="Generated tokens per second per GPU, for the GPU hours.")] = defaults.THROUGHPUT,
    adaptive_first: Annotated[int | None, typer.Option(help="Adaptive rule: samples in the first round [default: 16].")] = None,
    adaptive_growth: Annotated[int | None, typer.Option(help="Adaptive rule: each round ends at this many times the previous [default: 2].")] = None,
    adaptive_tol: Annotated[float | None, typer.Option(help="Adaptive rule: stop once pass@k >= 1 - tol (and solved) [default: 0.001].")] = None,
    base: Base = None,
    rl: Rl = None,
    as_json: Json = False,
    first: Annotated[int | None, typer.Option(hidden=True, help="Deprecated spelling of --adaptive-first.")] = None,
    growth: Annotated[int | None, typer.Option(hidden=True, help="Deprecated spelling of --adaptive-growth.")] = None,
    tol: Annotated[float | None, typer.Option(hidden=True, help="Deprecated spelling of --adaptive-tol.")] = None,
    base_label: OldBase = None,
    rl_label: OldRl = None,
) -> None:
    """Plan a run of k samples per task from a pilot: samples, tokens and GPU hours of a full and an adaptive run, and the regions to expect."""
    from tether.cli.render import render_budget
    from tether.compare.budget import plan_budget
    from tether.experiment.schema import SamplingSection, from_flags

    with friendly_errors():
        rule = {"adaptive_first": adaptive_first, "adaptive_growth": adaptive_growth, "adaptive_tol": adaptive_tol}
        for name, value in (("first", first), ("growth", growth), ("tol", tol)):
            if value is not None:
                deprecated(f"--{name}", f"--adaptive-{name}")
                rule[f"adaptive_{name}"] = rule[f"adaptive_{name}"] if rule[f"adaptive_{name}"] is not None else value
        base, rl = pair(base, rl, base_label, rl_label)
        # the rule's flags are checked as sample's are: the [sampling] section's adaptive keys
        section = from_flags(SamplingSection, k=k, adaptive=True, adaptive_rule="passk", **rule)
        plan = plan_budget(store, k, rule=section.rule(), throughput=throughput, base_label=base, rl_label=rl)
    if as_json:
        emit_json(plan.to_dict())
    else:
        render_budget(plan, stdout)


@app.command("bound")
def bound_cmd(
    k: Annotated[int | None, typer.Option(help="Samples per task.", min=1)] = None,
    epsilon: Annotated[float | None, typer.Option(help="Target detectable probability.")] = None,
    delta: Annotated[float, typer.Option(help="Allowed chance of missing an outcome of probability epsilon.")] = 0.05,
    as_json: Json = False,
) -> None:
    """The detectability bound epsilon = 1 - delta^(1/k) (the paper's ln(1/delta)/k, exactly), or the k needed for a given epsilon."""
    from tether.metrics.bound import detectability, format_probability

    with friendly_errors():
        if (k is None) == (epsilon is None):
            raise TetherError("give exactly one of --k or --epsilon")
        found = detectability(k, epsilon, delta)
    if as_json:
        emit_json(found.to_dict())
    elif found.given == "k":
        print(f"epsilon = {format_probability(found.epsilon)}  (k = {k}, delta = {delta}): "
              f"a correct outcome of probability above epsilon shows up in k samples with probability >= {1 - delta:g}"
              f"; the paper's ln(1/delta)/k = {format_probability(found.paper_epsilon)}")
    else:
        print(f"k = {found.k}  (epsilon = {format_probability(epsilon)}, delta = {delta}): "
              f"samples needed to see an outcome of probability epsilon with probability >= {1 - delta:g}")
