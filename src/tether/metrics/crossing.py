"""Where two mean pass@k curves cross: every crossing, and the k beyond which the base stays ahead.

The curves are compared through their difference d(k) = base(k) - RL(k) on a k grid. A crossing
is a change of the sign of d (points where d = 0 carry the sign before them); it is located by
linear interpolation of d on log k between the two grid points around it, or at the grid point
where d is exactly 0. The paper's crossover is where the base overtakes RL *for good*: the last
crossing, when the base leads at the largest k. A -, +, - pattern (the base leads only in the
middle) has crossings but no crossover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tether.metrics.uncertainty import json_number


@dataclass(frozen=True)
class Crossing:
    k: float
    leader: str  # who is ahead after it: "base" or "rl"


def crossings(k_grid, base_curve, rl_curve) -> list[Crossing]:
    """Every change of the leader along the grid, in order of k."""
    k = np.asarray(k_grid, dtype=float)
    diff = np.asarray(base_curve, dtype=float) - np.asarray(rl_curve, dtype=float)
    found, sign, last = [], 0.0, -1  # sign of the leader so far; index where it was last nonzero
    for j, value in enumerate(diff):
        if value == 0 or np.isnan(value):
            continue
        now = np.sign(value)
        if sign and now != sign:
            if j - last > 1:  # the curves met exactly at a grid point in between: the crossing is the first
                at = float(k[last + 1])
            else:
                frac = -diff[last] / (diff[j] - diff[last])
                at = float(np.exp(np.log(k[last]) + frac * (np.log(k[j]) - np.log(k[last]))))
            found.append(Crossing(at, "base" if now > 0 else "rl"))
        sign, last = now, j
    return found


def crossover_k(k_grid, base_curve, rl_curve) -> float | None:
    """The k beyond which the base's mean pass@k stays above the RL model's (after being below
    it), or None: the last crossing, if the base leads at the end."""
    found = crossings(k_grid, base_curve, rl_curve)
    return found[-1].k if found and found[-1].leader == "base" else None


@dataclass(frozen=True)
class Crossover:
    """The crossover of two mean pass@k curves with its bootstrap uncertainty."""

    k: float | None  # on the curves themselves
    ci: tuple[float, float]  # percentile interval over the replicates that have a crossover (NaN if none do)
    without: float  # share of replicates with no crossover inside the sampled range
    crossings: list[Crossing]
    significant: bool  # the base is significantly ahead (paired CI of the difference) at some k past `k`

    def as_dict(self) -> dict:
        return {"k": self.k, "ci": [json_number(v) for v in self.ci], "no_crossover_share": self.without,
                "significant": self.significant,
                "crossings": [{"k": c.k, "leader": c.leader} for c in self.crossings]}

    @classmethod
    def from_dict(cls, payload: dict) -> Crossover:
        lo, hi = (np.nan if v is None else float(v) for v in payload["ci"])
        return cls(payload["k"], (lo, hi), float(payload["no_crossover_share"]),
                   [Crossing(float(c["k"]), c["leader"]) for c in payload["crossings"]], bool(payload["significant"]))


def crossover_estimate(k_grid, base_replicates: np.ndarray, rl_replicates: np.ndarray, base_curve, rl_curve,
                       delta_upper: np.ndarray, confidence: float) -> Crossover:
    """The crossover of the curves, its interval over paired bootstrap replicates (reps x k) of
    both curves, and whether the base is significantly ahead somewhere past it (`delta_upper`:
    the upper bound of RL - base at each k)."""
    k = np.asarray(k_grid, dtype=float)
    point = crossover_k(k, base_curve, rl_curve)
    found = np.array([crossover_k(k, b, r) or np.nan for b, r in zip(base_replicates, rl_replicates)], dtype=float)
    has = ~np.isnan(found)
    tail = 100 * (1 - confidence) / 2
    ci = tuple(float(v) for v in np.percentile(found[has], [tail, 100 - tail])) if has.any() else (np.nan, np.nan)
    significant = point is not None and bool(np.any((k >= point) & (np.asarray(delta_upper) < 0)))
    return Crossover(point, ci, float(1 - has.mean()) if len(found) else 1.0,
                     crossings(k, base_curve, rl_curve), significant)

