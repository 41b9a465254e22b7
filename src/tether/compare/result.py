"""What a comparison is: `Comparison` (regions, rates, curves, tests) and its documented JSON form.

`Comparison.to_dict()` is the JSON form of docs/compare.md (NaN written as null);
`save_comparison` writes it as ``compare.json`` with a per-task ``tasks.csv``.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tether import defaults
from tether.compare.sensitivity import Sensitivity
from tether.errors import InputError, written_to
from tether.metrics import ChanceLevel, ChanceLevels, Crossover, Extrapolation, Interval, RegionCounts
from tether.metrics.uncertainty import json_number
from tether.store.schema import RewardHackCounts, TaskCounts

if TYPE_CHECKING:
    from tether.compare.conclusion import Conclusion

SETTINGS = ("bootstrap_reps", "confidence", "alpha", "seed")
# what an interval covers (`CompareOptions.intervals`), in words: tasks like these, or these tasks' sampling noise
INTERVALS = {"tasks": "over tasks like these (tasks resampled)",
             "fixed": "for these tasks only (each task's samples resampled, tasks held fixed)"}


@dataclass(frozen=True)
class CompareOptions:
    """Knobs of a comparison. The owner of their defaults (the numbers in `tether.defaults`): the experiment
    file's [compare] section and `tether compare`/`tether report` take theirs from here; the section checks
    the ranges."""

    k_grid: tuple[int, ...] | None = None
    allow_missing: bool = False
    bootstrap_reps: int = defaults.BOOTSTRAP_REPS
    confidence: float = defaults.CONFIDENCE
    alpha: float = defaults.ALPHA
    seed: int = 0
    match_budget: bool = True  # compare both models on each task's first min(n_base, n_rl) samples
    # doublings of k beyond the grid's largest, estimated from a joint model of both models' chances per task
    # (`tether.metrics.extrapolate`; 0: none)
    extrapolate: int = defaults.EXTRAPOLATE
    intervals: str = defaults.INTERVALS  # what an interval covers: "tasks" like these (resampled), or this "fixed" task set

    def __post_init__(self):
        if self.intervals not in INTERVALS:
            raise InputError(f"intervals must be one of {', '.join(INTERVALS)}, got {self.intervals!r}")


@dataclass(frozen=True)
class Rate:
    """A support rate with its bootstrap interval and, when undefined, why."""

    value: float
    ci: Interval
    note: str | None = None


@dataclass(frozen=True)
class SelfComparison:
    """One model against itself: its even- and odd-indexed samples compared as if two models.

    The empirical noise floor: what S and E look like when nothing changed, at the comparison's budget where
    the label holds twice it, else at half of what it holds."""

    label: str
    samples_per_half: int  # median over tasks
    counts: RegionCounts
    s: ChanceLevel  # observed S and E of the halves beside their own chance level
    e: ChanceLevel
    comparison_samples: int | None = None  # median samples per model of the comparison beside it (None: alone)

    def as_dict(self) -> dict:
        return {"label": self.label, "samples_per_half": self.samples_per_half,
                "comparison_samples": self.comparison_samples, "counts": self.counts.as_dict(),
                "S": self.s.as_dict(), "E": self.e.as_dict()}

    @classmethod
    def from_dict(cls, payload: dict) -> SelfComparison:
        return cls(payload["label"], int(payload["samples_per_half"]), RegionCounts(**payload["counts"]),
                   ChanceLevel.from_dict(payload["S"]), ChanceLevel.from_dict(payload["E"]),
                   payload.get("comparison_samples"))


@dataclass(repr=False)
class Comparison:
    """Everything `tether compare` reports, as arrays aligned on `task_ids`; `tasks_frame()` is the
    per-task table as a pandas DataFrame."""

    base: TaskCounts
    rl: TaskCounts
    regions: np.ndarray
    counts: RegionCounts
    rates: dict[str, Rate]
    k_grid: np.ndarray
    pass_at_k: dict[str, np.ndarray]
    pass_at_k_ci: dict[str, tuple[np.ndarray, np.ndarray]]
    crossover_k: float | None
    delta_pass_at_k: np.ndarray  # RL - base on k_grid
    delta_pass_at_k_ci: tuple[np.ndarray, np.ndarray]  # paired, pointwise at each k
    crossover: Crossover  # the crossover with its interval, and every crossing
    p_values: np.ndarray
    q_values: np.ndarray
    miss_probability: np.ndarray
    significant: dict[str, int]
    chance: ChanceLevels  # S, E and S - E beside what two identical models would give
    tested: int  # tasks with at least one success: the family of the per-task tests
    fewest_successes: dict[str, int | None]  # successes an S (E) task needs to ever reach p <= alpha
    options: CompareOptions
    warnings: list[str] = field(default_factory=list)
    self_comparison: SelfComparison | None = None  # when asked for (`--self LABEL`)
    extrapolation: Extrapolation | None = None  # mean pass@k and regions beyond the sampled k (estimates)
    provenance: dict[str, dict] = field(default_factory=dict)  # "base"/"rl" -> what produced it (compare.provenance)
    # "base"/"rl" -> its current verdicts and those signalling a reward hack (two labels of one store; else empty)
    reward_hacks: dict[str, RewardHackCounts] = field(default_factory=dict)
    # the regions under each verdict set (`--verifiers`, or every set both labels have in a store's comparison)
    sensitivity: Sensitivity | None = None
    # the simultaneous band of RL - base over k_grid: every "beyond chance" about the difference rests on it
    delta_pass_at_k_band: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def task_ids(self) -> np.ndarray:
        return self.base.task_ids

    def __repr__(self) -> str:
        counts = " ".join(f"{region}={value}" for region, value in self.counts.as_dict().items())
        return (f"Comparison({self.base.label!r} vs {self.rl.label!r}: {len(self.task_ids)} tasks, {counts}, "
                f"crossover_k={self.crossover_k}, warnings={len(self.warnings)})")

    @property
    def band(self) -> tuple[np.ndarray, np.ndarray]:
        """The simultaneous band of RL - base over the k grid (NaN when read from an older compare.json)."""
        if self.delta_pass_at_k_band is None:
            return np.full(len(self.k_grid), np.nan), np.full(len(self.k_grid), np.nan)
        return self.delta_pass_at_k_band

    def beyond_band(self) -> dict[str, np.ndarray]:
        """The k where each model is ahead beyond the simultaneous band: "rl" (band above 0), "base" (below)."""
        lo, hi = self.band
        return {"rl": self.k_grid[lo > 0], "base": self.k_grid[hi < 0]}

    @property
    def conclusion(self) -> Conclusion:
        """The answer in words, with its chance context and power (`tether.compare.conclusion`)."""
        from tether.compare.conclusion import conclude

        return conclude(self)

    def tasks_frame(self):
        """One row per task (region, counts, exact test, BH q-value, miss probability) as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame({"task_id": self.task_ids.astype(str), "region": self.regions.astype(str),
                             "base_n": self.base.n, "base_c": self.base.c, "rl_n": self.rl.n, "rl_c": self.rl.c,
                             "p_value": self.p_values, "q_value": self.q_values,
                             "miss_probability": self.miss_probability})

    def to_dict(self) -> dict:
        """The JSON form documented in docs/compare.md."""
        curves = {
            label: {str(int(k)): json_number(v) for k, v in zip(self.k_grid, self.pass_at_k[label])}
            for label in ("base", "rl")
        }
        curve_cis = {
            label: {str(int(k)): [json_number(lo), json_number(hi)] for k, lo, hi in zip(self.k_grid, *self.pass_at_k_ci[label])}
            for label in ("base", "rl")
        }
        return {
            "conclusion": self.conclusion.as_dict(),  # derived: from_dict recomputes it
            "counts": self.counts.as_dict(),
            "metrics": {
                name: {"value": json_number(rate.value), "ci": [json_number(rate.ci.lo), json_number(rate.ci.hi)], "note": rate.note}
                for name, rate in self.rates.items()
            },
            "pass_at_k": curves,
            "pass_at_k_ci": curve_cis,
            "crossover_k": json_number(self.crossover_k),
            "delta_pass_at_k": {str(int(k)): json_number(v) for k, v in zip(self.k_grid, self.delta_pass_at_k)},
            "delta_pass_at_k_ci": {str(int(k)): [json_number(lo), json_number(hi)]
                                   for k, lo, hi in zip(self.k_grid, *self.delta_pass_at_k_ci)},
            "delta_pass_at_k_band": {str(int(k)): [json_number(lo), json_number(hi)]
                                     for k, lo, hi in zip(self.k_grid, *self.band)},
            "intervals": self.options.intervals,
            "crossover": self.crossover.as_dict(),
            "significant": dict(self.significant),
            "chance": {**self.chance.as_dict(), **self._self_dict(), "tests": {
                "method": "exact test of each task's region (Fisher, conditional on the task's successes; two-sided: "
                          "all successes to one model or the other); Benjamini-Hochberg over every task with at "
                          "least one success, S and E together",
                "tested": self.tested, "fewest_successes": dict(self.fewest_successes)}},
            "n_tasks": len(self.task_ids),
            "sources": {"base": self.base.source, "rl": self.rl.source},
            "labels": {"base": self.base.label, "rl": self.rl.label},
            "settings": {
                **{name: getattr(self.options, name) for name in SETTINGS},
                "k_grid": list(self.options.k_grid) if self.options.k_grid else None,
                "allow_missing": self.options.allow_missing,
                "match_budget": self.options.match_budget,
                "extrapolate": self.options.extrapolate,
                "intervals": self.options.intervals,
            },
            "extrapolation": self.extrapolation.as_dict() if self.extrapolation else None,
            "warnings": list(self.warnings),
            "provenance": self.provenance,
            **({"reward_hacks": {side: counts.as_dict() for side, counts in self.reward_hacks.items()}}
               if self.reward_hacks else {}),
            **({"sensitivity": self.sensitivity.to_dict()} if self.sensitivity is not None else {}),
            "tasks": [self._task_dict(i) for i in range(len(self.task_ids))],
        }

    def _self_dict(self) -> dict:
        return {"self": self.self_comparison.as_dict()} if self.self_comparison else {}

    @classmethod
    def from_dict(cls, payload: dict) -> Comparison:
        """The comparison a `to_dict()` describes (as read back from compare.json)."""
        tasks = payload["tasks"]
        ids = np.array([t["task_id"] for t in tasks], dtype=object)

        def counts(side: str) -> TaskCounts:
            n = np.array([t[side]["n"] for t in tasks], dtype=np.int64)
            c = np.array([t[side]["c"] for t in tasks], dtype=np.int64)
            return TaskCounts(payload["labels"][side], payload["sources"][side], ids, n, c)

        def column(name: str) -> np.ndarray:
            return np.array([_float(t[name]) for t in tasks], dtype=float)

        grid = np.array(sorted(int(k) for k in payload["pass_at_k"]["base"]), dtype=np.int64)
        settings = payload["settings"]
        options = CompareOptions(tuple(settings["k_grid"]) if settings.get("k_grid") else None,
                                 bool(settings.get("allow_missing", False)), *(settings[s] for s in SETTINGS),
                                 match_budget=bool(settings.get("match_budget", True)),
                                 extrapolate=int(settings.get("extrapolate", 4)),
                                 intervals=settings.get("intervals", "tasks"))
        return cls(
            base=counts("base"),
            rl=counts("rl"),
            regions=np.array([t["region"] for t in tasks], dtype="<U1"),
            counts=RegionCounts(**payload["counts"]),
            rates={name: Rate(_float(m["value"]), Interval(*map(_float, m["ci"])), m["note"])
                   for name, m in payload["metrics"].items()},
            k_grid=grid,
            pass_at_k={side: np.array([_float(curve[str(k)]) for k in grid])
                       for side, curve in payload["pass_at_k"].items()},
            pass_at_k_ci={side: tuple(np.array([_float(band[str(k)][side]) for k in grid]) for side in (0, 1))
                          for side, band in payload["pass_at_k_ci"].items()},
            crossover_k=None if payload["crossover_k"] is None else float(payload["crossover_k"]),
            delta_pass_at_k=np.array([_float(payload["delta_pass_at_k"][str(k)]) for k in grid]),
            delta_pass_at_k_ci=tuple(np.array([_float(payload["delta_pass_at_k_ci"][str(k)][side]) for k in grid])
                                     for side in (0, 1)),
            crossover=Crossover.from_dict(payload["crossover"]),
            p_values=column("p_value"),
            q_values=column("q_value"),
            miss_probability=column("miss_probability"),
            significant=dict(payload["significant"]),
            chance=ChanceLevels.from_dict(payload["chance"]),
            tested=int(payload["chance"]["tests"]["tested"]),
            fewest_successes=dict(payload["chance"]["tests"]["fewest_successes"]),
            options=options,
            warnings=list(payload["warnings"]),
            self_comparison=SelfComparison.from_dict(payload["chance"]["self"]) if "self" in payload["chance"] else None,
            extrapolation=Extrapolation.from_dict(payload["extrapolation"]) if payload.get("extrapolation") else None,
            provenance=dict(payload.get("provenance") or {}),
            reward_hacks={side: RewardHackCounts(**counts) for side, counts in payload.get("reward_hacks", {}).items()},
            sensitivity=Sensitivity.from_dict(payload["sensitivity"]) if payload.get("sensitivity") else None,
            delta_pass_at_k_band=tuple(np.array([_float(payload["delta_pass_at_k_band"][str(k)][side]) for k in grid])
                                       for side in (0, 1)) if "delta_pass_at_k_band" in payload else None,
        )

    def _task_dict(self, i: int) -> dict:
        return {
            "task_id": str(self.task_ids[i]),
            "region": str(self.regions[i]),
            "base": {"n": int(self.base.n[i]), "c": int(self.base.c[i])},
            "rl": {"n": int(self.rl.n[i]), "c": int(self.rl.c[i])},
            "p_value": json_number(self.p_values[i]),
            "q_value": json_number(self.q_values[i]),
            "miss_probability": json_number(self.miss_probability[i]),
        }


def _float(value) -> float:
    return math.nan if value is None else float(value)


def natural_key(text: str) -> list:
    """A sort key that orders the numbers inside ids by value: 1/2 before 1/10."""
    import re

    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(text)) if part]


def save_comparison(comparison: Comparison, out: str | Path, payload: dict | None = None) -> list[Path]:
    """Write `compare.json` (the JSON form; `payload` instead where given: a store's comparison, with its
    benchmarks) and `tasks.csv` (one row per task) into `out`, each whole or not at all."""
    import csv
    import json

    folder = Path(out)
    with written_to(folder):
        folder.mkdir(parents=True, exist_ok=True)
    payload = payload if payload is not None else comparison.to_dict()
    json_path, csv_path = folder / "compare.json", folder / "tasks.csv"
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["task_id", "region", "base_n", "base_c", "rl_n", "rl_c", "p_value", "q_value", "miss_probability"])
    for task in sorted(payload["tasks"], key=lambda t: natural_key(t["task_id"])):
        writer.writerow([
            task["task_id"], task["region"], task["base"]["n"], task["base"]["c"], task["rl"]["n"],
            task["rl"]["c"], task["p_value"], task["q_value"], task["miss_probability"],
        ])
    replace_text(json_path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
    replace_text(csv_path, table.getvalue())
    return [json_path, csv_path]


def replace_text(path: Path, text: str) -> None:
    """`path` holding `text`, or, if the disk refuses the write, still what it held (one line names it):
    written beside it, then renamed over it."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with written_to(path):
            with open(temporary, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
