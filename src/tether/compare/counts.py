"""Per-task counts (n samples, c correct) of one model, from a store or a file of graded samples.

Stores are counted by one streaming group-by (`tether.store.query.task_counts`); a file of graded
samples is read once, column-wise, through ingest's validation of the fields counted
(`tether.ingest.read.COUNTED`), and counted from that table (again on each task's first samples, when
budgets are matched: `tether.compare.pairing`). Everything downstream (`tether.metrics`) takes the
resulting arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tether.errors import InputError
from tether.ingest import read_graded_rows
from tether.ingest.read import COUNTED
from tether.metrics.adaptive import is_regions_rule
from tether.store import Store, is_remote, is_store, open_store
from tether.store.query import first_samples_agreement, task_counts
from tether.store.schema import TaskCounts


def load_counts(source: str | Path, label: str | None, default_label: str,
                limits: dict[str, int] | None = None) -> TaskCounts:
    """Counts of one model from a store (by label) or a file of graded samples.

    Without `label`: the only label there is, else `default_label` ('base' or 'rl'). With `limits`
    (task id -> m), only each task's first m samples (by sample index, else file order) count.
    """
    return counter(source, label, default_label)(limits)


def counter(source: str | Path | Store, label: str | None,
            default_label: str) -> Callable[[dict[str, int] | None], TaskCounts]:
    """How to count one model, as `load_counts` does, any number of times: a file is read and checked once (an
    opened `Store` is used as it is)."""
    store = opened_store(source)
    if store is not None:
        labels = store.labels("verdicts") or store.labels("samples")
        chosen = label or (labels[0] if len(labels) == 1 else default_label)
        return lambda limits: task_counts(store, chosen, limits)
    path = source if is_remote(source) else Path(source)
    if is_remote(path):
        raise InputError(f"{path}: not a tether store (no manifest.json)")
    if path.is_dir():
        raise InputError(f"{path}: a directory but not a tether store (no manifest.json)")
    rows = read_graded_rows(path, default_label=label or default_label, fields=COUNTED)
    if not rows.graded:
        raise InputError(f"{path}: rows have no 'correct' field; grade them first (`tether grade`)")
    labels = rows.labels
    chosen = label or (labels[0] if len(labels) == 1 else default_label)
    if chosen not in labels:
        raise InputError(f"{path}: no rows of label {chosen!r}; labels in the file: {', '.join(labels)}")
    table = rows.table if len(labels) == 1 else rows.table.filter(pc.equal(rows.table.column("model"), chosen))
    return lambda limits: counts_of_rows(table, chosen, str(path), limits)


def opened_store(source: str | Path | Store) -> Store | None:
    """The store a source is (an opened `Store` as it is, a folder or URL holding one opened here), or None for a
    file of graded samples."""
    if isinstance(source, Store):
        return source
    path = source if is_remote(source) else Path(source)
    return open_store(path) if is_store(path) else None


def label_warnings(store, base_label: str, rl_label: str, manifest=None) -> list[str]:
    """Refuse comparing a label with itself; warn when both labels were sampled with identical
    settings (the same model, engine, decoding and seed: the comparison is of a model with itself),
    or, whatever the settings say (imported samples have none), when every paired first sample of
    the two labels is the same text."""
    if base_label == rl_label:
        raise InputError(f"{store.root}: compares label {base_label!r} with itself; name two labels "
                         "(--base, --rl), or use --self for a label's noise floor")
    runs = (manifest if manifest is not None else store.manifest()).runs
    settings = [runs[label].settings if label in runs else None for label in (base_label, rl_label)]
    if settings[0] is not None and settings[0] == settings[1]:
        return [f"{base_label!r} and {rl_label!r} were sampled with identical settings (model, engine, decoding, "
                "seed): their samples are the same, so every difference below is zero by construction"]
    pairs, identical = first_samples_agreement(store, base_label, rl_label)
    if pairs >= IDENTICAL_PAIRS_MIN and identical == pairs:
        return [f"{base_label!r} and {rl_label!r} have identical samples: all {pairs} first samples paired by task "
                "and sample index are the same text (one model sampled twice with the same seeds?), so every "
                "difference below is zero by construction"]
    return []


IDENTICAL_PAIRS_MIN = 8  # fewer paired first samples (short greedy answers) say too little to warn


def counts_of_rows(table: pa.Table, label: str, source: str, limits: dict[str, int] | None = None) -> TaskCounts:
    """The counts of one label's rows in a table of graded samples (each task's first `limits[task]`
    rows by sample index, else in file order, when given)."""
    labels = table.column("model")
    part = table if pc.all(pc.equal(labels, label)).as_py() else table.filter(pc.equal(labels, label))
    if limits is not None:
        part = _first_rows(part, limits)
    grouped = part.group_by("task_id").aggregate([("task_id", "count"), ("correct", "sum")])
    renamed = {"task_id_count": "n", "correct_sum": "c"}
    grouped = grouped.rename_columns([renamed.get(name, name) for name in grouped.column_names])
    return TaskCounts.from_arrays(
        label, source, grouped.column("task_id").to_pylist(), grouped.column("n"), grouped.column("c")
    )


def _first_rows(part: pa.Table, limits: dict[str, int]) -> pa.Table:
    """Each task's first `limits[task]` rows, by sample index (a file without sample indices: in file order)."""
    if part.num_rows == 0:
        return part
    encoded = pc.dictionary_encode(part.column("task_id")).combine_chunks()
    tasks = encoded.indices.to_numpy()
    index = part.column("sample_idx")
    position = np.arange(len(tasks))
    within = position if index.null_count else index.to_numpy()  # numbered throughout or not at all
    order = np.lexsort((position, within, tasks))
    ordered = tasks[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    rank = np.empty(len(tasks), dtype=np.int64)
    rank[order] = position - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    cap = np.array([limits.get(t, 0) for t in encoded.dictionary.to_pylist()], dtype=np.int64)
    return part.filter(pa.array(rank < cap[tasks]))


ADAPTIVE_NOTE = ("{labels} sampled adaptively: each task is compared on its own samples (matching budgets would "
                 "cut a task one model solved late to the other's early stop); the regions are the full protocol's; "
                 "beyond a stopped task's samples its pass@k is the plug-in 1 - (1 - c/n)^k, within the rule's "
                 "tol of the truth at the full budget (docs/adaptive.md)")


def adaptive_budgets(sources: list[tuple[object, str | None]]) -> tuple[tuple[int | None, ...], list[str]]:
    """For (source, label) pairs: the full budget k of each label whose run in a store was adaptive (None
    for the others), and those labels (docs/adaptive.md); one manifest read per store (a source may be an opened
    `Store`: not opened again)."""
    budgets, manifests = [], {}
    for source, label in sources:
        path = source.root if isinstance(source, Store) else source if is_remote(source) else Path(str(source))
        if label is None or not (isinstance(source, Store) or is_store(path)):
            budgets.append(None)
            continue
        if str(path) not in manifests:
            manifests[str(path)] = open_store(source).manifest()
        run = manifests[str(path)].runs.get(label)
        adaptive = run.settings.adaptive if run is not None else None
        budgets.append(None if not adaptive else RegionsBudget(run.k) if is_regions_rule(adaptive) else run.k)
    return tuple(budgets), [label for (_, label), k in zip(sources, budgets) if k]


class RegionsBudget(int):
    """The full budget k of a label sampled under the regions rule (stopped at its first success): an int like
    any adaptive label's, so chance levels are computed at k, and marked so that pass@k is not carried
    beyond a task's own samples, where that rule measured nothing (`passk_reach`)."""


REGIONS_NOTE = ("{labels} sampled with the regions rule: each task stopped at the end of the round with its first "
                "success, so the regions and their chance levels are the full protocol's, but pass@k is measured "
                "only up to the fewest samples any task holds (the k grid ends there); a solved task's pass@k "
                "beyond its own samples is not measured (docs/adaptive.md)")


def adaptive_notes(labels: list[str], budgets: tuple[int | None, ...]) -> list[str]:
    """The notes for a comparison's adaptive labels and budgets (as `adaptive_budgets` gives them): the pass@k
    rule's and the regions rule's."""
    regions = [label for label, k in zip(labels, [k for k in budgets if k]) if isinstance(k, RegionsBudget)]
    passk = [label for label in labels if label not in regions]
    return (([ADAPTIVE_NOTE.format(labels=" and ".join(passk))] if passk else [])
            + ([REGIONS_NOTE.format(labels=" and ".join(regions))] if regions else []))


def passk_reach(counts: TaskCounts, k: int | None) -> tuple[np.ndarray, int | None]:
    """Up to which k a label's pass@k is known on each task, and the budget its curve may reach beyond a task's
    samples (`pass_at_k_curves`): each task's own n for a full run; k on every task for the pass@k rule (a
    stopped task was settled at k); for the regions rule the fewest samples any task holds, on every task."""
    if isinstance(k, RegionsBudget):
        return np.full(counts.n.shape, int(counts.n.min()) if counts.n.size else 0), None
    return (np.maximum(counts.n, k) if k else counts.n), k


def check_regions_grid(k_grid, pairs: list[tuple[TaskCounts, int | None]]) -> None:
    """A requested k grid beyond what a regions-rule label measured is refused, saying why."""
    for counts, k in pairs:
        if isinstance(k, RegionsBudget) and k_grid and counts.n.size and max(k_grid) > counts.n.min():
            raise InputError(f"k={max(k_grid)}: {counts.label} was sampled with the regions rule, which measures "
                             f"pass@k only up to k = {int(counts.n.min())} (the fewest samples of any task); its "
                             "regions and chance levels are at its full budget")

