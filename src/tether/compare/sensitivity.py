"""Grader sensitivity: the regions of one pair of models under several verdict sets, side by side.

How a completion's answer is extracted and compared changes which tasks a model solves at least once,
and so P, S, E and O (the paper stresses it). ``tether grade --verifier auto,exact,math`` keeps a verdict
set per verifier (`tether.store.manifest.VerdictSet`); `grader_sensitivity` counts both labels under each
set named (``tether compare --verifiers auto,exact,math``), or under every set both labels have (the
report), and gives per set: P/S/E/O on the same tasks, paired and budget-matched as the main comparison,
S and E beside what chance alone gives two identical models (`tether.metrics.chance`), the share of
samples each model has correct, and the tasks whose region differs between sets.

A set is used only while it is whole: every sample of the label has a verdict in it, and the text it
graded is still the samples' text (else one line names the ``tether grade`` command that brings it up to
date). What it does not do: grade (`tether.grading`), or bootstrap rates and curves per set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tether.compare.pairing import paired_counts
from tether.errors import InputError
from tether.metrics import ChanceLevel, RegionCounts, chance_levels, support_regions
from tether.metrics.uncertainty import json_number
from tether.store import Store, query
from tether.store.schema import TaskCounts

SHOWN_MOVES = 10  # tasks whose region moves named in a line; the rest counted


@dataclass(frozen=True)
class SetRegions:
    """The regions of both models under one verdict set."""

    name: str  # the set's name: the `--verifier` value it was graded with (auto, exact, math ...)
    counts: RegionCounts
    s: ChanceLevel  # S and E beside what two identical models would give on these tasks at these budgets
    e: ChanceLevel
    correct: dict[str, float]  # "base"/"rl" -> share of its (compared) samples correct under this set
    counted: bool = False  # the set the main comparison counts (each label's current verdicts)

    def as_dict(self) -> dict:
        return {"name": self.name, "counts": self.counts.as_dict(), "S": self.s.as_dict(), "E": self.e.as_dict(),
                "correct": {side: json_number(share) for side, share in self.correct.items()}, "counted": self.counted}

    @classmethod
    def from_dict(cls, payload: dict) -> SetRegions:
        return cls(payload["name"], RegionCounts(**payload["counts"]), ChanceLevel.from_dict(payload["S"]),
                   ChanceLevel.from_dict(payload["E"]),
                   {side: float("nan") if share is None else float(share) for side, share in payload["correct"].items()},
                   bool(payload.get("counted", False)))


@dataclass(frozen=True)
class MovedTask:
    """A task whose region differs between verdict sets: set name -> its region there."""

    task_id: str
    regions: dict[str, str]

    def describe(self) -> str:
        """``chain_sum/3 (auto O, exact P, math P)``."""
        return f"{self.task_id} (" + ", ".join(f"{name} {region}" for name, region in self.regions.items()) + ")"


@dataclass
class Sensitivity:
    """The regions under each verdict set, and the tasks whose region moves between them."""

    sets: list[SetRegions]
    moved: list[MovedTask]  # in task order
    n_tasks: int
    notes: list[str] = field(default_factory=list)  # sets left out (stored, but not whole: the report's view)

    def moved_line(self, shown: int = SHOWN_MOVES) -> str:
        """``tasks whose region moves: 2 of 16: a (auto O, exact P), b (...)``, at most `shown` named."""
        if not self.moved:
            return f"tasks whose region moves: none of {self.n_tasks}"
        named = ", ".join(task.describe() for task in self.moved[:shown])
        rest = f" and {len(self.moved) - shown} more" if len(self.moved) > shown else ""
        return f"tasks whose region moves: {len(self.moved)} of {self.n_tasks}: {named}{rest}"

    def table(self, labels: tuple[str, str]) -> tuple[list[str], list[list[str]]]:
        """(header, rows) as text cells, shared by the terminal and the report: per set, P/S/E/O with S and E
        beside chance alone (expectation [interval]), and each model's share correct; "(counts)" marks the set
        the main comparison counts."""
        header = ["verdict set", "P", "S", "S by chance", "E", "E by chance", "O", f"{labels[0]} correct",
                  f"{labels[1]} correct"]
        rows = []
        for found in self.sets:
            counts = found.counts
            rows.append([found.name + (" (counts)" if found.counted else ""), str(counts.P), str(counts.S),
                         _chance_cell(found.s), str(counts.E), _chance_cell(found.e), str(counts.O),
                         *(_share_cell(found.correct[side]) for side in ("base", "rl"))])
        return header, rows

    def to_dict(self) -> dict:
        return {"sets": [s.as_dict() for s in self.sets], "n_tasks": self.n_tasks,
                "moved": [{"task_id": t.task_id, "regions": dict(t.regions)} for t in self.moved],
                "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, payload: dict) -> Sensitivity:
        return cls([SetRegions.from_dict(s) for s in payload["sets"]],
                   [MovedTask(t["task_id"], dict(t["regions"])) for t in payload["moved"]],
                   int(payload["n_tasks"]), list(payload.get("notes", [])))


def _chance_cell(level: ChanceLevel) -> str:
    return f"{level.expected:.1f} [{level.interval[0]}, {level.interval[1]}]"


def _share_cell(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


@dataclass(frozen=True)
class Side:
    """One model of the pair: its store and label."""

    store: Store
    label: str


def grader_sensitivity(base: Side, rl: Side, names: Sequence[str] | None, *, allow_missing: bool = False,
                       match_budget: bool = True, confidence: float = 0.95,
                       budgets: tuple[int | None, int | None] = (None, None)) -> Sensitivity | None:
    """The regions of `base` and `rl` under each verdict set in `names` (each must be whole for both labels:
    else one line naming the `tether grade` command to run). `names` None: every set both labels have that
    is whole (the others in `notes`); None when the labels share fewer than two. `budgets` as for
    `compare_counts`."""
    if names is None:
        shared = [n for n in base.store.manifest().verdict_sets(base.label)
                  if n in rl.store.manifest().verdict_sets(rl.label)]
        names, notes = [], []
        for name in shared:
            try:
                _versions(base, name, shared), _versions(rl, name, shared)
            except InputError as exc:
                notes.append(f"verdict set {name!r} left out: {exc}")
            else:
                names.append(name)
        if len(shared) < 2:
            return None
    else:
        names, notes = list(dict.fromkeys(names)), []
        if not names:
            raise InputError("--verifiers: name the verdict sets to compare, e.g. auto,exact,math")
    sets, regions = [], {}
    for name in names:
        found, task_regions = _set_regions(base, rl, name, names, allow_missing, match_budget, confidence, budgets)
        sets.append(found)
        regions[name] = task_regions
    common = set.intersection(*(set(r) for r in regions.values())) if regions else set()
    moved = [MovedTask(task, {name: regions[name][task] for name in names}) for task in _in_order(common)
             if len({regions[name][task] for name in names}) > 1]
    return Sensitivity(sets, moved, len(common), notes)


def _set_regions(base: Side, rl: Side, name: str, names: Sequence[str], allow_missing: bool, match_budget: bool,
                 confidence: float, budgets) -> tuple[SetRegions, dict[str, str]]:
    """One set's regions, chance levels and shares correct; and each task's region under it."""
    versions = {side: _versions(model, name, names) for side, model in (("base", base), ("rl", rl))}
    b, r, _ = paired_counts(lambda limits: query.task_counts(base.store, base.label, limits, versions["base"]),
                            lambda limits: query.task_counts(rl.store, rl.label, limits, versions["rl"]),
                            allow_missing=allow_missing, match_budget=match_budget)
    support = support_regions(b, r)
    null_base, null_rl = (np.maximum(counts.n, k) if k else counts.n for counts, k in zip((b, r), budgets))
    chance = chance_levels(null_base, b.c, null_rl, r.c, support.regions, confidence)
    counted = all(_counts_use(model, name, versions[side]) for side, model in (("base", base), ("rl", rl)))
    found = SetRegions(name, support.counts, chance.s, chance.e, {"base": _share(b), "rl": _share(r)}, counted)
    return found, dict(zip(b.task_ids.astype(str), support.regions.astype(str)))


def _counts_use(model: Side, name: str, versions: dict[str, str]) -> bool:
    """Whether `model`'s counts use this set: the one recorded as counting (else one of its versions)."""
    entry = model.store.manifest().grading.get(model.label)
    if entry is not None and entry.verifier:
        return entry.verifier == name
    return entry is not None and entry.versions == versions


def _share(counts: TaskCounts) -> float:
    total = int(counts.n.sum())
    return float(counts.c.sum()) / total if total else float("nan")


def _versions(model: Side, name: str, names: Sequence[str]) -> dict[str, str]:
    """The verifier versions of `model`'s verdict set `name`, once it is whole: every sample has a verdict in
    it, graded on the text the samples still hold; else one line naming the command that makes it so."""
    store, label = model.store, model.label
    kept = store.manifest().verdict_sets(label)
    found = kept.get(name)
    if found is None:
        have = ", ".join(kept) or "only the one counts use"
        raise InputError(f"{store.root}: {label!r} has no verdict set {name!r} (its sets: {have}); run "
                         f"`{grade_command(model, names)}` (stored verdicts are not graded again)")
    missing = query.ungraded_count(store, label, found.versions)
    if missing:
        raise InputError(f"{store.root}: {missing} samples of {label!r} have no verdict in set {name!r} (sampled "
                         f"after it was graded); run `{grade_command(model, names)}`")
    if found.samples is None or found.samples != query.shards_stamp(store, "samples", label):
        changed, _ = query.changed_completions(store, label, found.versions)
        if changed:
            raise InputError(f"{store.root}: {changed} samples of {label!r} hold other text than set {name!r} "
                             f"graded (shards refilled since); run `{grade_command(model, names)}`")
    return dict(found.versions)


def grade_command(model: Side, names: Sequence[str]) -> str:
    """The `tether grade` command that grades `names` into `model`'s label and keeps what counts: the label's
    counting set named first."""
    first = counted_set(model)
    ordered = list(dict.fromkeys([first, *names]))
    return f"tether grade {model.store.root} --verifier {','.join(ordered)}"


def counted_set(model: Side) -> str:
    """The name of the set `model`'s counts use: as recorded, else what its versions say (one verifier that is
    not every task's own: that one; else auto)."""
    entry = model.store.manifest().grading.get(model.label)
    if entry is not None and entry.verifier:
        return entry.verifier
    used = set(entry.versions) if entry is not None else set()
    own = query.task_verifiers(model.store, model.label)
    return next(iter(used)) if len(used) == 1 and own and used != own else "auto"


def _in_order(task_ids) -> list[str]:
    from tether.compare.result import natural_key

    return sorted(task_ids, key=natural_key)
