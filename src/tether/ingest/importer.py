"""Importing samples made elsewhere into a store: all-or-nothing, numbered after what the store holds.

Rows come validated from `tether.ingest.read`; nothing is written unless every row is valid.
Imported grades become verdicts of the verifier ``imported``, bound to the text they graded (the
completion's hash, where the row has one). A harness file (lm-eval, lighteval)
also brings each document's prompt and gold answer, stored as the label's tasks so that
`tether grade` needs no ``--tasks``. verl's validation dumps bring one label per training step, each
recorded in the manifest as that run's checkpoint; steps already in the store are left as they are, so
importing the folder again as training goes on adds only the new steps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tether.errors import InputError
from tether.ingest.harness import HarnessOptions
from tether.ingest.read import GradedRows, read_graded_rows
from tether.store import Shard, Store, new_shard_name, open_store
from tether.store.query import existing_sample_keys, sample_counts
from tether.store.schema import SAMPLE_SCHEMA, VERDICT_SCHEMA, TaskRecord, completion_hash, to_table


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote."""

    path: Path
    labels: list[str]
    rows: int
    tasks: int
    graded: bool
    shards: list[Path]
    ignored_fields: list[str]
    format: str = "tether"
    notes: tuple[str, ...] = ()

    @property
    def models(self) -> list[str]:
        """Deprecated name of `labels`."""
        return self.labels

    def to_dict(self) -> dict:
        """What `tether import --json` prints (with the store)."""
        return {"file": str(self.path), "format": self.format, "rows": self.rows, "tasks": self.tasks,
                "labels": list(self.labels), "graded": self.graded, "shards": [str(s) for s in self.shards],
                "notes": list(self.notes), "ignored_fields": list(self.ignored_fields)}


def import_samples(path: str | Path, store: str | Path | Store, label: str | None = None, *,
                   model: str | None = None, format: str = "auto",
                   harness: HarnessOptions = HarnessOptions()) -> ImportSummary:
    """Validate a file and append its samples (and verdicts, if graded) to a store.

    `label`, when given, labels every row (default: each row's ``model``). Rows without
    ``sample_idx`` are numbered per task in file order, after the samples the store already holds
    for that task and label. A (label, task_id, sample_idx) already in the store is an error.
    `format` is ``tether``, ``lm-eval``, ``lighteval``, ``verl`` or ``auto``; `harness` picks a harness
    file's metric and filter. For verl's dumps (`path` a folder of them, or one), `label` names the training
    run (default: the folder's name) and each step becomes label ``<label>-<step>``, its step recorded in the
    manifest (`Manifest.checkpoint`); steps already in the store are skipped, with a note. `model=` is the
    deprecated name of `label`.
    """
    if model is not None:
        warnings.warn("import_samples(model=...) is deprecated; use label=...", DeprecationWarning, stacklevel=2)
        label = label or model
    rows = read_graded_rows(path, label, format=format, harness=harness)
    if rows.table.num_rows == 0:
        raise InputError(f"{rows.path}: no rows to import")
    target = open_store(store, create=True)
    with target.writing(rows.labels, "tether import"):  # numbering after the store's samples needs them still
        if rows.checkpoints:
            rows = _new_steps(rows, target)
        table = _numbered(rows, target)
        _check_not_in_store(rows.path, table, target)
        name = new_shard_name("import")
        version = "imported:" + _file_digest(rows.path)
        shards = []
        for label in rows.labels:
            part = table.filter(pc.equal(table.column("model"), label))
            shards.append(Shard("samples", label, _samples_table(part, name), name))
            if rows.graded:
                shards.append(Shard("verdicts", label, _verdicts_table(part, version), name))
            if rows.tasks:
                shards.append(Shard("tasks", label, _tasks_table(rows, label, harness.verifier), name))
        written = target.write(shards) if shards else []  # none: every step of a run was in the store already
        if rows.checkpoints:
            with target.changing_manifest() as manifest:
                for label in rows.labels:
                    manifest.mark_imported_checkpoint(label, *rows.checkpoints[label])
    target.record_event("import", file=str(rows.path), models=rows.labels, rows=table.num_rows, shard=name,
                        format=rows.format, notes=rows.notes, decoding=rows.decoding)
    return ImportSummary(
        path=rows.path,
        labels=rows.labels,
        rows=table.num_rows,
        tasks=pc.count_distinct(table.column("task_id")).as_py(),
        graded=rows.graded,
        shards=written,
        ignored_fields=sorted(rows.ignored_fields),
        format=rows.format,
        notes=tuple(rows.notes),
    )


def _new_steps(rows: GradedRows, store: Store) -> GradedRows:
    """A training run's rows without the steps (labels) whose samples the store holds already, said in a note."""
    held = [label for label in rows.labels if label in set(store.labels("samples"))]
    if not held:
        return rows
    kept = pc.invert(pc.is_in(rows.table.column("model"), value_set=pa.array(held, pa.string())))
    note = f"already in the store, left as they are: {', '.join(held)}"
    return dataclasses.replace(rows, table=rows.table.filter(kept), notes=[*rows.notes, note],
                               checkpoints={k: v for k, v in rows.checkpoints.items() if k not in held})


def _numbered(rows: GradedRows, store: Store) -> pa.Table:
    """Fill in sample_idx per (model, task) in file order, after what the store holds."""
    table = rows.table
    if table.column("sample_idx").null_count == 0:
        return table
    numbers = np.zeros(table.num_rows, dtype=np.int64)
    for label in rows.labels:
        mine = np.flatnonzero(pc.equal(table.column("model"), label).to_numpy(zero_copy_only=False))
        encoded = pc.dictionary_encode(table.column("task_id").take(mine)).combine_chunks()
        tasks = encoded.indices.to_numpy()
        order = np.argsort(tasks, kind="stable")  # each task's rows, in file order
        starts = np.flatnonzero(np.r_[True, tasks[order][1:] != tasks[order][:-1]])
        rank = np.empty(len(tasks), dtype=np.int64)
        rank[order] = np.arange(len(tasks)) - np.repeat(starts, np.diff(np.r_[starts, len(tasks)]))
        held = sample_counts(store, label)
        numbers[mine] = rank + np.array([held.get(t, 0) for t in encoded.dictionary.to_pylist()], np.int64)[tasks]
    return table.set_column(table.schema.get_field_index("sample_idx"), "sample_idx", pa.array(numbers, pa.int64()))


def _check_not_in_store(path: Path, table: pa.Table, store: Store) -> None:
    for label in sorted(set(table.column("model").to_pylist())):
        part = table.filter(pc.equal(table.column("model"), label))
        clashes = existing_sample_keys(store, label, part.select(["task_id", "sample_idx"]))
        if clashes:
            shown = ", ".join(f"({t!r}, {i})" for t, i in clashes[:5])
            raise InputError(
                f"{path}: {len(clashes)} samples of label {label!r} are already in {store.root}, e.g. {shown}"
            )


def _samples_table(part: pa.Table, block: str) -> pa.Table:
    columns = {name: part.column(name) for name in SAMPLE_SCHEMA.names if name in part.column_names}
    columns["block_id"] = pa.array([block] * part.num_rows, pa.string())
    return pa.Table.from_pydict(columns, schema=SAMPLE_SCHEMA)


def _verdicts_table(part: pa.Table, version: str) -> pa.Table:
    size = part.num_rows
    columns = {
        "model": part.column("model"),
        "task_id": part.column("task_id"),
        "sample_idx": part.column("sample_idx"),
        "correct": part.column("correct"),
        "score": part.column("score"),
        "status": pa.array(["ok"] * size, pa.string()),
        "verifier": pa.array(["imported"] * size, pa.string()),
        "verifier_version": pa.array([version] * size, pa.string()),
        "answer": part.column("answer"),
        "extraction": pa.nulls(size, pa.string()),  # graded elsewhere: how the answer was found is not known
        "completion_hash": pa.array([completion_hash(text) for text in _completions(part)], pa.string()),
        "detail": pa.nulls(size, pa.string()),
    }
    return pa.Table.from_pydict(columns, schema=VERDICT_SCHEMA)


def _completions(part: pa.Table) -> list[str | None]:
    """Each row's completion (None throughout when the file gives none)."""
    if "completion" not in part.column_names:
        return [None] * part.num_rows
    return part.column("completion").to_pylist()


def _tasks_table(rows: GradedRows, label: str, verifier: str) -> pa.Table:
    """A harness file's documents as the label's tasks: the prompt the model saw and the gold answer."""
    records = [TaskRecord(label, t.task_id, t.benchmark, json.dumps(t.prompt, ensure_ascii=False), t.prompt,
                          json.dumps({"answer": t.answer}, ensure_ascii=False), verifier) for t in rows.tasks.values()]
    return to_table(records, TaskRecord)


def _file_digest(path: Path) -> str:
    """The file's content hash; a folder's (verl's dumps): of its files' names and contents, in name order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]
