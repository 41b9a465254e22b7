"""`tether check`: duplicates refused by compare and repaired by quarantine, damaged shards, leftovers."""

import json
import os
import shutil
import signal
import sys

import pytest

import tether
from tether.errors import InputError, StoreError
from tether.store import open_store
from tether.store.check import check_store

from ..cli_run import tether as cli
from ..conftest import imported_pair, write_jsonl


@pytest.fixture
def run(tmp_path):
    counts = {f"t{i}": (8, i % 4) for i in range(6)}
    return imported_pair(tmp_path, counts)


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
    temp = run / "samples" / "base" / ".part-x.parquet.tmp-99999999"  # a pid above Linux's pid_max: never alive
    temp.write_bytes(b"partial")
    report = check_store(open_store(run))
    assert {p.kind for p in report.problems} == {"unreadable", "temp"} and not report.ok
    out = cli("check", str(run), "--repair")
    assert out.returncode == 0 and "repaired: unreadable" in out.stdout and not temp.exists(), out.stdout + out.stderr
    assert (run / "quarantine" / "samples" / "base" / shard.name).is_file()
    again = cli("check", str(run))
    assert again.returncode == 0 and again.stdout.strip().endswith("shards checked; ok")


def test_a_manifest_that_is_not_an_object_is_one_clear_error_and_a_finding(run):
    (run / "manifest.json").write_text(json.dumps([1, 2]))
    with pytest.raises(StoreError, match="manifest.json: not a tether manifest"):
        open_store(run)
    out = cli("compare", str(run))
    assert out.returncode == 2 and "not a tether manifest" in out.stderr and "Traceback" not in out.stderr
    checked = cli("check", str(run))
    assert checked.returncode == 1 and "problem: manifest:" in checked.stdout
    assert "not a tether manifest" in checked.stdout
    repaired = cli("check", str(run), "--repair")
    assert repaired.returncode == 0 and "repaired: manifest:" in repaired.stdout, repaired.stdout + repaired.stderr
    assert sum(tether.compare(store=run).counts.as_dict().values()) == 6


def _grade_command(run, tasks) -> list[str]:
    return [sys.executable, "-m", "tether", "grade", str(run), "--tasks", str(tasks), "--columns", "id=id",
            "--verifier", "exact", "--workers", "1", "--label", "rl"]


@pytest.fixture
def texts(tmp_path):
    """A store whose label rl has ungraded completions, and the tasks to grade them."""
    rows = [{"task_id": f"t{i}", "sample_idx": j, "completion": f"Final answer: {j}"}
            for i in range(3) for j in range(4)]
    tether.import_samples(write_jsonl(tmp_path / "rl.jsonl", rows), tmp_path / "run", label="rl")
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [{"id": f"t{i}", "question": "?", "answer": str(i)}
                                                   for i in range(3)])
    return tmp_path / "run", tasks


def test_a_grade_killed_while_writing_the_verdict_cache_leaves_nothing_the_next_writer_keeps(texts, holds, tmp_path):
    run, tasks = texts
    hold = holds("commit:verdicts", 0)  # the chunk's verdicts and its cache entries staged, nothing linked
    process = hold.start(_grade_command(run, tasks))
    hold.reached(process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    cache = list((run / "grades" / "exact").glob(".part-cache-*.tmp-*"))
    assert len(cache) == 1 and list((run / "verdicts" / "rl").glob(".part-*.tmp-*"))
    report = check_store(open_store(run))
    assert not report.ok and {p.where for p in report.problems if p.kind == "temp"} >= {str(cache[0])}
    # the next writer of any label, here an import into another one, removes every leftover of a writer that is gone
    tether.import_samples(write_jsonl(tmp_path / "x.jsonl", [{"task_id": "t0", "completion": "0"}]), run, label="other")
    assert not list(run.rglob(".*.tmp-*"))
    assert check_store(open_store(run)).problems == []


def test_repair_leaves_a_running_writers_temporary_files_alone(texts, holds):
    run, tasks = texts
    hold = holds("commit:verdicts", 0)
    process = hold.start(_grade_command(run, tasks))
    hold.reached(process)
    staged = sorted(run.rglob(".*.tmp-*"))
    assert len(staged) == 2
    report = check_store(open_store(run), repair=True)
    assert report.ok and [p for p in report.problems if p.kind == "temp"] == []  # work in progress, not a finding
    assert sorted(run.rglob(".*.tmp-*")) == staged
    hold.release()
    assert process.wait(timeout=120) == 0, process.stderr.read()
    assert check_store(open_store(run)).problems == [] and open_store(run).labels("verdicts") == ["rl"]


def test_a_leftover_of_an_older_tether_or_another_host_is_reported_and_repaired_by_label_lock(run):
    other_host = run / "verdicts" / "rl" / ".part-x.parquet.tmp-1-abcd1234-another-host"
    older = run / "grades" / ".part-cache-y.parquet.tmp-99999999-abcd1234"  # an older name: pid, no host
    manifest_temp = run / ".manifest.json.tmp-abcd1234"  # an older manifest write: no pid
    for temp in (other_host, older, manifest_temp):
        temp.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(b"partial")
    report = check_store(open_store(run))
    found = {p.where: p.detail for p in report.problems if p.kind == "temp"}
    assert set(found) == {str(other_host), str(older), str(manifest_temp)}
    assert "unless its writer, which this host cannot see, still runs" in found[str(other_host)]
    repaired = check_store(open_store(run), repair=True)
    assert repaired.ok and not list(run.rglob(".*.tmp-*"))  # the other host's: its label's lock proves it gone
