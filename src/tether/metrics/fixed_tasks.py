"""Intervals for this task set only (`--intervals fixed`): the noise of each task's samples, the tasks held fixed.

The default intervals (`uncertainty`) resample tasks: they cover the value on tasks *like these*, a
superpopulation, and most of their width is how much tasks differ. A researcher comparing two models on one
fixed benchmark asks something narrower: the value these very tasks would show with infinitely many samples
(mean pass@k: (1/T) Σ_t pass_k(p_t), p_t the task's true chance). Its uncertainty is only the binomial noise of
each task's n samples.

The interval is a parametric bootstrap of that noise, centred on its error (the basic bootstrap):

1. per replicate and task, a chance p* from the task's Jeffreys posterior Beta(c + 1/2, n − c + 1/2), so a
   task seen 0 of n times still varies (its chance is below ~1/n, not 0);
2. fresh counts c* ~ Binomial(n, p*) and the statistic on them, θ̂*, against its value at p*, θ*;
3. the replicate θ̂ − (θ̂* − θ*): the observed value minus one draw of the estimator's error, kept in the
   statistic's range ([0, 1]; NSCR [−1, 1]).

The unbiased pass@k estimator has error of mean 0 at any p*, so the replicates centre on θ̂ and the
prior's pull towards 1/2 (large at k ≈ n for a task never solved) moves no interval. For a rate the error
also carries the bias of a ratio, and subtracting it corrects that to first order. Both models are drawn
independently (their samples are), replicate by replicate, so differences of replicates are the difference's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tether.metrics.support import RATES, support_rates
from tether.metrics.uncertainty import Interval, percentile_interval

# per-task estimates on fresh counts: (n, c) -> tasks x columns
Estimate = Callable[[np.ndarray, np.ndarray], np.ndarray]
CHUNK = 1 << 20  # (replicates x tasks) entries per block of draws, bounding memory


def posterior_chances(rng, n: np.ndarray, c: np.ndarray, size: int) -> np.ndarray:
    """(size x tasks) draws of each task's chance from its Jeffreys posterior Beta(c + 1/2, n − c + 1/2)."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    return rng.beta(c + 0.5, n - c + 0.5, size=(size, len(n)))


def fixed_mean_replicates(models: list[tuple[np.ndarray, np.ndarray, Estimate, np.ndarray]], k_grid,
                          reps: int = 1000, seed: int = 0) -> list[np.ndarray]:
    """Replicate column means (reps x k) of each model's per-task pass@k under the noise of its samples, tasks
    held fixed (module docstring). `models`: per model (n, c, estimate, missing): `estimate(n, c)` the per-task
    values on `k_grid` the comparison averages, `missing` (tasks x k) where a task is left out of a column."""
    k = np.asarray(k_grid, dtype=float)
    rng = np.random.default_rng(seed)
    found: list[list[np.ndarray]] = [[] for _ in models]
    tasks = max(1, len(models[0][0]))
    chunk = max(1, min(reps, CHUNK // tasks))
    points = [_nanmean(np.where(missing, np.nan, estimate(np.asarray(n), np.asarray(c))), axis=0)
              for n, c, estimate, missing in models]
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        for out, (n, c, estimate, missing), point in zip(found, models, points):
            n = np.asarray(n)
            chance = posterior_chances(rng, n, c, size)
            drawn = rng.binomial(np.broadcast_to(n, chance.shape), chance)
            fresh = _on_distinct(estimate, np.tile(n, size), drawn.ravel()).reshape(size, len(n), len(k))
            truth = -np.expm1(k[None, None, :] * np.log1p(-np.minimum(chance, 1 - 1e-16))[:, :, None])
            error = _nanmean(np.where(missing[None], np.nan, fresh - truth), axis=1)
            out.append(np.clip(point[None, :] - error, 0.0, 1.0))  # a pass@k is in [0, 1]
    return [np.concatenate(parts) for parts in found]


def fixed_rate_replicates(base_n, base_c, rl_n, rl_c, reps: int = 1000, seed: int = 0,
                          budgets: tuple = (None, None)) -> dict[str, np.ndarray]:
    """Replicates of SRR/NDR/SDS/NSCR for these tasks under the noise of their samples (module docstring):
    the rate of the region counts on fresh counts against the rate of their expectations at the drawn chances
    (a task is covered in m samples with chance 1 − (1 − p)^m). A chance is drawn from the samples a task
    holds (n, c); `budgets` (per model, per task) are the samples a fresh run would draw, where they differ
    (an adaptive label's full budget: a task it stopped was solved)."""
    rng = np.random.default_rng(seed)
    sides = [(np.asarray(n), np.asarray(c), np.asarray(n if m is None else m))
             for (n, c), m in zip(((base_n, base_c), (rl_n, rl_c)), budgets)]
    point = support_rates(*_regions(sides[0][1] > 0, sides[1][1] > 0))
    tasks = max(1, len(sides[0][0]))
    chunk = max(1, min(reps, CHUNK // tasks))
    found: dict[str, list[np.ndarray]] = {name: [] for name in RATES}
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        covered, expected = [], []
        for n, c, budget in sides:
            chance = posterior_chances(rng, n, c, size)
            covered.append(rng.binomial(np.broadcast_to(budget, chance.shape), chance) > 0)
            expected.append(-np.expm1(budget[None, :] * np.log1p(-np.minimum(chance, 1 - 1e-16))))
        fresh = support_rates(*_regions(*covered, axis=1))
        truth = support_rates(*_regions(*expected, axis=1))
        for name in RATES:
            with np.errstate(invalid="ignore"):
                found[name].append(np.clip(point[name] - (fresh[name] - truth[name]), -1.0 if name == "nscr" else 0.0,
                                           1.0))  # the rate's range
    return {name: np.concatenate(parts) for name, parts in found.items()}


def fixed_rates(base_n, base_c, rl_n, rl_c, reps: int = 1000, confidence: float = 0.95, seed: int = 0,
                budgets: tuple = (None, None)) -> dict[str, Interval]:
    """The interval of each support rate for these tasks (`fixed_rate_replicates`), made to contain the
    observed rate as `bootstrap_rates`' do; NaN bounds where the rate is undefined."""
    replicates = fixed_rate_replicates(base_n, base_c, rl_n, rl_c, reps, seed, budgets)
    point = support_rates(*_regions(np.asarray(base_c) > 0, np.asarray(rl_c) > 0))
    out = {}
    for name in RATES:
        value = float(point[name])
        if np.isnan(value):
            out[name] = Interval(float("nan"), float("nan"))
            continue
        lo, hi = percentile_interval(replicates[name], confidence)
        out[name] = Interval(min(float(lo), value), max(float(hi), value))
    return out


def _on_distinct(estimate: Estimate, n: np.ndarray, c: np.ndarray) -> np.ndarray:
    """`estimate(n, c)`, computed once per distinct (n, c) pair: replicates repeat the same few counts."""
    width = int(n.max()) + 1 if n.size else 1
    pairs, inverse = np.unique(n.astype(np.int64) * width + c, return_inverse=True)
    return estimate(pairs // width, pairs % width)[inverse.ravel()]


def _regions(base, rl, axis=None) -> tuple:
    """P, S, E counts (or their expectations, for chances of being covered) summed over tasks."""
    base, rl = np.asarray(base, dtype=float), np.asarray(rl, dtype=float)
    return (base * rl).sum(axis=axis), (base * (1 - rl)).sum(axis=axis), ((1 - base) * rl).sum(axis=axis)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """The mean over present (non-NaN) entries; NaN where none is."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, values, 0.0).sum(axis=axis) / present.sum(axis=axis)
