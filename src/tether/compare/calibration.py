"""What a comparison calls beyond chance when nothing changed: its false alarms and coverage, simulated.

`null_rates` runs `compare_counts` (the path every comparison takes) on two models with the *same* chance
on every task (`benchmark_mix`: a third of the tasks moderate, a third rare, a third never solved) and
counts, over runs, the share in which the comparison says more than chance allows:

- ``delta band``: the simultaneous band of Δpass@k excludes 0 at some k (target: at most 1 − confidence);
- ``delta pointwise``: some pointwise interval does (what the band replaces; shown beside it, no target);
- ``crossover``: a crossover is printed (target: at most 1 − confidence);
- ``S or E``: the S or the E excess is beyond chance after Holm over the two (target: at most alpha);
- ``task``: some task is significant at q <= alpha (target: at most alpha);
- ``NSCR``: NSCR's interval excludes 0, the identical models' value when budgets are matched (target: at most
  1 − confidence; with unequal budgets not matched it is biased and the comparison warns);
- ``coverage``: the share of runs whose interval of the base's mean pass@k at the largest k holds the truth
  its interval is for: over tasks like these (the mix's mean), or for these tasks (their own mean) with
  ``intervals="fixed"`` (target: at least the confidence).

`benchmarks/calibration.py` prints these at scale; `tests/compare/test_calibration.py` runs a small size.
Nothing here is used by a comparison itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tether.compare.result import CompareOptions
from tether.compare.run import compare_counts
from tether.store.schema import TaskCounts

RATES = ("delta band", "delta pointwise", "crossover", "S or E", "task", "NSCR", "coverage")


def benchmark_mix(rng, tasks: int) -> np.ndarray:
    """Per-task chances like a benchmark's: a third Beta(0.6, 2), a third rare (1e-4..1e-2), a third never."""
    kind = rng.integers(0, 3, tasks)
    return np.where(kind == 0, rng.beta(0.6, 2.0, tasks), np.where(kind == 1, 10 ** rng.uniform(-4, -2, tasks), 0.0))


def mix_pass_at_k(k: int, draws: int = 2_000_000, seed: int = 12345) -> float:
    """The mean pass@k of `benchmark_mix` over its population of tasks (Monte Carlo, error ~3e-4)."""
    p = benchmark_mix(np.random.default_rng(seed), draws)
    return float(np.mean(-np.expm1(k * np.log1p(-p))))


def null_rates(tasks: int = 500, budgets: tuple[int, int] = (256, 256), runs: int = 200,
               options: CompareOptions | None = None, seed: int = 0) -> dict[str, float]:
    """The shares of `runs` null comparisons (module docstring) at these budgets (base, RL samples per task)."""
    options = options or CompareOptions()
    options = dataclasses.replace(options, extrapolate=0)  # estimates beyond the samples: not tested here
    rng = np.random.default_rng(seed)
    ids = np.array([f"t{i:05d}" for i in range(tasks)], dtype=object)
    top = min(budgets)  # the default k grid ends at the budget both models have
    whole = mix_pass_at_k(top) if options.intervals == "tasks" else None
    found = dict.fromkeys(RATES, 0.0)
    for _ in range(runs):
        p = benchmark_mix(rng, tasks)
        counts = [TaskCounts("base" if i == 0 else "rl", "simulated", ids, np.full(tasks, n), rng.binomial(n, p))
                  for i, n in enumerate(budgets)]
        result = compare_counts(*counts, dataclasses.replace(options, seed=int(rng.integers(2**31))))
        lo, hi = result.band
        found["delta band"] += bool(np.any((lo > 0) | (hi < 0)))
        lo, hi = result.delta_pass_at_k_ci
        found["delta pointwise"] += bool(np.any((lo > 0) | (hi < 0)))
        found["crossover"] += result.crossover.k is not None
        found["S or E"] += min(result.chance.family.values()) <= options.alpha
        found["task"] += sum(result.significant.values()) > 0
        nscr = result.rates["nscr"].ci
        found["NSCR"] += not nscr.lo <= 0 <= nscr.hi
        k = int(result.k_grid[-1])
        truth = whole if whole is not None and k == top else float(np.mean(-np.expm1(k * np.log1p(-p))))
        lo, hi = (bound[-1] for bound in result.pass_at_k_ci["base"])
        found["coverage"] += bool(lo <= truth <= hi)
    return {name: value / runs for name, value in found.items()}
