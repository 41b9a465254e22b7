"""`tether diagnose`: every diagnostic of a store's two models, written to its `diagnostics` table.

For each model label: avg@k and answer entropy per benchmark (from the verdicts), token entropy
per benchmark (teacher forcing through an engine), and, given reference traces, perplexity over
all traces and per support region of their tasks (regions from the counts, `tether.metrics`). Rows are
appended to the store's `diagnostics` table under one run id, each with the k used and asked for and,
where it depends on verdicts, their fingerprint; `load_diagnostics` reads the newest value of each
(label, metric, benchmark, group), recomputing what the verdicts give where they changed since
(`tether.diagnostics.current`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tether.diagnostics.answers import answer_stats_by_benchmark
from tether.diagnostics.current import answer_rows, current_diagnostics, fingerprint, verdicts_of
from tether.diagnostics.tokens import Trace, token_entropy, trace_perplexity
from tether.engines import ENGINE, Scorer, engine_options, make_engine
from tether.errors import InputError
from tether.progress import ProgressFactory, silent
from tether.store import Shard, Store, query
from tether.store.schema import Diagnostic, to_table

EngineFactory = Callable[[str], Scorer]


@dataclass
class Diagnosis:
    """What one `diagnose` run computed (also appended to the store)."""

    run_id: str
    rows: list[Diagnostic] = field(default_factory=list)

    def value(self, model: str, metric: str, benchmark: str = "all", group: str = "all") -> float | None:
        for row in self.rows:
            if (row.model, row.metric, row.benchmark, row.group) == (model, metric, benchmark, group):
                return row.value
        return None


def scoring_engine_name(store: Store, label: str, engine: str | None = None) -> str:
    """The engine that scores `label`'s text: `engine` when given, else the one it was sampled with (the
    default engine for a label with no recorded run), so its options can be checked before anything runs."""
    run = store.manifest().runs.get(label)
    recorded = run.settings.engine if run is not None else None
    return engine or (recorded.engine if recorded else ENGINE)


def sampling_engine(store: Store, label: str, model: str | None = None, engine: str | None = None,
                    **options) -> Scorer:
    """An engine for scoring `label`'s text: the one it was sampled with (from the manifest), unless
    `model`/`engine` (a registry name) are given; `options` as for `make_engine` (template defaults to the
    sampled one)."""
    run = store.manifest().runs.get(label)
    if model is None and run is None:
        raise InputError(f"{store.root}: no sampling run of {label!r} is recorded; name its model with "
                         f"--scorer {label}=MODEL")
    recorded = run.settings.engine if run is not None else None
    engine = engine or (recorded.engine if recorded else ENGINE)  # engines record their registry name
    given = {name: recorded.option(name) if recorded else None for name in ("template", "base_url", "api")}
    given = {**given, "api_key": os.environ.get("OPENAI_API_KEY"), **options}
    if model is None and recorded.model is None:
        raise InputError(f"{store.root}: the run of {label!r} recorded no model; name it with --scorer {label}=MODEL")
    return make_engine(engine, model or recorded.model, **engine_options(engine, given))


def diagnose(store: Store, labels: Sequence[str] = ("base", "rl"), *, engines: EngineFactory | None = None,
             k: int = 32, traces: Sequence[Trace] | None = None, token_entropy_on: bool = True,
             batch: int = 16, progress: ProgressFactory = silent) -> Diagnosis:
    """Compute and store the diagnostics of each label; engines come from `engines(label)`
    (default: `sampling_engine`). Token entropy and perplexity need an engine; avg@k and
    answer entropy need only the verdicts."""
    engines = engines or (lambda label: sampling_engine(store, label))
    run = Diagnosis(dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ"))
    regions = _regions(store, labels) if traces else {}
    seen = {label: fingerprint(store, label) for label in labels}  # the verdicts the values are computed from
    for label in labels:
        stats = answer_stats_by_benchmark(store, label, k)
        run.rows += answer_rows(stats, run.run_id, verdicts_of({label: seen[label]}))
        if not (token_entropy_on or traces):
            continue
        engine = engines(label)
        try:
            if token_entropy_on:
                with progress(f"token entropy {label}") as bar:
                    found = token_entropy(store, label, engine, k=k, batch=batch, on_start=bar.start,
                                          on_progress=bar.advance)
                run.rows += [Diagnostic(label, run.run_id, "token_entropy", name, "all", e.value, e.tokens, e.k,
                                        "nats, exact" if e.exact else "nats, top-k approximation", k)
                             for name, e in found.items()]
            if traces:
                with progress(f"perplexity {label}") as bar:
                    found = trace_perplexity(store, label, engine, traces, regions, batch=batch,
                                             on_start=bar.start, on_progress=bar.advance)
                by_region = verdicts_of({name: seen[name] for name in labels})  # the regions come from both
                run.rows += [Diagnostic(label, run.run_id, "perplexity", "all", group, p.value, p.tokens, None,
                                        f"{p.traces} reference traces", None, by_region if group != "all" else None)
                             for group, p in found.items()]
        finally:
            engine.close()
    for label in labels:
        rows = [r for r in run.rows if r.model == label]
        store.write([Shard("diagnostics", label, to_table(rows, Diagnostic), f"diagnose-{run.run_id}")])
    return run


def load_diagnostics(store: Store) -> list[Diagnostic]:
    """The newest value of each (label, metric, benchmark, group) in the store's diagnostics table, avg@k and
    answer entropy recomputed where the verdicts changed since (`current_diagnostics`, which also names
    what it cannot recompute)."""
    return current_diagnostics(store).rows


def _regions(store: Store, labels: Sequence[str]) -> dict[str, str]:
    """Each task's support region (the counts only: no bootstrap or tests are needed here)."""
    from tether.metrics import support_regions

    if len(labels) != 2:
        raise InputError("perplexity by support region needs exactly two labels (base and RL)")
    base, rl = (query.task_counts(store, label) for label in labels)
    common = np.intersect1d(base.task_ids.astype(str), rl.task_ids.astype(str))
    if len(common) < max(len(base), len(rl)):
        raise InputError(f"{store.root}: {labels[0]!r} and {labels[1]!r} were not sampled on the same tasks; "
                         "perplexity by support region needs both on every task")
    base, rl = base.subset(common), rl.subset(common)
    return {str(t): str(r) for t, r in zip(base.task_ids, support_regions(base, rl).regions)}
