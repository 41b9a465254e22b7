"""Importing graded samples: validation with file:line errors, all-or-nothing, numbering."""

import gzip
import json
import signal
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tether.errors import InputError
from tether.ingest import import_samples, read_graded_rows
from tether.store import Store

from ..conftest import write_jsonl


def lines(tmp_path, *rows, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_reads_valid_rows_with_all_fields(tmp_path):
    path = lines(
        tmp_path,
        {"task_id": "a", "sample_idx": 0, "correct": True, "completion": "x", "answer": "4", "score": 1.0,
         "n_tokens": 12, "finish_reason": "stop", "seed": 7, "extra": 1},
        {"task_id": 17, "sample_idx": 1, "correct": 0, "answer": 5},
    )
    rows = read_graded_rows(path, label="base")
    assert rows.graded and rows.labels == ["base"]
    assert rows.ignored_fields == {"extra"}
    first, second = rows.table.to_pylist()
    assert first["n_tokens"] == 12 and first["seed"] == 7
    assert second["task_id"] == "17" and second["correct"] is False and second["answer"] == "5"
    assert second["score"] == 0.0


@pytest.mark.parametrize(
    "bad,message",
    [
        ('{"task_id": "a", "correct": true', "invalid JSON"),
        ('[1, 2]', "expected a JSON object"),
        ({"correct": True}, "missing required field 'task_id'"),
        ({"task_id": "a"}, "needs 'correct'"),
        ({"task_id": "a", "correct": "yes"}, "'correct' must be true/false"),
        ({"task_id": "a", "correct": True, "sample_idx": -1}, "'sample_idx' must be >= 0"),
        ({"task_id": "a", "correct": True, "sample_idx": 1.5}, "'sample_idx' must be an integer"),
        ({"task_id": "a", "correct": True, "score": "high"}, "'score' must be a finite number"),
        ({"task_id": "a", "correct": True, "score": 0.0}, "'score' 0.0 contradicts 'correct' true"),
        ({"task_id": "a", "correct": False, "score": 1}, "'score' 1 contradicts 'correct' false"),
        ({"task_id": "a", "correct": False, "score": 7.5}, "partial credit between 0 and 1"),
        ({"task_id": "a", "completion": "x", "score": 0.5}, "'score' without 'correct'"),
        ({"task_id": "a", "correct": True, "completion": 3}, "'completion' must be a string"),
        ({"task_id": ["a"], "correct": True}, "'task_id' must be a string or an integer"),
        ({"task_id": "a", "correct": True, "model": "rl"}, "differs from the requested label"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad, message):
    path = lines(tmp_path, {"task_id": "ok", "correct": True}, "", bad)
    with pytest.raises(InputError, match=message) as info:
        read_graded_rows(path, label="base")
    assert str(info.value).startswith(f"{path}:3: ")


def test_mixed_graded_and_ungraded_rows_are_an_error(tmp_path):
    path = lines(tmp_path, {"task_id": "a", "correct": True}, {"task_id": "a", "completion": "x"})
    with pytest.raises(InputError, match=r":2: row lacks 'correct'"):
        read_graded_rows(path, label="base")


def test_duplicate_sample_names_both_lines(tmp_path):
    path = lines(tmp_path, {"task_id": "a", "sample_idx": 0, "correct": True}, {"task_id": "a", "sample_idx": 0, "correct": False})
    with pytest.raises(InputError, match=r":2: duplicate sample .* first seen at .*:1"):
        read_graded_rows(path, label="base")


def test_invalid_utf8_is_a_clean_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"task_id": "a", "correct": true}\n{"task_id": "\xff\xfe", "correct": true}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid UTF-8"):
        read_graded_rows(path, label="base")


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.csv").write_text("task_id,correct\n")
    with pytest.raises(InputError, match="unknown file type"):
        read_graded_rows(tmp_path / "x.csv", label="base")
    with pytest.raises(InputError, match="no such file"):
        read_graded_rows(tmp_path / "nope.jsonl", label="base")


def test_import_is_all_or_nothing(tmp_path):
    import_samples(write_jsonl(tmp_path / "first.jsonl", [{"task_id": "t0", "correct": True}]), tmp_path / "run", label="base")
    good = [{"task_id": f"t{i}", "correct": True} for i in range(1000)]
    path = write_jsonl(tmp_path / "in.jsonl", good + [{"task_id": "t0", "correct": "maybe"}])
    with pytest.raises(InputError, match=":1001:"):
        import_samples(path, tmp_path / "run", label="base")
    with pytest.raises(InputError, match=":1001:"):
        import_samples(path, tmp_path / "fresh", label="base")
    assert not (tmp_path / "fresh").exists()
    counted = duckdb.sql(f"select count(*) from '{tmp_path}/run/*/base/*.parquet'").fetchall()
    assert counted == [(2,)]  # the first import's sample and verdict, nothing of the failed one


def test_import_writes_samples_and_verdicts(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [
        {"task_id": "a", "correct": True, "completion": "c1", "answer": "1"},
        {"task_id": "b", "correct": False, "completion": "c2"},
        {"task_id": "a", "correct": False, "completion": "c3"},
    ])
    summary = import_samples(path, tmp_path / "run", label="base")
    assert (summary.rows, summary.tasks, summary.graded, summary.labels) == (3, 2, True, ["base"])
    samples = duckdb.sql(f"select task_id, sample_idx, completion from '{tmp_path}/run/samples/**/*.parquet' order by all").fetchall()
    assert samples == [("a", 0, "c1"), ("a", 1, "c3"), ("b", 0, "c2")]
    verdicts = duckdb.sql(f"select task_id, sample_idx, correct, verifier from '{tmp_path}/run/verdicts/**/*.parquet' order by all").fetchall()
    assert verdicts == [("a", 0, True, "imported"), ("a", 1, False, "imported"), ("b", 0, False, "imported")]
    history = Store(tmp_path / "run").manifest().history
    assert history[-1].event == "import" and history[-1].detail("rows") == 3


def test_appending_numbers_after_existing_samples_and_refuses_duplicates(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [{"task_id": "a", "correct": True}] * 2)
    import_samples(first, tmp_path / "run", label="base")
    import_samples(first, tmp_path / "run", label="base")
    idx = duckdb.sql(f"select sample_idx from '{tmp_path}/run/samples/base/*.parquet' order by 1").fetchall()
    assert [i for (i,) in idx] == [0, 1, 2, 3]
    explicit = write_jsonl(tmp_path / "b.jsonl", [{"task_id": "a", "sample_idx": 3, "correct": True}])
    with pytest.raises(InputError, match=r"1 samples of label 'base' are already in .*\('a', 3\)"):
        import_samples(explicit, tmp_path / "run", label="base")


def test_ungraded_import_writes_samples_only(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"task_id": "a", "completion": "x"}])
    summary = import_samples(path, tmp_path / "run", label="rl")
    store = Store(tmp_path / "run")
    assert not summary.graded
    assert store.labels("samples") == ["rl"] and store.labels("verdicts") == []


def test_rows_may_carry_their_own_model(tmp_path):
    rows = [{"model": "base", "task_id": "a", "correct": True}, {"model": "rl", "task_id": "a", "correct": False}]
    summary = import_samples(write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "run")
    assert summary.labels == ["base", "rl"]
    with pytest.raises(InputError, match="no label: give the row a .model. or pass --label"):
        read_graded_rows(write_jsonl(tmp_path / "n.jsonl", [{"task_id": "a", "correct": True}]))
    with pytest.raises(InputError, match=r"n.jsonl:1: .*'bad/label' is not allowed"):
        read_graded_rows(write_jsonl(tmp_path / "n.jsonl", [{"task_id": "a", "correct": True, "model": "bad/label"}]))


def test_parquet_and_gzip_inputs(tmp_path):
    table = pa.table({"task_id": ["a", "a", "b"], "sample_idx": [0, 1, 0], "correct": [True, False, True]})
    pq.write_table(table, tmp_path / "in.parquet")
    rows = read_graded_rows(tmp_path / "in.parquet", label="base")
    assert rows.table.column("correct").to_pylist() == [True, False, True]
    with gzip.open(tmp_path / "in.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"task_id": "a", "correct": True}) + "\n")
    assert read_graded_rows(tmp_path / "in.jsonl.gz", label="base").table.num_rows == 1
    bad = pa.table({"task_id": ["a", None], "correct": [True, True]})
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(InputError, match=r"bad.parquet:row 2: missing required field 'task_id'"):
        read_graded_rows(tmp_path / "bad.parquet", label="base")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_graded_rows(tmp_path / "junk.parquet", label="base")


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_an_interrupted_import_writes_nothing_and_can_be_repeated(tmp_path, how, holds):
    path = write_jsonl(tmp_path / "g.jsonl", [{"task_id": f"t{i % 7}", "correct": i % 3 == 0} for i in range(700)])
    command = [sys.executable, "-m", "tether", "import", str(tmp_path / "s"), str(path), "--label", "base"]
    hold = holds("commit:samples", 0)  # samples and verdicts staged, nothing linked
    process = hold.start(command)
    hold.reached(process)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    if how == signal.SIGINT:
        assert process.returncode == 130 and stderr.strip().splitlines()[-1].startswith("interrupted"), stderr
        assert not [p for p in (tmp_path / "s").rglob("*") if ".tmp-" in p.name]
    else:
        assert process.returncode == -signal.SIGKILL
    assert Store(tmp_path / "s").labels("samples") == Store(tmp_path / "s").labels("verdicts") == []
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert duckdb.sql(f"select count(*), count(distinct (task_id, sample_idx)), sum(correct::int) "
                      f"from '{tmp_path}/s/verdicts/base/*.parquet'").fetchall() == [(700, 700, 234)]


def test_the_old_model_keyword_still_works_with_a_warning(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"task_id": "a", "correct": True}])
    with pytest.warns(DeprecationWarning, match="use label="):
        summary = import_samples(path, tmp_path / "run", model="base")
    assert summary.labels == summary.models == ["base"]


@pytest.mark.parametrize("row, message", [
    ({"task_id": "t\ud800", "correct": True}, "'task_id' is not valid Unicode"),
    ({"task_id": "t", "correct": True, "completion": "x\udfff"}, "'completion' is not valid Unicode"),
    ({"task_id": "t", "correct": True, "sample_idx": 2**70}, "'sample_idx' is too large for a 64-bit integer"),
    ({"task_id": "t", "correct": True, "model": "base\n"}, "model label 'base\\\\n' is not allowed"),
])
def test_unstorable_values_are_one_clear_line(tmp_path, row, message):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(row) + "\n")  # json.dumps writes the lone surrogate as an escape, as a tool would
    with pytest.raises(InputError, match=message):
        import_samples(path, tmp_path / "run", label=None if "model" in row else "base")
    assert not (tmp_path / "run").exists() or not list((tmp_path / "run").rglob("*.parquet"))
