"""The rules a file of graded samples must follow, checked column-wise on its typed fields.

Each rule finds the first row that breaks it (`tether.ingest.fields.Problem`); of all the problems
typing and the rules find, the one of the earliest row is reported (of one row's problems, the
earliest field's, then the row rules' in this order), so a file gives the one line a reader going
row by row would stop at:

- the label: a row's ``model`` (or `label` / `default_label`), a storable label, not another than `label`;
- ``task_id`` present and not empty; ``sample_idx`` and ``n_tokens`` >= 0;
- ``score`` finite, in [0, 1], given only with ``correct`` and 1 exactly when correct;
- each row graded (``correct``) or gradable (``completion``); graded throughout or not at all, numbered
  (``sample_idx``) throughout or not at all; no (label, task, sample index) twice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tether.errors import InputError
from tether.ingest.fields import FIELDS, Problem, Typed, first
from tether.store.schema import check_label

Locate = Callable[[int], str]  # a row's location: FILE:LINE, FILE:row N

NEEDS, GRADED, NUMBERED, DUPLICATE = range(len(FIELDS), len(FIELDS) + 4)  # ranks of the row rules, after the fields'


def first_problem(typed: dict[str, Typed], rows: int, label: str | None, default_label: str | None,
                  locate: Locate) -> tuple[Problem | None, pa.ChunkedArray]:
    """The earliest problem of a file's typed fields (None: it follows every rule), and its rows' labels."""
    problems = [t.problem for t in typed.values() if t.problem is not None]
    labels, problem = _labels(typed.get("model"), rows, label, default_label)
    problems += [problem] if problem else []
    for found in (_task_ids(typed["task_id"]), _not_negative(typed, "sample_idx"), _not_negative(typed, "n_tokens"),
                  _score(typed), _graded_or_gradable(typed), _throughout(typed, "correct", GRADED, "graded"),
                  _throughout(typed, "sample_idx", NUMBERED, "numbered"), _duplicate(typed, labels, locate)):
        problems += [found] if found else []
    return (min(problems) if problems else None), labels


def _labels(model: Typed | None, rows: int, label: str | None,
            default_label: str | None) -> tuple[pa.ChunkedArray, Problem | None]:
    """Each row's label: its ``model``, else `label` or `default_label`; the first row without a usable one."""
    fallback = label or default_label
    if model is None:
        values = pa.chunked_array([pa.nulls(rows, pa.string())])
        given = lambda row: None  # noqa: E731
    else:
        values, given = model.values, model.given
    problems = []
    missing = first(pc.is_null(values))
    if missing is not None and fallback is None:
        problems.append(Problem(missing, 0, "no label: give the row a 'model' or pass --label"))
    if label is not None:
        other = first(pc.not_equal(values, label))
        if other is not None:
            problems.append(Problem(other, 0, f"model {given(other)!r} differs from the requested label {label!r}"))
    for name in pc.unique(values.drop_null()).to_pylist():
        try:
            check_label(name)
        except InputError as exc:
            problems.append(Problem(first(pc.equal(values, name)), 0, str(exc)))
    filled = pc.fill_null(values, fallback) if fallback is not None else values
    return filled, (min(problems) if problems else None)


def _task_ids(task_id: Typed) -> Problem | None:
    problems = []
    missing = first(pc.is_null(task_id.values))
    if missing is not None:
        problems.append(Problem(missing, 1, "missing required field 'task_id'"))
    empty = first(pc.equal(pc.binary_length(task_id.values), 0))
    if empty is not None:
        problems.append(Problem(empty, 1, "'task_id' is empty"))
    return min(problems) if problems else None


def _not_negative(typed: dict[str, Typed], name: str) -> Problem | None:
    if name not in typed:
        return None
    row = first(pc.less(typed[name].values, 0))
    return None if row is None else Problem(row, FIELDS.index(name),
                                            f"'{name}' must be >= 0, got {typed[name].values[row].as_py()}")


def _score(typed: dict[str, Typed]) -> Problem | None:
    """Partial credit in [0, 1], agreeing with ``correct``: 1 exactly when correct (as tether's verifiers
    score), below 1 when not."""
    if "score" not in typed:
        return None
    score, given, at = typed["score"].values, typed["score"].given, FIELDS.index("score")
    correct = typed["correct"].values if "correct" in typed else pa.chunked_array([pa.nulls(len(score), pa.bool_())])
    checks = (
        (pc.invert(pc.is_finite(score)), lambda row: f"'score' must be a finite number, got {given(row)!r}"),
        (pc.or_(pc.less(score, 0), pc.greater(score, 1)),
         lambda row: f"'score' is partial credit between 0 and 1, got {given(row)!r}"),
        (pc.and_(pc.is_valid(score), pc.is_null(correct)),
         lambda row: "'score' without 'correct'; give both, or neither and grade with `tether grade`"),
        (pc.not_equal(correct, pc.equal(score, 1.0)),
         lambda row: f"'score' {given(row)!r} contradicts 'correct' {str(correct[row].as_py()).lower()} "
                     "(a correct answer scores 1, any other below 1)"),
    )
    found = [(row, message) for mask, message in checks if (row := first(mask)) is not None]
    if not found:
        return None
    row = min(r for r, _ in found)
    return Problem(row, at, next(message for r, message in found if r == row)(row))


def _graded_or_gradable(typed: dict[str, Typed]) -> Problem | None:
    """A row needs a verdict or a text to grade; checked only where the file's completions were read."""
    if "completion" not in typed or "correct" not in typed:
        return None
    row = first(pc.and_(pc.is_null(typed["correct"].values), pc.is_null(typed["completion"].values)))
    return None if row is None else Problem(
        row, NEEDS, "needs 'correct' (a graded sample) or 'completion' (to grade later)")


def _throughout(typed: dict[str, Typed], name: str, at: int, what: str) -> Problem | None:
    """A field given on every row or on none: the first row that differs from the first row."""
    if name not in typed or len(typed[name].values) == 0:
        return None
    has = pc.is_valid(typed[name].values)
    row = first(pc.not_equal(has, has[0]))
    if row is None:
        return None
    state = "lacks" if has[0].as_py() else "has"
    return Problem(row, at,
                   f"row {state} '{name}' unlike the rows before it; a file is {what} throughout or not at all")


def _duplicate(typed: dict[str, Typed], labels: pa.ChunkedArray, locate: Locate) -> Problem | None:
    """The first row whose (label, task, sample index) an earlier row has, naming where it was first seen."""
    if "sample_idx" not in typed:
        return None
    index = typed["sample_idx"].values
    valid = pc.and_(pc.and_(pc.is_valid(index), pc.is_valid(typed["task_id"].values)), pc.is_valid(labels))
    rows = None if pc.all(valid).as_py() else np.flatnonzero(valid.to_numpy(zero_copy_only=False))
    keys = [_codes(labels), _codes(typed["task_id"].values), index.to_numpy(zero_copy_only=False)]
    if rows is not None:
        keys = [key[rows] for key in keys]
    if _increasing(*keys):  # a file in (label, task, sample) order has no duplicates: checked without sorting
        return None
    position = np.arange(len(keys[0])) if rows is None else rows
    order = np.lexsort((position, keys[2], keys[1], keys[0]))
    same = np.ones(len(order), dtype=bool)
    for key in keys:
        ordered = key[order]
        same[1:] &= ordered[1:] == ordered[:-1]
    same[0] = False
    if not same.any():
        return None
    repeats = order[same]
    later = repeats[np.argmin(position[repeats])]  # the first row, in file order, that repeats an earlier one
    sorted_at = int(np.flatnonzero(order == later)[0])
    start = sorted_at
    while start > 0 and same[start]:
        start -= 1
    seen = int(position[order[start]])
    row = int(position[later])
    task, sample = typed["task_id"].values[row].as_py(), index[row].as_py()
    return Problem(row, DUPLICATE, f"duplicate sample (task_id {task!r}, sample_idx {sample}) first seen at "
                                   f"{locate(seen)}")


def _codes(values: pa.ChunkedArray) -> np.ndarray:
    """Integer codes of a string column (equal strings, equal codes; in order of first appearance)."""
    if pc.count_distinct(values, mode="all").as_py() <= 1:
        return np.zeros(len(values), dtype=np.int32)
    encoded = pc.dictionary_encode(values).combine_chunks()
    return pc.fill_null(encoded.indices, -1).to_numpy()


def _increasing(label: np.ndarray, task: np.ndarray, sample: np.ndarray) -> bool:
    """Whether the keys rise strictly row after row (lexicographically): then no key repeats."""
    if len(label) < 2:
        return True
    rises = sample[1:] > sample[:-1]  # compared, not subtracted: no overflow near the int64 limits
    for key in (task, label):
        rises = (key[1:] > key[:-1]) | ((key[1:] == key[:-1]) & rises)
    return bool(rises.all())
