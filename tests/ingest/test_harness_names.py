"""An lm-eval file renamed for its model still pairs with the other model's (issue 29): the benchmark is the
task lm-eval's file name gives, never a name the user chose, and two models sharing no task id are told why."""

import shutil

import numpy as np
import pytest

from tether.compare import CompareOptions, compare
from tether.compare.pairing import align
from tether.errors import InputError
from tether.ingest import HarnessOptions, import_samples
from tether.store import TaskCounts

from ..cli_run import tether as cli
from .test_harness import GREEDY, LIGHTEVAL_EXACT, table


@pytest.fixture
def renamed(tmp_path):
    """The same lm-eval file twice, named for the two models."""
    return shutil.copy(GREEDY, tmp_path / "samples_base.jsonl"), shutil.copy(GREEDY, tmp_path / "samples_rl.jsonl")


def test_files_named_for_their_models_are_compared_task_by_task(renamed):
    base, rl = renamed
    result = compare(base, rl, options=CompareOptions(bootstrap_reps=20))
    assert list(result.task_ids) == [f"lm-eval/{i}" for i in range(6)] and result.counts.as_dict()["P"] == 3


def test_the_import_says_the_task_is_unknown_and_benchmark_names_it(renamed, tmp_path):
    base, _ = renamed
    summary = import_samples(base, tmp_path / "s", "base")
    assert summary.notes[0].startswith("samples_base.jsonl is not named as lm-eval names its files")
    assert table(tmp_path / "s", "tasks", "task_id, benchmark")[0] == ("lm-eval/0", "lm-eval")
    out = cli("import", tmp_path / "n", base, "--label", "base", "--benchmark", "lab_sums_greedy")
    assert out.returncode == 0 and "not named as lm-eval" not in out.stderr, out.stderr
    assert table(tmp_path / "n", "tasks", "task_id, benchmark")[0] == ("lab_sums_greedy/0", "lab_sums_greedy")
    kept = import_samples(GREEDY, tmp_path / "k", "base")  # lm-eval's own name: its task
    assert table(tmp_path / "k", "tasks", "task_id")[0] == ("lab_sums_greedy/0",)
    assert not any("not named" in note for note in kept.notes)
    import_samples(LIGHTEVAL_EXACT, tmp_path / "l", "base", harness=HarnessOptions(benchmark="sums"))
    assert table(tmp_path / "l", "tasks", "task_id")[0] == ("sums/0",)


def _counts(label, ids):
    return TaskCounts(label, f"{label}.jsonl", np.array(ids, dtype=object), np.full(len(ids), 4), np.ones(len(ids)))


@pytest.mark.parametrize("allow_missing", [False, True])
def test_no_shared_task_is_not_a_case_for_allow_missing(allow_missing):
    """--allow-missing would drop every task: the message says none is shared and the likely cause instead."""
    base, rl = _counts("base", ["samples_base/0", "samples_base/1"]), _counts("rl", ["samples_rl/0", "samples_rl/1"])
    with pytest.raises(InputError) as raised:
        align(base, rl, allow_missing)
    message = str(raised.value)
    assert "share no task ids" in message and "allow-missing" not in message
    assert "name the benchmark differently (samples_base vs samples_rl) before the same document ids, e.g. 0" in message
    with pytest.raises(InputError) as raised:
        align(_counts("base", ["a/1", "a/2"]), _counts("rl", ["b/7"]), allow_missing)
    assert "share no task ids (e.g. a/1 vs b/7)" in str(raised.value) and "allow-missing" not in str(raised.value)
    assert "the benchmark name or the id scheme differs" in str(raised.value)
