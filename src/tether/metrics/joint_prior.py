"""A joint prior of two models' per-task success probabilities, fitted to the counts of a set of tasks.

On one task the two models' chances are strongly tied (an easy task is easy for both), so they are
modelled together: the pairs (p_base, p_rl) of a set of tasks are draws from a distribution W on a
grid. Each axis holds 0 and 1 exactly and, between them, points even in log-odds from 1/(100·n) to
1 − 1/(100·n) (n: the most samples a task has), so chances well below one in n are on the grid. A
task's likelihood is the product of its two binomials (its own n per model), computed once in log
space; tasks with the same counts are one pattern with a weight, which is also how a bootstrap
replicate reweights them.

W is the nonparametric maximum-likelihood mixing distribution (Kiefer–Wolfowitz), approached by EM:
W_ab ← W_ab · Σ_t w_t L_t(a, b) / m_t / Σ w, with L_t(a, b) = L^base_t(a) · L^rl_t(b), two matrix
products per step, for many replicates at once. EM starts from the two models tied (mass on the
diagonal, `SPREAD` of it over the whole grid) and runs a fixed number of steps. That start matters:
on tasks neither model solves the likelihood is flat over which rare cell holds their mass, EM's
multiplicative steps leave it where it started there, and run to convergence from a uniform start
the atoms land off the diagonal at random (identical models at 16n: a third to four times the true
S). Where the counts do show a difference, the 100 steps move the mass to it. What the tie
costs where the models differ on unseen tasks is measured in `benchmarks/extrapolation.py`, and
`tether.metrics.extrapolate` refuses where such tasks carry the answer.

The expected number of tasks in a region at budget K is Σ_t E[g_b(1 − g_r) | task t] with
g(p) = 1 − (1 − p)^K: the tasks' posteriors summed (`Fit.posterior`), then a sum over the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammaln, logit

GRID_POINTS = 24  # per axis: 0, 22 points in log-odds, 1
SPREAD = 0.01  # of EM's starting mass spread evenly over the grid; the rest on the diagonal
FIT_STEPS = 100  # EM steps from the tied start, for the fit and for every bootstrap replicate
TINY = 1e-15  # likelihoods (relative to a row's largest) and prior masses below this are 0 (see `_em`)
BLOCK = 4_000_000  # floats per (replicates x patterns x grid) block, bounding memory


def probability_grid(n_max: int, points: int = GRID_POINTS) -> np.ndarray:
    """0, `points` − 2 values even in log-odds from 1/(100·n_max) to 1 − 1/(100·n_max), and 1."""
    rare = 1.0 / (100.0 * max(int(n_max), 1))
    inner = expit(np.linspace(logit(rare), logit(1 - rare), points - 2))
    return np.concatenate([[0.0], inner, [1.0]])


@dataclass(frozen=True)
class Patterns:
    """The distinct (n_base, c_base, n_rl, c_rl) of a set of tasks and their likelihoods on the grid."""

    grid: np.ndarray  # (G,) success probabilities of each axis
    n_base: np.ndarray  # (U,)
    c_base: np.ndarray
    n_rl: np.ndarray
    c_rl: np.ndarray
    of_task: np.ndarray  # (T,) the pattern of each task
    weight: np.ndarray  # (U,) tasks per pattern
    like_base: np.ndarray  # (U, G) binomial likelihood of the base's count at each grid p, over its row maximum
    like_rl: np.ndarray  # (U, G)


def patterns(base_n, base_c, rl_n, rl_c, points: int = GRID_POINTS) -> Patterns:
    """The tasks' count patterns and their likelihoods on a grid fitted to the largest n."""
    counts = np.stack([np.asarray(v, dtype=np.int64) for v in (base_n, base_c, rl_n, rl_c)], axis=1)
    unique, of_task, weight = np.unique(counts, axis=0, return_inverse=True, return_counts=True)
    grid = probability_grid(int(counts[:, [0, 2]].max(initial=1)), points)
    return Patterns(grid, *unique.T, of_task.reshape(-1), weight.astype(float),
                    _scaled_binomial(unique[:, 0], unique[:, 1], grid), _scaled_binomial(unique[:, 2], unique[:, 3], grid))


def _scaled_binomial(n: np.ndarray, c: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Binomial likelihoods (rows: patterns, columns: grid p), each row divided by its maximum (which
    changes no posterior). p = 0 and p = 1 are exact."""
    n, c = n[:, None].astype(float), c[:, None].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p, log_q = np.log(grid)[None, :], np.log1p(-grid)[None, :]
        log_like = np.where(c > 0, c * log_p, 0.0) + np.where(n - c > 0, (n - c) * log_q, 0.0)
    log_like += gammaln(n + 1) - gammaln(c + 1) - gammaln(n - c + 1)
    return np.exp(log_like - log_like.max(axis=1, keepdims=True))


@dataclass(frozen=True)
class Fit:
    """Fitted priors, one per replicate: `prior[r, a, b]` is the mass at (grid[a], grid[b]); `posterior`
    the tasks' posteriors summed (adding up to the replicate's task count)."""

    prior: np.ndarray  # (R, G, G)
    posterior: np.ndarray  # (R, G, G)
    log_likelihood: np.ndarray  # (R,), up to a constant per pattern


def tied_start(size: int, spread: float = SPREAD) -> np.ndarray:
    """EM's start: 1 − spread on the diagonal (the models tied), spread over the whole grid, both even."""
    return (1 - spread) * np.eye(size) / size + spread / size**2


def fit_prior(found: Patterns, task_weights: np.ndarray | None = None, start: np.ndarray | None = None,
              steps: int = FIT_STEPS) -> Fit:
    """EM for each row of pattern weights (R x U; default: the data once) from `start` (G x G; default:
    `tied_start`), `steps` steps; the posteriors summed under the final prior. All replicates step
    together: their priors side by side, (G, R·G), so a step is two matrix products."""
    weights = found.weight[None, :] if task_weights is None else np.atleast_2d(np.asarray(task_weights, float))
    reps, size = weights.shape[0], found.grid.size
    start = tied_start(size) if start is None else np.asarray(start, dtype=float)
    out = np.empty((reps, size, size))
    log_like = np.empty(reps)
    block = max(1, BLOCK // (found.weight.size * size))
    for first in range(0, reps, block):
        part = slice(first, first + block)
        out[part], log_like[part] = _em(found, weights[part], start, steps)
    return Fit(out / weights.sum(axis=1)[:, None, None], out, log_like)


def _em(found: Patterns, weights: np.ndarray, start: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """`steps` EM steps for a block of replicates (in float32); their posteriors summed under the final
    priors (R, G, G) and log-likelihoods."""
    reps, size, count = weights.shape[0], found.grid.size, found.weight.size
    # below TINY (relative to a row's largest likelihood, or as prior mass) a value changes nothing, and in
    # float32 its products would be subnormal numbers, which the processor multiplies many times slower
    base, rl = (np.where(like > TINY, like, 0).astype(np.float32) for like in (found.like_base, found.like_rl))
    w = weights.T.astype(np.float32)  # (U, R)
    prior = np.tile(start.astype(np.float32), (1, reps))  # (G, R·G): replicate r's prior in columns r·G..
    share = np.repeat(1.0 / weights.sum(axis=1), size).astype(np.float32)[None, :]
    for step in range(steps + 1):
        mixed = (base @ prior).reshape(count, reps, size)  # Σ_a L_base(a) W_r(a, b)
        marginal = np.maximum(np.einsum("urb,ub->ur", mixed, rl), 1e-30)
        ratio = w / marginal  # (U, R)
        posterior = prior * (base.T @ (ratio[:, :, None] * rl[:, None, :]).reshape(count, reps * size))
        if step < steps:
            prior = posterior * share
            prior[prior < TINY] = 0
    log_like = np.sum(weights.T * np.log(marginal.astype(float)), axis=0)
    return posterior.reshape(size, reps, size).transpose(1, 0, 2).astype(float), log_like


def chance_solved(grid: np.ndarray, k) -> np.ndarray:
    """g(p) = 1 − (1 − p)^K at each grid p (rows) and each K (columns)."""
    k = np.asarray(k, dtype=float)[None, :]
    with np.errstate(divide="ignore"):
        return -np.expm1(k * np.log1p(-grid)[:, None])


def region_totals(posterior: np.ndarray, solved: np.ndarray) -> dict[str, np.ndarray]:
    """Expected tasks in each region (P, S, E, O) and solved by each model ("base", "rl") in a fresh run
    of K samples per model, from summed posteriors (R x G x G) at each K (`solved`: G x K): R x K."""
    tasks = posterior.sum(axis=(1, 2))[:, None]
    base = np.einsum("rab,ak->rk", posterior, solved)
    rl = np.einsum("rab,bk->rk", posterior, solved)
    both = np.einsum("rab,ak,bk->rk", posterior, solved, solved)
    return {"base": base, "rl": rl, "P": both, "S": base - both, "E": rl - both, "O": tasks - base - rl + both}


def pattern_regions(found: Patterns, prior: np.ndarray, k_base, k_rl) -> dict[str, np.ndarray]:
    """Each pattern's posterior chance of each region in a fresh run of k_base and k_rl samples (per
    pattern, or one value), under one prior (G x G): arrays of length U."""
    size, count = found.grid.size, found.weight.size
    log_q = np.log1p(-found.grid[:-1])  # p = 1 solves with any k >= 1
    g_base, g_rl = (np.concatenate([-np.expm1(np.broadcast_to(np.asarray(k, float), (count,))[:, None] * log_q),
                                    np.ones((count, 1))], axis=1) for k in (k_base, k_rl))
    post = found.like_base[:, :, None] * prior[None, :, :] * found.like_rl[:, None, :]  # (U, G, G)
    post /= post.reshape(count, size * size).sum(axis=1)[:, None, None]
    base = np.einsum("uab,ua->u", post, g_base)
    rl = np.einsum("uab,ub->u", post, g_rl)
    both = np.einsum("uab,ua,ub->u", post, g_base, g_rl)
    return {"P": both, "S": base - both, "E": rl - both, "O": 1 - base - rl + both}
