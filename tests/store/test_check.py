"""`tether check`: duplicates refused by compare and repaired by quarantine, damaged shards, leftovers."""

import json
import shutil

import pytest

import tether
from tether.errors import InputError, StoreError
from tether.store import open_store
from tether.store.check import check_store

from ..cli_run import tether as cli
from ..conftest import graded_rows, write_jsonl


@pytest.fixture
def run(tmp_path):
    counts = {f"t{i}": (8, i % 4) for i in range(6)}
    for label, seed in (("base", 1), ("rl", 2)):
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", graded_rows(counts, seed)), tmp_path / "run",
                              label=label)
    return tmp_path / "run"


def test_a_copied_verdict_shard_is_refused_then_quarantined(run):
    before = tether.compare(store=run).counts
    shard = next((run / "verdicts" / "rl").glob("*.parquet"))
    shutil.copy(shard, shard.with_name("part-copy.parquet"))
    with pytest.raises(InputError, match=r"48 duplicate verdicts of the same \(task, sample\).*tether check"):
        tether.compare(store=run)
    report = check_store(open_store(run))
    assert not report.ok and [p.kind for p in report.problems] == ["duplicates"]
    assert "1 shards are whole copies" in report.problems[0].detail
    repaired = check_store(open_store(run), repair=True)
    kept = list((run / "verdicts" / "rl").glob("*.parquet"))
    moved = list((run / "quarantine" / "verdicts" / "rl").glob("*.parquet"))
    assert repaired.ok and len(kept) == len(moved) == 1  # one of the two identical shards, moved aside
    assert tether.compare(store=run).counts == before and check_store(open_store(run)).problems == []


def test_damaged_shards_and_leftovers(run):
    shard = next((run / "samples" / "base").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:100])  # truncated: no footer
    temp = run / "samples" / "base" / ".part-x.parquet.tmp-1234"
    temp.write_bytes(b"partial")
    report = check_store(open_store(run))
    assert {p.kind for p in report.problems} == {"unreadable", "temp"} and not report.ok
    out = cli("check", str(run), "--repair")
    assert out.returncode == 0 and "repaired: unreadable" in out.stdout and not temp.exists(), out.stdout + out.stderr
    assert (run / "quarantine" / "samples" / "base" / shard.name).is_file()
    again = cli("check", str(run))
    assert again.returncode == 0 and again.stdout.strip().endswith("shards checked; ok")


def test_a_manifest_that_is_not_an_object_is_one_clear_error(run):
    (run / "manifest.json").write_text(json.dumps([1, 2]))
    with pytest.raises(StoreError, match="is not a tether manifest"):
        open_store(run)
    out = cli("check", str(run))
    assert out.returncode == 2 and "not a tether manifest" in out.stderr and "Traceback" not in out.stderr
