"""Where two mean pass@k curves cross: every crossing, and the k beyond which the base stays ahead.

The curves are compared through their difference d(k) = base(k) - RL(k) on a k grid. A crossing
is a change of the sign of d (points where d = 0 carry the sign before them); it is located by
linear interpolation of d on log k between the two grid points around it, or at the grid point
where d is exactly 0. The paper's crossover is where the base overtakes RL *for good*: the last
crossing, when the base leads (strictly: a tie is not a lead) at the largest k. A -, +, - pattern
(the base leads only in the middle) has crossings but no crossover.

Estimated curves cross by chance: two identical models cross somewhere in a third of runs. A crossover
is *detected* (`Crossover.k`) only with paired evidence: the curves cross and the base is ahead at the
largest k beyond the simultaneous band of the difference (`uncertainty.simultaneous_band`, which holds at
every k at once); otherwise `Crossover.reason` says why none is.
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
    it), or None: the last crossing, if the base leads at the largest k (a tie there is no lead)."""
    diff = np.asarray(base_curve, dtype=float) - np.asarray(rl_curve, dtype=float)
    present = diff[~np.isnan(diff)]
    if not present.size or present[-1] <= 0:
        return None
    found = crossings(k_grid, base_curve, rl_curve)
    return found[-1].k if found and found[-1].leader == "base" else None


@dataclass(frozen=True)
class Crossover:
    """The crossover of two mean pass@k curves: detected or not (and why), with its bootstrap uncertainty."""

    k: float | None  # the detected crossover (module docstring); None when the evidence does not show one
    ci: tuple[float, float]  # percentile interval over the replicates that have a crossover (NaN if none do)
    without: float  # share of replicates with no crossover inside the sampled range
    crossings: list[Crossing]  # of the estimated curves
    significant: bool  # the base is ahead at the largest k beyond the simultaneous band: `k` is detected
    curves_cross: float | None = None  # where the estimated curves' last crossing puts it, evidence or not
    reason: str = ""  # why no crossover is detected ("" when one is)

    def as_dict(self) -> dict:
        return {"k": self.k, "curves_cross": self.curves_cross, "ci": [json_number(v) for v in self.ci],
                "no_crossover_share": self.without, "significant": self.significant, "reason": self.reason,
                "crossings": [{"k": c.k, "leader": c.leader} for c in self.crossings]}

    @classmethod
    def from_dict(cls, payload: dict) -> Crossover:
        lo, hi = (np.nan if v is None else float(v) for v in payload["ci"])
        return cls(payload["k"], (lo, hi), float(payload["no_crossover_share"]),
                   [Crossing(float(c["k"]), c["leader"]) for c in payload["crossings"]], bool(payload["significant"]),
                   payload.get("curves_cross"), payload.get("reason", ""))


def crossover_estimate(k_grid, base_replicates: np.ndarray, rl_replicates: np.ndarray, base_curve, rl_curve,
                       band: tuple[np.ndarray, np.ndarray], confidence: float) -> Crossover:
    """The crossover of the curves, detected only when the base is ahead at the largest k beyond `band` (the
    simultaneous band of RL - base on `k_grid`), its interval over paired bootstrap replicates (reps x k) of
    both curves, and otherwise the reason none is detected."""
    k = np.asarray(k_grid, dtype=float)
    point = crossover_k(k, base_curve, rl_curve)
    found = np.array([crossover_k(k, b, r) or np.nan for b, r in zip(base_replicates, rl_replicates)], dtype=float)
    has = ~np.isnan(found)
    tail = 100 * (1 - confidence) / 2
    ci = tuple(float(v) for v in np.percentile(found[has], [tail, 100 - tail])) if has.any() else (np.nan, np.nan)
    lo, hi = (np.asarray(bound, dtype=float) for bound in band)
    base_ahead = hi < 0  # RL - base below 0 over the whole band
    last = np.flatnonzero(~np.isnan(hi))
    significant = point is not None and last.size > 0 and bool(base_ahead[last[-1]])
    reason = "" if significant else _no_crossover(k, np.asarray(base_curve, float) - np.asarray(rl_curve, float),
                                                  point, (lo, hi), base_ahead, confidence)
    return Crossover(point if significant else None, ci, float(1 - has.mean()) if len(found) else 1.0,
                     crossings(k, base_curve, rl_curve), significant, point, reason)


def _no_crossover(k: np.ndarray, diff: np.ndarray, point: float | None, band, base_ahead: np.ndarray,
                  confidence: float) -> str:
    """Why no crossover is detected, in words."""
    present = np.flatnonzero(~np.isnan(diff) & ~np.isnan(band[1]))
    if not present.size:
        return "no k has both curves"
    last = present[-1]
    at = f"k = {k[last]:.0f}"
    if point is None:
        if diff[last] > 0:
            return f"the base leads at every k where the curves differ; they never cross (largest {at})"
        if diff[last] == 0:
            return f"the curves are tied at the largest k ({at}): a tie is not a lead"
        return f"the RL model is ahead at the largest k ({at})"
    if not base_ahead.any():
        return (f"the curves cross at k ≈ {point:.1f}, but the base is not ahead beyond chance at any k "
                f"(simultaneous {confidence:.0%} band)")
    lo, hi = band
    return (f"the curves cross at k ≈ {point:.1f}, but the difference at {at} is within the simultaneous "
            f"{confidence:.0%} band ({lo[last]:+.3f}..{hi[last]:+.3f})")
