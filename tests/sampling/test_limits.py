"""A run's size within what the store's names, the memory and the engine hold, refused before anything is
written, each error stating its bound (issue 31)."""

import json

import pytest

from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import InputError
from tether.sampling import SamplingConfig, sample
from tether.sampling.limits import MAX_SAMPLES, check_run, machine_memory, size_problem
from tether.tasks import ColumnMap, load_tasks

from ..cli_run import tether as cli
from .test_run import write_tasks

GIB = 2**30


@pytest.mark.parametrize("settings, message", [
    (dict(k=10**12), "k must be at most 9,999,999 (a unit's shard names its samples with 7 digits"),
    (dict(k=10**21), "got 1,000,000,000,000,000,000,000"),  # a MemoryError traceback before
    (dict(k=8, sample_block=MAX_SAMPLES + 1), "sample_block must be at most 9,999,999"),
    (dict(k=0), "k must be >= 1, got 0"),
    (dict(k=8, task_block=0), "task_block must be >= 1, got 0"),
])
def test_settings_the_store_cannot_name_are_refused(settings, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SamplingConfig(**settings)
    assert SamplingConfig(k=MAX_SAMPLES).k == MAX_SAMPLES


def test_max_tokens_beyond_the_memory_a_unit_holds_is_refused_with_the_bound():
    config = SamplingConfig(k=5, decoding=Decoding(max_tokens=10**7))
    found = size_problem(config, memory=GIB)  # 8 tasks x 5 samples of 4 bytes a token: at most 2**29 / 160
    assert found.startswith("max_tokens 10,000,000: a unit of 8 tasks x 5 samples holds up to 40 completions")
    assert "more than half of this machine's 1.0 GiB of memory; max_tokens can be at most 3,355,443 here" in found
    assert size_problem(SamplingConfig(k=5, decoding=Decoding(max_tokens=3_355_443)), memory=GIB) is None
    assert size_problem(SamplingConfig(k=5, decoding=Decoding(max_tokens=3_355_444)), memory=GIB) is not None
    with pytest.raises(InputError, match=r"max_tokens 1,000,000,000,000,000: .* can be at most [\d,]+ here"):
        SamplingConfig(k=5, decoding=Decoding(max_tokens=10**15))  # this machine's memory
    assert 0 < machine_memory()


def test_runs_with_too_many_blocks_or_units_are_refused_with_the_bound():
    blocks = size_problem(SamplingConfig(k=8, task_block=1), n_tasks=2_000_000, memory=64 * GIB)
    assert blocks == ("2,000,000 tasks in blocks of 1 make 2,000,000 task blocks; a shard names its block with 6 "
                      "digits, so at most 1,000,000: give task_block >= 2")
    units = size_problem(SamplingConfig(k=MAX_SAMPLES, sample_block=1), n_tasks=500, memory=8 * GIB)
    assert units.startswith("k = 9,999,999 over 500 tasks in units of 8 tasks x 1 samples is 629,999,937 units of "
                            "work, listed in memory before the first is sampled (117.3 GiB); a quarter of this "
                            "machine's 8.0 GiB holds 10,737,418: give sample_block >= 59")
    assert size_problem(SamplingConfig(k=MAX_SAMPLES, sample_block=59), n_tasks=500, memory=8 * GIB) is None
    with pytest.raises(InputError, match="task blocks"):
        check_run(SamplingConfig(k=8, task_block=1), 2_000_000)


def test_max_tokens_beyond_the_models_context_is_refused_before_anything_is_written(tmp_path, tiny_model):
    """It was a torch RuntimeError after the tasks shard and the manifest's run were written."""
    engine = TransformersEngine(tiny_model, batch_size=4)
    assert engine.max_context == 256  # the tiny model's positions
    tasks = load_tasks(str(write_tasks(tmp_path / "t.jsonl", 2)), columns=ColumnMap(id="id"), template="{question}")
    with pytest.raises(InputError, match=r"^max_tokens 256: the model holds 256 tokens, prompt and completion "
                                         r"together; give max_tokens below 256"):
        sample(tasks, engine, tmp_path / "s", "base", SamplingConfig(4, Decoding(max_tokens=256)))
    assert not list((tmp_path / "s").rglob("*.parquet"))  # no tasks shard, no samples
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["runs"] == {}
    done = sample(tasks, engine, tmp_path / "s", "base", SamplingConfig(2, Decoding(max_tokens=4)))
    assert done.samples_written == 4


def test_the_command_says_it_in_one_line(tmp_path, tiny_model):
    tasks = write_tasks(tmp_path / "t.jsonl", 2)
    out = cli("sample", tmp_path / "s", "--model", tiny_model, "--tasks", tasks, "--columns", "id=id",
              "--label", "base", "--k", "2", "--max-tokens", "100000")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "error: max_tokens 100,000: the model holds 256 tokens" in out.stderr
    assert not list((tmp_path / "s").rglob("*.parquet"))
