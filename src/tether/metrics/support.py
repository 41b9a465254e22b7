"""Empirical support regions P/S/E/O and the paper's support rates.

A model *covers* a task when at least one of its samples is correct. Comparing
the base and RL model's coverage puts each task in one region (SPEC section 2):

    P preservation (both), S shrinkage (base only), E expansion (RL only), O neither.

From the counts: SRR = P/(P+S), NDR = E/(P+E), SDS = harmonic mean of SRR and
NDR, NSCR = (E-S)/(P+E+S). A zero denominator gives NaN and a note, never an
exception. The functions work on counts arrays; uncertainty lives in
`tether.metrics.uncertainty`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tether.errors import InputError

REGIONS = ("P", "S", "E", "O")
RATES = ("srr", "ndr", "sds", "nscr")


@dataclass(frozen=True)
class RegionCounts:
    """How many tasks fall in each region."""

    P: int
    S: int
    E: int
    O: int  # noqa: E741 - the paper's name

    def as_dict(self) -> dict[str, int]:
        return {r: int(getattr(self, r)) for r in REGIONS}


@dataclass(frozen=True)
class SupportRegions:
    """Each task's region, the counts, and the four rates (NaN, with a note, when undefined)."""

    regions: np.ndarray
    counts: RegionCounts
    rates: dict[str, float]
    notes: dict[str, str]


def support_regions(base, rl) -> SupportRegions:
    """Regions and support rates from per-task ``(n, c)`` of each model.

    `base` and `rl` are ``(n, c)`` pairs of equal-length arrays aligned on tasks
    (or objects with ``n`` and ``c`` attributes, such as `tether.TaskCounts`).
    """
    (base_n, base_c), (rl_n, rl_c) = (_pair(base), _pair(rl))
    regions = classify_tasks(base_n, base_c, rl_n, rl_c)
    counts = region_counts(regions)
    rates = {name: float(value) for name, value in support_rates(counts.P, counts.S, counts.E).items()}
    return SupportRegions(regions, counts, rates, rate_notes(counts))


def _pair(model) -> tuple:
    return (model.n, model.c) if hasattr(model, "n") else tuple(model)


def classify_tasks(base_n, base_c, rl_n, rl_c) -> np.ndarray:
    """Region letter of each task from per-task (n, c) of both models."""
    base_c, rl_c = _checked_counts("base", base_n, base_c), _checked_counts("rl", rl_n, rl_c)
    if base_c.shape != rl_c.shape:
        raise InputError(f"base and rl have {base_c.size} and {rl_c.size} tasks; align them first")
    base_cov, rl_cov = base_c > 0, rl_c > 0
    return np.select(
        [base_cov & rl_cov, base_cov & ~rl_cov, ~base_cov & rl_cov],
        ["P", "S", "E"],
        default="O",
    ).astype("<U1")


def _checked_counts(label: str, n, c) -> np.ndarray:
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    if n_arr.shape != c_arr.shape or n_arr.ndim != 1:
        raise InputError(f"{label}: n and c must be 1-D arrays of equal length")
    if np.any(n_arr < 1):
        raise InputError(f"{label}: every task needs at least one sample (n >= 1)")
    if np.any((c_arr < 0) | (c_arr > n_arr)):
        raise InputError(f"{label}: every task needs 0 <= c <= n")
    return c_arr


def region_counts(regions: np.ndarray) -> RegionCounts:
    """Count tasks per region."""
    regions = np.asarray(regions)
    return RegionCounts(**{r: int(np.count_nonzero(regions == r)) for r in REGIONS})


def support_rates(P, S, E) -> dict[str, np.ndarray]:
    """SRR, NDR, SDS, NSCR from region counts; vectorised (arrays of replicate counts work).

    Entries with a zero denominator are NaN. Call `rate_notes` for the reasons.
    """
    P, S, E = (np.asarray(v, dtype=float) for v in (P, S, E))
    with np.errstate(invalid="ignore", divide="ignore"):
        srr = P / (P + S)
        ndr = E / (P + E)
        sds = 2 * srr * ndr / (srr + ndr)
        nscr = (E - S) / (P + E + S)
    return {"srr": srr, "ndr": ndr, "sds": sds, "nscr": nscr}


def rate_notes(counts: RegionCounts) -> dict[str, str]:
    """Why a rate is undefined (NaN) for these counts; rates that are defined have no entry."""
    P, S, E = counts.P, counts.S, counts.E
    notes: dict[str, str] = {}
    if P + S == 0:
        notes["srr"] = "undefined: no task is covered by the base model (P + S = 0)"
    if P + E == 0:
        notes["ndr"] = "undefined: no task is covered by the RL model (P + E = 0)"
    if "srr" in notes or "ndr" in notes:
        notes["sds"] = "undefined: needs both SRR and NDR"
    if P + E + S == 0:
        notes["nscr"] = "undefined: no task is covered by either model (P + E + S = 0)"
    return notes
