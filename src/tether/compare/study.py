"""A study: one store, any number of RL children each compared with its base, per benchmark, domain and overall;
two children of one base side by side; every training run among the children over its steps.

`compare_study(store, children)` compares every child with its base (`Child.base`) exactly as `tether compare`
compares one pair (`tether.compare.run.paired_comparison`: the common tasks at matched budgets), once on all
those tasks and once on each benchmark's and each domain's (`tether.tasks.domains`: the math presets are Math,
the others Non-Math, unless overridden). Every cell is a full `Comparison`; `Study.rows()` is the paper's
Table 1 layout: one row per child x {benchmarks, domains, Overall}, with P/E/S/O beside chance, the four rates
with their intervals and pass@k at the grid's largest k. Besides its cells a study holds:

- pairs (Table 3, `tether.compare.children`): any two children of one base asked for (`pairs=`), as many pairs
  as asked; else, for each base with exactly two children that are not steps of one run, those two;
- a trajectory (Table 4, `tether.compare.trajectory`) of every training run among its children: the children
  of one base whose checkpoint (`Child.run`, `Child.step`) names the same run, at least two steps, the base
  counting as one where the manifest records it as a checkpoint of that run (step 0, say); overall and on each
  benchmark's and domain's tasks, as the cells.

Multiplicity: every test a study marks "beyond chance" is one family, adjusted by Holm (`tables.adjust`): the S
and E excess of every cell, every pair's five differences, and the S and E of every step against the base and
against the step before, on every scope, each test once however many rows show it (`tables.same_test`: a step
against the base is its cell; with one benchmark, its benchmark, domain and Overall rows are one test). A study
of children identical to their base claims something, anywhere, in at most alpha of studies, however many
cells, pairs and steps it has. A study does not extrapolate past the sampled k
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

from tether.compare.children import ChildPair, children_of_counts, shared_counts
from tether.compare.counts import adaptive_budgets, label_warnings
from tether.compare.result import CompareOptions, Comparison, natural_key, replace_text
from tether.compare.run import compare_counts, paired_comparison
from tether.compare.scopes import OVERALL, benchmarks_of, scopes
from tether.compare.tables import Family, adjust, comparison_row, json_row, level_keys, level_tests, write_rows
from tether.compare.trajectory import Trajectory, trajectory
from tether.errors import InputError, written_to
from tether.store import Store, open_store
from tether.store.compliance import compliance_warnings, stored_compliance
from tether.store.query import task_counts
from tether.store.schema import TaskCounts

SCOPES = ("benchmark", "domain", "overall")


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

    def test_keys(self) -> dict[str, tuple]:
        """What the cell's tests are (`tables.same_test`): a step's against the base on its tasks is the same one."""
        return level_keys(self.comparison)

    def beyond_chance(self, region: str) -> bool:
        """Whether the cell's S (or E) count is beyond what identical models give, after the study's Holm."""
        return self.p_adjusted[region] <= self.comparison.options.alpha

    def pass_at_top(self) -> tuple[int, float, float]:
        """(k, base pass@k, child pass@k) at the largest k of the cell's grid."""
        c = self.comparison
        return int(c.k_grid[-1]), float(c.pass_at_k["base"][-1]), float(c.pass_at_k["rl"][-1])


@dataclass
class Study:
    """Every child against its base per scope, the pairs, every run's trajectory, and one Holm family over all."""

    store: str
    children: list[Child]
    cells: list[StudyCell]
    options: CompareOptions
    family: Family
    domains: dict[str, str] = field(default_factory=dict)  # benchmark -> domain, as used
    warnings: list[str] = field(default_factory=list)
    pairs: list[ChildPair] = field(default_factory=list)  # Table 3, one per pair of children
    trajectories: list[Trajectory] = field(default_factory=list)  # Table 4, one per training run

    @property
    def pair(self) -> ChildPair | None:
        """The first pair (None: none): a study of one pair's spelling."""
        return self.pairs[0] if self.pairs else None

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
        """Table 4 of every run, one after the other: one row per scope and step."""
        return [row for found in self.trajectories for row in found.rows()]

    def pair_rows(self) -> list[dict]:
        """Table 3 of every pair, one after the other (each child, then a - b), each row naming its pair."""
        return [{"pair": f"{found.a} - {found.b}", **row} for found in self.pairs for row in found.rows()]

    def to_dict(self) -> dict:
        """The study as one JSON object (docs/study.md): children, the family, the rows, the pairs, the
        trajectories, settings, warnings (the pairs' and the runs' own family, settings and warnings are the
        study's, said once)."""
        def inner(payload: dict) -> dict:
            return {key: value for key, value in payload.items() if key not in ("family", "settings", "warnings",
                                                                                 "store")}

        return {
            "study": {"store": self.store, "children": [child.as_dict() for child in self.children],
                      "domains": dict(self.domains)},
            "family": self.family.as_dict(),
            "rows": [json_row(row) for row in self.rows()],
            "pairs": [inner(found.to_dict()) for found in self.pairs],
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
                  pairs: Sequence[Sequence[str]] | None = None) -> Study:
    """Compare every child with its base (a label name is a `Child` of the label ``base``) on their common
    tasks at matched budgets, overall and per benchmark and domain (`domains` overrides the default grouping);
    each of `pairs` (two children's labels each) side by side, else for each base its only two children, where
    it has two; every training run among the children over its steps, on the same scopes. A child's run and
    step, when not given, are those the store's manifest records for its label."""
    store = open_store(store)
    options = dataclasses.replace(options or CompareOptions(), extrapolate=0)
    manifest = store.manifest()
    children = [_placed(Child(child) if isinstance(child, str) else child, manifest) for child in children]
    _check_children(children)
    side_by_side = _pairs_of(children, pairs)
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
        budgets = (budgets_of[child.base], budgets_of[child.label])
        adaptive = [label for label in (child.base, child.label) if label in adaptive_of]
        overall = paired_comparison(count(child.base), count(child.label), options, budgets, adaptive, said)
        for line in overall.warnings:
            line = f"{child.label} vs {child.base}: {line}"
            if line not in warnings:
                warnings.append(line)
        base, rl = overall.base, overall.rl  # on the common tasks, at matched budgets
        benchmark_of = benchmarks_of(store, child.base, base.task_ids.astype(str))
        for scope, groups in scopes(benchmark_of, domains, used):
            for name, ids in groups:
                part = compare_counts(base.subset(ids), rl.subset(ids), options, budgets)
                cells.append(StudyCell(child.label, scope, name, part))
        cells.append(StudyCell(child.label, OVERALL, OVERALL, overall))
    plain = {child.label for child in children if budgets_of[child.base] is None and budgets_of[child.label] is None}
    known = {(cell.scope, cell.name, cell.child): cell.comparison  # reused where of the same counts (not adaptive)
             for cell in cells if cell.child in plain}
    overall = {label: c for (scope, _, label), c in known.items() if scope == OVERALL}
    found_pairs = []
    for a, b in side_by_side:
        counts, said = shared_counts(store, [a.base, a.label, b.label], options, counted)
        found_pairs.append(children_of_counts(counts[a.base], counts[a.label], counts[b.label], options, said,
                                              overall))
    runs = [trajectory(store, steps, base=base, options=options, run=run, counted=counted, known=known,
                       domains=domains) for (run, base), steps in _runs(children, manifest).items()]
    for line in [w for found in found_pairs + runs for w in found.warnings]:
        if line not in warnings:
            warnings.append(line)
    unused = [name for name in (domains or {}) if name not in used]  # a typo would leave its benchmark's default
    if unused:
        warnings.append(f"the domains name {', '.join(map(repr, unused))}, no benchmark of the study's tasks "
                        f"(benchmarks: {', '.join(sorted(used, key=natural_key)) or 'none named'})")
    family = study_family(cells, found_pairs, runs, options.alpha)
    return Study(str(store.root), children, cells, options, family, used, warnings, found_pairs, runs)


def study_family(cells: Sequence[StudyCell], pairs: Sequence[ChildPair], runs: Sequence[Trajectory],
                 alpha: float) -> Family:
    """The study's one family (`tables.adjust`): every cell's S and E, every pair's differences, every run's
    steps' S and E against the base and the step before, on every scope, each distinct test once. Sets every adjusted p-value, each run's
    first significant step (overall and per scope), and the family the pairs and the runs report."""
    groups = [("S and E of every child x scope", list(cells))]
    groups += [(f"the differences {pair.a} - {pair.b}", [pair]) for pair in pairs]
    groups += [(f"run {found.run}: {found.tests()}", found.all_steps()) for found in runs]
    family = adjust(groups, alpha)
    for found in runs:
        found.family = family
        found.settle(alpha)
    for pair in pairs:
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
    (`Study.pair_rows()`) and trajectory.csv (`Study.trajectory_rows()`) where the study has them."""
    folder = Path(out)
    with written_to(folder):
        folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "study.json"
    replace_text(json_path, json.dumps(study.to_dict(), indent=2, allow_nan=False) + "\n")
    written = [json_path, write_rows(folder / "study.csv", study.rows())]
    if study.pairs:
        written.append(write_rows(folder / "pair.csv", study.pair_rows()))
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


def _pairs_of(children: list[Child], asked: Sequence[str | Sequence[str]] | None) -> list[tuple[Child, Child]]:
    """The pairs of children side by side: those asked for (each two children of one base: "a,b" or (a, b)),
    else, for each base, its only two children unless they are steps of one run (a trajectory shows those)."""
    by_label = {child.label: child for child in children}
    if asked is not None:
        found = []
        for pair in asked:
            labels = [label.strip() for label in (pair.split(",") if isinstance(pair, str) else map(str, pair))]
            if len(labels) != 2 or labels[0] == labels[1]:
                raise InputError(f"--pair names two different children (--pair a,b); got {','.join(labels)!r}")
            missing = [label for label in labels if label not in by_label]
            if missing:
                raise InputError(f"--pair: {missing[0]!r} is not a child of the study (children: "
                                 f"{', '.join(by_label)})")
            a, b = by_label[labels[0]], by_label[labels[1]]
            if a.base != b.base:
                raise InputError(f"--pair {a.label},{b.label}: their bases differ ({a.base}, {b.base}); two "
                                 "children are compared side by side on their one base's tasks")
            if any({a.label, b.label} == {x.label, y.label} for x, y in found):
                raise InputError(f"--pair {a.label},{b.label} is named twice")
            found.append((a, b))
        return found
    shared: dict[str, list[Child]] = {}
    for child in children:
        shared.setdefault(child.base, []).append(child)
    return [(a, b) for a, b in (group for group in shared.values() if len(group) == 2)
            if a.run is None or a.run != b.run]


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
    budgets, adaptive = adaptive_budgets([(store, label) for label in labels])
    return dict(zip(labels, budgets)), set(adaptive)
