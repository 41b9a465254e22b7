"""One model's per-task success probabilities as draws from a Beta(a, b): the fit and each task's posterior.

Fitted by maximum likelihood on the beta-binomial counts (c of n per task). A task's posterior is then
Beta(a + c, b + n − c), and its pass@K for any K the posterior mean of 1 − (1 − p)^K,
1 − B(a + c, b + n − c + K)/B(a + c, b + n − c) (exact, in log space).

Used to plan a run from a pilot (`tether plan`, the adaptive rule's outlook), one model at a time. It
is not the extrapolation `tether compare` reports: two models' chances on one task are tied, and
multiplying two separate posteriors as if independent overstates S and E at a larger budget
(`tether.metrics.extrapolate` models them jointly). On sparse counts the fit can run off to a
degenerate a, b (e.g. a = 1514, b = 4.8e7 from one correct sample in 32,000).
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
    """Expected P/S/E/O counts at each budget from each task's chance of being solved (tasks x k) by each
    model, *as if the two were independent on a task* (see the module docstring)."""
    per_task = {"P": base * rl, "S": base * (1 - rl), "E": (1 - base) * rl, "O": (1 - base) * (1 - rl)}
    return {region: values.sum(axis=0) for region, values in per_task.items()}
