"""The adaptive budget's stopping rule, and the samples it is expected to draw.

A (task, model) is sampled in rounds ending at ``rules.rounds(k)`` = first, first·growth, …, k,
and stops at the end of a round once both hold: it has at least one correct sample, and its
pass@k at the full budget is settled, i.e. the one-sided Clopper–Pearson lower bound p_L of its
success probability (level `confidence`) gives (1 − p_L)^k ≤ tol, so pass@k ≥ 1 − tol with that
confidence. A task never solved goes on to k, so its region (P/S/E/O) is the full protocol's.

The regions rule (`regions_rule()`, `--adaptive-rule regions`) keeps the doubling rounds, from 8 (a task
solved at once costs its first round), and stops a (task, model) at the end of the round holding its first
correct sample: a task's region depends only on
whether each model solved it within k, so the regions are still the full protocol's, but pass@k beyond a
task's own samples is not measured. Its cost is close to the floor, `floor_samples`: stopping each
(task, model) at its very first success, E[min(first success, k)] = (1 − (1 − p)^k)/p (k where p = 0),
which no rule that keeps the regions exact can beat on average.

`expected_samples` is what the rule is expected to draw for a task whose success probability is
p: an exact dynamic programme over the rounds (a path stops as soon as its correct count reaches
the least count that settles at that round's sample size), averaged over draws of p from a
posterior when p is uncertain (a pilot run's counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import binom

from tether import defaults

REGIONS_FIRST = 8  # the regions rule's first round: each task solved at once costs this many samples (docs/adaptive.md)


@dataclass(frozen=True)
class AdaptiveRule:
    first: int = defaults.ADAPTIVE_FIRST  # samples in the first round
    growth: int = defaults.ADAPTIVE_GROWTH  # each round ends at `growth` times the previous end
    tol: float = defaults.ADAPTIVE_TOL  # settled: pass@k >= 1 - tol
    confidence: float = 0.95  # of the one-sided Clopper–Pearson lower bound
    regions: bool = False  # the regions rule: stop at the end of the round with the first success (tol unused)

    def __post_init__(self) -> None:
        if self.first < 1 or self.growth < 2 or not 0 < self.tol < 1 or not 0.5 <= self.confidence < 1:
            raise ValueError("adaptive rule: first >= 1, growth >= 2, 0 < tol < 1, 0.5 <= confidence < 1")

    @property
    def name(self) -> str:
        """"regions" or "passk": what the rule keeps exact (docs/adaptive.md)."""
        return "regions" if self.regions else "passk"

    def rounds(self, k: int) -> list[int]:
        """The sample counts at which the rule looks: first, first·growth, … (below k), then k."""
        ends, end = [], self.first
        while end < k:
            ends.append(end)
            end *= self.growth
        return ends + [k]

    def as_dict(self) -> dict:
        """The parameters recorded in the label's run settings; the regions rule records `regions: 1` in place
        of tol and confidence, which it does not use (a pass@k rule's record is as it always was)."""
        if self.regions:
            return {"first": self.first, "growth": self.growth, "regions": 1}
        return {"first": self.first, "growth": self.growth, "tol": self.tol, "confidence": self.confidence}


def regions_rule(first: int = REGIONS_FIRST, growth: int = 2) -> AdaptiveRule:
    """The regions rule with its default rounds 8, 16, 32, …, k."""
    return AdaptiveRule(first, growth, regions=True)


def is_regions_rule(recorded: dict | None) -> bool:
    """Whether a label's recorded adaptive settings (the manifest's `adaptive`) are the regions rule's."""
    return bool(recorded) and bool(recorded.get("regions"))


def clopper_pearson_lower(n, c, confidence: float = 0.95) -> np.ndarray:
    """One-sided lower confidence bound of a binomial proportion (0 where c = 0)."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    with np.errstate(invalid="ignore"):
        bound = beta_dist.ppf(1 - confidence, np.maximum(c, 1), np.maximum(n - c + 1, 1))
    return np.where(c > 0, bound, 0.0)


def settled(n, c, k: int, rule: AdaptiveRule = AdaptiveRule()) -> np.ndarray:
    """Whether the rule stops a (task, model) holding c correct of n samples, for a full budget k."""
    c = np.asarray(c)
    if rule.regions:
        return c >= 1
    lower = clopper_pearson_lower(n, c, rule.confidence)
    return (c >= 1) & (k * np.log1p(-np.minimum(lower, 1 - 1e-16)) <= np.log(rule.tol))


def least_settling(n: int, k: int, rule: AdaptiveRule = AdaptiveRule()) -> int:
    """The least correct count that settles at n samples (n + 1 when none does)."""
    counts = np.arange(1, n + 1)
    hits = np.flatnonzero(settled(np.full(counts.size, n), counts, k, rule))
    return int(counts[hits[0]]) if hits.size else n + 1


def expected_samples(p, k: int, rule: AdaptiveRule = AdaptiveRule()) -> np.ndarray:
    """The expected number of samples the rule draws for success probabilities `p` (any shape)."""
    return adaptive_outlook(p, k, rule)[0]


def adaptive_outlook(p, k: int, rule: AdaptiveRule = AdaptiveRule()) -> tuple[np.ndarray, np.ndarray]:
    """(expected samples drawn, probability of sampling on to k) for success probabilities `p`."""
    p = np.asarray(p, dtype=float)
    flat = p.reshape(-1)
    ends = rule.rounds(k)
    needs = [least_settling(end, k, rule) for end in ends[:-1]]
    width = max(needs, default=1)
    alive = np.zeros((flat.size, width))  # P(still sampling with c correct), c < the least settling count
    alive[:, 0] = 1.0
    total = np.zeros(flat.size)
    previous = 0
    to_the_end = np.ones(flat.size)
    for end, need in zip(ends, needs + [None]):
        step = end - previous
        total += step * alive.sum(axis=1)
        if need is None:  # the last round ends at k: everything stops
            to_the_end = alive.sum(axis=1)
            break
        grown = np.zeros_like(alive)
        pmf = binom.pmf(np.arange(width)[None, :], step, flat[:, None])  # successes in this round
        for c in range(width):
            if alive[:, c].any():
                grown[:, c:] += alive[:, c : c + 1] * pmf[:, : width - c]
        grown[:, need:] = 0.0  # reached the least settling count: stopped
        alive, previous = grown, end
    return total.reshape(p.shape), to_the_end.reshape(p.shape)


def posterior_outlook(n, c, a: float, b: float, k: int, rule: AdaptiveRule = AdaptiveRule(), draws: int = 256,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per task, (expected samples, probability of sampling on to k) under the posterior Beta(a + c, b + n − c)
    of its success probability (a pilot's counts, a prior fitted across tasks), over `draws` seeded draws."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    rng = np.random.default_rng(seed)
    p = rng.beta(a + c[:, None], b + (n - c)[:, None], size=(n.size, draws))
    samples, to_the_end = adaptive_outlook(p, k, rule)
    return samples.mean(axis=1), to_the_end.mean(axis=1)


def floor_samples(p, k: int) -> np.ndarray:
    """The floor: expected samples when each (task, model) stops at its first success, E[min(first success, k)]
    = (1 − (1 − p)^k)/p, and k where p = 0 (any shape)."""
    p = np.asarray(p, dtype=float)
    safe = np.where(p > 0, p, 1.0)
    with np.errstate(divide="ignore"):
        solved = -np.expm1(k * np.log1p(-np.minimum(safe, 1.0)))  # 1 - (1 - p)^k; 1 at p = 1
    return np.where(p > 0, solved / safe, float(k))


def posterior_floor(n, c, a: float, b: float, k: int, draws: int = 256, seed: int = 0) -> np.ndarray:
    """Per task, the floor's expected samples under the posterior Beta(a + c, b + n − c), over the same seeded
    draws as `posterior_outlook`."""
    n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    rng = np.random.default_rng(seed)
    p = rng.beta(a + c[:, None], b + (n - c)[:, None], size=(n.size, draws))
    return floor_samples(p, k).mean(axis=1)
