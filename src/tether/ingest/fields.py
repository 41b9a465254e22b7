"""The fields of a row of graded samples, and how a column of each is typed.

A column is typed at Arrow speed where Arrow already holds it in a type the field takes (strings,
integers, booleans, floats: cast, range-checked column-wise), and value by value otherwise (a
column of mixed or unexpected types, or rows parsed in Python): the same rules either way, so a
file gets the same one-line error whichever way it was read. Typing reports only the first value
a field cannot take; `tether.ingest.rules` checks what the typed columns say.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# The fields of a row, in the order a row is checked: of two problems in one row, the earlier field's is reported.
FIELDS = ("model", "task_id", "sample_idx", "correct", "completion", "answer", "finish_reason", "n_tokens", "seed",
          "score")
STRINGS = ("completion", "answer", "finish_reason")
INTEGERS = ("sample_idx", "n_tokens", "seed")
TYPES = {"model": pa.string(), "task_id": pa.string(), "sample_idx": pa.int64(), "correct": pa.bool_(),
         "score": pa.float64(), **{name: pa.string() for name in STRINGS}, **{name: pa.int64() for name in INTEGERS}}
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, order=True)
class Problem:
    """What is wrong with a row: its index among the file's rows, the rank of the check that found it (a row's
    first problem is the one reported), and the message without the row's location."""

    row: int
    rank: int
    text: str = field(compare=False)


def rank(name: str) -> int:
    """The rank of a field's checks among a row's (`Problem.rank`)."""
    return FIELDS.index(name)


@dataclass
class Typed:
    """A field's column in its type (nulls where a row has no value), the first problem typing found, and the
    value of a row as the file gave it (for messages)."""

    values: pa.ChunkedArray
    problem: Problem | None = None
    given: Callable[[int], object] = lambda row: None


def first(mask: pa.ChunkedArray | pa.Array) -> int | None:
    """The index of the first true value of a boolean column (nulls are false), or None."""
    found = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if found is None or found < 0 else found


def type_column(name: str, column: pa.ChunkedArray, given: Callable[[int], object] | None = None) -> Typed:
    """A column of the file, typed as field `name` takes it: column-wise for the types Arrow holds it in,
    value by value (`type_values`) for any other. `given(row)`: a row's value as the file states it (default:
    Arrow's, which may have made a JSON 2 into 2.0), for messages."""
    kind = column.type
    given = given or (lambda row: column[row].as_py())
    if pa.types.is_null(kind):
        return Typed(pa.chunked_array([pa.nulls(len(column), TYPES[name])]), None, given)
    if pa.types.is_dictionary(kind) and (pa.types.is_string(kind.value_type)
                                         or pa.types.is_large_string(kind.value_type)):
        column, kind = column.cast(kind.value_type), kind.value_type
    if TYPES[name] == pa.string() and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        try:
            column.validate(full=True)  # Parquet strings are not checked for UTF-8 as they are read
        except pa.ArrowInvalid:
            return _invalid_utf8(name, column)
        return Typed(column.cast(pa.string()), None, given)
    if pa.types.is_integer(kind) and name in ("task_id", "answer"):
        return Typed(column.cast(pa.string()), None, given)
    if pa.types.is_integer(kind) and name in INTEGERS:
        if pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
            row = first(pc.greater(column, pa.scalar(INT64_MAX, pa.uint64())))
            if row is not None:
                return Typed(_nulls_from(column.cast(pa.int64(), safe=False), row), Problem(
                    row, rank(name), f"'{name}' is too large for a 64-bit integer: {given(row)}"), given)
        return Typed(column.cast(pa.int64()), None, given)
    if name == "correct" and pa.types.is_boolean(kind):
        return Typed(column, None, given)
    if name == "correct" and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        row = first(pc.and_(pc.is_valid(column), pc.invert(pc.is_in(column, value_set=pa.array([0, 1], kind)))))
        values = pc.not_equal(column, pa.scalar(0, kind))
        if row is None:
            return Typed(values, None, given)
        return Typed(_nulls_from(values, row), Problem(row, rank(name), _not_boolean(given(row))), given)
    if name == "score" and (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return Typed(column.cast(pa.float64()), None, given)  # finite and in [0, 1]: tether.ingest.rules
    typed = type_values(name, column.to_pylist())
    typed.given = given
    return typed


def type_values(name: str, values: Sequence[object]) -> Typed:
    """Python values (parsed JSON, or a column of another type) typed as field `name` takes them; typing stops
    at the first value it cannot take (the rows after it are null: only rows before a problem are ever read)."""
    convert = _CONVERTERS[name]
    typed: list[object] = [None] * len(values)
    for row, value in enumerate(values):
        if value is None:
            continue
        try:
            typed[row] = convert(name, value)
        except _Refused as refused:
            return Typed(pa.chunked_array([pa.array(typed, TYPES[name])]), Problem(row, rank(name), str(refused)),
                         values.__getitem__)
    return Typed(pa.chunked_array([pa.array(typed, TYPES[name])]), None, values.__getitem__)


class _Refused(Exception):
    """A value the field cannot take; its message is the problem's."""


def _label(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _Refused("'model' must be a string")
    return value  # a string that is no label: tether.ingest.rules (check_label)


def _task_id(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Refused(f"'task_id' must be a string or an integer, got {type(value).__name__}")
    return _unicode(name, str(value))


def _integer(name: str, value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(f"'{name}' must be an integer, got {value!r}")
    if not -(2**63) <= value <= INT64_MAX:
        raise _Refused(f"'{name}' is too large for a 64-bit integer: {value}")
    return value


def _correct(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise _Refused(_not_boolean(value))


def _not_boolean(value: object) -> str:
    return f"'correct' must be true/false (or 0/1), got {value!r}"


def _score(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Refused(f"'score' must be a finite number, got {value!r}")
    return float(value)


def _string(name: str, value: object) -> str:
    if isinstance(value, str):
        return _unicode(name, value)
    if name == "answer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _Refused(f"'{name}' must be a string, got {type(value).__name__}")


def _unicode(name: str, text: str) -> str:
    """`text`, if it can be stored: a lone surrogate ("\\ud800" in JSON) cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(f"'{name}' is not valid Unicode (it holds a lone surrogate)") from None
    return text


_CONVERTERS = {"model": _label, "task_id": _task_id, "correct": _correct, "score": _score,
               **{name: _integer for name in INTEGERS}, **{name: _string for name in STRINGS}}


def _invalid_utf8(name: str, column: pa.ChunkedArray) -> Typed:
    """A string column holding bytes that are not UTF-8 (a Parquet file can): the first such row."""
    raw = column.cast(pa.binary() if pa.types.is_string(column.type) else pa.large_binary())
    for row, value in enumerate(raw.to_pylist()):
        try:
            if value is not None:
                value.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = Problem(row, rank(name), f"'{name}' is not valid UTF-8 ({exc.reason} at byte {exc.start})")
            return Typed(_nulls_from(column.cast(pa.string()), row), problem, lambda row: raw[row].as_py())
    raise AssertionError("a string column failed validation but every value decodes")  # pragma: no cover


def _nulls_from(values: pa.ChunkedArray | pa.Array, row: int) -> pa.ChunkedArray:
    """`values` up to `row`, nulls from there on (rows from a problem on are never read)."""
    values = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    keep = np.arange(len(values)) < row
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))
