"""A study: one store, any number of RL children each compared with its base, per benchmark, domain and overall;
two children of one base side by side; every training run among the children over its steps.

`compare_study(store, children)` compares every child with its base (`Child.base`) exactly as `tether compare`
compares one pair (`paired_counts` on the common tasks at matched budgets, then `compare_counts`), once on all
those tasks and once on each benchmark's and each domain's (`tether.tasks.domains`: the math presets are Math,
the others Non-Math, unless overridden). Every cell is a full `Comparison`; `Study.rows()` is the paper's
Table 1 layout: one row per child x {benchmarks, domains, Overall}, with P/E/S/O beside chance, the four rates
with their intervals and pass@k at the grid's largest k. Besides its cells a study holds:

- the pair (Table 3, `tether.compare.children`): when exactly two children share a base and are not steps of
  one run, or any two children asked for (`pair=`);
- a trajectory (Table 4, `tether.compare.trajectory`) of every training run among its children: the children
  of one base whose checkpoint (`Child.run`, `Child.step`) names the same run, at least two steps, the base
  counting as one where the manifest records it as a checkpoint of that run (step 0, say).

Multiplicity: every test a study marks "beyond chance" is one family, adjusted by Holm (`tables.adjust`): the S
and E excess of every cell, the pair's five differences, and the S and E of every step against the base and
against the step before. A study of children identical to their base claims something, anywhere, in at most
alpha of studies, however many cells, pairs and steps it has. A study does not extrapolate past the sampled k
(`CompareOptions.extrapolate` is set to 0), nor compare a label with itself or under other verdict sets:
`tether compare` on one pair does those.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.compare.children import ChildPair, children_of_counts, shared_counts
from tether.compare.counts import adaptive_budgets, adaptive_notes, label_warnings
from tether.compare.pairing import paired_counts
from tether.compare.result import CompareOptions, Comparison, natural_key, replace_text
from tether.compare.run import compare_counts
from tether.compare.tables import Family, adjust, comparison_row, json_row, level_tests, write_rows
from tether.compare.trajectory import STEP_TESTS, Trajectory, first_shrinkage, trajectory
from tether.errors import InputError, written_to
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

    def raw_p(self) -> dict[str, float]:
        """The cell's tests: the S and E excess against chance."""
        return level_tests(self.comparison.chance)

    def beyond_chance(self, region: str) -> bool:
        """Whether the cell's S (or E) count is beyond what identical models give, after the study's Holm."""
        return self.p_adjusted[region] <= self.comparison.options.alpha

    def pass_at_top(self) -> tuple[int, float, float]:
        """(k, base pass@k, child pass@k) at the largest k of the cell's grid."""
        c = self.comparison
        return int(c.k_grid[-1]), float(c.pass_at_k["base"][-1]), float(c.pass_at_k["rl"][-1])


@dataclass
class Study:
    """Every child against its base per scope, the pair, every run's trajectory, and one Holm family over all."""

    store: str
    children: list[Child]
    cells: list[StudyCell]
    options: CompareOptions
    family: Family
    domains: dict[str, str] = field(default_factory=dict)  # benchmark -> domain, as used
    warnings: list[str] = field(default_factory=list)
    pair: ChildPair | None = None  # Table 3
    trajectories: list[Trajectory] = field(default_factory=list)  # Table 4, one per training run

    def cell(self, child: str, scope: str = OVERALL, name: str = OVERALL) -> StudyCell:
        for found in self.cells:
            if (found.child, found.scope, found.name) == (child, scope, name):
                return found
        have = ", ".join(sorted({f"{c.scope} {c.name}" for c in self.cells if c.child == child})) or "none"
        raise InputError(f"the study has no {scope} {name!r} for {child!r} (it has: {have})")

    def rows(self) -> list[dict]:
        """The Table 1 layout: one flat row per child x scope, in the study's order."""
        children = {child.label: child for child in self.children}
        alpha = self.options.alpha
        return [{"child": cell.child, "base": children[cell.child].base, "run": children[cell.child].run,
                 "step": children[cell.child].step, "scope": cell.scope, "name": cell.name,
                 **comparison_row(cell.comparison, cell.p_adjusted, alpha)} for cell in self.cells]

    def trajectory_rows(self) -> list[dict]:
        """Table 4 of every run, one after the other: one row per step."""
        return [row for found in self.trajectories for row in found.rows()]

    def to_dict(self) -> dict:
        """The study as one JSON object (docs/study.md): children, the family, the rows, the pair, the
        trajectories, settings, warnings (the pair's and the runs' own family, settings and warnings are the
        study's, said once)."""
        def inner(payload: dict) -> dict:
            return {key: value for key, value in payload.items() if key not in ("family", "settings", "warnings",
                                                                                 "store")}

        return {
            "study": {"store": self.store, "children": [child.as_dict() for child in self.children],
                      "domains": dict(self.domains)},
            "family": self.family.as_dict(),
            "rows": [json_row(row) for row in self.rows()],
            "pair": inner(self.pair.to_dict()) if self.pair is not None else None,
            "trajectories": [inner(found.to_dict()) for found in self.trajectories],
            "settings": {"bootstrap_reps": self.options.bootstrap_reps, "confidence": self.options.confidence,
                         "alpha": self.options.alpha, "seed": self.options.seed,
                         "k_grid": list(self.options.k_grid) if self.options.k_grid else None,
                         "allow_missing": self.options.allow_missing, "match_budget": self.options.match_budget,
                         "intervals": self.options.intervals},
            "warnings": list(self.warnings),
        }


def compare_study(store: str | Path | Store, children: Sequence[Child | str], *,
                  options: CompareOptions | None = None, domains: Mapping[str, str] | None = None,
                  pair: Sequence[str] | None = None) -> Study:
    """Compare every child with its base (a label name is a `Child` of the label ``base``) on their common
    tasks at matched budgets, overall and per benchmark and domain (`domains` overrides the default grouping);
    `pair` (two children's labels) side by side, else the only two children sharing a base when there are;
    every training run among the children over its steps. A child's run and step, when not given, are those
    the store's manifest records for its label."""
    store = open_store(store)
    options = dataclasses.replace(options or CompareOptions(), extrapolate=0)
    manifest = store.manifest()
    children = [_placed(Child(child) if isinstance(child, str) else child, manifest) for child in children]
    _check_children(children)
    side_by_side = _pair_of(children, pair)
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
    found_pair = None
    plain = {child.label for child in children if budgets_of[child.base] is None and budgets_of[child.label] is None}
    known = {cell.child: cell.comparison for cell in cells  # reused where of the same counts (not adaptive ones)
             if cell.scope == OVERALL and cell.child in plain}
    if side_by_side is not None:
        a, b = side_by_side
        counts, said = shared_counts(store, [a.base, a.label, b.label], options, counted)
        found_pair = children_of_counts(counts[a.base], counts[a.label], counts[b.label], options, said, known)
    runs = [trajectory(store, steps, base=base, options=options, run=run, counted=counted, known=known)
            for (run, base), steps in _runs(children, manifest).items()]
    for line in (found_pair.warnings if found_pair else []) + [w for found in runs for w in found.warnings]:
        if line not in warnings:
            warnings.append(line)
    family = study_family(cells, found_pair, runs, options.alpha)
    return Study(str(store.root), children, cells, options, family, used, warnings, found_pair, runs)


def study_family(cells: Sequence[StudyCell], pair: ChildPair | None, runs: Sequence[Trajectory],
                 alpha: float) -> Family:
    """The study's one family (`tables.adjust`): every cell's S and E, the pair's differences, every run's steps'
    S and E against the base and the step before. Sets every adjusted p-value, each run's first significant step,
    and the family the pair and the runs report."""
    groups = [("S and E of every child x scope", list(cells))]
    if pair is not None:
        groups.append((f"the differences {pair.a} - {pair.b}", [pair]))
    groups += [(f"run {found.run}: {STEP_TESTS}", found.steps) for found in runs]
    family = adjust(groups, alpha)
    for found in runs:
        found.family, found.first_shrinkage = family, first_shrinkage(found.steps, alpha)
    if pair is not None:
        pair.family = family
    return family


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
    """Write study.json (`Study.to_dict()`) and study.csv (`Study.rows()`) into the folder `out`, with pair.csv
    (`ChildPair.rows()`) and trajectory.csv (`Study.trajectory_rows()`) where the study has them."""
    folder = Path(out)
    with written_to(folder):
        folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "study.json"
    replace_text(json_path, json.dumps(study.to_dict(), indent=2, allow_nan=False) + "\n")
    written = [json_path, write_rows(folder / "study.csv", study.rows())]
    if study.pair is not None:
        written.append(write_rows(folder / "pair.csv", study.pair.rows()))
    if study.trajectories:
        written.append(write_rows(folder / "trajectory.csv", study.trajectory_rows()))
    return written


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


def _pair_of(children: list[Child], asked: Sequence[str] | None) -> tuple[Child, Child] | None:
    """The two children side by side: those asked for (two children of one base), else the only two children
    sharing a base, unless they are steps of one run (a trajectory shows those); else none."""
    by_label = {child.label: child for child in children}
    if asked is not None:
        labels = [str(label).strip() for label in asked]
        if len(labels) != 2 or labels[0] == labels[1]:
            raise InputError(f"--pair names two different children (--pair a,b); got {','.join(labels)!r}")
        missing = [label for label in labels if label not in by_label]
        if missing:
            raise InputError(f"--pair: {missing[0]!r} is not a child of the study (children: {', '.join(by_label)})")
        a, b = by_label[labels[0]], by_label[labels[1]]
        if a.base != b.base:
            raise InputError(f"--pair {a.label},{b.label}: their bases differ ({a.base}, {b.base}); two children "
                             "are compared side by side on their one base's tasks")
        return a, b
    shared: dict[str, list[Child]] = {}
    for child in children:
        shared.setdefault(child.base, []).append(child)
    groups = [group for group in shared.values() if len(group) > 1]
    if len(groups) != 1 or len(groups[0]) != 2:
        return None
    a, b = groups[0]
    return None if a.run is not None and a.run == b.run else (a, b)


def _runs(children: list[Child], manifest) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(run, base) -> its steps [(step, label)], for every training run among the children with at least two
    steps; the base is one (where the run starts) when the manifest records it as a checkpoint of that run."""
    found: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for child in children:
        if child.run is not None and child.step is not None:
            found.setdefault((child.run, child.base), []).append((child.step, child.label))
    runs = {}
    for (run, base), steps in found.items():
        start = manifest.checkpoint(base)
        if start is not None and start[0] == run:
            steps = [(start[1], base)] + steps
        if len(steps) >= 2:
            runs[(run, base)] = steps
    return runs


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

