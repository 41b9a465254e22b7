"""What chance alone would give: the S and E counts of two models that are really the same.

Null hypothesis, per task: both models have the same success probability. Given the task's
total successes t = c_base + c_rl in n_base + n_rl draws, the draws that succeeded are then a
uniformly random t-subset of all draws, so

    P(S | t) = C(n_base, t) / C(n_base + n_rl, t)    (every success fell to the base)
    P(E | t) = C(n_rl, t) / C(n_base + n_rl, t)      (every success fell to RL)

for t >= 1 (a task with t = 0 is O whatever happens). These are exact, hold for unequal budgets,
and need nothing but the data. Over tasks, the number of S tasks under chance is a sum of
independent Bernoulli(P(S | t_i)): a Poisson-binomial, computed exactly by dynamic programming
(`poisson_binomial`); S - E is a sum of independent {+1, 0, -1} variables, likewise.

`chance_levels` gives, for S, E and S - E: the observed count, its expectation under chance, a
central chance interval, the excess and its p-value. The S and E excesses are one family (a comparison
reads both and claims whichever is beyond chance): `ChanceLevels.family` adjusts their two p-values by
Holm, and a claim rests on the adjusted one, so two identical models show "S or E beyond chance" in at
most alpha of runs (one-sided p-values each at alpha would give up to 2 alpha).

`region_tests` gives the per-task exact test of its region (conditional on t): the chance, under the
null, of a region at least as unlikely as the task's among S and E, which is P(S | t) + P(E | t) when
the budgets are equal (Fisher's exact test, two-sided, over the outcomes "all successes to one model").
Two-sided because the direction is read off the task's own counts: the one-sided P(S | t) of an S task
and P(E | t) of an E task would, together, reject a null task twice as often as alpha. Benjamini-Hochberg
q-values run over every task with at least one success (S and E pooled): any of them could have landed
in S or E by chance, so all of them count in the multiplicity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from tether.metrics.uncertainty import json_number

TAIL = 1e-15  # probability mass trimmed from the ends of a distribution as it is built; p-values below it read TAIL


def all_in_first(n_first, n_second, total) -> np.ndarray:
    """C(n_first, t) / C(n_first + n_second, t): the chance that all t successes fall among the
    first n_first of n_first + n_second draws; 0 where t > n_first, 1 where t = 0."""
    a, b, t = (np.asarray(v, dtype=float) for v in (n_first, n_second, total))
    with np.errstate(invalid="ignore"):
        log_p = gammaln(a + 1) - gammaln(a - t + 1) - gammaln(a + b + 1) + gammaln(a + b - t + 1)
    return np.where(t > a, 0.0, np.exp(np.where(t > a, 0.0, log_p)))


def region_chances(base_n, base_c, rl_n, rl_c) -> tuple[np.ndarray, np.ndarray]:
    """Per task, the chance of S and of E under the null (given its total successes)."""
    total = np.asarray(base_c) + np.asarray(rl_c)
    solved = total > 0
    p_s = np.where(solved, all_in_first(base_n, rl_n, total), 0.0)
    p_e = np.where(solved, all_in_first(rl_n, base_n, total), 0.0)
    return p_s, p_e


def poisson_binomial(p: np.ndarray) -> tuple[int, np.ndarray]:
    """The distribution of a sum of independent Bernoulli(p_i): (offset, pmf), pmf[j] = P(X = offset + j).

    Exact dynamic programming over the tasks; mass below `TAIL` is trimmed from both ends as it
    goes, so the work stays proportional to tasks x (spread of the sum), not tasks^2."""
    return signed_sum(np.asarray(p, dtype=float), np.zeros(len(p)))


def signed_sum(p_plus: np.ndarray, p_minus: np.ndarray) -> tuple[int, np.ndarray]:
    """The distribution of sum_i X_i with X_i = +1 w.p. p_plus[i], -1 w.p. p_minus[i], else 0."""
    pmf, offset = np.ones(1), 0
    for up, down in zip(np.asarray(p_plus, float), np.asarray(p_minus, float)):
        if up + down < 1e-18:  # contributes nothing the trimming would keep
            continue
        grown = np.zeros(len(pmf) + 2)
        grown[2:] += up * pmf
        grown[1:-1] += (1 - up - down) * pmf
        grown[:-2] += down * pmf
        offset -= 1
        keep = np.flatnonzero(np.cumsum(grown) > TAIL)
        last = len(grown) - np.flatnonzero(np.cumsum(grown[::-1]) > TAIL)
        first, end = (keep[0], last[0]) if keep.size and last.size else (0, len(grown))
        pmf, offset = grown[first:end], offset + int(first)
    return offset, pmf / pmf.sum()


@dataclass(frozen=True)
class ChanceLevel:
    """An observed count beside what chance alone would give."""

    observed: int
    expected: float
    interval: tuple[int, int]  # central chance interval at the given confidence
    p_value: float  # chance of a count at least this far from the expectation, in the tested direction

    @property
    def excess(self) -> float:
        return self.observed - self.expected

    def as_dict(self) -> dict:
        return {"observed": self.observed, "expected": self.expected, "interval": list(self.interval),
                "excess": self.excess, "p_value": self.p_value}

    @classmethod
    def from_dict(cls, payload: dict) -> ChanceLevel:
        lo, hi = payload["interval"]
        return cls(int(payload["observed"]), float(payload["expected"]), (int(lo), int(hi)), float(payload["p_value"]))


def _level(observed: int, offset: int, pmf: np.ndarray, confidence: float, two_sided: bool) -> ChanceLevel:
    values = offset + np.arange(len(pmf))
    expected = float(values @ pmf)
    expected = 0.0 if abs(expected) < 1e-9 else expected  # S - E of identical models: 0, not -1e-16
    cdf = np.cumsum(pmf)
    tail = (1 - confidence) / 2
    lo = int(values[np.searchsorted(cdf, tail * (1 - 1e-12))])
    hi = int(values[min(len(values) - 1, np.searchsorted(cdf, (1 - tail) * (1 - 1e-12)))])
    upper = float(pmf[values >= observed].sum())
    if two_sided:
        lower = float(pmf[values <= observed].sum())
        p = min(1.0, 2 * min(upper, lower))
    else:
        p = upper
    return ChanceLevel(int(observed), expected, (lo, hi), min(1.0, max(p, TAIL)))  # below TAIL: not resolved


@dataclass(frozen=True)
class ChanceLevels:
    """S, E and S - E beside chance, and the rates two identical models would show."""

    s: ChanceLevel
    e: ChanceLevel
    s_minus_e: ChanceLevel
    srr: float  # SRR and NDR with S and E at their chance expectation (P as observed)
    ndr: float
    confidence: float

    @property
    def family(self) -> dict[str, float]:
        """The S and E excess p-values adjusted by Holm as one family: "S" and "E" -> adjusted p."""
        return dict(zip(("S", "E"), holm([self.s.p_value, self.e.p_value])))

    def as_dict(self) -> dict:
        return {"S": self.s.as_dict(), "E": self.e.as_dict(), "S-E": self.s_minus_e.as_dict(),
                "family": {"method": "Holm over the S and E excess tests", **self.family},
                "rates": {"srr": json_number(self.srr), "ndr": json_number(self.ndr)}, "confidence": self.confidence}

    @classmethod
    def from_dict(cls, payload: dict) -> ChanceLevels:
        rates = {name: math.nan if value is None else float(value) for name, value in payload["rates"].items()}
        return cls(*(ChanceLevel.from_dict(payload[key]) for key in ("S", "E", "S-E")), rates["srr"], rates["ndr"],
                   float(payload["confidence"]))


def chance_levels(base_n, base_c, rl_n, rl_c, regions, confidence: float = 0.95) -> ChanceLevels:
    """S, E (one-sided: more than chance) and S - E (two-sided) against the null of identical models."""
    p_s, p_e = region_chances(base_n, base_c, rl_n, rl_c)
    regions = np.asarray(regions)
    counts = {r: int(np.count_nonzero(regions == r)) for r in ("P", "S", "E")}
    s = _level(counts["S"], *poisson_binomial(p_s), confidence, two_sided=False)
    e = _level(counts["E"], *poisson_binomial(p_e), confidence, two_sided=False)
    net = _level(counts["S"] - counts["E"], *signed_sum(p_s, p_e), confidence, two_sided=True)
    P = counts["P"]
    srr = P / (P + s.expected) if P + s.expected > 0 else math.nan
    ndr = e.expected / (P + e.expected) if P + e.expected > 0 else math.nan
    return ChanceLevels(s, e, net, srr, ndr, confidence)


def holm(p_values) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (in their order): reject at level alpha where the
    adjusted value is <= alpha, and the chance of any false rejection is at most alpha."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty(len(p))
    out[order] = adjusted
    return [float(v) for v in out]


def either_region(first, second) -> np.ndarray:
    """The two-sided p-value of "all successes to one model" (`region_tests`): the observed outcome's chance
    `first`, plus the other outcome's `second` where that is no likelier."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    return np.minimum(1.0, first + np.where(second <= first, second, 0.0))


@dataclass(frozen=True)
class RegionTests:
    """Per-task exact tests of the region (two-sided over S and E); NaN where a task has no success."""

    p_values: np.ndarray  # S or E: the two-sided chance of all successes to one model, given t; P: 1
    q_values: np.ndarray  # Benjamini-Hochberg over every task with at least one success
    tested: int  # tasks with at least one success (the multiplicity)

    def significant(self, regions: np.ndarray, alpha: float) -> dict[str, int]:
        hit = self.q_values <= alpha
        return {r: int(np.count_nonzero(hit & (np.asarray(regions) == r))) for r in ("S", "E")}


def region_tests(regions, base_n, base_c, rl_n, rl_c) -> RegionTests:
    """The exact test of each task's region (S or E, two-sided) against the null of identical models."""
    from scipy.stats import false_discovery_control

    regions = np.asarray(regions)
    p_s, p_e = region_chances(base_n, base_c, rl_n, rl_c)
    solved = (np.asarray(base_c) + np.asarray(rl_c)) > 0
    p = np.where(regions == "S", either_region(p_s, p_e), np.where(regions == "E", either_region(p_e, p_s), 1.0))
    p = np.where(solved, p, np.nan)
    q = np.full(len(p), np.nan)
    if solved.any():
        q[solved] = false_discovery_control(p[solved], method="bh")
    return RegionTests(p, q, int(solved.sum()))


def fewest_successes(n_first: int, n_second: int, alpha: float) -> int | None:
    """The fewest successes t for which "all in the first model" can reach p <= alpha at these
    budgets (the two-sided test of `region_tests`, before multiplicity); None if no t <= n_first can."""
    for t in range(1, n_first + 1):
        if either_region(all_in_first(n_first, n_second, t), all_in_first(n_second, n_first, t)) <= alpha:
            return t
    return None

