"""`tether sample`: units, resume after kill -9, determinism, refusals, failures."""

import json
import os
import signal
import subprocess
import sys

import duckdb
import pytest

import tether
from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import StoreError
from tether.grading import GradeOptions
from tether.sampling import SamplingConfig, Unit, missing_units, sample
from tether.store import Store
from tether.tasks import ColumnMap, load_tasks

from ..cli_run import tether as cli
from ..servers import VLLM_API_KEY


def write_tasks(path, n):
    path.write_text("".join(json.dumps({"id": f"t{i}", "question": f"{i}+{i}=", "answer": str(2 * i)}) + "\n"
                            for i in range(n)))
    return path


def rows(store_dir):
    return duckdb.sql(
        f"select task_id, sample_idx, completion, n_tokens, finish_reason, seed "
        f"from '{store_dir}/samples/*/*.parquet' order by task_id, sample_idx"
    ).fetchall()


def test_missing_units_cover_exactly_the_gaps():
    config = SamplingConfig(k=100, task_block=2, sample_block=32)
    assert missing_units(3, config, [])[:5] == [Unit(0, 0, 32), Unit(0, 32, 64), Unit(0, 64, 96), Unit(0, 96, 100),
                                                 Unit(1, 0, 32)]
    assert len(missing_units(3, config, [])) == 8
    done = [Unit(0, 0, 32), Unit(0, 64, 96), Unit(1, 0, 32), Unit(1, 32, 64), Unit(1, 64, 96), Unit(1, 96, 100)]
    assert missing_units(3, config, done) == [Unit(0, 32, 64), Unit(0, 96, 100)]
    grown = SamplingConfig(k=130, task_block=2, sample_block=32)
    assert missing_units(3, grown, done)[-2:] == [Unit(1, 100, 128), Unit(1, 128, 130)]


@pytest.fixture(scope="module")
def engine(tiny_model):
    return TransformersEngine(tiny_model, batch_size=16)


def test_growing_k_gives_the_same_samples_as_one_run(tmp_path, engine):
    tasks = load_tasks(str(write_tasks(tmp_path / "t.jsonl", 3)), columns=ColumnMap(id="id"), template="{question}")
    decoding = Decoding(temperature=1.0, max_tokens=10)
    first = sample(tasks, engine, tmp_path / "a", "base", SamplingConfig(20, decoding, task_block=2, sample_block=8))
    assert first.samples_written == 60 and first.units_skipped == 0
    grown = sample(tasks, engine, tmp_path / "a", "base", SamplingConfig(50, decoding, task_block=2, sample_block=8))
    assert grown.samples_written == 90 and grown.units_skipped == 6
    again = sample(tasks, engine, tmp_path / "a", "base", SamplingConfig(50, decoding, task_block=2, sample_block=8))
    assert again.samples_written == 0 and again.units_skipped == again.units_total
    sample(tasks, engine, tmp_path / "b", "base", SamplingConfig(50, decoding, task_block=2, sample_block=8))
    assert rows(tmp_path / "a") == rows(tmp_path / "b")
    assert len(rows(tmp_path / "a")) == 150
    stored = duckdb.sql(f"select task_id, rendered_prompt, verifier from '{tmp_path}/a/tasks/base/*.parquet' order by 1")
    assert stored.fetchall() == [("t0", "user: 0+0=\nassistant: ", "math"), ("t1", "user: 1+1=\nassistant: ", "math"),
                                 ("t2", "user: 2+2=\nassistant: ", "math")]


def test_resuming_with_other_settings_is_refused(tmp_path, engine, tiny_model):
    tasks = load_tasks(str(write_tasks(tmp_path / "t.jsonl", 2)), columns=ColumnMap(id="id"), template="{question}")
    config = SamplingConfig(4, Decoding(temperature=1.0, max_tokens=4))
    sample(tasks, engine, tmp_path / "s", "base", config)
    with pytest.raises(StoreError, match=r"decoding.temperature: 1.0 -> 0.5"):
        sample(tasks, engine, tmp_path / "s", "base", SamplingConfig(4, Decoding(temperature=0.5, max_tokens=4)))
    with pytest.raises(StoreError, match=r"seed: 0 -> 3"):
        sample(tasks, engine, tmp_path / "s", "base", SamplingConfig(4, config.decoding, seed=3))
    other_prompts = load_tasks(str(write_tasks(tmp_path / "t.jsonl", 2)), columns=ColumnMap(id="id"), template="Q: {question}")
    with pytest.raises(StoreError, match="the prompts"):
        sample(other_prompts, engine, tmp_path / "s", "base", config)
    plain = TransformersEngine(tiny_model, template="plain")
    with pytest.raises(StoreError, match=r"engine.template: 'auto' -> 'plain'"):
        sample(tasks, plain, tmp_path / "s", "base", config)
    sample(tasks, plain, tmp_path / "s", "other", config)  # another label is another run
    assert Store(tmp_path / "s").labels("samples") == ["base", "other"]


def tether_sample(store, tiny_model, tasks, *extra):
    return [sys.executable, "-m", "tether", "sample", str(store), "--model", str(tiny_model), "--tasks", str(tasks),
            "--columns", "id=id", "--label", "base", "--k", "64", "--max-tokens", "16",
            "--temperature", "1.0", "--task-block", "2", "--sample-block", "16", "-o", "batch_size=32", *extra]


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path, tiny_model, engine, holds):
    tasks = write_tasks(tmp_path / "t.jsonl", 6)  # 3 task blocks x 4 sample blocks = 12 units
    uninterrupted = SamplingConfig(64, Decoding(temperature=1.0, max_tokens=16), task_block=2, sample_block=16)
    sample(load_tasks(str(tasks), columns=ColumnMap(id="id")), engine, tmp_path / "full", "base", uninterrupted)
    folder = tmp_path / "cut" / "samples" / "base"
    hold = holds("commit:samples", 4)  # 4 units written, the 5th staged, not linked
    process = hold.start(tether_sample(tmp_path / "cut", tiny_model, tasks), stdout=subprocess.DEVNULL)
    hold.reached(process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(list(folder.glob("*.parquet"))) == 4
    # resumed here, in process, with the command's settings (a new process, as the killed one is gone)
    cli = SamplingConfig(64, Decoding(temperature=1.0, max_tokens=16), task_block=2, sample_block=16)
    resumed = sample(load_tasks(str(tasks), columns=ColumnMap(id="id")), TransformersEngine(str(tiny_model),
                     batch_size=32), tmp_path / "cut", "base", cli)
    assert resumed.units_skipped == 4 and resumed.units_total == 12 and resumed.samples_written == 256
    assert rows(tmp_path / "cut") == rows(tmp_path / "full")
    assert duckdb.sql(f"select count(distinct (task_id, sample_idx)), count(*) from '{folder}/*.parquet'").fetchall() == [(384, 384)]


def test_failed_requests_fail_their_unit_only_and_the_exit_code(tmp_path, vllm_server, smollm2):
    long_question = "word " * 3000  # beyond the server's 2048-token context: a 400 for this task only
    (tmp_path / "t.jsonl").write_text(
        json.dumps({"id": "ok", "question": "Say hi.", "answer": "hi"}) + "\n"
        + json.dumps({"id": "long", "question": long_question, "answer": "x"}) + "\n")
    command = ["sample", tmp_path / "s", "--engine", "openai", "-o", f"base_url={vllm_server.base_url}", "--model",
               smollm2, "--tasks", tmp_path / "t.jsonl", "--columns", "id=id", "--label", "base", "--k", "2",
               "--max-tokens", "8", "--task-block", "1", "--template", "plain", "-o", f"api_key={VLLM_API_KEY}"]
    out = cli(*command)
    assert out.returncode == 1, out.stderr
    assert "1 units failed" in out.stderr and "b000001-s0000000-0000002" in out.stderr
    assert [r[:2] for r in rows(tmp_path / "s")] == [("ok", 0), ("ok", 1)]
    again = cli(*command)
    assert again.returncode == 1 and "1 of 2 units were already done" in again.stdout


def test_ctrl_c_exits_130_with_one_line_and_keeps_what_was_written(tmp_path, tiny_model, holds):
    tasks = write_tasks(tmp_path / "t.jsonl", 6)
    folder = tmp_path / "s" / "samples" / "base"
    hold = holds("commit:samples", 5)  # Ctrl-C with 5 units written and the 6th staged
    process = hold.start(tether_sample(tmp_path / "s", tiny_model, tasks))
    hold.reached(process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == ("interrupted; everything already written is kept; re-run the same "
                                               "command to resume (finished units are not sampled again)")
    kept = rows(tmp_path / "s")
    assert len(kept) == 5 * 2 * 16 and len(kept) == len(set((r[0], r[1]) for r in kept))
    assert not list(folder.glob(".*tmp*"))  # the staged 6th unit was removed, not left behind


_CLAIM = """
import sys
from tether.engines import Decoding
from tether.sampling import SamplingConfig, prepare_run
from tether.store import open_store
from tether.tasks import load_tasks
tasks = load_tasks("lab-sums:2-3")
prepare_run(open_store(sys.argv[1]), sys.argv[2], tasks, [t.prompt for t in tasks], {"engine": "x"},
            SamplingConfig(4, Decoding(1.0, 1.0, 4)))
"""


def test_labels_claimed_at_once_are_all_kept(tmp_path):
    """Twelve processes claim twelve labels of one store at the same moment: no claim is lost (the
    manifest's read-modify-write runs under its lock)."""
    import subprocess
    import sys

    from tether.store import open_store

    open_store(tmp_path / "s", create=True)
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIM, str(tmp_path / "s"), f"m{i}"]) for i in range(12)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 12
    assert sorted(open_store(tmp_path / "s").manifest().runs) == sorted(f"m{i}" for i in range(12))


def test_one_writer_per_label(tmp_path, tiny_model, engine, holds):
    """While one `tether sample` writes a label, a second one on that label is refused at start,
    naming the first; another label of the same store samples meanwhile; and the lock dies with
    its process (the later writers run here, in this process: a lock is per process)."""
    tasks = write_tasks(tmp_path / "t.jsonl", 4)
    hold = holds("commit:samples", 1)
    first = hold.start(tether_sample(tmp_path / "s", tiny_model, tasks), stdout=subprocess.DEVNULL)
    hold.reached(first)
    second = subprocess.run(tether_sample(tmp_path / "s", tiny_model, tasks), capture_output=True, text=True)
    assert second.returncode == 2, second.stderr
    assert f"label 'base' is being written by pid {first.pid} (tether sample" in second.stderr
    loaded = load_tasks(str(tasks), columns=ColumnMap(id="id"))
    small = SamplingConfig(8, Decoding(temperature=1.0, max_tokens=16), task_block=2, sample_block=16)
    assert sample(loaded, engine, tmp_path / "s", "other", small).ok  # another label meanwhile
    with pytest.raises(StoreError, match=f"label 'base' is being written by pid {first.pid}"):
        tether.grade(tmp_path / "s", GradeOptions(workers=1), labels=["base"])
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    same = TransformersEngine(str(tiny_model), batch_size=32)  # the CLI run's engine and settings, at a smaller k
    assert sample(loaded, same, tmp_path / "s", "base", small).ok


def test_a_label_that_holds_no_samples_can_be_claimed_again_with_new_settings(tmp_path, tiny_model):
    """A first run stopped before writing anything must not lock the label to its settings."""
    from tether.sampling import prepare_run
    from tether.store import open_store

    tasks = load_tasks("lab-sums:2-3")
    first = SamplingConfig(k=4, decoding=Decoding(1.0, 1.0, 200), seed=1, task_block=2, sample_block=4)  # < 256 positions
    store = open_store(tmp_path / "s", create=True)
    prepare_run(store, "base", tasks, [t.prompt for t in tasks], {"engine": "transformers", "model": "m"}, first)
    assert store.shard_paths("samples", "base") == []  # claimed, then stopped before any unit
    engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
    second = SamplingConfig(k=4, decoding=Decoding(1.0, 1.0, 6), seed=1, task_block=2, sample_block=4)
    summary = sample(tasks, engine, tmp_path / "s", "base", second)
    assert summary.samples_written == 8 and any("wrote no samples" in w for w in summary.warnings)
    with pytest.raises(StoreError, match="sampled with other settings.*--reset-label to set its samples aside"):
        sample(tasks, engine, tmp_path / "s", "base", first)
