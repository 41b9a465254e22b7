"""Comparing a base model with its RL-tuned child: regions, rates, CIs, tests, budget view.

`compare(base=..., rl=...)` reads per-task counts of both models (from stores
or files), aligns them by task id and computes everything `tether compare`
shows: P/S/E/O, SRR/NDR/SDS/NSCR with bootstrap CIs, per-task Fisher tests
with Benjamini-Hochberg control, mean pass@k curves and the crossover k.
`Comparison.to_dict()` is the documented JSON form (NaN written as null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.counts import TaskCounts, load_counts
from tether.errors import InputError
from tether.metrics import (
    RATES,
    Interval,
    RegionCounts,
    bootstrap_means,
    bootstrap_rates,
    crossover_k,
    log_k_grid,
    pass_at_k,
    shift_tests,
    support_regions,
)


@dataclass(frozen=True)
class CompareOptions:
    """Knobs of a comparison; the defaults are the documented ones."""

    k_grid: tuple[int, ...] | None = None
    allow_missing: bool = False
    bootstrap_reps: int = 1000
    confidence: float = 0.95
    alpha: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class Rate:
    """A support rate with its bootstrap interval and, when undefined, why."""

    value: float
    ci: Interval
    note: str | None = None


@dataclass
class Comparison:
    """Everything `tether compare` reports, as arrays aligned on `task_ids`."""

    base: TaskCounts
    rl: TaskCounts
    regions: np.ndarray
    counts: RegionCounts
    rates: dict[str, Rate]
    k_grid: np.ndarray
    pass_at_k: dict[str, np.ndarray]
    pass_at_k_ci: dict[str, tuple[np.ndarray, np.ndarray]]
    crossover_k: float | None
    p_values: np.ndarray
    q_values: np.ndarray
    miss_probability: np.ndarray
    significant: dict[str, int]
    options: CompareOptions
    warnings: list[str] = field(default_factory=list)

    @property
    def task_ids(self) -> np.ndarray:
        return self.base.task_ids

    def to_dict(self) -> dict:
        """The JSON form documented in docs/compare.md."""
        curves = {
            label: {str(int(k)): _num(v) for k, v in zip(self.k_grid, self.pass_at_k[label])}
            for label in ("base", "rl")
        }
        curve_cis = {
            label: {str(int(k)): [_num(lo), _num(hi)] for k, lo, hi in zip(self.k_grid, *self.pass_at_k_ci[label])}
            for label in ("base", "rl")
        }
        return {
            "counts": self.counts.as_dict(),
            "metrics": {
                name: {"value": _num(rate.value), "ci": [_num(rate.ci.lo), _num(rate.ci.hi)], "note": rate.note}
                for name, rate in self.rates.items()
            },
            "pass_at_k": curves,
            "pass_at_k_ci": curve_cis,
            "crossover_k": _num(self.crossover_k),
            "significant": dict(self.significant),
            "n_tasks": len(self.task_ids),
            "sources": {"base": self.base.source, "rl": self.rl.source},
            "labels": {"base": self.base.label, "rl": self.rl.label},
            "settings": {
                "bootstrap_reps": self.options.bootstrap_reps,
                "confidence": self.options.confidence,
                "alpha": self.options.alpha,
                "seed": self.options.seed,
            },
            "warnings": list(self.warnings),
            "tasks": [self._task_dict(i) for i in range(len(self.task_ids))],
        }

    def _task_dict(self, i: int) -> dict:
        return {
            "task_id": str(self.task_ids[i]),
            "region": str(self.regions[i]),
            "base": {"n": int(self.base.n[i]), "c": int(self.base.c[i])},
            "rl": {"n": int(self.rl.n[i]), "c": int(self.rl.c[i])},
            "p_value": _num(self.p_values[i]),
            "q_value": _num(self.q_values[i]),
            "miss_probability": _num(self.miss_probability[i]),
        }


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def compare(
    base: str | Path | None = None,
    rl: str | Path | None = None,
    *,
    store: str | Path | None = None,
    base_label: str | None = None,
    rl_label: str | None = None,
    options: CompareOptions | None = None,
) -> Comparison:
    """Compare two models' graded samples.

    Either give one `store` holding both models (labels default to 'base' and
    'rl'), or `base` and `rl` sources (stores or JSONL/Parquet files).
    """
    if store is not None:
        base, rl = base or store, rl or store
    if base is None or rl is None:
        raise InputError("compare needs a store holding both models, or both --base and --rl")
    base_counts = load_counts(base, base_label, "base")
    rl_counts = load_counts(rl, rl_label, "rl")
    return compare_counts(base_counts, rl_counts, options or CompareOptions())


def compare_counts(base: TaskCounts, rl: TaskCounts, options: CompareOptions) -> Comparison:
    """The comparison of two already-counted models."""
    base, rl, warnings = align(base, rl, options.allow_missing)
    support = support_regions(base, rl)
    regions, counts = support.regions, support.counts
    cis = bootstrap_rates(counts, options.bootstrap_reps, options.confidence, options.seed)
    rates = {name: Rate(support.rates[name], cis[name], support.notes.get(name)) for name in RATES}
    grid = _k_grid(base, rl, options.k_grid)
    # the crossover is located on the shown grid plus every power of two up to min n
    dense = np.union1d(grid, log_k_grid(int(min(base.n.min(), rl.n.min()))))
    shown = np.isin(dense, grid)
    curves, dense_curves, curve_cis = {}, {}, {}
    for label, model in (("base", base), ("rl", rl)):
        per_task = pass_at_k(model.n, model.c, dense)
        dense_curves[label] = per_task.mean(axis=0)
        curves[label] = dense_curves[label][shown]
        curve_cis[label] = bootstrap_means(per_task[:, shown], options.bootstrap_reps, options.confidence, options.seed)
    tests = shift_tests(regions, base.n, base.c, rl.n, rl.c)
    return Comparison(
        base=base,
        rl=rl,
        regions=regions,
        counts=counts,
        rates=rates,
        k_grid=grid,
        pass_at_k=curves,
        pass_at_k_ci=curve_cis,
        crossover_k=crossover_k(dense, dense_curves["base"], dense_curves["rl"]),
        p_values=tests.p_values,
        q_values=tests.q_values,
        miss_probability=tests.miss_probability,
        significant=tests.significant(regions, options.alpha),
        options=options,
        warnings=warnings,
    )


def align(base: TaskCounts, rl: TaskCounts, allow_missing: bool) -> tuple[TaskCounts, TaskCounts, list[str]]:
    """Restrict both to their common tasks, in one order; missing tasks are an error unless allowed."""
    common = np.intersect1d(base.task_ids.astype(str), rl.task_ids.astype(str))
    warnings = []
    for model, other in ((base, rl), (rl, base)):
        only = np.setdiff1d(model.task_ids.astype(str), other.task_ids.astype(str))
        if only.size == 0:
            continue
        shown = ", ".join(map(str, only[:5])) + (", ..." if only.size > 5 else "")
        message = f"{only.size} tasks of {model.label!r} ({model.source}) are missing from {other.label!r}: {shown}"
        if not allow_missing:
            raise InputError(message + " (use --allow-missing to drop them)")
        warnings.append(message + "; dropped")
    if common.size == 0:
        raise InputError(f"{base.source} and {rl.source} share no task ids")
    return subset_tasks(base, common), subset_tasks(rl, common), warnings


def subset_tasks(counts: TaskCounts, ids: np.ndarray) -> TaskCounts:
    """The counts of the tasks `ids`, in that order."""
    index = {task: i for i, task in enumerate(counts.task_ids.astype(str))}
    rows = np.array([index[task] for task in ids], dtype=np.int64)
    return TaskCounts(counts.label, counts.source, ids.astype(object), counts.n[rows], counts.c[rows])


def _k_grid(base: TaskCounts, rl: TaskCounts, requested: tuple[int, ...] | None) -> np.ndarray:
    max_k = int(min(base.n.min(), rl.n.min()))
    if requested is None:
        return log_k_grid(max_k)
    too_big = [k for k in requested if k > max_k]
    if too_big:
        raise InputError(f"k={too_big[0]} exceeds the fewest samples of any task ({max_k}); pass@k needs k <= n")
    if any(k < 1 for k in requested):
        raise InputError("every k in the grid must be >= 1")
    return np.array(sorted(set(requested)), dtype=np.int64)


def save_comparison(comparison: Comparison, out: str | Path) -> list[Path]:
    """Write `compare.json` (the JSON form) and `tasks.csv` (one row per task) into `out`."""
    import csv
    import json

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    payload = comparison.to_dict()
    json_path = folder / "compare.json"
    json_path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    csv_path = folder / "tasks.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task_id", "region", "base_n", "base_c", "rl_n", "rl_c", "p_value", "q_value", "miss_probability"])
        for task in payload["tasks"]:
            writer.writerow([
                task["task_id"], task["region"], task["base"]["n"], task["base"]["c"], task["rl"]["n"],
                task["rl"]["c"], task["p_value"], task["q_value"], task["miss_probability"],
            ])
    return [json_path, csv_path]
