"""A training run over its checkpoints (the paper's Table 4): every step against the base and against the step before.

`trajectory(store, [(30, "grpo@30"), (60, "grpo@60"), ...], base="base")` counts the base and every checkpoint
on the tasks all of them share, at one matched budget per task (`tether.compare.children.shared_counts`), and
compares each step with the base and with the previous step (`compare_counts`, the same statistics as
`tether compare`; the first step's previous is the base, so it has no second comparison). Per step: pass@k
over the grid, P/S/E/O with what identical models give, SRR/NDR/SDS/NSCR with intervals, and the rates'
chance band (`chance_band`). All of it on every task (`Trajectory.steps`) and, as the paper's table is, on each
benchmark's tasks and each domain's (`Trajectory.scopes`: `tether.compare.scopes`, as a study's rows group them).

"The first step whose shrinkage is significant": the first step, in step order, whose S against the base is
beyond chance after Holm over one family (`tether.compare.tables.adjust`): the S and the E excess test of every
step against the base and against its previous step, on every scope (each benchmark, each domain, overall), each
distinct test once (a domain of one benchmark is that benchmark's test: `tables.same_test`), so a
run of checkpoints identical to the base claims shrinkage or expansion somewhere in at most alpha of runs, however
many steps and benchmarks it has. None, with the reason, otherwise; overall and per scope. In a study (`tether.compare.study`) these tests join the study's one family and the first step is
read on its adjusted p-values (`first_shrinkage`).

The default options extrapolate nothing (the joint model takes ~20 s per comparison at 1,000 tasks x 1,024
samples); options with `extrapolate` set give each step's estimates beyond the grid against the base (drawn
dashed by `tether.report.trajectory`); step-to-step comparisons never extrapolate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.compare.children import shared_counts
from tether.compare.result import CompareOptions, Comparison
from tether.compare.run import compare_counts
from tether.compare.scopes import OVERALL, Scopes, benchmarks_of, scopes
from tether.compare.tables import Family, adjust, compared, comparison_row, comparison_summary, level_keys, level_tests
from tether.errors import InputError
from tether.metrics.uncertainty import json_number
from tether.store import Store, open_store
from tether.store.schema import TaskCounts

STEP_TESTS = "S and E of every step against the base and the previous step"  # what a run adds to a family
PER_SCOPE = ", per benchmark, domain and overall"  # ... when its tasks name benchmarks
Known = Mapping[tuple[str, str, str], Comparison]  # (scope, name, child label) -> its comparison with the base


@dataclass
class Step:
    """One checkpoint: against the base, and against the checkpoint before it (None for the first step)."""

    step: int
    label: str
    previous: str  # the label before it: the base for the first step
    against_base: Comparison
    against_previous: Comparison | None
    p_adjusted: dict[str, float] = field(default_factory=dict)  # "S", "E" (against the base), "S_previous", ...

    def raw_p(self) -> dict[str, float]:
        """The step's tests: S and E against the base, and against the previous step ("S_previous", "E_previous")."""
        previous = None if self.against_previous is None else self.against_previous.chance
        return {**level_tests(self.against_base.chance), **level_tests(previous, "_previous")}

    def test_keys(self) -> dict[str, tuple]:
        """What the step's tests are (`tables.same_test`): against the base, a study's cell on the same tasks."""
        return {**level_keys(self.against_base), **level_keys(self.against_previous, "_previous")}

    def beyond_chance(self, region: str, alpha: float) -> bool:
        """Whether S or E (against the base; "S_previous" and "E_previous" step to step) is beyond chance after
        the trajectory's Holm."""
        return self.p_adjusted.get(region, math.nan) <= alpha


@dataclass(frozen=True)
class FirstShrinkage:
    """The first step whose S against the base is beyond chance after Holm (None: none is), and why."""

    step: int | None
    reason: str
    p_adjusted: float | None = None  # that step's S against the base; with none, the lowest any step has


@dataclass
class ScopeSteps:
    """A run's steps on one benchmark's tasks or one domain's: each against the base and the step before."""

    scope: str  # "benchmark" | "domain"
    name: str
    steps: list[Step]
    first_shrinkage: FirstShrinkage | None = None


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
    family: Family | None = None  # the family its steps' p-values are adjusted over (its own, or a study's)
    run: str | None = None  # the training run's name, where known (a study's children record it)
    scopes: list[ScopeSteps] = field(default_factory=list)  # per benchmark, then per domain (none: one benchmark)

    def step(self, number: int) -> Step:
        for found in self.steps:
            if found.step == number:
                return found
        raise InputError(f"the trajectory has no step {number} (steps: {', '.join(str(s.step) for s in self.steps)})")

    def scope(self, scope: str, name: str) -> ScopeSteps:
        for found in self.scopes:
            if (found.scope, found.name) == (scope, name):
                return found
        have = ", ".join(f"{s.scope} {s.name}" for s in self.scopes) or "none"
        raise InputError(f"the trajectory has no {scope} {name!r} (it has: {have})")

    def parts(self) -> list[tuple[str, str, list[Step], FirstShrinkage]]:
        """(scope, name, steps, first shrinkage) of every scope, benchmarks and domains first, overall last."""
        return [(s.scope, s.name, s.steps, s.first_shrinkage) for s in self.scopes] + [
            (OVERALL, OVERALL, self.steps, self.first_shrinkage)]

    def all_steps(self) -> list[Step]:
        """Every step of every scope: the run's tests in a family."""
        return [step for _, _, steps, _ in self.parts() for step in steps]

    def tests(self) -> str:
        """What the run's tests are, as a family says it."""
        return STEP_TESTS + (PER_SCOPE if self.scopes else "")

    def settle(self, alpha: float) -> None:
        """Each scope's first significant step, read on the steps' adjusted p-values (set by the family)."""
        self.first_shrinkage = first_shrinkage(self.steps, alpha)
        for found in self.scopes:
            found.first_shrinkage = first_shrinkage(found.steps, alpha)

    def rows(self) -> list[dict]:
        """The Table 4 layout: per scope (each benchmark, each domain, overall), one row per step against the base,
        then its S and E against the previous step."""
        alpha = self.options.alpha
        rows = []
        for scope, name, steps, _ in self.parts():
            rows += [{"run": self.run, "scope": scope, "name": name, **row} for row in _step_rows(self, steps, alpha)]
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

        def first_dict(first: FirstShrinkage) -> dict:
            return {"step": first.step, "reason": first.reason, "p_adjusted": json_number(first.p_adjusted)}

        return {"store": self.store, "run": self.run, "base": self.base, "base_step": self.base_step,
                "steps": [step_dict(s) for s in self.steps],
                "first_shrinkage": first_dict(self.first_shrinkage),
                "scopes": [{"scope": found.scope, "name": found.name, "steps": [step_dict(s) for s in found.steps],
                            "first_shrinkage": first_dict(found.first_shrinkage)} for found in self.scopes],
                "family": self.family.as_dict() if self.family else None,
                "settings": {"bootstrap_reps": self.options.bootstrap_reps, "confidence": self.options.confidence,
                             "alpha": self.options.alpha, "seed": self.options.seed,
                             "k_grid": list(self.options.k_grid) if self.options.k_grid else None,
                             "match_budget": self.options.match_budget, "allow_missing": self.options.allow_missing,
                             "extrapolate": self.options.extrapolate, "intervals": self.options.intervals},
                "warnings": list(self.warnings)}


def _step_rows(found: Trajectory, steps: Sequence[Step], alpha: float) -> list[dict]:
    """One flat row per step: against the base, then its S and E against the previous step."""
    rows = []
    for s in steps:
        row = {"step": s.step, "child": s.label, "base": found.base, "previous": s.previous,
               **comparison_row(s.against_base, s.p_adjusted, alpha)}
        if s.against_previous is not None:
            c = s.against_previous
            for region, level in (("S", c.chance.s), ("E", c.chance.e)):
                key = f"{region}_previous"
                row.update({key: level.observed, f"{key}_chance": level.expected, f"{key}_p": level.p_value,
                            f"{key}_p_holm": s.p_adjusted[key], f"{key}_beyond_chance": s.beyond_chance(key, alpha)})
        rows.append(row)
    return rows


def trajectory(store: str | Path | Store, steps: Sequence[tuple[int, str]], *, base: str = "base",
               options: CompareOptions | None = None, run: str | None = None,
               counted: dict[str, TaskCounts] | None = None, known: Known | None = None,
               domains: Mapping[str, str] | None = None) -> Trajectory:
    """Every checkpoint (step, label) of training run `run` against `base` and against the step before, on the
    tasks all share at one matched budget, overall and per benchmark and domain (`domains` overrides the default
    grouping); a step labelled `base` is where the run starts (not compared). `counted`: labels' full counts
    already read (`shared_counts`); `known`: comparisons with the base already made (`trajectory_of_counts`)."""
    ordered, base_step = _ordered(steps, base)
    options = options or CompareOptions(extrapolate=0)
    opened = open_store(store)
    counts, warnings = shared_counts(opened, [base] + [label for _, label in ordered], options, counted)
    parts = scopes(benchmarks_of(opened, base, counts[base].task_ids.astype(str)), domains)
    found = trajectory_of_counts(counts[base], [(step, counts[label]) for step, label in ordered], options, known,
                                 parts)
    found.store, found.base_step, found.run = str(opened.root), base_step, run
    found.warnings = list(dict.fromkeys(warnings + found.warnings))
    return found


def trajectory_of_counts(base: TaskCounts, steps: Sequence[tuple[int, TaskCounts]], options: CompareOptions,
                         known: Known | None = None, parts: Scopes = ()) -> Trajectory:
    """`trajectory` on counts already aligned on one task set, in step order, overall and on each scope's tasks
    (`parts`: `tether.compare.scopes.scopes`; a scope's steps never extrapolate). `known`: comparisons with the
    base already made, by (scope, name, child label), reused where of the same counts (`tables.compared`)."""
    overall, warnings = _steps(base, steps, options, _known(known, OVERALL, OVERALL))
    between = dataclasses.replace(options, extrapolate=0)
    found = Trajectory("", base.label, overall, options, FirstShrinkage(None, ""), None, warnings)
    for scope, groups in parts:
        for name, ids in groups:
            scoped, _ = _steps(base.subset(ids), [(number, counts.subset(ids)) for number, counts in steps], between,
                               _known(known, scope, name))
            found.scopes.append(ScopeSteps(scope, name, scoped))
    found.family = adjust([(found.tests(), found.all_steps())], options.alpha)
    found.settle(options.alpha)
    return found


def _steps(base: TaskCounts, steps: Sequence[tuple[int, TaskCounts]], options: CompareOptions,
           known: Mapping[str, Comparison]) -> tuple[list[Step], list[str]]:
    """Every step against the base and the step before, on one task set; the comparisons' warnings (not those of
    a comparison `known` gave: its owner says them)."""
    between = dataclasses.replace(options, extrapolate=0)
    found, previous, warnings = [], base, []
    for number, counts in steps:
        against_base = compared(base, counts, options, known)
        against_previous = None if previous is base else compare_counts(previous, counts, between)
        found.append(Step(number, counts.label, previous.label, against_base, against_previous))
        warnings += [f"step {number} ({counts.label}) vs {c.base.label}: {line}"
                     for c in (against_base, against_previous) if c is not None and c is not known.get(counts.label)
                     for line in c.warnings]
        previous = counts
    return found, list(dict.fromkeys(warnings))


def _known(known: Known | None, scope: str, name: str) -> dict[str, Comparison]:
    """The comparisons `known` holds on one scope, by the child's label."""
    return {label: c for (s, n, label), c in (known or {}).items() if (s, n) == (scope, name)}


def first_shrinkage(steps: Sequence[Step], alpha: float) -> FirstShrinkage:
    """The first step, in step order, whose S against the base is beyond chance on its adjusted p-value (set by
    the family: `Step.p_adjusted`), as a sentence; else None and the lowest adjusted p any step has."""
    for s in steps:
        if s.beyond_chance("S", alpha):
            level, p = s.against_base.chance.s, s.p_adjusted["S"]
            return FirstShrinkage(s.step, f"support shrinks from step {s.step} ({s.label}): S = {level.observed} "
                                  f"where a model identical to the base gives {level.expected:.1f} "
                                  f"[{level.interval[0]}, {level.interval[1]}] (adjusted p {p:.2g})", p)
    if not steps:
        return FirstShrinkage(None, "no step to compare")
    lowest = min(steps, key=lambda s: s.p_adjusted.get("S", math.inf))
    p = lowest.p_adjusted.get("S", math.nan)
    return FirstShrinkage(None, f"no step's shrinkage is beyond chance (lowest adjusted p {p:.2g}, step "
                          f"{lowest.step})", p)


def chance_band(c: Comparison) -> dict[str, tuple[float, float]]:
    """SRR, NDR and NSCR as a model identical to the base would show them, P as observed: the rates at the ends
    of the chance interval of S (SRR), E (NDR) and S - E (NSCR, over P + the expected S and E, within [-1, 1])."""
    P, s, e, net = c.counts.P, c.chance.s, c.chance.e, c.chance.s_minus_e

    def ratio(top, bottom):
        return top / bottom if bottom > 0 else math.nan

    srr = sorted((ratio(P, P + s.interval[1]), ratio(P, P + s.interval[0])))
    ndr = sorted((ratio(e.interval[0], P + e.interval[0]), ratio(e.interval[1], P + e.interval[1])))
    total = P + s.expected + e.expected
    nscr = sorted(float(np.clip(ratio(-end, total), -1.0, 1.0)) for end in net.interval)  # a rate: within [-1, 1]
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
