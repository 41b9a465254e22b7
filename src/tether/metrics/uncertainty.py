"""Uncertainty beyond the paper: bootstrap CIs over tasks and per-task exact tests.

- `bootstrap_rates`: interval of SRR/NDR/SDS/NSCR over tasks like these. The
  rates depend on the tasks only through their region shares, which are drawn
  from their posterior Dirichlet(P + 1/2, S + 1/2, E + 1/2, O + 1/2) (a Bayesian
  bootstrap with Jeffreys' prior): like resampling the tasks with replacement,
  but a region with no task still varies, so a count of 0 gives a real interval
  (E = 0: NDR in [0, x], not [0, 0]) and no replicate has a zero denominator.
  SRR's interval is then Jeffreys' interval for a binomial share. An interval
  always contains the observed rate (at the edge of its range, it starts there).
- `bootstrap_means`: percentile CI of per-column means (e.g. mean pass@k over
  tasks) under the same task resampling, via per-replicate task draw counts.
- `shift_tests`: for each S or E task, Fisher's exact test of (c_base of n_base)
  against (c_rl of n_rl), two-sided, with Benjamini-Hochberg q-values across
  the tested tasks, and the chance that the model that missed would miss
  anyway if its pass rate were the other model's observed one.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from tether.metrics.support import RATES, RegionCounts, support_rates


def json_number(value) -> float | None:
    """A number for a JSON form: NaN (an undefined value) and None become null."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class Interval:
    """A percentile interval; NaN bounds when undefined."""

    lo: float
    hi: float

    def as_list(self) -> list[float]:
        return [self.lo, self.hi]


def percentile_interval(replicates: np.ndarray, confidence: float, axis: int = 0):
    """Percentile bounds of replicates, ignoring NaN replicates; NaN where all are NaN."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = 100 * (1 - confidence) / 2
    reps = np.asarray(replicates, dtype=float)
    with warnings.catch_warnings():  # all-NaN slices are expected and give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(reps, [tail, 100 - tail], axis=axis)
    return lo, hi


def simultaneous_band(replicates: np.ndarray, point: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """A band that covers every column at once with probability `confidence`: the studentised max-statistic
    bootstrap band, point ± q·se. se is each column's bootstrap standard error; q is the `confidence` quantile,
    over replicates, of the largest |replicate − point| / se across the columns.

    Studentised because the columns' spreads differ many-fold (a difference of pass@k near 0 or 1 barely
    moves; one in the middle moves a lot): the raw largest deviation would be the noisiest column's, and
    every column would get its width. Scaled, each column keeps the shape of its own interval and all of them
    widen by one factor, the least that makes the family hold together. A column whose replicates do not vary
    (se 0: both models solve every task) is its point and takes no part in q; NaN where a column has no
    replicate. `percentile_interval` at the same level is the pointwise interval, narrower."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    reps, point = np.asarray(replicates, dtype=float), np.asarray(point, dtype=float)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        se = np.nanstd(reps, axis=0)
        scaled = np.abs(reps - point) / np.where(se > 0, se, np.nan)
        largest = np.nanmax(np.where(np.isnan(scaled), -np.inf, scaled), axis=1)
    largest = largest[np.isfinite(largest)]
    q = float(np.quantile(largest, confidence)) if largest.size else 0.0
    width = np.where(se > 0, q * se, 0.0)
    return point - width, point + width


def bootstrap_rates(
    counts: RegionCounts, reps: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Interval]:
    """Interval of each support rate over tasks like these (Jeffreys-Dirichlet draws of the region shares)."""
    total = counts.P + counts.S + counts.E + counts.O
    if total == 0:
        return {name: Interval(float("nan"), float("nan")) for name in RATES}
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.array([counts.P, counts.S, counts.E, counts.O], dtype=float) + 0.5, size=reps)
    rates = support_rates(shares[:, 0], shares[:, 1], shares[:, 2])
    point = support_rates(counts.P, counts.S, counts.E)
    out = {}
    for name in RATES:
        value = float(point[name])
        if np.isnan(value):
            out[name] = Interval(float("nan"), float("nan"))
        else:
            lo, hi = percentile_interval(rates[name], confidence)
            out[name] = Interval(min(float(lo), value), max(float(hi), value))
    return out


def bootstrap_means(
    values: np.ndarray, reps: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile CI of the column means of a (tasks x columns) array, tasks resampled."""
    values = np.asarray(values, dtype=float)
    if values.shape[0] == 0:
        nan = np.full(values.shape[1:], np.nan)
        return nan, nan.copy()
    (means,) = bootstrap_mean_replicates([values], reps, seed)
    return percentile_interval(means, confidence)


def bootstrap_mean_replicates(arrays: list[np.ndarray], reps: int = 1000, seed: int = 0) -> list[np.ndarray]:
    """Replicate column means (reps x columns) of each (tasks x columns) array, all under the *same*
    task draws: paired, so that a difference of two arrays' replicates is the bootstrap of the
    difference. NaN entries (a task not estimated at that column) are left out of that column's
    mean in every replicate."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    present = [~np.isnan(a) for a in arrays]
    arrays = [np.where(p, a, 0.0) for a, p in zip(arrays, present)]
    n_tasks = arrays[0].shape[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(reps, (1 << 22) // max(1, n_tasks)))
    means: list[list[np.ndarray]] = [[] for _ in arrays]
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        # how often each task is drawn in each replicate: one bincount over all replicates
        drawn = rng.integers(0, n_tasks, size=(size, n_tasks)) + (np.arange(size) * n_tasks)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=size * n_tasks).reshape(size, n_tasks)
        for found, values, mask in zip(means, arrays, present):
            with np.errstate(invalid="ignore", divide="ignore"):
                found.append(weights @ values / (weights @ mask))
    return [np.concatenate(found) for found in means]


@dataclass(frozen=True)
class ShiftTests:
    """Per-task test results; NaN for tasks not in S or E."""

    p_values: np.ndarray
    q_values: np.ndarray
    miss_probability: np.ndarray

    def significant(self, regions: np.ndarray, alpha: float) -> dict[str, int]:
        hit = self.q_values <= alpha
        return {r: int(np.count_nonzero(hit & (regions == r))) for r in ("S", "E")}


def shift_tests(regions, base_n, base_c, rl_n, rl_c) -> ShiftTests:
    """Fisher's exact test per S/E task, BH q-values, and the chance of the miss."""
    from scipy.stats import false_discovery_control, fisher_exact

    regions = np.asarray(regions)
    size = len(regions)
    p_values = np.full(size, np.nan)
    q_values = np.full(size, np.nan)
    tested = np.flatnonzero((regions == "S") | (regions == "E"))
    cache: dict[tuple[int, int, int, int], float] = {}
    for i in tested:
        table = (int(base_c[i]), int(base_n[i] - base_c[i]), int(rl_c[i]), int(rl_n[i] - rl_c[i]))
        if table not in cache:
            cache[table] = float(fisher_exact([table[:2], table[2:]]).pvalue)
        p_values[i] = cache[table]
    if tested.size:
        q_values[tested] = false_discovery_control(p_values[tested], method="bh")
    return ShiftTests(p_values, q_values, miss_probability(regions, base_n, base_c, rl_n, rl_c))


def miss_probability(regions, base_n, base_c, rl_n, rl_c) -> np.ndarray:
    """For each S (E) task, the chance that the RL (base) model misses it in its n samples if its
    pass rate were the other model's observed one; NaN for other tasks."""
    regions = np.asarray(regions)
    miss = np.full(len(regions), np.nan)
    s, e = regions == "S", regions == "E"
    base_rate = np.asarray(base_c) / np.asarray(base_n)
    rl_rate = np.asarray(rl_c) / np.asarray(rl_n)
    miss[s] = (1 - base_rate[s]) ** np.asarray(rl_n)[s]
    miss[e] = (1 - rl_rate[e]) ** np.asarray(base_n)[e]
    return miss
