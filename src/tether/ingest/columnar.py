"""A file of rows read as columns: Parquet and JSONL with Arrow, or JSONL line by line where Arrow cannot.

`read_columns` returns the columns of the fields asked for (`Columns`), how to name a row's place in the
file (``FILE:LINE``, ``FILE:row N``) and the fields it ignores. JSONL goes through ``pyarrow.json`` when
its layout allows (`tether.ingest.jsonl.json_layout`: one object per non-blank line, none nested too
deep) and Arrow reads it as JSON would (every line a row, no number too large for an exact integer);
otherwise, and for harness rows, the rows are parsed in Python and the first line that is no JSON object
becomes the file's last row's problem (`Columns.stop`), reported unless an earlier row has one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from tether.errors import InputError
from tether.ingest.fields import FIELDS, INTEGERS, Problem
from tether.ingest.jsonl import LineError, json_layout, jsonl_rows

JSONL = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".ndjson.gz")
BLOCK = 1 << 20  # bytes Arrow parses at a time, at least (a block holds whole lines: the longest sets it)
_EXACT_ONLY_AS_INTEGERS = ("task_id", "answer", *INTEGERS)  # JSON numbers Arrow would hold as doubles: not exact


@dataclass
class Columns:
    """The fields asked for, as Arrow columns (`arrow`) or Python values (`values`), of `rows` rows."""

    rows: int
    locate: Callable[[int], str]
    arrow: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    values: dict[str, list] = field(default_factory=dict)
    ignored: set[str] = field(default_factory=set)
    stop: Problem | None = None  # a line that is no row, after the `rows` rows before it
    original: Callable[[int], dict] | None = None  # a row as Python parses it, where Arrow's types may differ


def read_columns(path: Path, fields: Sequence[str]) -> Columns:
    """The columns of `fields` (those the file has) of a Parquet or JSONL file."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return _parquet(path, fields)
    if name.endswith(JSONL):
        return _json_arrow(path, fields) or rows_columns(jsonl_rows(path), fields, str(path))
    raise InputError(f"{path}: unknown file type; expected .jsonl, .jsonl.gz or .parquet")


def _parquet(path: Path, fields: Sequence[str]) -> Columns:
    try:
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[f for f in fields if f in names])
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from None
    return Columns(table.num_rows, lambda row: f"{path}:row {row + 1}",
                   arrow={f: table.column(f) for f in table.column_names}, ignored=set(names) - set(FIELDS))


def _json_arrow(path: Path, fields: Sequence[str]) -> Columns | None:
    """A JSONL file read by Arrow, or None where the layout or Arrow's reading would not be what reading it
    line by line gives (then it is read line by line)."""
    try:
        layout = json_layout(path)
    except (OSError, EOFError):
        return None  # read line by line, which names what cannot be read
    if layout is None:
        return None
    try:  # a .gz file is decompressed as it is read
        table = pj.read_json(str(path), read_options=pj.ReadOptions(block_size=max(BLOCK, 2 * layout.longest + 2)),
                             parse_options=pj.ParseOptions(newlines_in_values=False))
    except (pa.ArrowException, ValueError):  # not JSON as Arrow reads it (mixed types, bad text): line by line
        return None
    if table.num_rows != layout.rows:
        return None
    if any(pa.types.is_floating(table.column(f).type) for f in _EXACT_ONLY_AS_INTEGERS if f in table.column_names):
        return None  # an integer beyond 2**63, or a float where an integer belongs: as Python reads it
    return Columns(table.num_rows, lambda row: f"{path}:{layout.line(row)}",
                   arrow={f: table.column(f) for f in fields if f in table.column_names},
                   ignored=set(table.column_names) - set(FIELDS), original=lambda row: _line(path, layout.line(row)))


def _line(path: Path, number: int) -> dict:
    """Line `number` of a JSONL file as Python parses it (for a message quoting a value as the file gives it:
    Arrow holds 1 and 1.5 of one field both as doubles)."""
    for where, row in jsonl_rows(path):
        if where == f"{path}:{number}":
            return row
    raise AssertionError(f"{path} has no line {number}")  # pragma: no cover


def rows_columns(rows: Iterable[tuple[str, object]], fields: Sequence[str], source: str) -> Columns:
    """Rows parsed in Python ((where, object) pairs: JSON lines, a harness file's converted rows) as columns;
    the first line that is no JSON object (or cannot be read) ends them, as `Columns.stop`."""
    wheres: list[str] = []
    values: dict[str, list] = {f: [] for f in fields}
    keys: set[str] = set()
    stop = None
    try:
        for where, row in rows:
            if not isinstance(row, dict):
                stop = Problem(len(wheres), -1, f"expected a JSON object, got {type(row).__name__}")
                wheres.append(where)
                break
            keys.update(row)
            for f in fields:
                values[f].append(row.get(f))
            wheres.append(where)
    except LineError as exc:
        stop = Problem(len(wheres), -1, exc.text)
        wheres.append(exc.where)
    except InputError as exc:  # the file cannot be read on (truncated gzip): named by the file, not a line
        stop = Problem(len(wheres), -1, str(exc).removeprefix(f"{source}: "))
        wheres.append(source)
    count = len(wheres) - (stop is not None)
    return Columns(count, wheres.__getitem__, values=values, ignored=keys - set(FIELDS), stop=stop)
