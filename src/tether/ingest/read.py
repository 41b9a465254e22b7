"""Reading graded samples made elsewhere (JSONL, JSONL.gz or Parquet) into one validated Arrow table.

The row format is documented in docs/import.md. Each row is one completion:
``task_id`` and ``correct`` are required (or ``completion`` instead of
``correct`` for grading later); ``model`` (the row's label), ``sample_idx``,
``completion``, ``answer``, ``score``, ``n_tokens``, ``finish_reason`` and
``seed`` are optional. A file is graded throughout or not at all. Every problem
is reported as ``FILE:LINE: what is wrong``. Files written by lm-eval or lighteval
are converted to these rows first (`tether.ingest.harness`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tether.errors import InputError
from tether.ingest.harness import FORMATS, HarnessOptions, HarnessTask, detect_format, read_harness
from tether.ingest.jsonl import jsonl_rows
from tether.store.schema import check_label

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
    format: str = "tether"
    tasks: dict[str, HarnessTask] = field(default_factory=dict)  # from a harness file: each document's gold
    notes: list[str] = field(default_factory=list)  # what a harness conversion chose
    decoding: dict = field(default_factory=dict)  # a harness file's generation settings, as it states them

    @property
    def labels(self) -> list[str]:
        """The labels of the file's rows (its ``model`` column), sorted."""
        return sorted(set(self.table.column("model").to_pylist()))


def read_graded_rows(path: str | Path, label: str | None = None, default_label: str | None = None,
                     format: str = "auto", harness: HarnessOptions = HarnessOptions()) -> GradedRows:
    """Read and validate a JSONL (optionally .gz) or Parquet file of samples.

    `label`, when given, is every row's label (a row whose ``model`` names another is an error);
    `default_label` labels only the rows that name none. `format` is ``tether`` (the rows of
    docs/import.md), ``lm-eval``, ``lighteval`` or ``auto`` (told from the file's first record).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    for given in (label, default_label):
        if given is not None:
            check_label(given)
    fmt = detect_format(path) if format == "auto" else format
    builder = _RowBuilder(path, label, default_label)
    if fmt == "tether":
        for location, row in _raw_rows(path):
            builder.add(location, row)
        return builder.finish()
    converted = read_harness(path, fmt, harness)
    if label is None and default_label is None:
        raise InputError(f"{path}: an {fmt} file does not name the model; pass --label")
    for location, row in converted.rows:
        builder.add(location, row)
    rows = builder.finish()
    rows.format, rows.tasks, rows.notes, rows.decoding = fmt, converted.tasks, converted.notes, converted.decoding
    return rows



def _raw_rows(path: Path) -> Iterator[tuple[str, object]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _parquet_rows(path)
    elif name.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        yield from jsonl_rows(path)
    else:
        raise InputError(f"{path}: unknown file type; expected .jsonl, .jsonl.gz or .parquet")


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

    def __init__(self, path: Path, label: str | None, default_label: str | None):
        self.path, self.label, self.default_label = path, label, default_label
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
            "model": self._label(where, row.get("model")),
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

    def _label(self, where: str, value: object) -> str:
        if value is None:
            label = self.label or self.default_label
            if label is None:
                raise InputError(f"{where}: no label: give the row a 'model' or pass --label")
            return label
        if not isinstance(value, str):
            raise InputError(f"{where}: 'model' must be a string")
        if self.label is not None and value != self.label:
            raise InputError(f"{where}: model {value!r} differs from the requested label {self.label!r}")
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
    return _unicode(where, "task_id", text)


def _correct(where: str, value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise InputError(f"{where}: 'correct' must be true/false (or 0/1), got {value!r}")


def _score(where: str, value: object, correct: bool | None) -> float | None:
    """Partial credit in [0, 1], agreeing with `correct`: 1 exactly when correct (as tether's
    verifiers score), below 1 when not; defaults to 1/0 from `correct`."""
    if value is None:
        return None if correct is None else float(correct)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where}: 'score' must be a finite number, got {value!r}")
    if not 0 <= value <= 1:
        raise InputError(f"{where}: 'score' is partial credit between 0 and 1, got {value!r}")
    if correct is None:
        raise InputError(f"{where}: 'score' without 'correct'; give both, or neither and grade with `tether grade`")
    if correct != (value == 1):
        raise InputError(f"{where}: 'score' {value!r} contradicts 'correct' {str(correct).lower()} "
                         "(a correct answer scores 1, any other below 1)")
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
    if not -(2**63) <= value < 2**63:
        raise InputError(f"{where}: '{name}' is too large for a 64-bit integer: {value}")
    return value


def _unicode(where: str, name: str, text: str) -> str:
    """`text`, if it can be stored: a lone surrogate ("\\ud800" in JSON) cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{where}: '{name}' is not valid Unicode (it holds a lone surrogate)") from None
    return text


def _optional_str(where: str, row: dict, name: str) -> str | None:
    value = row.get(name)
    if value is None or isinstance(value, str):
        return value if value is None else _unicode(where, name, value)
    if name == "answer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{where}: '{name}' must be a string, got {type(value).__name__}")


