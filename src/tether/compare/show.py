"""`tether show`: the graded completions behind one task's region, or behind every task of a region.

A region count is defended task by task: "chain_sum/42/10 is in S" means the RL model's correct
completions and the base's wrong ones, and why each was graded so. `show_task` returns, per label,
the task's counts (c of n over the current verdicts, and the counts its region was computed from)
and its completions, each with the extracted answer, the extraction route, the verdict (correct,
status, score) and the verifier's reason (`detail`), beside the task's prompt and reference from the
store's tasks table. `show_region` does the same for every task of one region.

The region is the one `tether compare` gives the task: both labels paired and their budgets matched
by `tether.compare.pairing.paired_counts` (not matched where a label was sampled adaptively), then
`tether.metrics.support_regions`; the first label is the base, the second the RL model. A
completion outside the matched budget is marked ``counted = False``: it is shown, but no region
count rests on it. Nothing else is computed here (no tests, no intervals). Completions are model
output and are returned as stored; whoever prints them escapes them (`tether.cli.render.untrusted`).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field

from tether.compare.counts import adaptive_budgets
from tether.compare.pairing import paired_counts
from tether.errors import InputError
from tether.metrics import REGIONS, support_regions
from tether.store import Store, open_store
from tether.store.query import graded_completions, task_counts, task_records
from tether.store.schema import TaskCounts

DEFAULT_LIMIT = 4  # completions shown per label and task
FILTERS = ("all", "correct", "incorrect")
SUGGESTIONS = 3  # close task ids named when a task id is unknown


@dataclass(frozen=True)
class ShownCompletion:
    """One graded sample: what the verifier read out of the completion and what it decided."""

    sample_idx: int
    correct: bool
    status: str  # ok, no_answer, timeout, error
    score: float
    answer: str | None  # the extracted answer
    extraction: str | None  # how it was found: box, final_answer, answer_tag, last_line, ...
    detail: str | None  # the verifier's reason, where it gives one
    completion: str | None  # the model's text, as stored (None: only its grade was imported)
    finish_reason: str | None
    counted: bool | None  # within the budget the region counts (None: the label takes no part in the region)


@dataclass
class LabelCompletions:
    """One label's counts on a task and the completions shown of it."""

    label: str
    n: int  # samples with a current verdict
    c: int  # correct among them
    compared_n: int | None  # the samples the region was computed from (matched budget); None outside the region
    compared_c: int | None
    completions: list[ShownCompletion] = field(default_factory=list)
    left_out: int = 0  # completions that pass the filter but are beyond the limit


@dataclass
class TaskView:
    """A task as the store holds it, its region and each label's graded completions."""

    task_id: str
    region: str | None  # P/S/E/O as `tether compare` gives it; None with fewer than two labels, or one lacks it
    benchmark: str | None  # None: the store holds no task record (samples imported without tasks)
    verifier: str | None
    prompt: str | list | None  # text, or chat messages
    reference: dict | None
    labels: list[LabelCompletions]
    which: str = "all"  # the completions kept: all, correct or incorrect

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RegionView:
    """Every task of one region (up to `max_tasks`), each as `show_task` gives it."""

    region: str
    base_label: str
    rl_label: str
    total: int  # tasks in the region
    tasks: list[TaskView]

    def to_dict(self) -> dict:
        return {"region": self.region, "base_label": self.base_label, "rl_label": self.rl_label,
                "total": self.total, "shown": len(self.tasks), "tasks": [t.to_dict() for t in self.tasks]}


def show_task(store: str | Store, task_id: str, labels: list[str] | tuple[str, ...] | None = None, *,
              limit: int | None = DEFAULT_LIMIT, which: str = "all") -> TaskView:
    """One task's region, counts and graded completions of each of `labels` (default: base and rl, else the
    store's graded labels; the first two are the base and the RL model of the region). Each label shows
    its correct completions first, then the rest, each by sample index, at most `limit` (None: all);
    `which` keeps only the correct or the incorrect ones."""
    store = open_store(store)
    labels, limit, which = _checked(store, labels, limit, which)
    counted = _Counted.of(store, labels)
    if task_id not in counted.known():
        raise InputError(unknown_task(store, task_id, counted.known(), labels))
    return _views(store, [task_id], labels, counted, limit, which)[0]


def show_region(store: str | Store, region: str, labels: list[str] | tuple[str, ...] | None = None, *,
                limit: int | None = DEFAULT_LIMIT, which: str = "all", max_tasks: int | None = None) -> RegionView:
    """Every task of `region` (P, S, E or O) as `show_task` gives it, by task id; at most `max_tasks` of them."""
    store = open_store(store)
    letter = region.strip().upper()
    if letter not in REGIONS:
        raise InputError(f"region {region!r}: expected one of {', '.join(REGIONS)}")
    if max_tasks is not None and max_tasks < 1:
        raise InputError(f"max_tasks must be >= 1, got {max_tasks}")
    labels, limit, which = _checked(store, labels, limit, which)
    if len(labels) < 2:
        raise InputError(f"{store.root}: a region needs two labels (the base, then the RL model); "
                         f"graded labels: {', '.join(store.labels('verdicts')) or 'none'}")
    counted = _Counted.of(store, labels)
    members = sorted(task for task, found in counted.regions.items() if found == letter)
    chosen = members if max_tasks is None else members[:max_tasks]
    return RegionView(letter, labels[0], labels[1], len(members), _views(store, chosen, labels, counted, limit, which))


def unknown_task(store: Store, task_id: str, known: set[str], labels: list[str]) -> str:
    """The one-line error for a task id the labels do not hold, naming the closest ones the store has."""
    near = difflib.get_close_matches(task_id, sorted(known), n=SUGGESTIONS, cutoff=0.6)
    if near:
        hint = f"; did you mean {', '.join(near)}?"
    else:
        hint = f"; they hold {len(known)} tasks, e.g. {', '.join(sorted(known)[:SUGGESTIONS])}"
    return f"{store.root}: no task {task_id!r} among the graded samples of {', '.join(labels)}{hint}"


def _checked(store: Store, labels, limit: int | None, which: str) -> tuple[list[str], int | None, str]:
    graded = store.labels("verdicts")
    if not labels:
        labels = ["base", "rl"] if {"base", "rl"} <= set(graded) else graded
    labels = list(labels)
    if not labels:
        raise InputError(f"{store.root}: no graded samples (run `tether grade` first)")
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise InputError(f"label {twice[0]!r} given twice; name each label once")
    missing = [label for label in labels if label not in graded]
    if missing:
        raise InputError(f"{store.root}: no verdicts for label {missing[0]!r}; graded labels: "
                         f"{', '.join(graded) or 'none'}")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be >= 1, got {limit}")
    if which not in FILTERS:
        raise InputError(f"which {which!r}: expected one of {', '.join(FILTERS)}")
    return labels, limit, which


@dataclass
class _Counted:
    """Each label's counts per task, and the region and compared counts of the tasks both first labels have."""

    full: dict[str, dict[str, tuple[int, int]]]  # label -> task -> (n, c) over every current verdict
    compared: dict[str, dict[str, tuple[int, int]]]  # the first two labels -> task -> (n, c) the region used
    regions: dict[str, str]  # task -> P/S/E/O

    @classmethod
    def of(cls, store: Store, labels: list[str]) -> _Counted:
        cache: dict[str, TaskCounts] = {}

        def counter(label: str):
            def count(limits: dict[str, int] | None) -> TaskCounts:
                if limits is not None:
                    return task_counts(store, label, limits)
                if label not in cache:
                    cache[label] = task_counts(store, label)
                return cache[label]
            return count

        compared, regions = {}, {}
        if len(labels) >= 2:  # as `tether compare` pairs them (compare_store): budgets matched unless adaptive
            _, adaptive = adaptive_budgets([(store, labels[0]), (store, labels[1])])
            base, rl, _ = paired_counts(counter(labels[0]), counter(labels[1]), allow_missing=True,
                                        match_budget=not adaptive)
            letters = support_regions(base, rl).regions
            regions = {str(t): str(r) for t, r in zip(base.task_ids, letters)}
            compared = {counts.label: _per_task(counts) for counts in (base, rl)}
        full = {label: _per_task(counter(label)(None)) for label in labels}
        return cls(full, compared, regions)

    def known(self) -> set[str]:
        return {task for counts in self.full.values() for task in counts}


def _per_task(counts: TaskCounts) -> dict[str, tuple[int, int]]:
    return {str(t): (int(n), int(c)) for t, n, c in zip(counts.task_ids, counts.n, counts.c)}


def _views(store: Store, task_ids: list[str], labels: list[str], counted: _Counted, limit: int | None,
           which: str) -> list[TaskView]:
    kept = None if which == "all" else which == "correct"
    rows = {label: _by_task(graded_completions(store, label, task_ids, limit, kept)) for label in labels}
    records: dict[str, tuple] = {}
    for label in labels:  # a task's record from the first label that stores it
        records.update(task_records(store, label, [t for t in task_ids if t not in records]))
    views = []
    for task in task_ids:
        benchmark, prompt, reference, verifier = records.get(task, (None, None, None, None))
        views.append(TaskView(task, counted.regions.get(task), benchmark, verifier,
                              None if prompt is None else json.loads(prompt),
                              None if reference is None else json.loads(reference),
                              [_label_view(label, task, rows[label].get(task, []), counted, kept)
                               for label in labels], which))
    return views


def _by_task(rows: list[tuple]) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row[1:])
    return found


def _label_view(label: str, task: str, rows: list[tuple], counted: _Counted, kept: bool | None) -> LabelCompletions:
    """The completions `graded_completions` kept, each marked whether the region counts it, and how many of
    those the filter keeps are left out (from the counts: no completion beyond the limit is read)."""
    n, c = counted.full[label].get(task, (0, 0))
    compared = counted.compared.get(label, {}).get(task)
    budget = None if compared is None else compared[0]
    completions = [ShownCompletion(int(index), bool(ok), status, float(score), answer, route, detail, text, finish,
                                   None if budget is None else position < budget)
                   for index, position, ok, status, score, answer, route, detail, text, finish in rows]
    matching = n if kept is None else (c if kept else n - c)
    return LabelCompletions(label, n, c, None if compared is None else compared[0],
                            None if compared is None else compared[1], completions, matching - len(completions))
