"""JSON lines nested too deep for a parser's stack: one line naming the line, in import and compare (issue 31)."""

import pytest

from tether.errors import InputError
from tether.ingest import read_graded_rows
from tether.ingest.jsonl import MAX_DEPTH, json_layout, jsonl_rows, nesting_depth

from ..cli_run import tether as cli

DEEP = '{"task_id": "a", "correct": true, "meta": ' + "[" * 100_000 + "]" * 100_000 + "}"


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_nesting_is_counted_outside_strings():
    assert nesting_depth(b'{"a": [1, {"b": [2]}]}') == 4
    assert nesting_depth(b'{"a": "[[[[{{{{\\"[[["}') == 1
    assert nesting_depth(b"[" * 10_000, limit=100) == 101  # counting stops past the limit


def test_a_line_nested_100000_deep_is_one_line_and_never_reaches_arrow(tmp_path):
    """It overflowed Python's recursion (a RecursionError traceback) and would crash Arrow's parser."""
    path = write(tmp_path / "deep.jsonl", ['{"task_id": "a", "correct": true}', DEEP])
    assert json_layout(path) is None  # read line by line, which names the line
    with pytest.raises(InputError, match=rf"^{path}:2: JSON nested deeper than {MAX_DEPTH} levels"):
        read_graded_rows(path, label="base")
    with pytest.raises(InputError, match=rf"^{path}:2: JSON nested deeper"):
        list(jsonl_rows(path))  # lm-eval files are read this way too
    for command in (["import", tmp_path / "run", path, "--label", "base"],
                    ["compare", path, path]):
        out = cli(*command)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert f"{path}:2: JSON nested deeper than {MAX_DEPTH} levels" in out.stderr
    assert not (tmp_path / "run").exists()


def test_deep_looking_text_and_nesting_up_to_the_limit_are_read(tmp_path):
    in_text = '{"task_id": "a", "correct": true, "meta": "' + "[{" * 5000 + '"}'
    path = write(tmp_path / "text.jsonl", [in_text] * 3)
    assert json_layout(path) is not None and read_graded_rows(path, label="base").table.num_rows == 3
    at_limit = '{"task_id": "a", "correct": true, "m": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    assert read_graded_rows(write(tmp_path / "limit.jsonl", [at_limit]), label="base").table.num_rows == 1
