"""The budget view of a comparison: mean pass@k of both models, their paired difference, the crossover.

Every interval comes from one paired bootstrap over tasks: each replicate draws the tasks once
and averages both models on the same draw, so the interval of the difference (RL - base) is the
bootstrap of the difference itself, much narrower than the two models' own intervals suggest
when the models agree task by task. The crossover is located on the shown grid plus every power
of two up to the fewest samples of any task, on the curves and on every replicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tether.metrics import (
    Crossover,
    bootstrap_mean_replicates,
    crossover_estimate,
    log_k_grid,
    pass_at_k_where_sampled,
)
from tether.metrics.uncertainty import percentile_interval
from tether.store.schema import TaskCounts


def settled_pass_at_k(n, c, k_grid) -> np.ndarray:
    """pass@k of an adaptive label's tasks (rows) at each k (columns): the unbiased estimator up to a task's
    own n; beyond it (a task the rule stopped, so solved) the plug-in 1 - (1 - c/n)^k. The rule stopped it
    only once its pass@k at the full budget was >= 1 - tol with 95% confidence, so at that budget the
    plug-in errs by at most tol there; in between it is an estimate."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    found = pass_at_k_where_sampled(n.astype(np.int64), c.astype(np.int64), k_grid)
    plug_in = -np.expm1(np.asarray(k_grid, dtype=float)[None, :] * np.log1p(-np.minimum(c / n, 1 - 1e-16))[:, None])
    return np.where(np.isnan(found), plug_in, found)


@dataclass(frozen=True)
class Curves:
    k_grid: np.ndarray
    means: dict[str, np.ndarray]  # "base", "rl" -> mean pass@k on k_grid
    cis: dict[str, tuple[np.ndarray, np.ndarray]]
    delta: np.ndarray  # RL - base on k_grid
    delta_ci: tuple[np.ndarray, np.ndarray]
    crossover: Crossover


def pass_at_k_curves(base: TaskCounts, rl: TaskCounts, grid: np.ndarray, reps: int, confidence: float,
                     seed: int, budgets: tuple[int | None, int | None] = (None, None)) -> Curves:
    """Mean pass@k curves of two aligned models on `grid`, with paired bootstrap intervals. `budgets`:
    a label sampled adaptively reaches its full budget k on every task (`settled_pass_at_k`)."""
    dense = np.union1d(grid, log_k_grid(int(grid.max())))
    shown = np.isin(dense, grid)
    reach = [np.maximum(model.n, k) if k else model.n for model, k in zip((base, rl), budgets)]
    beyond = dense[None, :] > np.minimum(*reach)[:, None]  # a task is in both curves up to the k both reach
    per_task = {side: np.where(beyond, np.nan, settled_pass_at_k(model.n, model.c, dense) if k
                               else pass_at_k_where_sampled(model.n, model.c, dense))
                for side, model, k in (("base", base, budgets[0]), ("rl", rl, budgets[1]))}
    means = {side: np.nanmean(values, axis=0) for side, values in per_task.items()}
    replicates = dict(zip(per_task, bootstrap_mean_replicates(list(per_task.values()), reps, seed)))
    cis = {side: tuple(bound[shown] for bound in percentile_interval(replicates[side], confidence))
           for side in per_task}
    delta_lo, delta_hi = percentile_interval(replicates["rl"] - replicates["base"], confidence)
    crossover = crossover_estimate(dense, replicates["base"], replicates["rl"], means["base"], means["rl"],
                                   delta_hi, confidence)
    delta = means["rl"] - means["base"]
    return Curves(grid, {side: m[shown] for side, m in means.items()}, cis, delta[shown],
                  (delta_lo[shown], delta_hi[shown]), crossover)
