"""The budget view of a comparison: mean pass@k of both models, their paired difference, the crossover.

Every interval comes from one set of paired replicates: by default a bootstrap over tasks (each
replicate draws the tasks once and averages both models on the same draw: the value on tasks like
these), or with ``intervals="fixed"`` the noise of each task's samples on these very tasks
(`tether.metrics.fixed_tasks`). The difference (RL - base) is taken replicate by replicate, so its
interval is much narrower than the two models' own intervals suggest when the models agree task by
task. The difference gets two intervals: pointwise at each k, and a simultaneous band that holds at
every k of the shown grid at once (`simultaneous_band`), which is the one any "beyond chance" about it
rests on: nine pointwise 95 % intervals side by side exclude 0 somewhere in about a fifth of runs of
two identical models. The crossover is located on the shown grid plus every power of two up to the
fewest samples of any task, on the curves and on every replicate, and detected only where the band
shows the base ahead at the largest k (`tether.metrics.crossing`).
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
from tether.metrics.fixed_tasks import fixed_mean_replicates
from tether.metrics.uncertainty import percentile_interval, simultaneous_band
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
    delta_ci: tuple[np.ndarray, np.ndarray]  # pointwise
    delta_band: tuple[np.ndarray, np.ndarray]  # simultaneous over k_grid
    crossover: Crossover


def pass_at_k_curves(base: TaskCounts, rl: TaskCounts, grid: np.ndarray, reps: int, confidence: float,
                     seed: int, budgets: tuple[int | None, int | None] = (None, None),
                     intervals: str = "tasks") -> Curves:
    """Mean pass@k curves of two aligned models on `grid`, with paired intervals over tasks like these
    (`intervals="tasks"`) or over the sampling noise of these tasks (`"fixed"`). `budgets`: a label sampled
    adaptively reaches its full budget k on every task (`settled_pass_at_k`)."""
    dense = np.union1d(grid, log_k_grid(int(grid.max())))
    shown = np.isin(dense, grid)
    reach = [np.maximum(model.n, k) if k else model.n for model, k in zip((base, rl), budgets)]
    beyond = dense[None, :] > np.minimum(*reach)[:, None]  # a task is in both curves up to the k both reach
    estimates = {side: _estimate(k, dense) for side, k in (("base", budgets[0]), ("rl", budgets[1]))}
    per_task = {side: np.where(beyond, np.nan, estimates[side](model.n, model.c))
                for side, model in (("base", base), ("rl", rl))}
    means = {side: np.nanmean(values, axis=0) for side, values in per_task.items()}
    if intervals == "fixed":
        found = fixed_mean_replicates([(model.n, model.c, estimates[side], np.isnan(per_task[side]))
                                       for side, model in (("base", base), ("rl", rl))], dense, reps, seed)
    else:
        found = bootstrap_mean_replicates(list(per_task.values()), reps, seed)
    replicates = dict(zip(per_task, found))
    cis = {side: tuple(bound[shown] for bound in percentile_interval(replicates[side], confidence))
           for side in per_task}
    difference = replicates["rl"] - replicates["base"]
    delta = means["rl"] - means["base"]
    delta_lo, delta_hi = percentile_interval(difference, confidence)
    band = tuple(np.full(len(dense), np.nan) for _ in range(2))  # the family: the shown grid
    for whole, part in zip(band, simultaneous_band(difference[:, shown], delta[shown], confidence)):
        whole[shown] = part
    crossover = crossover_estimate(dense, replicates["base"], replicates["rl"], means["base"], means["rl"],
                                   band, confidence)
    return Curves(grid, {side: m[shown] for side, m in means.items()}, cis, delta[shown],
                  (delta_lo[shown], delta_hi[shown]), (band[0][shown], band[1][shown]), crossover)


def _estimate(budget: int | None, k_grid: np.ndarray):
    """A label's per-task pass@k on `k_grid` from (n, c): the unbiased estimator where sampled, NaN beyond a
    task's n; a label sampled adaptively (`budget`) reaches it on every task (`settled_pass_at_k`)."""
    if budget:
        return lambda n, c: settled_pass_at_k(n, c, k_grid)
    return lambda n, c: pass_at_k_where_sampled(n, c, k_grid)
