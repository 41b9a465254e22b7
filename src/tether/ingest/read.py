"""Reading graded samples made elsewhere (JSONL, JSONL.gz or Parquet) into one validated Arrow table.

The row format is documented in docs/import.md. Each row is one completion:
``task_id`` and ``correct`` are required (or ``completion`` instead of
``correct`` for grading later); ``model`` (the row's label), ``sample_idx``,
``completion``, ``answer``, ``score``, ``n_tokens``, ``finish_reason`` and
``seed`` are optional. A file is graded throughout or not at all. Every problem
is reported as ``FILE:LINE: what is wrong``, for the first row that has one.

Files are read column-wise (`tether.ingest.columnar`: Arrow for Parquet and for JSONL where it reads
as JSON does), typed (`tether.ingest.fields`) and checked (`tether.ingest.rules`) a column at a
time; `fields` reads and checks only some (`tether compare` counts with four). Files written by
lm-eval or lighteval are converted to these rows first (`tether.ingest.harness`), and verl's validation
dumps (a folder of them, one label per step) by `tether.ingest.verl`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tether.errors import InputError
from tether.ingest.columnar import Columns, read_columns, rows_columns
from tether.ingest.fields import FIELDS, TYPES, Typed, type_column, type_values
from tether.ingest.harness import FORMATS, HarnessOptions, HarnessTask, detect_format, read_harness
from tether.ingest.rules import first_problem
from tether.ingest.verl import read_verl
from tether.store.schema import check_label

KNOWN_FIELDS = set(FIELDS)
_COLUMNS = ("model", "task_id", "sample_idx", "correct", "score", "completion", "answer", "finish_reason",
            "n_tokens", "seed")
GRADED_SCHEMA = pa.schema([pa.field(name, TYPES[name]) for name in _COLUMNS])
COUNTED = ("model", "task_id", "sample_idx", "correct")  # the fields a comparison counts with


@dataclass
class GradedRows:
    """Validated rows of one file, as one Arrow table in `GRADED_SCHEMA` (its columns of the fields read)."""

    path: Path
    table: pa.Table
    graded: bool
    ignored_fields: set[str] = field(default_factory=set)
    format: str = "tether"
    tasks: dict[str, HarnessTask] = field(default_factory=dict)  # from a harness file: each document's gold
    notes: list[str] = field(default_factory=list)  # what a harness conversion chose
    decoding: dict = field(default_factory=dict)  # a harness file's generation settings, as it states them
    checkpoints: dict[str, tuple[str, int]] = field(default_factory=dict)  # verl: label -> (training run, step)

    @property
    def labels(self) -> list[str]:
        """The labels of the file's rows (its ``model`` column), sorted."""
        return sorted(pc.unique(self.table.column("model")).to_pylist())


def read_graded_rows(path: str | Path, label: str | None = None, default_label: str | None = None,
                     format: str = "auto", harness: HarnessOptions = HarnessOptions(),
                     fields: Sequence[str] | None = None) -> GradedRows:
    """Read and validate a JSONL (optionally .gz) or Parquet file of samples.

    `label`, when given, is every row's label (a row whose ``model`` names another is an error);
    `default_label` labels only the rows that name none. `format` is ``tether`` (the rows of
    docs/import.md), ``lm-eval``, ``lighteval``, ``verl`` or ``auto`` (told from the file's first record;
    a folder is verl's validation dumps, whose rows are labelled ``<label>-<step>``, `label` naming the
    training run: default the folder's name). `fields` (default: all) are the fields read and checked, and the table's columns; ``model``
    and ``task_id`` always are.
    """
    path = Path(path)
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if not path.is_file() and not (path.is_dir() and format in ("auto", "verl")):
        raise InputError(f"{path}: no such file")
    for given in (label, default_label):
        if given is not None:
            check_label(given)
    wanted = [name for name in _COLUMNS if fields is None or name in fields or name in ("model", "task_id")]
    fmt = detect_format(path) if format == "auto" else format
    if fmt != "verl" and (harness.correct_threshold is not None or harness.id_key is not None):
        raise InputError(f"{path}: --correct-threshold and --columns id= read verl's validation dumps; this is "
                         f"{'an' if fmt == 'lm-eval' else 'a'} {fmt} file")
    if fmt == "verl":
        return _verl(path, label or default_label, harness, wanted)
    if fmt == "tether":
        return _validated(path, read_columns(path, [f for f in FIELDS if f in wanted]), label, default_label, wanted)
    converted = read_harness(path, fmt, harness)
    if label is None and default_label is None:
        raise InputError(f"{path}: an {fmt} file does not name the model; pass --label")
    rows = _validated(path, rows_columns(converted.rows, [f for f in FIELDS if f in wanted], str(path)), label,
                      default_label, wanted)
    rows.format, rows.tasks, rows.notes, rows.decoding = fmt, converted.tasks, converted.notes, converted.decoding
    return rows


def _verl(path: Path, run: str | None, harness: HarnessOptions, wanted: Sequence[str]) -> GradedRows:
    """verl's validation dumps (a folder, or one step's file): `run` names the training run, each step a label."""
    dump = read_verl(path, run, harness)
    rows = _validated(path, rows_columns(dump.rows, [f for f in FIELDS if f in wanted], str(path)), None, None, wanted)
    rows.format, rows.tasks, rows.notes, rows.checkpoints = "verl", dump.tasks, dump.notes, dump.checkpoints
    return rows


def _validated(path: Path, columns: Columns, label: str | None, default_label: str | None,
               wanted: Sequence[str]) -> GradedRows:
    """The columns typed and checked; the first problem of the earliest row is the error."""
    typed: dict[str, Typed] = {}
    for name in FIELDS:
        if name not in wanted:
            continue
        if name in columns.arrow:
            given = None if columns.original is None else lambda row, name=name: columns.original(row).get(name)
            typed[name] = type_column(name, columns.arrow[name], given)
        elif name in columns.values:
            typed[name] = type_values(name, columns.values[name])
        else:
            typed[name] = Typed(pa.chunked_array([pa.nulls(columns.rows, TYPES[name])]))
    problem, labels = first_problem(typed, columns.rows, label, default_label, columns.locate)
    if columns.stop is not None and (problem is None or columns.stop.row <= problem.row):
        problem = columns.stop
    if problem is not None:
        raise InputError(f"{columns.locate(problem.row)}: {problem.text}")
    data = {name: typed[name].values for name in wanted}
    data["model"] = labels
    if "score" in data:  # partial credit defaults to the verdict: 1.0 when correct, 0.0 when not
        data["score"] = pc.coalesce(data["score"], pc.cast(data["correct"], pa.float64()))
    schema = pa.schema([GRADED_SCHEMA.field(name) for name in wanted])
    table = pa.Table.from_arrays([data[name] for name in wanted], schema=schema)
    graded = columns.rows > 0 and typed["correct"].values.null_count < columns.rows if "correct" in typed else False
    return GradedRows(path, table, graded, columns.ignored)
