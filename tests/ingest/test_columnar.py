"""Files read column-wise with Arrow give exactly what reading them line by line gives: the same rows, or the same
one-line error naming the same first bad row (issue 31)."""

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tether.errors import InputError
from tether.ingest import columnar, read_graded_rows

GOOD = {"task_id": "a", "sample_idx": 0, "correct": True, "completion": "x", "answer": "4", "score": 1.0,
        "n_tokens": 3, "finish_reason": "stop", "seed": 7}


def outcome(path, **kwargs):
    """('rows', table as Python) or ('error', message) of reading `path`."""
    try:
        return "rows", read_graded_rows(path, **kwargs).table.to_pylist()
    except InputError as exc:
        return "error", str(exc)


def line_by_line(monkeypatch, path, **kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(columnar, "_json_arrow", lambda path, fields: None)
        return outcome(path, **kwargs)


def arrow_read(path) -> bool:
    return columnar._json_arrow(path, ["task_id"]) is not None


def write(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


CASES = [  # (rows of the file, what its first problem says); every row after the bad one is valid
    ([{"correct": True}], "missing required field 'task_id'"),
    ([{"task_id": "", "correct": True}], "'task_id' is empty"),
    ([{"task_id": "a"}], "needs 'correct'"),
    ([{"task_id": "a", "correct": 2}], "'correct' must be true/false (or 0/1), got 2"),
    ([{"task_id": "a", "correct": True, "sample_idx": -1}], "'sample_idx' must be >= 0, got -1"),
    ([{"task_id": "a", "correct": True, "n_tokens": -4}], "'n_tokens' must be >= 0, got -4"),
    ([{"task_id": "a", "correct": True, "score": 0.0}], "'score' 0.0 contradicts 'correct' true"),
    ([{"task_id": "a", "correct": False, "score": 1}], "'score' 1 contradicts 'correct' false"),
    ([{"task_id": "a", "correct": False, "score": 7.5}], "partial credit between 0 and 1, got 7.5"),
    ([{"task_id": "a", "correct": False, "score": -2}], "partial credit between 0 and 1, got -2"),
    ([{"task_id": "a", "correct": False, "score": math.nan}], "'score' must be a finite number, got nan"),
    ([{"task_id": "a", "completion": "x", "score": 0.5}], "'score' without 'correct'"),
    ([{"task_id": "a", "correct": True, "model": "rl"}], "model 'rl' differs from the requested label 'base'"),
    ([{"task_id": "a", "completion": "x"}], "row lacks 'correct' unlike the rows before it"),
    ([{"task_id": "a", "correct": True, "sample_idx": 0}], "row has 'sample_idx' unlike the rows before it"),
    ([{"task_id": "a", "correct": True, "sample_idx": 2**70}], "'sample_idx' is too large for a 64-bit integer"),
    ([{"task_id": "a", "correct": True, "sample_idx": 1.5}], "'sample_idx' must be an integer, got 1.5"),
    ([{"task_id": "a", "correct": "yes"}], "'correct' must be true/false (or 0/1), got 'yes'"),
    ([{"task_id": ["a"], "correct": True}], "'task_id' must be a string or an integer, got list"),
    ([{"task_id": "a", "correct": True, "completion": 3}], "'completion' must be a string, got int"),
    ([{"task_id": "a", "correct": True, "model": 3}], "'model' must be a string"),
    (['{"task_id": "a", "correct": true'], "invalid JSON"),
    (["[1, 2]"], "expected a JSON object, got list"),
]


@pytest.mark.parametrize("rows, message", CASES, ids=[m for _, m in CASES])
def test_each_problem_is_one_line_naming_its_line_whichever_way_the_file_is_read(tmp_path, monkeypatch, rows,
                                                                                 message):
    valid = {"task_id": "ok", "correct": True}
    path = write(tmp_path / "in.jsonl", [valid, valid, "", *rows, valid, '{"task_id": "later", "correct": "x"}'])
    found = outcome(path, label="base")
    assert found[0] == "error" and found[1].startswith(f"{path}:4: ") and message in found[1], found
    assert "\n" not in found[1]
    assert line_by_line(monkeypatch, path, label="base") == found


def test_valid_files_give_the_same_table_both_ways_and_arrow_reads_them(tmp_path, monkeypatch):
    rows = [{**GOOD, "task_id": f"t{i % 3}", "sample_idx": i // 3, "correct": i % 2 == 0, "score": float(i % 2 == 0),
             "extra": {"nested": [1, 2]}} for i in range(30)]
    rows[4]["task_id"] = 17  # an integer id is its decimal string
    path = write(tmp_path / "in.jsonl", [rows[0], "   ", *rows[1:], "\t"])
    assert not arrow_read(path)  # ids of two JSON types: Arrow refuses the column, Python reads it
    rows[4]["task_id"] = "17"
    write(path, [rows[0], "   ", *rows[1:], "\t"])
    assert arrow_read(path)
    found = outcome(path, label="base")
    assert found[0] == "rows" and found == line_by_line(monkeypatch, path, label="base")
    assert read_graded_rows(path, label="base").ignored_fields == {"extra"}


def test_verdicts_given_as_numbers_read_the_same_both_ways(tmp_path, monkeypatch):
    for given in ([1, 0, None, 1], [1.0, 0.0, None, 0.0], [1, 0, 2, 1], [1.0, 0.5, 0.0, 1.0]):
        path = write(tmp_path / "n.jsonl", [{"task_id": "a", "completion": "x", "correct": c} for c in given])
        found = outcome(path, label="base")
        assert found == line_by_line(monkeypatch, path, label="base"), given
        parquet = tmp_path / "n.parquet"
        pq.write_table(pa.table({"task_id": ["a"] * 4, "completion": ["x"] * 4, "correct": given}), parquet)
        in_parquet = outcome(parquet, label="base")
        assert in_parquet[0] == found[0] and str(in_parquet[1]).split(": ", 1)[-1] == str(found[1]).split(": ", 1)[-1]


def test_arrow_rows_are_named_by_their_line_past_blank_lines(tmp_path):
    rows = [{"task_id": "a", "sample_idx": i, "correct": True} for i in range(6)]
    path = write(tmp_path / "in.jsonl", ["", rows[0], "  ", "", rows[1], rows[2], "\r", rows[3], rows[1], rows[5]])
    assert arrow_read(path)
    with pytest.raises(InputError, match=rf"^{path}:9: duplicate sample \(task_id 'a', sample_idx 1\) first seen "
                                         rf"at {path}:5$"):
        read_graded_rows(path, label="base")


def test_random_files_read_the_same_both_ways(tmp_path, monkeypatch):
    """Files of valid rows (verdicts as booleans, 0/1 or 0.0/1.0) with a value or two changed at a random row, of
    a random field, to a random value (valid or not): Arrow's reading and the line-by-line reading agree."""
    rng = np.random.default_rng(31)
    values = {"task_id": ["b", "", 17, -3, None, True, ["x"]],
              "sample_idx": [0, 5, -1, 1.5, 3.0, 2**63, None, "1", False],
              "correct": [True, False, 0, 1, 2, 0.5, "yes", None],
              "score": [0.0, 1, 0.5, 7.5, -1, None, "high", True],
              "model": [None, "base", "rl", "bad/label", 3],
              "completion": [None, "y", 4, "z\ud800"],
              "answer": [None, "4", 5, 2.5, False],
              "n_tokens": [None, 2, -2, 2.0],
              "finish_reason": [None, "length", 1],
              "seed": [None, -5, 2**64, 0.25]}
    arrow = 0
    for trial in range(120):
        verdict = (bool, int, float)[trial % 3]
        rows = [{**GOOD, "task_id": f"t{i % 4}", "sample_idx": i // 4, "model": "base", "correct": verdict(i % 2)}
                for i in range(12)]
        for row in rows:
            row["score"] = float(row["correct"])
        for _ in range(rng.integers(1, 3)):
            row, name = rng.integers(len(rows)), rng.choice(list(values))
            rows[row][name] = values[name][rng.integers(len(values[name]))]
        path = write(tmp_path / f"f{trial}.jsonl", rows)
        arrow += arrow_read(path)
        found = outcome(path, default_label="base")
        assert found == line_by_line(monkeypatch, path, default_label="base"), (trial, rows)
    assert arrow >= 30  # many of them went through Arrow


def test_parquet_columns_of_any_type_give_the_rows_own_errors(tmp_path):
    def parquet(name, **columns):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"correct": [True, True, True], **columns}), path)
        return path

    cases = {
        "ids": (dict(task_id=pa.array([1, 2, 3], pa.int32())), None),
        "uint": (dict(task_id=["a"] * 3, sample_idx=pa.array([0, 1, 2**63], pa.uint64())),
                 ":row 3: 'sample_idx' is too large for a 64-bit integer: 9223372036854775808"),
        "floats": (dict(task_id=["a"] * 3, sample_idx=[0.0, 1.0, 2.5]), ":row 3: 'sample_idx' must be an integer"),
        "bools": (dict(task_id=[True, False, True]), ":row 1: 'task_id' must be a string or an integer, got bool"),
        "bytes": (dict(task_id=pa.array([b"a", b"b", b"\xff"], pa.binary())), ":row 1: 'task_id' must be a string"),
        "dictionary": (dict(task_id=pa.array(["a", "b", "a"]).dictionary_encode(), sample_idx=[0, 0, 0]),
                       ":row 3: duplicate sample (task_id 'a', sample_idx 0) first seen at"),
        "large": (dict(task_id=pa.array(["a", "", "b"], pa.large_string())), ":row 2: 'task_id' is empty"),
    }
    for name, (columns, message) in cases.items():
        found = outcome(parquet(name, **columns), label="base")
        if message is None:
            assert found[0] == "rows" and [r["task_id"] for r in found[1]] == ["1", "2", "3"]
        else:
            assert found[0] == "error" and message in found[1] and "\n" not in found[1], (name, found)


def test_parquet_strings_that_are_not_utf8_are_named(tmp_path):
    path = tmp_path / "bytes.parquet"
    schema = pa.schema([("task_id", pa.string()), ("correct", pa.bool_())])
    bad = pa.array([b"a", b"b\xff"], pa.binary()).view(pa.string())  # a writer that never checked its text
    pq.write_table(pa.Table.from_arrays([bad, pa.array([True, True])], schema=schema), path)
    with pytest.raises(InputError, match=r"bytes.parquet:row 2: 'task_id' is not valid UTF-8"):
        read_graded_rows(path, label="base")


def test_an_error_before_a_line_that_is_no_json_is_the_one_reported(tmp_path, monkeypatch):
    path = write(tmp_path / "in.jsonl", [{"task_id": "a", "correct": True}, {"task_id": "a", "correct": "x"},
                                         "{not json"])
    assert outcome(path, label="base") == ("error", f"{path}:2: 'correct' must be true/false (or 0/1), got 'x'")


def test_gzipped_files_are_read_by_arrow_too(tmp_path):
    import gzip

    rows = "".join(json.dumps({"task_id": f"t{i}", "correct": i % 2 == 0}) + "\n" for i in range(50))
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(rows.encode()))
    assert arrow_read(path)
    assert read_graded_rows(path, label="base").table.column("correct").to_pylist() == [i % 2 == 0 for i in range(50)]
