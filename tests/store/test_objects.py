"""Stores on object storage, against a real S3-compatible server (moto's server mode on 127.0.0.1)."""

import json
import os
import subprocess
import sys

import pytest

import tether
from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import StoreError
from tether.sampling import SamplingConfig, sample
from tether.store import Shard, is_store, open_store
from tether.store.schema import Sample, to_table
from tether.tasks import load_tasks

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
    assert store.manifest()["runs"]["base"]["k"] == 8


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
        if len(calls) == 2:
            raise OSError("connection reset")
        return real(key, data, **kwargs)

    monkeypatch.setattr(store.fs, "pipe_file", fail_second)
    with pytest.raises(OSError):
        store.write([Shard("samples", "y", rows, "a"), Shard("samples", "y", rows, "b")])
    assert store.shard_paths("samples", "y") == []


def test_cli_on_a_remote_store(remote_run, s3):
    env = {**os.environ, **s3}
    out = subprocess.run([sys.executable, "-m", "tether", "compare", remote_run, "--json"], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_tasks"] == 4
    missing = subprocess.run([sys.executable, "-m", "tether", "compare", "s3://runs/nothing"], capture_output=True,
                             text=True, env=env)
    assert missing.returncode == 2 and "not a tether store" in missing.stderr and "Traceback" not in missing.stderr
