"""A study: one store, any number of RL children each compared with its base, per benchmark, domain and overall.

`compare_study(store, children)` compares every child with its base (`Child.base`) exactly as `tether compare`
compares one pair (`paired_counts` on the common tasks at matched budgets, then `compare_counts`), once on all
those tasks and once on each benchmark's and each domain's (`tether.tasks.domains`: the math presets are Math,
the others Non-Math, unless overridden). Every cell is a full `Comparison`; `Study.rows()` is the paper's
Table 1 layout: one row per child x {benchmarks, domains, Overall}, with P/E/S/O beside chance, the four rates
with their intervals and pass@k at the grid's largest k.

Multiplicity: the S and the E excess of every cell (children x scopes) are one family, adjusted by Holm
(`FamilyCorrection`); a cell's S or E is "beyond chance" only on its adjusted p-value, so a study of children
identical to their base claims something in at most alpha of runs, however many cells it has. A study does
not extrapolate past the sampled k (`CompareOptions.extrapolate` is set to 0), nor compare a label with itself
or under other verdict sets: `tether compare` on one pair does those.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.compare.counts import adaptive_budgets, adaptive_notes, label_warnings
from tether.compare.pairing import paired_counts
from tether.compare.result import CompareOptions, Comparison, natural_key, replace_text
from tether.compare.run import compare_counts
from tether.errors import InputError, written_to
from tether.metrics import ChanceLevels, holm
from tether.metrics.uncertainty import json_number
from tether.store import Store, open_store
from tether.store.compliance import compliance_warnings, stored_compliance
from tether.store.query import task_benchmarks, task_counts
from tether.store.schema import TaskCounts
from tether.tasks.domains import MATH, NON_MATH, benchmark_of_task, domain_of

SCOPES = ("benchmark", "domain", "overall")
OVERALL = "overall"


@dataclass(frozen=True)
class Child:
    """One RL model of a study, compared with its base; `run` and `step` place a checkpoint in a training run."""

    label: str
    base: str = "base"
    run: str | None = None
    step: int | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class StudyCell:
    """One child on one scope: a benchmark's tasks, a domain's, or all its matched tasks ("overall")."""

    child: str
    scope: str  # "benchmark" | "domain" | "overall"
    name: str  # the benchmark's or the domain's name; "overall"
    comparison: Comparison  # compare_counts on that subset of the child's matched tasks
    p_adjusted: dict[str, float] = field(default_factory=dict)  # "S"/"E" -> p adjusted over the study's family

    def beyond_chance(self, region: str) -> bool:
        """Whether the cell's S (or E) count is beyond what identical models give, after the study's Holm."""
        return self.p_adjusted[region] <= self.comparison.options.alpha

    def pass_at_top(self) -> tuple[int, float, float]:
        """(k, base pass@k, child pass@k) at the largest k of the cell's grid."""
        c = self.comparison
        return int(c.k_grid[-1]), float(c.pass_at_k["base"][-1]), float(c.pass_at_k["rl"][-1])


@dataclass(frozen=True)
class FamilyCorrection:
    """The study's one multiplicity family: the S and E excess test of every (child, scope) cell, Holm-adjusted."""

    method: str
    tests: int
    alpha: float

    def describe(self) -> str:
        return f"{self.method} over {self.tests} tests (the S and E excess of every child x scope)"

    def as_dict(self) -> dict:
        return {"method": self.method, "tests": self.tests, "alpha": self.alpha, "text": self.describe()}


@dataclass
class Study:
    """Every child against its base, per benchmark, domain and overall, with one Holm family over all cells."""

    store: str
    children: list[Child]
    cells: list[StudyCell]
    options: CompareOptions
    family: FamilyCorrection
    domains: dict[str, str] = field(default_factory=dict)  # benchmark -> domain, as used
    warnings: list[str] = field(default_factory=list)

    def cell(self, child: str, scope: str = OVERALL, name: str = OVERALL) -> StudyCell:
        for found in self.cells:
            if (found.child, found.scope, found.name) == (child, scope, name):
                return found
        have = ", ".join(sorted({f"{c.scope} {c.name}" for c in self.cells if c.child == child})) or "none"
        raise InputError(f"the study has no {scope} {name!r} for {child!r} (it has: {have})")

    def rows(self) -> list[dict]:
        """The Table 1 layout: one flat row per child x scope, in the study's order."""
        children = {child.label: child for child in self.children}
        return [_row(children[cell.child], cell) for cell in self.cells]

    def to_dict(self) -> dict:
        """The study as one JSON object (docs/study.md): children, the family, the rows, settings, warnings."""
        return {
            "study": {"store": self.store, "children": [child.as_dict() for child in self.children],
                      "domains": dict(self.domains)},
            "family": self.family.as_dict(),
            "rows": [{key: _json(value) for key, value in row.items()} for row in self.rows()],
            "settings": {"bootstrap_reps": self.options.bootstrap_reps, "confidence": self.options.confidence,
                         "alpha": self.options.alpha, "seed": self.options.seed,
                         "k_grid": list(self.options.k_grid) if self.options.k_grid else None,
                         "allow_missing": self.options.allow_missing, "match_budget": self.options.match_budget,
                         "intervals": self.options.intervals},
            "warnings": list(self.warnings),
        }


def compare_study(store: str | Path | Store, children: Sequence[Child | str], *,
                  options: CompareOptions | None = None, domains: Mapping[str, str] | None = None) -> Study:
    """Compare every child with its base (a label name is a `Child` of the label ``base``) on their common
    tasks at matched budgets, overall and per benchmark and domain (`domains` overrides the default grouping).
    A child's run and step, when not given, are those the store's manifest records for its label."""
    store = open_store(store)
    options = dataclasses.replace(options or CompareOptions(), extrapolate=0)
    manifest = store.manifest()
    children = [_placed(Child(child) if isinstance(child, str) else child, manifest) for child in children]
    _check_children(children)
    labels = sorted({label for child in children for label in (child.base, child.label)})
    budgets_of, adaptive_of = _budgets(store, labels)
    counted: dict[str, TaskCounts] = {}

    def count(label: str):
        def counts(limits):
            if limits is not None:
                return task_counts(store, label, limits)
            if label not in counted:  # the full counts of a label: once, whatever number of children share it
                counted[label] = task_counts(store, label)
            return counted[label]
        return counts

    warnings = compliance_warnings(stored_compliance(store, label) for label in labels)  # once per label
    cells, used = [], {}
    for child in children:
        said = label_warnings(store, child.base, child.label, manifest)
        pair = (child.base, child.label)
        budgets = (budgets_of[child.base], budgets_of[child.label])
        adaptive = [label for label in pair if label in adaptive_of]
        base, rl, paired = paired_counts(count(child.base), count(child.label), allow_missing=options.allow_missing,
                                         match_budget=options.match_budget and not adaptive)
        overall = compare_counts(base, rl, options, budgets)
        for line in paired + overall.warnings + said + adaptive_notes(adaptive, budgets):
            line = f"{child.label} vs {child.base}: {line}"
            if line not in warnings:
                warnings.append(line)
        benchmark_of = _benchmarks(store, child.base, base.task_ids.astype(str))
        for scope, groups in _scopes(benchmark_of, domains, used):
            for name, ids in groups:
                part = compare_counts(base.subset(ids), rl.subset(ids), options, budgets)
                cells.append(StudyCell(child.label, scope, name, part))
        cells.append(StudyCell(child.label, OVERALL, OVERALL, overall))
    family, adjusted = adjust_family([cell.comparison.chance for cell in cells], options.alpha)
    for cell, pair in zip(cells, adjusted):
        cell.p_adjusted = pair
    return Study(str(store.root), children, cells, options, family, used, warnings)


def child_labels(store: str | Path | Store, patterns: Sequence[str], base: str = "base") -> list[str]:
    """The labels named by `patterns` (each a label, or a glob such as ``grpo@*`` over the store's graded
    labels, in natural order: step 30 before step 300), the base left out, each once."""
    store = open_store(store)
    graded = sorted(store.labels("verdicts"), key=natural_key)
    found: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matched = [label for label in graded if fnmatch.fnmatchcase(label, pattern) and label != base]
            if not matched:
                raise InputError(f"--rl {pattern!r} matches no graded label of {store.root} other than the base "
                                 f"(graded labels: {', '.join(graded) or 'none'})")
        else:
            matched = [pattern]
        found += [label for label in matched if label not in found]
    return found


def save_study(study: Study, out: str | Path) -> list[Path]:
    """Write study.json (`Study.to_dict()`) and study.csv (`Study.rows()`) into the folder `out`."""
    folder = Path(out)
    with written_to(folder):
        folder.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = folder / "study.json", folder / "study.csv"
    rows = study.rows()
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]) if rows else ["child"])
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None or (isinstance(value, float) and math.isnan(value)) else value
                         for key, value in row.items()})
    replace_text(json_path, json.dumps(study.to_dict(), indent=2, allow_nan=False) + "\n")
    replace_text(csv_path, table.getvalue())
    return [json_path, csv_path]


def _check_children(children: list[Child]) -> None:
    if not children:
        raise InputError("a study needs at least one child (--rl LABEL)")
    seen = set()
    for child in children:
        if child.label == child.base:
            raise InputError(f"child {child.label!r} is its own base; name the base it is compared with (--base)")
        if child.label in seen:
            raise InputError(f"child {child.label!r} is named twice")
        seen.add(child.label)


def _placed(child: Child, manifest) -> Child:
    """`child` with the training run and step its manifest records for it, unless given."""
    found = manifest.checkpoint(child.label) if child.run is None and child.step is None else None
    return dataclasses.replace(child, run=found[0], step=found[1]) if found else child


def _budgets(store: Store, labels: list[str]) -> tuple[dict[str, int | None], set[str]]:
    """Each label's full budget where it was sampled adaptively (None otherwise), from one manifest read."""
    budgets, adaptive = adaptive_budgets([(store.root, label) for label in labels])
    return dict(zip(labels, budgets)), set(adaptive)


def _benchmarks(store: Store, base_label: str, task_ids: np.ndarray) -> dict[str, str]:
    """task id -> benchmark: the store's tasks table where it has one, else the id's first part."""
    stored = task_benchmarks(store, base_label)
    return {task: stored.get(task) or benchmark_of_task(task) for task in task_ids}


def _scopes(benchmark_of: dict[str, str], domains: Mapping[str, str] | None, used: dict[str, str]):
    """(scope, [(name, task ids)]) for the benchmarks and the domains, in the table's order; none when the
    store names no benchmark (every task "all": the overall row says it all). Records the grouping in `used`."""
    names = sorted(set(benchmark_of.values()), key=natural_key)
    if names == ["all"]:
        return []
    ids = np.array(list(benchmark_of), dtype=object)
    of = np.array(list(benchmark_of.values()), dtype=object)
    grouping = {name: domain_of(name, domains) for name in names}
    used.update(grouping)
    order = [MATH, NON_MATH] + sorted(set(grouping.values()) - {MATH, NON_MATH})
    domain_names = [d for d in order if d in grouping.values()]
    return [("benchmark", [(name, ids[of == name]) for name in names]),
            ("domain", [(d, ids[np.isin(of, [b for b, g in grouping.items() if g == d])]) for d in domain_names])]


def adjust_family(levels: Sequence[ChanceLevels], alpha: float) -> tuple[FamilyCorrection, list[dict[str, float]]]:
    """Holm over the S and E excess p-values of every cell's chance levels, as one family: the correction, and
    per cell its adjusted "S" and "E" p-values (what "beyond chance" reads)."""
    raw = [p for level in levels for p in (level.s.p_value, level.e.p_value)]
    adjusted = holm(raw) if raw else []
    pairs = [{"S": adjusted[2 * i], "E": adjusted[2 * i + 1]} for i in range(len(levels))]
    return FamilyCorrection("Holm", len(raw), alpha), pairs


def _row(child: Child, cell: StudyCell) -> dict:
    c = cell.comparison
    k, base_pass, child_pass = cell.pass_at_top()
    row = {"child": cell.child, "base": child.base, "run": child.run, "step": child.step, "scope": cell.scope,
           "name": cell.name, "tasks": len(c.task_ids), **{r: int(getattr(c.counts, r)) for r in ("P", "E", "S", "O")}}
    for name, rate in c.rates.items():
        row.update({name: rate.value, f"{name}_lo": rate.ci.lo, f"{name}_hi": rate.ci.hi})
    for region, level in (("S", c.chance.s), ("E", c.chance.e)):
        row.update({f"{region}_chance": level.expected, f"{region}_chance_lo": level.interval[0],
                    f"{region}_chance_hi": level.interval[1], f"{region}_excess": level.excess,
                    f"{region}_p": level.p_value, f"{region}_p_holm": cell.p_adjusted[region],
                    f"{region}_beyond_chance": cell.beyond_chance(region)})
    row.update({"k": k, "base_pass_at_k": base_pass, "child_pass_at_k": child_pass})
    return row


def _json(value):
    return json_number(value) if isinstance(value, float) else value
