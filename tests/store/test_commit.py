"""Group commits (tether.store.commit): an import's samples and verdicts are visible together or not
at all; a killed writer's group is invisible, then rolled back; damaged shards are one-line errors."""

import json
import os
import signal
import subprocess
import sys

import pyarrow as pa
import pytest

import tether
from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import StoreError
from tether.sampling import SamplingConfig, sample
from tether.store import Shard, open_store
from tether.store.check import check_store
from tether.tasks import load_tasks

from ..cli_run import tether as cli
from ..conftest import graded_rows, imported_pair, write_jsonl

COUNTS = {f"t{i}": (8, i % 4) for i in range(6)}
CONFIG = SamplingConfig(k=4, decoding=Decoding(1.0, 1.0, 6), seed=1, task_block=2, sample_block=2)


def _import_command(path, store) -> list[str]:
    return [sys.executable, "-m", "tether", "import", str(store), str(path), "--label", "rl"]


def test_import_killed_between_its_two_shards_leaves_nothing_counted(tmp_path, holds):
    data = write_jsonl(tmp_path / "rl.jsonl", graded_rows(COUNTS, 2))
    store = tmp_path / "run"
    hold = holds("group:linked-one", 0)
    process = hold.start(_import_command(data, store))
    hold.reached(process)
    assert len(list((store / "samples" / "rl").glob("*.parquet"))) == 1  # linked, but pending
    assert open_store(store).labels("samples") == []  # nobody counts it
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    report = check_store(open_store(store))
    assert sorted(p.kind for p in report.problems) == ["temp", "temp", "uncommitted"]  # a second shard was staged
    assert "writer is gone" in report.problems[0].detail
    again = subprocess.run(_import_command(data, store), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr  # not refused: the dead group never counted
    assert sorted(p.parent.parent.name for p in (store / "quarantine").rglob("*.parquet")) == ["samples"]
    assert check_store(open_store(store)).problems == []  # the group rolled back, the temp files gone
    assert open_store(store).labels("verdicts") == ["rl"] and open_store(store).labels("samples") == ["rl"]


def test_check_repair_rolls_back_a_dead_group_and_leaves_a_live_one(tmp_path):
    store = open_store(tmp_path / "run", create=True)
    table = pa.table({"model": ["rl"], "task_id": ["t"], "sample_idx": [0]})
    store.write([Shard("samples", "rl", table, "a"), Shard("verdicts", "rl", _verdicts("rl"), "a")])
    assert store.pending_groups() == [] and store.labels("verdicts") == ["rl"]
    for label, pid in (("base", _dead_pid()), ("other", os.getpid())):  # a dead writer's group, a live one's
        shard = tmp_path / "run" / "samples" / label / "part-x.parquet"
        shard.parent.mkdir(parents=True)
        shard.write_bytes((tmp_path / "run" / "samples" / "rl" / "part-a.parquet").read_bytes())
        record = {"shards": [f"samples/{label}/part-x.parquet", f"verdicts/{label}/part-x.parquet"],
                  "labels": [label], "pid": pid, "host": os.uname().nodename, "since": "now", "id": label}
        (tmp_path / "run" / ".pending").mkdir(exist_ok=True)
        (tmp_path / "run" / ".pending" / f"{label}.json").write_text(json.dumps(record))
    assert store.labels("samples") == ["rl"]
    report = check_store(store, repair=True)
    kinds = {p.where.rsplit("/", 1)[1]: p.repaired for p in report.problems}
    assert kinds == {"base.json": True, "other.json": False}
    assert (tmp_path / "run" / "quarantine" / "samples" / "base" / "part-x.parquet").is_file()
    assert (tmp_path / "run" / "samples" / "other" / "part-x.parquet").is_file()


def test_resume_refuses_a_truncated_shard_then_redoes_it_after_repair(tmp_path, tiny_model):
    store = tmp_path / "run"
    engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
    tasks = load_tasks("lab-sums:2-3")
    sample(tasks, engine, store, "base", CONFIG)
    shards = sorted((store / "samples" / "base").glob("*.parquet"))
    shards[0].write_bytes(shards[0].read_bytes()[:50])
    with pytest.raises(StoreError, match=rf"shard samples/base/{shards[0].name} is damaged.*--repair"):
        sample(tasks, engine, store, "base", CONFIG)  # never counted as done
    assert check_store(open_store(store), repair=True).ok
    summary = sample(tasks, engine, store, "base", CONFIG)
    assert summary.units_skipped == len(shards) - 1 and summary.units_total == len(shards)
    assert len(list((store / "samples" / "base").glob("*.parquet"))) == len(shards)


def test_a_zero_byte_verdict_shard_is_a_one_line_error(tmp_path):
    imported_pair(tmp_path, COUNTS)
    shard = next((tmp_path / "run" / "verdicts" / "rl").glob("*.parquet"))
    shard.write_bytes(b"")
    with pytest.raises(StoreError, match=r"shard verdicts/rl/part-import-.*\.parquet is damaged: too short.*tether check .* --repair"):
        tether.compare(store=tmp_path / "run")
    out = cli("compare", str(tmp_path / "run"))
    assert out.returncode != 0 and "Traceback" not in out.stderr and "tether check" in out.stderr


def _verdicts(label: str) -> pa.Table:
    return pa.table({"model": [label], "task_id": ["t"], "sample_idx": [0], "correct": [True], "score": [1.0], "status": ["ok"],
                     "verifier": ["exact"], "verifier_version": ["1"]})


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
