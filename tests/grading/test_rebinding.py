"""Verdicts bound to the text they graded: a completion replaced after grading (a samples shard
quarantined by `tether check --repair`, then refilled with other text) is graded again, never
left with the old text's verdict; stores graded before verdicts kept the hash are regraded once."""

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tether
from tether.grading import GradeOptions, grade
from tether.store import Shard, open_store, query
from tether.store.check import check_store
from tether.store.schema import RewardHackCounts, completion_hash
from tether.tasks import ColumnMap, load_tasks

from ..cli_run import tether as cli

GOLDS = {"a": "2", "b": "5"}
TEXTS = {"a": ["Final answer: 2", "Final answer: 2", "Final answer: 3"], "b": ["Final answer: 5", "Final answer: 6"]}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(texts: dict[str, list[str]]) -> list[dict]:
    return [{"task_id": t, "sample_idx": i, "completion": c} for t, cs in texts.items() for i, c in enumerate(cs)]


@pytest.fixture
def graded(tmp_path):
    """Two labels with the same completions, graded by `exact`: (store, tasks)."""
    for label in ("base", "rl"):
        tether.import_samples(_write(tmp_path / f"{label}.jsonl", _rows(TEXTS)), tmp_path / "run", label=label)
    tasks = load_tasks(str(_write(tmp_path / "tasks.jsonl", [{"id": t, "question": "?", "answer": g}
                                                           for t, g in GOLDS.items()])),
                       columns=ColumnMap(id="id"), verifier="exact")
    grade(tmp_path / "run", GradeOptions(workers=1), tasks=tasks)
    return tmp_path / "run"


def _current(store, label):
    """(task_id, sample_idx, correct, completion_hash) of `label`'s verdicts under its current versions."""
    versions = open_store(store).manifest().versions(label)
    wanted = ", ".join(f"'{v}'" for v in versions.values())
    return duckdb.sql(f"select task_id, sample_idx, correct, completion_hash from read_parquet("
                      f"'{store}/verdicts/{label}/*.parquet', union_by_name = true) "
                      f"where verifier_version in ({wanted}) order by all").fetchall()


def test_a_refilled_completion_is_graded_again_not_kept_with_the_old_verdict(graded, tmp_path, monkeypatch):
    store = graded
    assert [c for t, _, c, _ in _current(store, "rl") if t == "a"] == [True, True, False]
    # the rl samples shard is damaged; `tether check --repair` quarantines it
    shard = next((store / "samples" / "rl").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:100])
    assert cli("check", str(store), "--repair").returncode == 0
    # refilled as a rerun would: the same keys, one completion now different (a wrong answer where "2" was)
    refilled = {"a": ["Final answer: 18", *TEXTS["a"][1:]], "b": TEXTS["b"]}
    tether.import_samples(_write(tmp_path / "refill.jsonl", _rows(refilled)), store, label="rl")

    report = check_store(open_store(store))
    assert report.ok and report.problems == []  # not damage: a finding `tether grade` fixes
    assert [(w.kind, w.where) for w in report.warnings] == [("changed", "verdicts/rl")]
    assert report.warnings[0].detail.startswith("1 verdicts graded a completion whose text has changed")
    out = cli("check", str(store))
    assert out.returncode == 0 and "warning: changed: verdicts/rl: 1 verdicts" in out.stdout, out.stdout
    assert "`tether grade` regrades them" in out.stdout and out.stdout.strip().endswith("ok; 1 warning (see above)")

    again = grade(store, GradeOptions(workers=1))
    assert again.changed == {"rl": 1} and again.unbound == {}
    assert {label for label, _ in again.tallies} == {"rl"}  # base's verdicts still graded its text
    assert again.verified == 1  # only the new answer; every other one came from the cache
    rows = _current(store, "rl")
    assert len(rows) == 5 and len({r[:2] for r in rows}) == 5  # one verdict per sample under the new version
    assert [c for t, _, c, _ in rows if t == "a"] == [False, True, False]  # 18 is wrong against gold 2
    assert all(h == completion_hash(text) for (_, _, _, h), text in zip(rows, refilled["a"] + refilled["b"]))
    counts = query.task_counts(open_store(store), "rl")
    assert list(counts.n) == [3, 2] and list(counts.c) == [1, 1]
    result = tether.compare(store=store)
    assert list(result.rl.c) == [1, 1] and list(result.base.c) == [2, 1]
    assert check_store(open_store(store)).warnings == []
    # the sample shards are those the last run checked: no completion is hashed again, nothing to grade
    monkeypatch.setattr(query, "changed_completions", lambda *a: pytest.fail("hashed the completions again"))
    assert grade(store, GradeOptions(workers=1)).tallies == {}

    cli_again = cli("grade", store, "--workers", "1")
    assert cli_again.returncode == 0 and "nothing to grade" in cli_again.stdout


def test_a_shard_refilled_under_its_old_name_is_found_too(graded):
    """`tether sample` names a shard after its unit, so a unit redone after its shard was quarantined
    writes a shard of the same name: the sample shards' names alone would not show the change."""
    store = graded
    grade(store, GradeOptions(workers=1))  # the last run saw these shards
    shard = next((store / "samples" / "rl").glob("*.parquet"))
    table = pq.read_table(shard)
    shard.write_bytes(b"")
    check_store(open_store(store), repair=True)
    texts = table.column("completion").to_pylist()
    refilled = table.set_column(table.schema.get_field_index("completion"), "completion",
                                pa.array(["no answer here", *texts[1:]], pa.string()))
    name = shard.stem.removeprefix("part-")
    open_store(store).write([Shard("samples", "rl", refilled, name)])
    assert shard.is_file()  # the same file name as before
    out = cli("grade", store, "--workers", "1")
    assert out.returncode == 0, out.stderr
    assert "rl: 1 samples' text changed since their verdicts graded it (refilled or replaced)" in out.stdout
    assert [c for t, _, c, _ in _current(store, "rl") if t == "a"] == [False, True, False]


def test_a_store_graded_before_verdicts_kept_their_text_compares_and_is_regraded_once(graded):
    """Shards written in the old schema (no completion_hash, detail, extraction) still count and compare;
    `tether grade` regrades their verdicts once, from the cache; `tether check` does not warn about them."""
    store = graded
    for path in store.glob("verdicts/*/*.parquet"):
        old = pq.read_table(path).drop_columns(["extraction", "completion_hash", "detail"])
        pq.write_table(old.replace_schema_metadata(None), path)  # as written then: no record, no seal
    opened = open_store(store)
    with opened.changing_manifest() as manifest:  # nor did the manifest name the sample shards graded
        for entry in manifest.grading.values():
            entry.samples = None
    assert "detail" not in pq.read_schema(next(store.glob("verdicts/rl/*.parquet"))).names
    result = tether.compare(store=store)
    assert list(result.rl.n) == [3, 2] and list(result.rl.c) == [2, 1]
    assert result.reward_hacks == {"base": RewardHackCounts(5), "rl": RewardHackCounts(5)}
    assert query.changed_completions(opened, "rl") == (0, 5)  # nothing known to have changed; 5 unbound
    report = check_store(opened)
    assert report.ok and report.problems == [] and report.warnings == []

    again = grade(store, GradeOptions(workers=1))
    assert again.unbound == {"base": 5, "rl": 5} and again.changed == {}
    assert again.verified == 0 and again.cache_hits > 0  # carried over from the cache, nothing verified again
    counts = tether.compare(store=store).rl
    assert list(counts.n) == [3, 2] and list(counts.c) == [2, 1]  # one verdict per sample, the current version's
    assert all(h is not None for *_, h in _current(store, "rl"))
    assert grade(store, GradeOptions(workers=1)).tallies == {}  # once


def test_the_hash_duckdb_computes_is_the_one_python_computes(tmp_path):
    """Grading hashes completions in SQL and the importer in Python: the two must agree on any text."""
    texts = ["", "plain", "héllo ∑ 😀", "nul \x00 inside", "esc \x1b[31m", "a\r\nb", "\ud7ff\ue000"]
    rows = [{"task_id": "t", "sample_idx": i, "completion": text} for i, text in enumerate(texts)]
    tether.import_samples(_write(tmp_path / "s.jsonl", rows), tmp_path / "run", label="base")
    batches = list(query.ungraded_samples(open_store(tmp_path / "run"), "base", {}, 100))
    found = [row for batch in batches for row in batch.to_pylist()]
    assert [r["completion"] for r in found] == texts
    assert all(r["completion_hash"] == completion_hash(r["completion"]) for r in found)
    assert completion_hash(None) is None
