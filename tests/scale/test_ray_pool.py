"""The Ray worker pool on a real local Ray cluster (a head and a second node on 127.0.0.1), handed
to sampling and grading: same samples and verdicts as one process, and a worker killed mid-run
loses nothing."""

import os
import signal

import pyarrow.parquet as pq
import pytest

from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.sampling import SamplingConfig, sample
from tether.tasks import load_tasks

ray = pytest.importorskip("ray", reason="ray is in the dev extra")

CONFIG = SamplingConfig(k=12, decoding=Decoding(1.0, 1.0, 8), seed=3, task_block=2, sample_block=4)


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 80 * 1024**2}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def tasks():
    return load_tasks("lab-sums:2-7")


@pytest.fixture(scope="module")
def reference(tiny_model, tasks, tmp_path_factory):
    """The same run in one process."""
    store = tmp_path_factory.mktemp("one") / "store"
    sample(tasks, TransformersEngine(str(tiny_model), template="plain", batch_size=16), store, "m", CONFIG)
    return _rows(store)


def _rows(store) -> list[tuple]:
    table = pq.read_table(store / "samples" / "m")
    return sorted(zip(*(table.column(c).to_pylist() for c in ("task_id", "sample_idx", "completion", "seed"))))


def _spec(tiny_model):
    from tether.engines import EngineSpec

    return EngineSpec("transformers", str(tiny_model), {"template": "plain", "batch_size": 16})


def test_two_workers_one_killed_then_a_resumed_run_write_the_same_samples_as_one_process(
        cluster, tiny_model, tasks, reference, tmp_path):
    from tether.sampling import sample_distributed
    from tether.scale import RayExecutor, RayOptions

    pids, killed = [], []

    def kill_one(samples, tokens):
        if not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    half = SamplingConfig(**{**CONFIG.__dict__, "k": 8})
    executor = RayExecutor(RayOptions(workers=2), on_worker_started=pids.append)
    first = sample_distributed(tasks, _spec(tiny_model), tmp_path / "store", "m", half, executor, on_progress=kill_one)
    assert len(set(pids[:2])) == 2 and killed and len(pids) >= 3  # two workers, and a replacement
    assert first.ok and first.units_total == 6 and first.samples_written == 6 * 8, first.failed
    rows = _rows(tmp_path / "store")
    assert len(rows) == len({(t, i) for t, i, _, _ in rows}) == 6 * 8  # every sample exactly once
    # the driver stopped; a run in one process samples only what is missing (the units' shards are the same
    # wherever they are written; the adaptive test below resumes on Ray, round after round, with one pool)
    summary = sample(tasks, TransformersEngine(str(tiny_model), template="plain", batch_size=16), tmp_path / "store",
                     "m", CONFIG)
    assert summary.ok and summary.units_total == 9 and summary.units_skipped == 6
    assert summary.samples_written == 6 * 4
    assert _rows(tmp_path / "store") == reference


def test_an_experiment_file_samples_on_ray(cluster, tiny_model, tmp_path):
    from tether.experiment import run_experiment

    from ..experiment.test_run import write_experiment

    stages_off = "\n[diagnostics]\nenabled = false\n[report]\nenabled = false\n"  # sampling is what differs
    path = write_experiment(tmp_path, tiny_model)
    path.write_text(path.read_text().replace("sample_block = 4", 'sample_block = 4\nray = "local"\nworkers = 2')
                    + stages_off)
    on_ray, _, log = run_experiment(path)
    assert ("sample base", "ran") in [(stage, status) for stage, status, _ in log.entries]
    (tmp_path / "plain").mkdir()
    plain = write_experiment(tmp_path / "plain", tiny_model)
    plain.write_text(plain.read_text() + stages_off)
    alone, _, _ = run_experiment(plain)
    assert list(on_ray.base.c) == list(alone.base.c) and list(on_ray.rl.c) == list(alone.rl.c)


def test_grading_on_ray_matches_local_grading(cluster, tiny_model, tasks, tmp_path):
    import shutil

    import tether
    from tether.grading import GradeOptions
    from tether.scale import RayExecutor, RayOptions

    sample(tasks, TransformersEngine(str(tiny_model), template="plain", batch_size=16), tmp_path / "a", "m", CONFIG)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    local = tether.grade(tmp_path / "a", GradeOptions(workers=1))
    on_ray = tether.grade(tmp_path / "b", GradeOptions(), executor=RayExecutor(RayOptions("auto", workers=2)))
    assert on_ray.distinct_answers == local.distinct_answers > 0

    def verdicts(store):
        table = pq.read_table(store / "verdicts" / "m")
        return sorted(zip(*(table.column(c).to_pylist() for c in ("task_id", "sample_idx", "correct", "answer"))))

    assert verdicts(tmp_path / "b") == verdicts(tmp_path / "a")


def test_a_killed_grading_worker_is_replaced(cluster):
    from tether.grading.distributed import DistributedGradingPool
    from tether.grading.pool import Job
    from tether.scale import RayExecutor, RayOptions

    with DistributedGradingPool(RayExecutor(RayOptions(workers=2)), batch=5) as pool:
        pids = ray.get([w.pid.remote() for w in pool.workers])
        jobs = [Job(i, "lab_sum", {}, f"{i}+1", {"answer": i + 1 if i % 2 else 0}) for i in range(40)]
        results = pool.grade(jobs)
        first = next(results)
        os.kill(pids[0], signal.SIGKILL)
        rest = dict([first, *results])
    assert sorted(rest) == list(range(40)) and pool.replaced >= 1
    assert all(rest[i].correct == bool(i % 2) for i in range(40))


def test_ctrl_c_on_the_driver_keeps_what_was_written_and_resumes(cluster, tiny_model, tmp_path, holds):
    import subprocess
    import sys

    store = tmp_path / "store"
    command = [sys.executable, "-m", "tether", "sample", str(store), "--model", str(tiny_model), "--tasks", "lab-sums:2-9",
               "--label", "m", "--k", "64", "--template", "plain", "--max-tokens", "6",
               "--temperature", "1", "--sample-block", "8", "--task-block", "2", "--ray", cluster.address,
               "--workers", "1"]  # 4 task blocks x 8 sample blocks = 32 units, on this module's cluster
    hold = holds("sampling:unit-done", 2)  # the driver stops at the 3rd unit reported
    driver = hold.start(command)
    hold.reached(driver)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130 and "everything already written is kept" in err, err[-2000:]
    written = len(list((store / "samples" / "m").glob("*.parquet")))
    assert 3 <= written <= 3 + 1  # the units reported, and at most one in flight per worker
    done = subprocess.run(command[:-4], capture_output=True, text=True)  # resumed in one process (Ray resumes:
    assert done.returncode == 0, done.stderr                         # above)
    assert f"{written} of 32 units were already done" in done.stdout
    table = pq.read_table(store / "samples" / "m", columns=["task_id", "sample_idx"])
    keys = list(zip(table.column("task_id").to_pylist(), table.column("sample_idx").to_pylist()))
    assert len(keys) == len(set(keys)) == 8 * 64


def test_adaptive_rounds_on_ray_write_the_store_of_one_process(cluster, tmp_path):
    """One pool serves every round (each worker loads its engine once); the rounds, the samples and the
    stopping decisions are those of the same adaptive run in one process."""
    from tether.engines import EngineSpec
    from tether.experiment.adaptive import sample_adaptive
    from tether.experiment.stages import resolve_model
    from tether.grading import GradeOptions
    from tether.metrics.adaptive import AdaptiveRule
    from tether.scale import RayExecutor, RayOptions

    model, tasks = resolve_model("lab:base"), load_tasks("lab-sums:2-5,41,42")  # the last two: rarely solved
    config = SamplingConfig(32, Decoding(1.0, 1.0, 8), seed=0, task_block=2, sample_block=16)
    rule, pids = AdaptiveRule(first=8), []
    on_ray = sample_adaptive(tasks, EngineSpec("transformers", model, {"template": "plain"}), tmp_path / "ray", "m",
                             config, rule, GradeOptions(workers=1),
                             executor=RayExecutor(RayOptions(workers=2), on_worker_started=pids.append))
    alone = sample_adaptive(tasks, TransformersEngine(model, template="plain"), tmp_path / "one", "m", config, rule,
                            GradeOptions(workers=1))
    assert on_ray.ok and len(pids) == 2  # two engines for all the rounds
    assert on_ray.rounds == alone.rounds and on_ray.samples == alone.samples
    assert min(on_ray.samples.values()) < max(on_ray.samples.values()) == 32  # some stopped, some went on
    assert _rows(tmp_path / "ray") == _rows(tmp_path / "one")
