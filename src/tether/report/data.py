"""What a report shows, gathered from a store: comparisons overall and per benchmark, the S and E
tasks with their tests and an example completion each, three tasks whose pass@k curves show the
three shapes, and the stored diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tether.compare import CompareOptions, Comparison, compare, compare_counts, subset_tasks
from tether.counts import connect, current_verdicts, quoted
from tether.diagnostics.answers import task_benchmarks
from tether.diagnostics.run import load_diagnostics
from tether.metrics import pass_at_k
from tether.records import Diagnostic
from tether.store import Store

EXAMPLE_CHARS = 2000


@dataclass(frozen=True)
class ShiftedTask:
    """A task in S (only the base solves it) or E (only RL does), with its evidence."""

    task_id: str
    benchmark: str
    region: str
    base: tuple[int, int]  # (correct, samples)
    rl: tuple[int, int]
    p_value: float
    q_value: float
    example: str | None  # a correct completion of the model that solved it


@dataclass(frozen=True)
class TaskCurve:
    """One task's pass@k curves, picked to show a shape: preservation, expansion or shrinkage."""

    shape: str
    task_id: str
    region: str
    k_grid: np.ndarray
    base: np.ndarray
    rl: np.ndarray


@dataclass
class ReportData:
    store: str
    labels: tuple[str, str]
    overall: Comparison
    benchmarks: dict[str, Comparison]
    benchmark_of: dict[str, str]
    shifted: list[ShiftedTask]
    curves: list[TaskCurve]
    diagnostics: list[Diagnostic] = field(default_factory=list)


def gather(store: str | Store, base_label: str = "base", rl_label: str = "rl",
           options: CompareOptions | None = None) -> ReportData:
    """Everything a report needs, from a store holding both models."""
    store = store if isinstance(store, Store) else Store(store)
    options = options or CompareOptions()
    overall = compare(store=store.root, base_label=base_label, rl_label=rl_label, options=options)
    benchmark_of = {str(t): "all" for t in overall.task_ids}
    benchmark_of.update(task_benchmarks(store, base_label))
    names = sorted({benchmark_of[str(t)] for t in overall.task_ids})
    benchmarks = {}
    for name in names:
        ids = np.array([t for t in overall.task_ids.astype(str) if benchmark_of[t] == name], dtype=object)
        benchmarks[name] = compare_counts(subset_tasks(overall.base, ids), subset_tasks(overall.rl, ids), options)
    return ReportData(str(store.root), (base_label, rl_label), overall, benchmarks, benchmark_of,
                      _shifted(store, overall, benchmark_of, base_label, rl_label), task_curves(overall),
                      load_diagnostics(store))


def task_curves(result: Comparison) -> list[TaskCurve]:
    """Up to three tasks, one per shape, each the clearest example of it in the store."""
    grid = result.k_grid
    base = pass_at_k(result.base.n, result.base.c, grid)
    rl = pass_at_k(result.rl.n, result.rl.c, grid)
    gap = rl - base
    picks = {
        # RL higher at small k, both (near) equal at the largest k
        "preservation": np.where((result.regions == "P") & (np.abs(gap[:, -1]) < 0.05), gap[:, 0], -np.inf),
        # RL above the base at every k (an E task first; else RL at least as high everywhere)
        "expansion": np.where(result.regions == "E", 2 + gap[:, -1],
                              np.where((gap.min(axis=1) >= 0) & (gap[:, -1] > 0), gap[:, -1], -np.inf)),
        # the base overtakes RL at large k
        "shrinkage": np.where(gap[:, -1] < 0, -gap[:, -1] + np.maximum(gap[:, 0], 0), -np.inf),
    }
    curves = []
    for shape, score in picks.items():
        best = int(np.argmax(score))
        if np.isfinite(score[best]):
            curves.append(TaskCurve(shape, str(result.task_ids[best]), str(result.regions[best]), grid,
                                    base[best], rl[best]))
    return curves


def _shifted(store: Store, result: Comparison, benchmark_of: dict[str, str], base_label: str,
             rl_label: str) -> list[ShiftedTask]:
    index = [i for i in np.argsort(result.q_values, kind="stable") if result.regions[i] in ("S", "E")]
    wanted = {str(result.task_ids[i]): (base_label if result.regions[i] == "S" else rl_label) for i in index}
    examples = {label: _examples(store, label, [t for t, who in wanted.items() if who == label])
                for label in (base_label, rl_label)}
    found = []
    for i in index:
        task = str(result.task_ids[i])
        found.append(ShiftedTask(task, benchmark_of.get(task, "all"), str(result.regions[i]),
                                 (int(result.base.c[i]), int(result.base.n[i])), (int(result.rl.c[i]), int(result.rl.n[i])),
                                 float(result.p_values[i]), float(result.q_values[i]), examples[wanted[task]].get(task)))
    return found


def _examples(store: Store, label: str, task_ids: list[str]) -> dict[str, str]:
    """The first correct completion of each task (by sample index), where samples have text."""
    if not task_ids or not store.shard_paths("samples", label):
        return {}
    wanted = ", ".join("'" + t.replace("'", "''") + "'" for t in task_ids)
    query = (f"SELECT v.task_id, s.completion FROM read_parquet('{quoted(store.glob('verdicts', label))}') v "
             f"JOIN read_parquet('{quoted(store.glob('samples', label))}') s USING (task_id, sample_idx) "
             f"WHERE v.correct AND v.task_id IN ({wanted}) AND s.completion IS NOT NULL "
             f"AND {current_verdicts(store, label)} "
             "QUALIFY row_number() OVER (PARTITION BY v.task_id ORDER BY v.sample_idx) = 1")
    with connect() as connection:
        return {task: text[:EXAMPLE_CHARS] for task, text in connection.sql(query).fetchall()}
