"""A training run over its checkpoints (the paper's Table 4): every step against the base and against the step before.

`trajectory(store, [(30, "grpo@30"), (60, "grpo@60"), ...], base="base")` counts the base and every checkpoint
on the tasks all of them share, at one matched budget per task (`tether.compare.children.shared_counts`), and
compares each step with the base and with the previous step (`compare_counts`, the same statistics as
`tether compare`; the first step's previous is the base, so it has no second comparison). Per step: pass@k
over the grid, P/S/E/O with what identical models give, SRR/NDR/SDS/NSCR with intervals, and the rates'
chance band (`chance_band`).

"The first step whose shrinkage is significant": the first step, in step order, whose S against the base is
beyond chance after Holm over one family: the S and the E excess test of every step against the base and
against its previous step (`shrinkage_family`), so a run of checkpoints identical to the base claims shrinkage
or expansion somewhere in at most alpha of runs, however many steps it has. None, with the reason, otherwise.

The default options extrapolate nothing (the joint model takes ~20 s per comparison at 1,000 tasks x 1,024
samples); options with `extrapolate` set give each step's estimates beyond the grid against the base (drawn
dashed by `tether.report.trajectory`); step-to-step comparisons never extrapolate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tether.compare.children import child_row, comparison_summary, shared_counts
from tether.compare.result import CompareOptions, Comparison
from tether.compare.run import compare_counts
from tether.errors import InputError
from tether.metrics import ChanceLevels, holm
from tether.metrics.uncertainty import json_number
from tether.store import Store, open_store
from tether.store.schema import TaskCounts


@dataclass
class Step:
    """One checkpoint: against the base, and against the checkpoint before it (None for the first step)."""

    step: int
    label: str
    previous: str  # the label before it: the base for the first step
    against_base: Comparison
    against_previous: Comparison | None
    p_adjusted: dict[str, float] = field(default_factory=dict)  # "S", "E" (against the base), "S_previous", ...

    def beyond_chance(self, region: str, alpha: float) -> bool:
        """Whether S or E (against the base; "S_previous" and "E_previous" step to step) is beyond chance after
        the trajectory's Holm."""
        return self.p_adjusted.get(region, math.nan) <= alpha


@dataclass(frozen=True)
class FirstShrinkage:
    """The first step whose S against the base is beyond chance after Holm (None: none is), and why."""

    step: int | None
    reason: str
    tests: int  # the Holm family's size


@dataclass
class Trajectory:
    """A run's checkpoints, each against the base and the step before, with one Holm family over all of them."""

    store: str
    base: str
    steps: list[Step]
    options: CompareOptions
    first_shrinkage: FirstShrinkage
    base_step: int | None = None  # the step the base stands for, when the caller listed it (e.g. step 0)
    warnings: list[str] = field(default_factory=list)

    def step(self, number: int) -> Step:
        for found in self.steps:
            if found.step == number:
                return found
        raise InputError(f"the trajectory has no step {number} (steps: {', '.join(str(s.step) for s in self.steps)})")

    @property
    def family(self) -> str:
        return (f"Holm over {self.first_shrinkage.tests} tests (the S and E excess of every step against the base "
                "and against the previous step)")

    def rows(self) -> list[dict]:
        """The Table 4 layout: one row per step against the base, then the step-to-step S and E."""
        alpha = self.options.alpha
        rows = []
        for s in self.steps:
            row = {"step": s.step, **child_row(s.label, s.against_base), "previous": s.previous}
            row.update({"S_p_holm": s.p_adjusted["S"], "E_p_holm": s.p_adjusted["E"],
                        "S_beyond_chance": s.beyond_chance("S", alpha), "E_beyond_chance": s.beyond_chance("E", alpha)})
            if s.against_previous is not None:
                c = s.against_previous
                row.update({"S_previous": c.counts.S, "E_previous": c.counts.E,
                            "S_previous_p_holm": s.p_adjusted["S_previous"],
                            "E_previous_p_holm": s.p_adjusted["E_previous"]})
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        def step_dict(s: Step) -> dict:
            return {"step": s.step, "label": s.label, "previous": s.previous,
                    "against_base": {**comparison_summary(s.against_base),
                                     "chance_band": {r: [json_number(lo), json_number(hi)]
                                                     for r, (lo, hi) in chance_band(s.against_base).items()}},
                    "against_previous": comparison_summary(s.against_previous) if s.against_previous else None,
                    "p_adjusted": {k: json_number(v) for k, v in s.p_adjusted.items()},
                    "beyond_chance": {k: s.beyond_chance(k, self.options.alpha) for k in s.p_adjusted}}

        first = self.first_shrinkage
        return {"store": self.store, "base": self.base, "base_step": self.base_step,
                "steps": [step_dict(s) for s in self.steps],
                "first_shrinkage": {"step": first.step, "reason": first.reason},
                "family": {"method": "Holm", "tests": first.tests, "alpha": self.options.alpha, "text": self.family},
                "settings": {"bootstrap_reps": self.options.bootstrap_reps, "confidence": self.options.confidence,
                             "alpha": self.options.alpha, "seed": self.options.seed,
                             "k_grid": list(self.options.k_grid) if self.options.k_grid else None,
                             "match_budget": self.options.match_budget, "allow_missing": self.options.allow_missing,
                             "extrapolate": self.options.extrapolate, "intervals": self.options.intervals},
                "warnings": list(self.warnings)}


def trajectory(store: str | Path | Store, steps: Sequence[tuple[int, str]], *, base: str = "base",
               options: CompareOptions | None = None) -> Trajectory:
    """Every checkpoint (step, label) against `base` and against the step before, on the tasks all share at one
    matched budget; a step labelled `base` is where the run starts (not compared)."""
    ordered, base_step = _ordered(steps, base)
    options = options or CompareOptions(extrapolate=0)
    opened = open_store(store)
    counts, warnings = shared_counts(opened, [base] + [label for _, label in ordered], options)
    found = trajectory_of_counts(counts[base], [(step, counts[label]) for step, label in ordered], options)
    found.store, found.base_step, found.warnings = str(opened.root), base_step, warnings + found.warnings
    return found


def trajectory_of_counts(base: TaskCounts, steps: Sequence[tuple[int, TaskCounts]],
                         options: CompareOptions) -> Trajectory:
    """`trajectory` on counts already aligned on one task set, in step order."""
    between = dataclasses.replace(options, extrapolate=0)
    found, previous, warnings = [], base, []
    for number, counts in steps:
        against_base = compare_counts(base, counts, options)
        against_previous = None if previous is base else compare_counts(previous, counts, between)
        found.append(Step(number, counts.label, previous.label, against_base, against_previous))
        warnings += [f"step {number} ({counts.label}) vs {c.base.label}: {line}"
                     for c in (against_base, against_previous) if c is not None for line in c.warnings]
        previous = counts
    first = shrinkage_family(found, options.alpha)
    return Trajectory("", base.label, found, options, first, None, list(dict.fromkeys(warnings)))


def shrinkage_family(steps: list[Step], alpha: float) -> FirstShrinkage:
    """Holm over the S and E excess p-values of every step against the base and against its previous step
    (`holm_family`); each step keeps its adjusted ones (`Step.p_adjusted`); the first step whose S against the
    base is beyond chance."""
    adjusted, tests = holm_family([(s.against_base.chance, _chance(s.against_previous)) for s in steps])
    for s, found in zip(steps, adjusted):
        s.p_adjusted = found
    for s in steps:
        if s.beyond_chance("S", alpha):
            level = s.against_base.chance.s
            return FirstShrinkage(s.step, f"step {s.step} ({s.label}): S = {level.observed} against "
                                  f"{level.expected:.1f} [{level.interval[0]}, {level.interval[1]}] for a model "
                                  f"identical to the base, p = {s.p_adjusted['S']:.2g} after Holm over {tests} tests",
                                  tests)
    if not steps:
        return FirstShrinkage(None, "no step to compare", 0)
    lowest = min(steps, key=lambda s: s.p_adjusted["S"])
    return FirstShrinkage(None, f"no step's shrinkage is beyond chance (p <= {alpha:g}) after Holm over {tests} tests; "
                          f"the lowest is step {lowest.step}'s, p = {lowest.p_adjusted['S']:.2g}", tests)


def holm_family(levels: Sequence[tuple[ChanceLevels, ChanceLevels | None]]) -> tuple[list[dict[str, float]], int]:
    """Per step, from its chance levels against the base and against its previous step (None: none), the S and
    E excess p-values adjusted by Holm over all of them ("S", "E", "S_previous", "E_previous"), and how many."""
    keys, raw = [], []
    for i, pair in enumerate(levels):
        for suffix, found in zip(("", "_previous"), pair):
            if found is not None:
                keys += [(i, "S" + suffix), (i, "E" + suffix)]
                raw += [found.s.p_value, found.e.p_value]
    adjusted: list[dict[str, float]] = [{} for _ in levels]
    for (i, key), p in zip(keys, holm(raw) if raw else []):
        adjusted[i][key] = p
    return adjusted, len(raw)


def _chance(comparison: Comparison | None) -> ChanceLevels | None:
    return None if comparison is None else comparison.chance


def chance_band(c: Comparison) -> dict[str, tuple[float, float]]:
    """SRR, NDR and NSCR as a model identical to the base would show them, P as observed: the rates at the ends
    of the chance interval of S (SRR), E (NDR) and S - E (NSCR, over P + the expected S and E)."""
    P, s, e, net = c.counts.P, c.chance.s, c.chance.e, c.chance.s_minus_e

    def ratio(top, bottom):
        return top / bottom if bottom > 0 else math.nan

    srr = sorted((ratio(P, P + s.interval[1]), ratio(P, P + s.interval[0])))
    ndr = sorted((ratio(e.interval[0], P + e.interval[0]), ratio(e.interval[1], P + e.interval[1])))
    total = P + s.expected + e.expected
    nscr = sorted((ratio(-net.interval[1], total), ratio(-net.interval[0], total)))
    return {"srr": tuple(srr), "ndr": tuple(ndr), "nscr": tuple(nscr)}


def _ordered(steps: Sequence[tuple[int, str]], base: str) -> tuple[list[tuple[int, str]], int | None]:
    """The checkpoints in step order, the base's own entry (where the run starts) set apart; bad input refused."""
    pairs = [(int(step), str(label)) for step, label in steps]
    labels = [label for _, label in pairs]
    numbers = [step for step, _ in pairs]
    if len(set(labels)) < len(labels) or len(set(numbers)) < len(numbers):
        raise InputError(f"every checkpoint needs its own step and label; got {pairs}")
    base_step = next((step for step, label in pairs if label == base), None)
    ordered = sorted(pair for pair in pairs if pair[1] != base)
    if not ordered:
        raise InputError(f"a trajectory needs at least one checkpoint besides the base {base!r}")
    if base_step is not None and base_step > ordered[0][0]:
        raise InputError(f"the base {base!r} is listed at step {base_step}, after checkpoint {ordered[0][1]!r} "
                         f"(step {ordered[0][0]}): the base is where the run starts")
    return ordered, base_step
