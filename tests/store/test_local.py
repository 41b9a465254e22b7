"""The Parquet store: layout, atomic append-only shards, readable by every tool."""

import json
import os
import signal
import sys
import textwrap

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from tether.errors import StoreError
from tether.store import Shard, Store, is_store
from tether.store.schema import Sample, to_table


def sample_table(label: str, n: int, task: str = "t") -> pa.Table:
    return to_table([Sample(label, task, i, f"completion {i}") for i in range(n)], Sample)


def test_create_writes_manifest(tmp_path):
    store = Store.create(tmp_path / "run", config={"k": 8})
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["config"] == {"k": 8}
    assert "pyarrow" in manifest["packages"] and "python" in manifest["packages"]
    assert is_store(store.root)
    with pytest.raises(StoreError, match="already holds"):
        Store.create(tmp_path / "run")


def test_open_rejects_non_stores_and_other_versions(tmp_path):
    with pytest.raises(StoreError, match="not a tether store"):
        Store(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(StoreError, match="schema version 99"):
        Store(tmp_path)


def test_shards_are_append_only_and_readable_everywhere(tmp_path):
    store = Store.create(tmp_path / "run")
    store.write([Shard("samples", "base", sample_table("base", 5), "a"), Shard("samples", "rl", sample_table("rl", 3), "a")])
    store.write([Shard("samples", "base", sample_table("base", 2, task="u"), "b")])
    with pytest.raises(StoreError, match="append-only"):
        store.write([Shard("samples", "base", sample_table("base", 1), "a")])
    assert store.labels() == ["base", "rl"]
    assert [p.name for p in store.shard_paths("samples", "base")] == ["part-a.parquet", "part-b.parquet"]
    glob = str(tmp_path / "run" / "samples" / "**" / "*.parquet")
    assert duckdb.sql(f"select model, count(*) from '{glob}' group by 1 order by 1").fetchall() == [("base", 7), ("rl", 3)]
    assert len(pl.read_parquet(glob)) == 10
    frame = pd.concat(pd.read_parquet(p) for p in store.shard_paths("samples"))
    assert sorted(frame["model"].unique()) == ["base", "rl"]


def test_failed_batch_leaves_nothing(tmp_path):
    store = Store.create(tmp_path / "run")
    store.write([Shard("samples", "base", sample_table("base", 1), "taken")])
    with pytest.raises(StoreError):
        store.write([Shard("samples", "rl", sample_table("rl", 2), "new"), Shard("samples", "base", sample_table("base", 1), "taken")])
    assert store.labels() == ["base"]
    leftovers = [p for p in (tmp_path / "run").rglob("*") if p.is_file() and ".tmp-" in p.name]
    assert leftovers == []


def test_killed_writer_leaves_no_partial_shard(tmp_path, holds):
    """SIGKILL a process whose large shard is written but not yet committed: readers see nothing of it."""
    root = tmp_path / "run"
    Store.create(root)
    script = textwrap.dedent(f"""
        import numpy as np
        import pyarrow as pa
        from tether.store import Shard, Store
        n = 300_000
        numbers = np.arange(n)
        table = pa.table({{"model": pa.array(["base"] * n), "task_id": pa.array(np.char.mod("t%d", numbers % 977)),
                          "sample_idx": numbers, "completion": pa.array(np.char.mod("text %d and more", numbers))}})
        Store({str(root)!r}).write([Shard("samples", "base", table, "big")])
    """)
    hold = holds("commit:samples", 0)
    proc = hold.start([sys.executable, "-c", script])
    hold.reached(proc)
    folder = root / "samples" / "base"
    assert len(list(folder.glob(".part-big.parquet.tmp-*"))) == 1  # staged in full, not linked
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert list(folder.glob("*.parquet")) == []
    store = Store(root)
    assert store.labels() == []
    store.write([Shard("samples", "base", sample_table("base", 2), "after")])
    assert store.labels() == ["base"]
    assert duckdb.sql(f"select count(*) from '{root}/samples/**/*.parquet'").fetchall() == [(2,)]


def test_missing_nullable_columns_become_null_and_required_ones_are_checked(tmp_path):
    store = Store.create(tmp_path / "run")
    store.write([Shard("samples", "base", pa.table({"model": ["base"], "task_id": ["t"], "sample_idx": [0]}), "a")])
    assert duckdb.sql(f"select completion from '{tmp_path}/run/samples/base/*.parquet'").fetchall() == [(None,)]
    with pytest.raises(StoreError, match="'sample_idx' is required"):
        store.write([Shard("samples", "base", pa.table({"model": ["base"], "task_id": ["t"]}), "b")])
    with pytest.raises(StoreError, match="may not be null"):
        store.write([Shard("samples", "base", pa.table({"model": ["base"], "task_id": [None], "sample_idx": [1]}), "c")])


def test_history_events_accumulate(tmp_path):
    store = Store.create(tmp_path / "run")
    store.record_event("import", rows=3)
    store.record_event("import", rows=4)
    assert [e.detail("rows") for e in store.manifest().history] == [3, 4]


def test_verdict_shards_written_before_a_column_was_added_still_count(tmp_path):
    """Stores written before the verdicts' `extraction` column existed are read by name, with nulls."""
    import pyarrow.parquet as pq

    from tether.store import query
    from tether.store.check import check_store
    from tether.store.schema import VERDICT_SCHEMA

    store = Store.create(tmp_path / "run")
    old = pa.table({"model": ["base"] * 2, "task_id": ["t"] * 2, "sample_idx": [0, 1], "correct": [True, False],
                    "score": [1.0, 0.0], "status": ["ok"] * 2, "verifier": ["exact"] * 2,
                    "verifier_version": ["v"] * 2, "answer": ["a", "b"]})
    assert "extraction" in VERDICT_SCHEMA.names and "extraction" not in old.column_names
    (tmp_path / "run" / "verdicts" / "base").mkdir(parents=True)
    pq.write_table(old, tmp_path / "run" / "verdicts" / "base" / "part-old.parquet")
    new = old.set_column(2, "sample_idx", pa.array([2, 3]))
    store.write([Shard("verdicts", "base", new, "new")])
    counts = query.task_counts(store, "base")
    assert list(counts.n) == [4] and list(counts.c) == [2]
    assert check_store(store).problems == []
