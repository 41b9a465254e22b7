"""Tasks only one model has are refused on every path, or dropped by name with --allow-missing (issue 31)."""

import json

import numpy as np
import pytest

import tether
from tether.compare import CompareOptions, compare, compare_counts
from tether.compare.pairing import align, paired_counts
from tether.compare.store import compare_store
from tether.errors import InputError
from tether.store import TaskCounts

from ..cli_run import tether as cli
from ..conftest import graded_rows, write_jsonl

REFUSED = r"2 tasks of 'base' \(.*\) are missing from 'rl': b, c \(use --allow-missing"


@pytest.fixture
def uneven(tmp_path):
    """The issue's case: base has tasks a, b, c with 4 samples each; rl has task a with 2. As files and as a store."""
    base = write_jsonl(tmp_path / "B.jsonl", graded_rows({"a": (4, 2), "b": (4, 1), "c": (4, 0)}, seed=1))
    rl = write_jsonl(tmp_path / "R.jsonl", graded_rows({"a": (2, 1)}, seed=2))
    tether.import_samples(base, tmp_path / "run", label="base")
    tether.import_samples(rl, tmp_path / "run", label="rl")
    return base, rl, tmp_path / "run"


@pytest.mark.parametrize("match_budget", [True, False], ids=["budget matched", "raw counts"])
def test_every_path_refuses_tasks_only_one_model_has(uneven, match_budget):
    base, rl, store = uneven
    options = CompareOptions(match_budget=match_budget)
    for call in (lambda: compare(base, rl, options=options),  # files
                 lambda: compare(store=store, options=options),  # one store
                 lambda: compare(store, store, base_label="base", rl_label="rl", options=options),  # two sources
                 lambda: compare_store(store, options=options)):  # the store's kept comparison (run, report)
        with pytest.raises(InputError, match=REFUSED):
            call()


def test_compare_counts_refuses_them_too():
    def counts(label, ids, n):
        return TaskCounts(label, label, np.array(ids, dtype=object), np.array(n), np.array([1] * len(ids)))

    with pytest.raises(InputError, match=r"1 tasks of 'rl' \(rl\) are missing from 'base': d"):
        compare_counts(counts("base", ["a"], [4]), counts("rl", ["a", "d"], [4, 4]), CompareOptions())


def test_both_sides_are_named_at_once():
    def counts(label, ids):
        return TaskCounts(label, f"{label}.jsonl", np.array(ids, dtype=object), np.full(len(ids), 4), np.ones(len(ids)))

    base, rl = counts("base", ["a", "b", "c"]), counts("rl", ["a", "d"])
    with pytest.raises(InputError, match=r"2 tasks of 'base' \(base.jsonl\) are missing from 'rl': b, c; "
                                         r"1 tasks of 'rl' \(rl.jsonl\) are missing from 'base': d \("):
        align(base, rl, allow_missing=False)
    kept_base, kept_rl, warnings = align(base, rl, allow_missing=True)
    assert list(kept_base.task_ids) == list(kept_rl.task_ids) == ["a"]
    assert warnings == ["2 tasks of 'base' (base.jsonl) are missing from 'rl': b, c; 1 tasks of 'rl' (rl.jsonl) are "
                        "missing from 'base': d; dropped these 3 tasks: compared on the 1 tasks both have"]


def test_dropping_happens_before_budgets_are_matched():
    """The budget is matched on the common tasks only, and a recount on it never drops a task unnamed."""
    calls = []

    def count(label, ids, n):
        def load(limits):
            calls.append((label, limits))
            keep = [i for i, t in enumerate(ids) if limits is None or t in limits]
            n_now = [min(n[i], limits[ids[i]]) if limits else n[i] for i in keep]
            return TaskCounts(label, label, np.array([ids[i] for i in keep], dtype=object), np.array(n_now),
                              np.zeros(len(keep), dtype=np.int64))
        return load

    base, rl, warnings = paired_counts(count("base", ["a", "b", "c"], [4, 4, 4]), count("rl", ["a"], [2]),
                                       allow_missing=True, match_budget=True)
    assert list(base.task_ids) == ["a"] and base.n.tolist() == rl.n.tolist() == [2]
    assert calls[2:] == [("base", {"a": 2}), ("rl", {"a": 2})]
    assert "b, c; dropped these 2 tasks" in warnings[0] and "1 of 1 tasks have different sample counts" in warnings[1]


def test_allow_missing_names_the_dropped_tasks_in_the_output_and_compare_json(uneven, tmp_path):
    base, rl, store = uneven
    refused = cli("compare", base, rl)
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "missing from 'rl': b, c" in refused.stderr
    out = cli("compare", base, rl, "--allow-missing", "--out", tmp_path / "out")
    assert out.returncode == 0, out.stderr
    assert "warning: 2 tasks of 'base'" in out.stderr and "b, c; dropped these 2 tasks" in out.stderr
    saved = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert saved["n_tasks"] == 1 and saved["settings"]["allow_missing"] is True
    assert any("missing from 'rl': b, c; dropped" in w for w in saved["warnings"])
    from_store = compare_store(store, options=CompareOptions(allow_missing=True)).overall
    assert list(from_store.task_ids) == ["a"] and "b, c; dropped" in from_store.warnings[0]


def test_the_report_and_an_experiment_file_can_allow_missing_tasks(uneven, tmp_path):
    from tether.experiment.schema import CompareSection

    *_, store = uneven
    refused = cli("report", store, "--out", tmp_path / "report")
    assert refused.returncode == 2 and "missing from 'rl'" in refused.stderr
    assert CompareSection(allow_missing=True).options().allow_missing
    assert not CompareSection().options().allow_missing
