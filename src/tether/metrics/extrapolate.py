"""pass@k beyond the sampled k: a beta-binomial model of the tasks' success probabilities.

Per set of tasks (a benchmark), the per-task success probabilities p are modelled as draws from a
Beta(a, b), fitted by maximum likelihood on the beta-binomial counts (c of n per task). Each
task's posterior is then Beta(a + c, b + n - c), and its pass@K for any K is estimated by the
posterior mean of 1 - (1 - p)^K:

    1 - B(a + c, b + n - c + K) / B(a + c, b + n - c)

(exact, in log space). The mean over tasks is the extrapolated mean pass@K; a fresh run of K
samples solves a task with that probability, so the expected P/S/E/O at budget K follow from the
two models' per-task values (independent runs). Intervals: bootstrap over tasks with the fit held
fixed. A sum of a few betas fits real benchmarks only roughly (tasks that are never solved pull
a towards 0): extrapolated points are marked as such everywhere, and `benchmarks/extrapolation.py`
measures the error where the truth is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln


@dataclass(frozen=True)
class BetaFit:
    a: float
    b: float


def fit_beta_binomial(n, c) -> BetaFit:
    """Maximum-likelihood Beta(a, b) of the per-task success probabilities behind counts (n, c)."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)

    def negative_log_likelihood(log_ab):
        a, b = np.exp(log_ab)
        return -float(np.sum(betaln(a + c, b + n - c) - betaln(a, b)))

    share = (c.sum() + 0.5) / (n.sum() + 1)
    start = np.log([max(share, 1e-3), max(1 - share, 1e-3)])
    with np.errstate(over="ignore", invalid="ignore"):  # a flat likelihood (one task) runs a, b off to infinity
        found = minimize(negative_log_likelihood, start, method="Nelder-Mead",
                         options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})
    a, b = np.exp(found.x)
    return BetaFit(float(a), float(b))


def posterior_pass_at_k(n, c, fit: BetaFit, k_grid) -> np.ndarray:
    """Each task's posterior-mean pass@k (rows) at each k of the grid (columns)."""
    n, c = np.asarray(n, dtype=float)[:, None], np.asarray(c, dtype=float)[:, None]
    k = np.asarray(k_grid, dtype=float)[None, :]
    alpha, beta = fit.a + c, fit.b + n - c
    return -np.expm1(betaln(alpha, beta + k) - betaln(alpha, beta))


def expected_regions(base: np.ndarray, rl: np.ndarray) -> dict[str, np.ndarray]:
    """Expected P/S/E/O counts at each budget from each task's chance of being solved (tasks x k) by
    each model in a run of that budget."""
    return {region: values.sum(axis=0) for region, values in _per_task_regions(base, rl).items()}


@dataclass(frozen=True)
class Extrapolation:
    """Mean pass@k of both models beyond the sampled k, and the regions expected there."""

    k_grid: np.ndarray
    fits: dict[str, BetaFit]
    means: dict[str, np.ndarray]
    cis: dict[str, tuple[np.ndarray, np.ndarray]]
    regions: dict[str, np.ndarray]  # "P", "S", "E", "O" -> expected counts on k_grid
    region_cis: dict[str, tuple[np.ndarray, np.ndarray]]
    crossover_k: float | None = None  # where the base overtakes RL for good, sampled and extrapolated curves joined

    def as_dict(self) -> dict:
        keys = [str(int(k)) for k in self.k_grid]

        def curve(values):
            return {k: float(v) for k, v in zip(keys, values)}

        def band(bounds):
            return {k: [float(lo), float(hi)] for k, lo, hi in zip(keys, *bounds)}

        return {"extrapolated": True, "method": "beta-binomial fit per set of tasks, posterior-mean pass@k",
                "fits": {side: {"a": f.a, "b": f.b} for side, f in self.fits.items()},
                "pass_at_k": {side: curve(m) for side, m in self.means.items()},
                "pass_at_k_ci": {side: band(b) for side, b in self.cis.items()},
                "regions": {r: curve(v) for r, v in self.regions.items()},
                "regions_ci": {r: band(b) for r, b in self.region_cis.items()},
                "crossover_k": self.crossover_k}

    @classmethod
    def from_dict(cls, payload: dict) -> Extrapolation:
        keys = sorted(payload["pass_at_k"]["base"], key=int)

        def curve(values):
            return np.array([values[k] for k in keys], dtype=float)

        def band(bounds):
            return tuple(np.array([bounds[k][side] for k in keys], dtype=float) for side in (0, 1))

        return cls(np.array([int(k) for k in keys], dtype=np.int64),
                   {side: BetaFit(f["a"], f["b"]) for side, f in payload["fits"].items()},
                   {side: curve(v) for side, v in payload["pass_at_k"].items()},
                   {side: band(v) for side, v in payload["pass_at_k_ci"].items()},
                   {r: curve(v) for r, v in payload["regions"].items()},
                   {r: band(v) for r, v in payload["regions_ci"].items()}, payload.get("crossover_k"))


def extrapolate(base_n, base_c, rl_n, rl_c, k_grid, reps: int = 1000, confidence: float = 0.95,
                seed: int = 0) -> Extrapolation:
    """Mean pass@k of both models and the expected regions at each k of `k_grid` (beyond the samples)."""
    from tether.metrics.uncertainty import bootstrap_mean_replicates, percentile_interval

    fits = {"base": fit_beta_binomial(base_n, base_c), "rl": fit_beta_binomial(rl_n, rl_c)}
    per_task = {"base": posterior_pass_at_k(base_n, base_c, fits["base"], k_grid),
                "rl": posterior_pass_at_k(rl_n, rl_c, fits["rl"], k_grid)}
    tasks = len(per_task["base"])
    region_rows = _per_task_regions(per_task["base"], per_task["rl"])
    names = ["base", "rl", *region_rows]
    replicates = bootstrap_mean_replicates([per_task["base"], per_task["rl"], *region_rows.values()], reps, seed)
    bounds = {name: percentile_interval(r, confidence) for name, r in zip(names, replicates)}
    return Extrapolation(np.asarray(k_grid, dtype=np.int64), fits,
                         {side: v.mean(axis=0) for side, v in per_task.items()},
                         {side: bounds[side] for side in ("base", "rl")},
                         {region: values.sum(axis=0) for region, values in region_rows.items()},
                         {r: (bounds[r][0] * tasks, bounds[r][1] * tasks) for r in region_rows})


def _per_task_regions(base: np.ndarray, rl: np.ndarray) -> dict[str, np.ndarray]:
    return {"P": base * rl, "S": base * (1 - rl), "E": (1 - base) * rl, "O": (1 - base) * (1 - rl)}
