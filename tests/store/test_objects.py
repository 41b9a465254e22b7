"""Stores on object storage, against a real S3-compatible server (moto's server mode on 127.0.0.1)."""

import concurrent.futures
import json
import os
import subprocess
import sys
import time

import pytest

import tether
from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import StoreError
from tether.sampling import SamplingConfig, sample
from tether.store import Shard, is_store, lease, open_store
from tether.store.schema import Sample, to_table
from tether.tasks import load_tasks

from ..cli_run import tether as cli
from ..conftest import graded_rows, write_jsonl

pytest.importorskip("s3fs", reason="s3fs is in the cloud extra")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is in the dev extra")

CONFIG = SamplingConfig(k=8, decoding=Decoding(1.0, 1.0, 6), seed=1, task_block=2, sample_block=4)


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free loopback port, with a bucket; the environment points fsspec at it."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "FSSPEC_S3_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    import fsspec
    import fsspec.config

    fsspec.config.set_conf_env(fsspec.config.conf)
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("runs")
    try:
        yield env
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def remote_run(s3, tiny_model):
    """Both models sampled and graded into s3://runs/exp."""
    url = "s3://runs/exp"
    tasks = load_tasks("lab-sums:2-5")
    engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
    for label in ("base", "rl"):
        sample(tasks, engine, url, label, CONFIG)
    tether.grade(url)
    return url


def test_a_remote_store_has_the_local_layout(remote_run):
    store = open_store(remote_run)
    assert type(store).__name__ == "ObjectStore" and is_store(remote_run)
    names = [p.name for p in store.shard_paths("samples", "base")]
    assert names == sorted(names) and len(names) == 2 * 2  # 2 task blocks x 2 sample ranges
    assert store.labels("verdicts") == ["base", "rl"]
    assert store.manifest().runs["base"].k == 8


def test_compare_and_report_read_it_in_place(remote_run, tmp_path):
    result = tether.compare(store=remote_run)
    assert sum(result.counts.as_dict().values()) == 4 and list(result.base.n) == [8] * 4
    files = tether.build_report(remote_run, tmp_path / "report")
    assert files.html.is_file() and json.loads(files.summary.read_text())["store"] == remote_run


def test_resuming_writes_nothing_more(remote_run, tiny_model):
    engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
    summary = sample(load_tasks("lab-sums:2-5"), engine, remote_run, "base", CONFIG)
    assert summary.samples_written == 0 and summary.units_skipped == 4


def test_shards_are_all_or_nothing_and_never_replaced(remote_run, monkeypatch):
    store = open_store(remote_run)
    rows = to_table([Sample("x", "t", 0, "1+1")], Sample)
    with pytest.raises(StoreError, match="exists; stores are append-only"):
        store.write([Shard("samples", "x", rows, "one"), Shard("samples", "base", rows, "b000000-s0000000-0000004")])
    assert store.shard_paths("samples", "x") == []  # the first shard of the failed group was removed
    real = store.fs.pipe_file
    calls = []

    def fail_second(key, data, **kwargs):
        calls.append(key)
        if len([c for c in calls if c.endswith(".parquet")]) == 2:
            raise OSError("connection reset")
        return real(key, data, **kwargs)

    monkeypatch.setattr(store.fs, "pipe_file", fail_second)
    with pytest.raises(OSError):
        store.write([Shard("samples", "y", rows, "a"), Shard("samples", "y", rows, "b")])
    assert store.shard_paths("samples", "y") == []


def test_cli_on_a_remote_store(remote_run, s3):
    out = cli("compare", remote_run, "--json")  # the fixture's environment points fsspec at the server
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_tasks"] == 4
    missing = cli("compare", "s3://runs/nothing")
    assert missing.returncode == 2 and "not a tether store" in missing.stderr and "Traceback" not in missing.stderr


def test_one_writer_per_label_with_a_leased_lock_object(remote_run, s3, tmp_path):
    store = open_store(remote_run)
    rows = write_jsonl(tmp_path / "x.jsonl", graded_rows({"t0": (4, 1)}, 1))
    command = [sys.executable, "-m", "tether", "import", remote_run, str(rows), "--label", "x"]
    with store.writing(["x"], "a test"):
        refused = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **s3})
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert f"label 'x' is being written: held by pid {os.getpid()}" in refused.stderr and "(a test" in refused.stderr
        with pytest.raises(StoreError, match="held by"):
            lease.take(store.fs, f"{store._path}/.locks/x.json", "a thief")
    assert store.fs.find(f"{store._path}/.locks") == []  # released
    expired = {"holder": "a writer killed long ago", "token": "t", "expires": time.time() - 1}
    store.fs.pipe_file(f"{store._path}/.locks/x.json", json.dumps(expired).encode())
    taken = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **s3})
    assert taken.returncode == 0, taken.stderr
    assert open_store(remote_run).labels("verdicts")[-1] == "x"


def test_manifest_updates_from_many_writers_all_land(remote_run):
    def record(i):
        open_store(remote_run).record_event("probe", i=i)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(record, range(8)))
    probes = [e.detail("i") for e in open_store(remote_run).manifest().history if e.event == "probe"]
    assert sorted(probes) == list(range(8))


def test_a_dead_writers_group_is_invisible_then_rolled_back(remote_run):
    store = open_store(remote_run)
    rows = to_table([Sample("z", "t", 0, "1+1")], Sample)
    store.write([Shard("samples", "z", rows, "kept")])
    store.fs.pipe_file(f"{store._path}/samples/z/part-dead.parquet",
                       store.fs.cat_file(f"{store._path}/samples/z/part-kept.parquet"))
    record = {"shards": ["samples/z/part-dead.parquet", "verdicts/z/part-dead.parquet"], "labels": ["z"],
              "pid": 1, "host": "a host that crashed", "since": "then", "id": "dead"}
    store.fs.pipe_file(f"{store._path}/.pending/dead.json", json.dumps(record).encode())
    assert [p.name for p in store.shard_paths("samples", "z")] == ["part-kept.parquet"]
    with store.writing(["z"], "a test"):
        pass
    assert store.pending_groups() == []
    assert store.fs.exists(f"{store._path}/quarantine/samples/z/part-dead.parquet")


def test_an_adaptive_run_on_object_storage_equals_one_on_disk(s3, tmp_path):
    """Rounds, grading between them and the recorded rule work on a bucket as on a disk: the same rounds,
    samples and verdicts (a resumed adaptive run is tested on disk: tests/experiment/test_adaptive.py)."""
    from tether.experiment.adaptive import sample_adaptive
    from tether.experiment.stages import resolve_model
    from tether.grading import GradeOptions
    from tether.metrics.adaptive import AdaptiveRule
    from tether.store.query import task_samples

    tasks, rule = load_tasks("lab-sums:2-4,42"), AdaptiveRule(first=8)
    config = SamplingConfig(16, Decoding(1.0, 1.0, 8), seed=0, task_block=2, sample_block=16)
    engine = TransformersEngine(resolve_model("lab:base"), template="plain")
    runs = {where: sample_adaptive(tasks, engine, where, "base", config, rule, GradeOptions(workers=1))
            for where in ("s3://runs/adaptive", str(tmp_path / "run"))}
    remote, local = runs.values()
    assert remote.ok and remote.rounds == local.rounds and remote.samples == local.samples
    assert remote.rounds == [(8, 4), (16, 1)] and remote.samples["sum/042"] == 16  # 42 went on alone
    ids = [t.task_id for t in tasks]
    assert task_samples(open_store("s3://runs/adaptive"), "base", ids) == task_samples(open_store(tmp_path / "run"),
                                                                                       "base", ids)
