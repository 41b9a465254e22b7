"""Per-task counts (n samples, c correct) of one model, from a store or a file of graded samples.

Stores are counted by one streaming group-by (`tether.store.query.task_counts`); files of graded
samples go through ingest's validation. Everything downstream (`tether.metrics`) takes the
resulting arrays.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tether.errors import InputError
from tether.ingest import read_graded_rows
from tether.store import is_remote, is_store, open_store
from tether.store.query import task_counts
from tether.store.schema import TaskCounts


def load_counts(source: str | Path, label: str | None, default_label: str) -> TaskCounts:
    """Counts of one model from a store (by label) or a file of graded samples.

    Without `label`: the only label there is, else `default_label` ('base' or 'rl').
    """
    path = source if is_remote(source) else Path(source)
    if is_store(path):
        store = open_store(path)
        labels = store.labels("verdicts") or store.labels("samples")
        chosen = label or (labels[0] if len(labels) == 1 else default_label)
        return task_counts(store, chosen)
    if is_remote(path):
        raise InputError(f"{path}: not a tether store (no manifest.json)")
    if path.is_dir():
        raise InputError(f"{path}: a directory but not a tether store (no manifest.json)")
    rows = read_graded_rows(path, default_label=label or default_label)
    if not rows.graded:
        raise InputError(f"{path}: rows have no 'correct' field; grade them first (`tether grade`)")
    labels = rows.labels
    chosen = label or (labels[0] if len(labels) == 1 else default_label)
    if chosen not in labels:
        raise InputError(f"{path}: no rows of label {chosen!r}; labels in the file: {', '.join(labels)}")
    return counts_of_rows(rows.table, chosen, str(path))


def counts_of_rows(table: pa.Table, label: str, source: str) -> TaskCounts:
    """The counts of one label's rows in a table of graded samples."""
    part = table.filter(pc.equal(table.column("model"), label))
    grouped = part.group_by("task_id").aggregate([("task_id", "count"), ("correct", "sum")])
    renamed = {"task_id_count": "n", "correct_sum": "c"}
    grouped = grouped.rename_columns([renamed.get(name, name) for name in grouped.column_names])
    return TaskCounts.from_arrays(
        label, source, grouped.column("task_id").to_pylist(), grouped.column("n"), grouped.column("c")
    )
