"""Reading graded samples made elsewhere (JSONL or Parquet) and importing them into a store.

The row format is documented in docs/import.md. Each row is one completion:
``task_id`` and ``correct`` are required (or ``completion`` instead of
``correct`` for grading later); ``model``, ``sample_idx``, ``completion``,
``answer``, ``score``, ``n_tokens``, ``finish_reason`` and ``seed`` are optional.
A file is graded throughout or not at all. Every problem is reported as
``FILE:LINE: what is wrong`` and nothing is written: an import is all-or-nothing.

Imported grades become verdicts of the verifier ``imported``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tether.errors import InputError
from tether.records import SAMPLE_SCHEMA, VERDICT_SCHEMA, check_label
from tether.store import Shard, Store, new_shard_name

_OPTIONAL_STR = ("completion", "answer", "finish_reason")
_OPTIONAL_INT = ("n_tokens", "seed")
KNOWN_FIELDS = {"model", "task_id", "sample_idx", "correct", "score", *_OPTIONAL_STR, *_OPTIONAL_INT}
_COLUMNS = ("model", "task_id", "sample_idx", "correct", "score", *_OPTIONAL_STR, *_OPTIONAL_INT)
_COLUMN_TYPES = {
    "model": pa.string(),
    "task_id": pa.string(),
    "sample_idx": pa.int64(),
    "correct": pa.bool_(),
    "score": pa.float64(),
    **{name: pa.string() for name in _OPTIONAL_STR},
    **{name: pa.int64() for name in _OPTIONAL_INT},
}
GRADED_SCHEMA = pa.schema([pa.field(name, _COLUMN_TYPES[name]) for name in _COLUMNS])


@dataclass
class GradedRows:
    """Validated rows of one file, as one Arrow table in `GRADED_SCHEMA`."""

    path: Path
    table: pa.Table
    graded: bool
    ignored_fields: set[str] = field(default_factory=set)

    @property
    def models(self) -> list[str]:
        return sorted(set(self.table.column("model").to_pylist()))


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote."""

    path: Path
    models: list[str]
    rows: int
    tasks: int
    graded: bool
    shards: list[Path]
    ignored_fields: list[str]


def read_graded_rows(path: str | Path, model: str | None = None, default_model: str | None = None) -> GradedRows:
    """Read and validate a JSONL (optionally .gz) or Parquet file of samples.

    `model`, when given, is every row's label (a row naming another is an error);
    `default_model` labels only the rows that name none.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    for label in (model, default_model):
        if label is not None:
            check_label(label)
    builder = _RowBuilder(path, model, default_model)
    for location, row in _raw_rows(path):
        builder.add(location, row)
    return builder.finish()


def import_samples(path: str | Path, store: str | Path | Store, model: str | None = None) -> ImportSummary:
    """Validate a file and append its samples (and verdicts, if graded) to a store.

    Rows without ``sample_idx`` are numbered per task in file order, after the
    samples the store already holds for that task and model. A (model, task_id,
    sample_idx) already in the store is an error.
    """
    rows = read_graded_rows(path, model)
    if rows.table.num_rows == 0:
        raise InputError(f"{rows.path}: no rows to import")
    target = store if isinstance(store, Store) else Store.open_or_create(store)
    table = _numbered(rows, target)
    _check_not_in_store(rows.path, table, target)
    name = new_shard_name("import")
    version = "imported:" + _file_digest(rows.path)
    shards = []
    for label in rows.models:
        part = table.filter(pc.equal(table.column("model"), label))
        shards.append(Shard("samples", label, _samples_table(part, name), name))
        if rows.graded:
            shards.append(Shard("verdicts", label, _verdicts_table(part, version), name))
    written = target.write(shards)
    target.record_event("import", file=str(rows.path), models=rows.models, rows=table.num_rows, shard=name)
    return ImportSummary(
        path=rows.path,
        models=rows.models,
        rows=table.num_rows,
        tasks=len(set(table.column("task_id").to_pylist())),
        graded=rows.graded,
        shards=written,
        ignored_fields=sorted(rows.ignored_fields),
    )


# -- reading ---------------------------------------------------------------------


def _raw_rows(path: Path) -> Iterator[tuple[str, object]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _parquet_rows(path)
    elif name.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        yield from _jsonl_rows(path)
    else:
        raise InputError(f"{path}: unknown file type; expected .jsonl, .jsonl.gz or .parquet")


def _jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                where = f"{path}:{number}"
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
                if not text.strip():
                    continue
                try:
                    yield where, json.loads(text)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def _parquet_rows(path: Path) -> Iterator[tuple[str, object]]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=65536):
        for row in batch.to_pylist():
            number += 1
            yield f"{path}:row {number}", row


class _RowBuilder:
    """Validates rows one at a time into column lists."""

    def __init__(self, path: Path, model: str | None, default_model: str | None):
        self.path, self.model, self.default_model = path, model, default_model
        self.columns: dict[str, list] = {name: [] for name in _COLUMNS}
        self.graded: bool | None = None
        self.numbered: bool | None = None
        self.ignored: set[str] = set()
        self.first_seen: dict[tuple[str, str, int], str] = {}

    def add(self, where: str, row: object) -> None:
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        self.ignored |= set(row) - KNOWN_FIELDS
        values = {
            "model": self._model(where, row.get("model")),
            "task_id": _task_id(where, row.get("task_id")),
            "sample_idx": _optional_int(where, row, "sample_idx"),
            "correct": _correct(where, row.get("correct")),
            **{name: _optional_str(where, row, name) for name in _OPTIONAL_STR},
            **{name: _optional_int(where, row, name) for name in _OPTIONAL_INT},
        }
        values["score"] = _score(where, row.get("score"), values["correct"])
        self._check_consistency(where, values)
        for name in _COLUMNS:
            self.columns[name].append(values[name])

    def _model(self, where: str, value: object) -> str:
        if value is None:
            label = self.model or self.default_model
            if label is None:
                raise InputError(f"{where}: no model label: give the row a 'model' or pass --model")
            return label
        if not isinstance(value, str):
            raise InputError(f"{where}: 'model' must be a string")
        if self.model is not None and value != self.model:
            raise InputError(f"{where}: model {value!r} differs from the requested label {self.model!r}")
        try:
            return check_label(value)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None

    def _check_consistency(self, where: str, values: dict) -> None:
        if values["correct"] is None and values["completion"] is None:
            raise InputError(f"{where}: needs 'correct' (a graded sample) or 'completion' (to grade later)")
        for attr, name, what in (("graded", "correct", "graded"), ("numbered", "sample_idx", "numbered")):
            has = values[name] is not None
            seen = getattr(self, attr)
            if seen is None:
                setattr(self, attr, has)
            elif seen != has:
                state = "has" if has else "lacks"
                raise InputError(
                    f"{where}: row {state} '{name}' unlike the rows before it; a file is {what} throughout or not at all"
                )
        if values["sample_idx"] is not None:
            key = (values["model"], values["task_id"], values["sample_idx"])
            if key in self.first_seen:
                raise InputError(
                    f"{where}: duplicate sample (task_id {key[1]!r}, sample_idx {key[2]}) first seen at {self.first_seen[key]}"
                )
            self.first_seen[key] = where

    def finish(self) -> GradedRows:
        table = pa.Table.from_pydict(self.columns, schema=GRADED_SCHEMA)
        return GradedRows(self.path, table, bool(self.graded), self.ignored)


def _task_id(where: str, value: object) -> str:
    if value is None:
        raise InputError(f"{where}: missing required field 'task_id'")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{where}: 'task_id' must be a string or an integer, got {type(value).__name__}")
    text = str(value)
    if not text:
        raise InputError(f"{where}: 'task_id' is empty")
    return text


def _correct(where: str, value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise InputError(f"{where}: 'correct' must be true/false (or 0/1), got {value!r}")


def _score(where: str, value: object, correct: bool | None) -> float | None:
    if value is None:
        return None if correct is None else float(correct)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where}: 'score' must be a finite number, got {value!r}")
    return float(value)


def _optional_int(where: str, row: dict, name: str) -> int | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{where}: '{name}' must be an integer, got {value!r}")
    if value < 0 and name != "seed":
        raise InputError(f"{where}: '{name}' must be >= 0, got {value}")
    return value


def _optional_str(where: str, row: dict, name: str) -> str | None:
    value = row.get(name)
    if value is None or isinstance(value, str):
        return value
    if name == "answer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{where}: '{name}' must be a string, got {type(value).__name__}")


# -- writing ---------------------------------------------------------------------


def _numbered(rows: GradedRows, store: Store) -> pa.Table:
    """Fill in sample_idx per (model, task) in file order, after what the store holds."""
    table = rows.table
    if table.column("sample_idx").null_count == 0:
        return table
    from tether.counts import sample_counts

    offsets = {label: sample_counts(store, label) for label in rows.models}
    seen: dict[tuple[str, str], int] = {}
    numbers = []
    for label, task in zip(table.column("model").to_pylist(), table.column("task_id").to_pylist()):
        key = (label, task)
        index = seen.get(key, offsets[label].get(task, 0))
        numbers.append(index)
        seen[key] = index + 1
    return table.set_column(table.schema.get_field_index("sample_idx"), "sample_idx", pa.array(numbers, pa.int64()))


def _check_not_in_store(path: Path, table: pa.Table, store: Store) -> None:
    from tether.counts import existing_sample_keys

    for label in sorted(set(table.column("model").to_pylist())):
        part = table.filter(pc.equal(table.column("model"), label))
        clashes = existing_sample_keys(store, label, part.select(["task_id", "sample_idx"]))
        if clashes:
            shown = ", ".join(f"({t!r}, {i})" for t, i in clashes[:5])
            raise InputError(
                f"{path}: {len(clashes)} samples of model {label!r} are already in {store.root}, e.g. {shown}"
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
    }
    return pa.Table.from_pydict(columns, schema=VERDICT_SCHEMA)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
