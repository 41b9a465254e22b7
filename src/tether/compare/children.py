"""Two children of one base side by side (the paper's Table 3: SFT against DAPO from one base), and whether they differ.

`compare_children(store, a, b, base=...)` counts the base and both children on the tasks all three share, at
one matched budget per task (the fewest samples any of the three has there: `shared_counts`), compares each
child with the base exactly as `tether compare` does (`compare_counts`), and tests the difference a - b of
each region count and rate on those tasks:

- interval: paired over tasks like these. A task's outcome is the triple (base covers, a covers, b covers),
  one of 8 cells; the cells' shares are drawn from their posterior Dirichlet(count + 1/2) (the Jeffreys
  bootstrap `bootstrap_rates` uses for one child), and a - b is computed on each draw from the same tasks;
- chance level: what two exchangeable children give. Per task, swapping the two children's counts leaves
  the task's outcome as likely under the null; only the tasks one child covers and the other does not move,
  and, since they are alike within "the base covers it" and "it does not", the swap distribution of every
  statistic is that of two binomials X1 ~ Bin(d1, 1/2), X0 ~ Bin(d0, 1/2) (d1, d0: such tasks the base
  covers and does not). It is enumerated exactly (drawn, `options.bootstrap_reps` times, when too large);
  its mean is 0; the p-value is two-sided, conditional on the rate being defined.
- multiplicity: P, S and SRR differ between the children by one test (the base's covered tasks are the same
  for both: P_a + S_a = P_b + S_b), O and E by another, and NDR, SDS, NSCR by one each: five tests, adjusted
  by Holm as one family (`tether.compare.tables.adjust`); in a study they join the study's one family. A
  difference is "beyond chance" only on its adjusted p-value.

Not here: a pair of children of different bases (each would need its own base's tasks), and the "fixed tasks"
intervals (`CompareOptions.intervals`): the difference's interval is over tasks like these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.compare.pairing import align
from tether.compare.result import CompareOptions, Comparison
from tether.compare.tables import Family, adjust, compared, comparison_row, comparison_summary
from tether.errors import InputError
from tether.metrics import RATES, REGIONS, Interval, holm, support_rates
from tether.metrics.uncertainty import json_number, percentile_interval
from tether.store import Store, open_store
from tether.store.query import task_counts
from tether.store.schema import TaskCounts

DIFFERENCES = ("P", "S", "E", "O", "srr", "ndr", "sds", "nscr")
SAME_TEST = {"P": "S", "srr": "S", "O": "E"}  # these differences are the named one's test (see the docstring)
FAMILY = ("S", "E", "ndr", "sds", "nscr")
EXACT_LIMIT = 4_000_000  # swap outcomes (d1 + 1)(d0 + 1) enumerated exactly; beyond, drawn


@dataclass(frozen=True)
class Difference:
    """a - b of one count or rate, its paired interval, what exchangeable children give, and the test."""

    name: str
    value: float
    ci: Interval
    chance: Interval  # central interval of a - b under the swap (its mean is 0)
    p_value: float  # two-sided, under the swap
    p_adjusted: float  # Holm over the pair's family
    alpha: float

    @property
    def beyond_chance(self) -> bool:
        return self.p_adjusted <= self.alpha

    def as_dict(self) -> dict:
        return {"value": json_number(self.value), "ci": [json_number(self.ci.lo), json_number(self.ci.hi)],
                "chance": {"expected": 0.0, "interval": [json_number(self.chance.lo), json_number(self.chance.hi)]},
                "p_value": json_number(self.p_value), "p_adjusted": json_number(self.p_adjusted),
                "beyond_chance": self.beyond_chance, "test": SAME_TEST.get(self.name, self.name)}


@dataclass
class ChildPair:
    """Two children of one base, each against the base on the same tasks and budget, and their differences."""

    base: str
    a: str
    b: str
    first: Comparison  # a against the base
    second: Comparison  # b against the base
    differences: dict[str, Difference]  # DIFFERENCES -> a - b
    options: CompareOptions
    discordant: dict[str, int]  # tasks one child covers and the other not: where the base covers them ("d1"), not ("d0")
    warnings: list[str] = field(default_factory=list)
    family: Family | None = None  # the family its differences' p-values are adjusted over (its own, or a study's)

    def raw_p(self) -> dict[str, float]:
        """The pair's tests (`FAMILY`): each difference's two-sided swap p-value."""
        return {name: self.differences[name].p_value for name in FAMILY}

    @property
    def p_adjusted(self) -> dict[str, float]:
        return {name: self.differences[name].p_adjusted for name in FAMILY}

    @p_adjusted.setter
    def p_adjusted(self, adjusted: dict[str, float]) -> None:
        self.differences = {name: dataclasses.replace(d, p_adjusted=adjusted[SAME_TEST.get(name, name)])
                            for name, d in self.differences.items()}

    def rows(self) -> list[dict]:
        """The Table 3 layout: one row per child against the base (counts beside chance; their claims are the
        study's cells'), then one row of the differences a - b with intervals and adjusted p-values."""
        rows = [{"child": label, **comparison_row(c)} for label, c in ((self.a, self.first), (self.b, self.second))]
        diff = {"child": f"{self.a} - {self.b}", "tasks": len(self.first.task_ids)}
        for name, d in self.differences.items():
            value = int(d.value) if name in REGIONS else d.value  # a count's difference is a whole number
            diff.update({name: value, f"{name}_lo": d.ci.lo, f"{name}_hi": d.ci.hi,
                         f"{name}_chance_lo": d.chance.lo, f"{name}_chance_hi": d.chance.hi, f"{name}_p": d.p_value,
                         f"{name}_p_holm": d.p_adjusted, f"{name}_beyond_chance": d.beyond_chance})
        return rows + [diff]

    def to_dict(self) -> dict:
        return {
            "base": self.base, "children": [self.a, self.b], "n_tasks": len(self.first.task_ids),
            "against_base": {self.a: comparison_summary(self.first), self.b: comparison_summary(self.second)},
            "differences": {name: d.as_dict() for name, d in self.differences.items()},
            "discordant": dict(self.discordant),
            "family": self.family.as_dict() if self.family else None,
            "methods": {"interval": "paired over tasks: Jeffreys-Dirichlet draws of the 8 (base, a, b) coverage "
                                    "cells' shares", "chance": "per task, the two children's counts swapped "
                        "(exchangeable children), enumerated exactly; two-sided p-value"},
            "settings": {"bootstrap_reps": self.options.bootstrap_reps, "confidence": self.options.confidence,
                         "alpha": self.options.alpha, "seed": self.options.seed,
                         "match_budget": self.options.match_budget, "allow_missing": self.options.allow_missing},
            "warnings": list(self.warnings),
        }


def compare_children(store: str | Path | Store, a: str, b: str, *, base: str = "base",
                     options: CompareOptions | None = None) -> ChildPair:
    """Children `a` and `b` of `base` side by side on the tasks all three share, at one matched budget."""
    if len({a, b, base}) < 3:
        raise InputError(f"compare_children needs two children and their base, three labels; got {a!r}, {b!r} "
                         f"and base {base!r}")
    options = options or CompareOptions()
    counts, warnings = shared_counts(open_store(store), [base, a, b], options)
    return children_of_counts(counts[base], counts[a], counts[b], options, warnings)


def children_of_counts(base: TaskCounts, a: TaskCounts, b: TaskCounts, options: CompareOptions,
                       warnings: Sequence[str] = (), known: Mapping[str, Comparison] | None = None) -> ChildPair:
    """`compare_children` on counts already aligned on one task set (the same budgets for a and b per task);
    `known`: comparisons with the base already made, reused where of the same counts (`tables.compared`)."""
    if not (np.array_equal(a.n, b.n) and np.array_equal(a.task_ids, b.task_ids)):
        raise InputError(f"{a.label!r} and {b.label!r} must be counted on the same tasks at the same budgets "
                         "(`shared_counts`) for their counts to be swapped")
    first, second = compared(base, a, options, known), compared(base, b, options, known)
    differences, discordant = child_differences(base.c > 0, a.c > 0, b.c > 0, options)
    said = list(warnings) + [f"{c.rl.label} vs {c.base.label}: {w}" for c in (first, second) for w in c.warnings]
    pair = ChildPair(base.label, a.label, b.label, first, second, differences, options, discordant, said)
    pair.family = adjust([(f"the differences {a.label} - {b.label}", [pair])], options.alpha)
    return pair


def child_differences(base_covers, a_covers, b_covers,
                      options: CompareOptions) -> tuple[dict[str, Difference], dict[str, int]]:
    """Each count and rate's a - b with its paired interval, chance interval and Holm-adjusted p-value, from
    which tasks each of the three covers (boolean arrays over the shared tasks)."""
    base_covers, a_covers, b_covers = (np.asarray(v, dtype=bool) for v in (base_covers, a_covers, b_covers))
    cells = np.bincount(4 * base_covers + 2 * a_covers + b_covers, minlength=8).astype(float)
    observed = _statistics(*_regions(cells[None, :]))
    intervals = _paired_intervals(cells, options)
    d1, d0 = int(cells[0b110] + cells[0b101]), int(cells[0b010] + cells[0b001])
    chance, p = _swap_test(cells, d1, d0, observed, options)
    adjusted = dict(zip(FAMILY, holm([p[name] for name in FAMILY])))
    differences = {}
    for name in DIFFERENCES:
        value = float(observed[name][0])
        lo, hi = intervals[name]
        ci = Interval(float("nan"), float("nan")) if np.isnan(value) else Interval(min(lo, value), max(hi, value))
        differences[name] = Difference(name, value, ci, chance[name], p[name], adjusted[SAME_TEST.get(name, name)],
                                       options.alpha)
    return differences, {"d1": d1, "d0": d0}


def _regions(cells: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Region counts (or shares) of a and of b from rows of the 8 (base, a, b) coverage cells."""
    def cell(base, a, b):
        return cells[:, 4 * base + 2 * a + b]

    a = {"P": cell(1, 1, 0) + cell(1, 1, 1), "S": cell(1, 0, 0) + cell(1, 0, 1),
         "E": cell(0, 1, 0) + cell(0, 1, 1), "O": cell(0, 0, 0) + cell(0, 0, 1)}
    b = {"P": cell(1, 0, 1) + cell(1, 1, 1), "S": cell(1, 0, 0) + cell(1, 1, 0),
         "E": cell(0, 0, 1) + cell(0, 1, 1), "O": cell(0, 0, 0) + cell(0, 1, 0)}
    return a, b


def _statistics(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """a - b of every region count and rate (NaN where either rate is undefined)."""
    rates_a, rates_b = support_rates(a["P"], a["S"], a["E"]), support_rates(b["P"], b["S"], b["E"])
    return {**{r: a[r] - b[r] for r in REGIONS}, **{r: rates_a[r] - rates_b[r] for r in RATES}}


def _paired_intervals(cells: np.ndarray, options: CompareOptions) -> dict[str, tuple[float, float]]:
    """Percentile intervals of a - b over tasks like these: Dirichlet(cells + 1/2) draws of the cells' shares,
    counts scaled back to the number of tasks."""
    tasks = cells.sum()
    if tasks == 0:
        return {name: (float("nan"), float("nan")) for name in DIFFERENCES}
    shares = np.random.default_rng(options.seed).dirichlet(cells + 0.5, size=options.bootstrap_reps)
    drawn = _statistics(*_regions(shares))
    out = {}
    for name in DIFFERENCES:
        values = drawn[name] * (tasks if name in REGIONS else 1.0)
        lo, hi = percentile_interval(values, options.confidence)
        out[name] = (float(lo), float(hi))
    return out


def _swap_test(cells: np.ndarray, d1: int, d0: int, observed: dict[str, np.ndarray],
               options: CompareOptions) -> tuple[dict[str, Interval], dict[str, float]]:
    """The distribution of every a - b when, per task, the children's counts are swapped at random: (X1, X0)
    independent Bin(d1, 1/2) and Bin(d0, 1/2) tasks of each discordant kind going to a. Its central interval
    at the options' confidence and each observed difference's two-sided p-value."""
    from scipy.stats import binom

    if (d1 + 1) * (d0 + 1) <= EXACT_LIMIT:
        x1, x0 = (v.ravel() for v in np.meshgrid(np.arange(d1 + 1), np.arange(d0 + 1), indexing="ij"))
        weight = binom.pmf(x1, d1, 0.5) * binom.pmf(x0, d0, 0.5)
    else:
        rng = np.random.default_rng(options.seed)
        x1, x0 = rng.binomial(d1, 0.5, options.bootstrap_reps), rng.binomial(d0, 0.5, options.bootstrap_reps)
        weight = np.full(len(x1), 1.0 / len(x1))
    fixed = {"P": cells[0b111], "S": cells[0b100], "E": cells[0b011], "O": cells[0b000]}  # both children agree
    a = {"P": fixed["P"] + x1, "S": fixed["S"] + d1 - x1, "E": fixed["E"] + x0, "O": fixed["O"] + d0 - x0}
    b = {"P": fixed["P"] + d1 - x1, "S": fixed["S"] + x1, "E": fixed["E"] + d0 - x0, "O": fixed["O"] + x0}
    null = _statistics(a, b)
    chance, p = {}, {}
    for name in DIFFERENCES:
        values, seen = null[name], observed[name][0]
        defined = ~np.isnan(values)
        w = weight[defined] / weight[defined].sum() if defined.any() else weight[defined]
        values = values[defined]
        chance[name] = _central(values, w, options.confidence)
        if np.isnan(seen) or not values.size:
            p[name] = float("nan") if name not in FAMILY else 1.0
        else:
            p[name] = float(min(1.0, w[np.abs(values) >= abs(seen) - 1e-12].sum()))
    return chance, p


def _central(values: np.ndarray, weights: np.ndarray, confidence: float) -> Interval:
    """The central interval holding `confidence` of a weighted discrete distribution."""
    if not values.size:
        return Interval(float("nan"), float("nan"))
    order = np.argsort(values, kind="stable")
    values, cdf = values[order], np.cumsum(weights[order])
    tail = (1 - confidence) / 2
    lo = values[np.searchsorted(cdf, tail * (1 - 1e-12))]
    hi = values[min(len(values) - 1, np.searchsorted(cdf, (1 - tail) * (1 - 1e-12)))]
    return Interval(float(lo), float(hi))


def shared_counts(store: Store, labels: Sequence[str], options: CompareOptions,
                  counted: dict[str, TaskCounts] | None = None) -> tuple[dict[str, TaskCounts], list[str]]:
    """Every label's counts on the tasks all of them have (a task one lacks is refused, or dropped with
    `options.allow_missing`, as `align` says), each on its first m samples there, m the fewest any label
    has, when `options.match_budget` and budgets differ: one task set and one budget for a table of several
    models. Adaptive labels are counted on their own samples (matching would cut a task one stopped early).
    `counted` (label -> full counts) is read first and filled: a study counts each label once."""
    counted = {} if counted is None else counted
    for label in dict.fromkeys(labels):
        if label not in counted:
            counted[label] = task_counts(store, label)
    counts = {label: counted[label] for label in dict.fromkeys(labels)}
    first, warnings = counts[labels[0]], []
    for label in labels[1:]:
        _, _, dropped = align(first, counts[label], options.allow_missing)
        warnings += dropped
    common = first.task_ids.astype(str)
    for label in labels[1:]:
        common = np.intersect1d(common, counts[label].task_ids.astype(str))
    counts = {label: c.subset(common) for label, c in counts.items()}
    n = np.array([c.n for c in counts.values()])
    budgets, differ = n.min(axis=0), np.flatnonzero(n.max(axis=0) != n.min(axis=0))
    if options.match_budget and differ.size and not _adaptive(store, labels):
        limits = dict(zip(common.tolist(), budgets.tolist()))
        example = ", ".join(f"{label} {int(c.n[differ[0]])}" for label, c in counts.items())
        counts = {label: task_counts(store, label, limits).subset(common) if np.any(c.n != budgets) else c
                  for label, c in counts.items()}
        warnings.append(f"{differ.size} of {len(common)} tasks have different sample counts across the labels (e.g. "
                        f"{common[differ[0]]}: {example}); every label is compared on each task's first m samples, "
                        "m the fewest any label has there")
    return counts, warnings


def _adaptive(store: Store, labels: Sequence[str]) -> list[str]:
    from tether.compare.counts import adaptive_budgets

    return adaptive_budgets([(store, label) for label in labels])[1]

