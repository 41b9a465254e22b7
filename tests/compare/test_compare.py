"""compare() on inputs with known regions, through stores and files."""

import math

import numpy as np
import pytest

import tether
from tether.compare import CompareOptions, compare, compare_counts
from tether.errors import InputError
from tether.metrics import pass_at_k
from tether.store import TaskCounts

from ..conftest import graded_rows, write_jsonl


def test_files_with_known_regions(known_pair):
    base_path, rl_path, base, rl, regions = known_pair
    result = compare(base_path, rl_path, options=CompareOptions(match_budget=False))  # the raw counts
    assert dict(zip(result.task_ids, result.regions)) == regions
    assert result.counts.as_dict() == {"P": 3, "S": 2, "E": 1, "O": 2}
    assert result.rates["srr"].value == pytest.approx(3 / 5)
    assert result.rates["ndr"].value == pytest.approx(1 / 4)
    assert result.rates["nscr"].value == pytest.approx((1 - 2) / 6)
    for i, task in enumerate(result.task_ids):
        assert (result.base.n[i], result.base.c[i]) == base[task]
        assert (result.rl.n[i], result.rl.c[i]) == rl[task]
    # grid stops at the fewest samples of any task of either model (16)
    assert result.k_grid.tolist() == [1, 2, 4, 8, 16]
    n = np.array([base[t][0] for t in result.task_ids])
    c = np.array([base[t][1] for t in result.task_ids])
    assert result.pass_at_k["base"] == pytest.approx(pass_at_k(n, c, result.k_grid).mean(axis=0))


def test_store_holding_both_models_gives_the_same_result(known_pair, tmp_path):
    base_path, rl_path, *_ = known_pair
    tether.import_samples(base_path, tmp_path / "run", label="base")
    tether.import_samples(rl_path, tmp_path / "run", label="rl")
    from_store = compare(store=tmp_path / "run").to_dict()
    from_files = compare(base_path, rl_path).to_dict()
    for key in ("counts", "metrics", "pass_at_k", "crossover_k", "significant", "tasks"):
        assert from_store[key] == from_files[key], key


def test_missing_tasks_are_an_error_unless_allowed(tmp_path):
    base = write_jsonl(tmp_path / "b.jsonl", graded_rows({f"t{i}": (4, 1) for i in range(9)}))
    rl = write_jsonl(tmp_path / "r.jsonl", graded_rows({"t0": (4, 1), "t1": (4, 0)}))
    with pytest.raises(InputError, match=r"7 tasks of 'base' .* missing from 'rl': t2, t3, t4, t5, t6, \.\.\. \(use --allow-missing"):
        compare(base, rl)
    result = compare(base, rl, options=CompareOptions(allow_missing=True))
    assert list(result.task_ids) == ["t0", "t1"]
    assert "dropped" in result.warnings[0]


def test_no_common_tasks(tmp_path):
    base = write_jsonl(tmp_path / "b.jsonl", graded_rows({"a": (4, 1)}))
    rl = write_jsonl(tmp_path / "r.jsonl", graded_rows({"b": (4, 1)}))
    with pytest.raises(InputError, match="share no task ids"):
        compare(base, rl, options=CompareOptions(allow_missing=True))


def test_k_grid_above_n_is_an_error(known_pair):
    base_path, rl_path, *_ = known_pair
    with pytest.raises(InputError, match="k=32 exceeds the samples of every task"):
        compare(base_path, rl_path, options=CompareOptions(k_grid=(1, 32)))


def test_ungraded_store_is_a_clear_error(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"task_id": "a", "completion": "x"}])
    tether.import_samples(path, tmp_path / "run", label="base")
    with pytest.raises(InputError, match="not graded yet"):
        compare(store=tmp_path / "run")


def counts(label, ids, n, c):
    return TaskCounts(label, label, np.array(ids, dtype=object), np.array(n), np.array(c))


def test_crossover_when_rl_sharpens_and_loses_rare_tasks():
    # tasks a: both solve them, RL far more often; tasks b: only the base, rarely; 30 of each.
    ids = [f"{kind}{i:02d}" for kind in "ab" for i in range(30)]
    base = counts("base", ids, [1024] * 60, [102] * 30 + [10] * 30)
    rl = counts("rl", ids, [1024] * 60, [900] * 30 + [0] * 30)
    result = compare_counts(base, rl, CompareOptions(extrapolate=0))
    assert result.pass_at_k["rl"][0] > result.pass_at_k["base"][0]
    assert result.pass_at_k["base"][-1] > result.pass_at_k["rl"][-1]
    assert result.crossover_k is not None and 1 < result.crossover_k < 1024 and result.crossover.significant
    assert result.counts.as_dict() == {"P": 30, "S": 30, "E": 0, "O": 0}


def test_two_tasks_whose_curves_cross_show_no_crossover_without_the_evidence():
    """One task of each kind: the curves cross, but a bootstrap over two tasks cannot show the base ahead."""
    base = counts("base", ["a", "b"], [1024, 1024], [102, 10])
    rl = counts("rl", ["a", "b"], [1024, 1024], [900, 0])
    result = compare_counts(base, rl, CompareOptions(extrapolate=0))
    assert result.crossover_k is None and 1 < result.crossover.curves_cross < 1024
    assert "the curves cross at k ≈" in result.crossover.reason and "band" in result.crossover.reason


def test_all_out_of_support_gives_null_rates_not_exceptions():
    base = counts("base", ["a"], [8], [0])
    rl = counts("rl", ["a"], [8], [0])
    payload = compare_counts(base, rl, CompareOptions()).to_dict()
    assert payload["counts"]["O"] == 1
    assert all(m["value"] is None and m["ci"] == [None, None] and m["note"] for m in payload["metrics"].values())
    assert payload["tasks"][0]["p_value"] is None


def test_json_form_has_the_documented_keys(known_pair):
    payload = compare(*known_pair[:2]).to_dict()
    assert {"counts", "metrics", "pass_at_k", "crossover_k", "significant", "tasks"} <= set(payload)
    assert set(payload["metrics"]) == {"srr", "ndr", "sds", "nscr"}
    assert all(isinstance(v, float) for v in payload["pass_at_k"]["base"].values())
    task = payload["tasks"][0]
    assert set(task) >= {"task_id", "region", "base", "rl", "p_value"}
    assert not any(isinstance(v, float) and math.isnan(v) for v in payload["pass_at_k"]["rl"].values())


def test_unequal_budgets_are_compared_on_each_tasks_first_samples(known_pair):
    """16 base samples against 32 RL ones: by default both on their first 16 by sample index (the
    rows are shuffled in the file), with a warning; the raw counts only when asked."""
    import json

    base_path, rl_path, base, rl, _ = known_pair
    result = compare(base_path, rl_path)
    assert list(result.rl.n) == [16] * 8 and list(result.base.n) == [16] * 8
    first = {}
    for line in rl_path.read_text().splitlines():
        row = json.loads(line)
        first[row["task_id"]] = first.get(row["task_id"], 0) + (row["correct"] and row["sample_idx"] < 16)
    assert {t: c for t, c in zip(result.rl.task_ids, result.rl.c)} == first
    assert any("8 of 8 tasks have different sample counts" in w and "--no-match-budget" in w for w in result.warnings)
    raw = compare(base_path, rl_path, options=CompareOptions(match_budget=False))
    assert list(raw.rl.n) == [32] * 8 and len(raw.warnings) == 1
    assert "not matched (--no-match-budget)" in raw.warnings[0]
    assert "biased toward E and a higher NSCR (rl has more samples)" in raw.warnings[0]


def test_counts_handed_to_compare_counts_are_matched_too():
    """The Python API honours match_budget: unequal counts are drawn down to min(n_base, n_rl) per task (a
    hypergeometric draw: counts keep no sample order), with a warning; not matched, they are kept and warned."""
    base = counts("base", ["a", "b", "c"], [16, 16, 8], [4, 0, 8])
    rl = counts("rl", ["a", "b", "c"], [64, 16, 8], [64, 3, 0])
    matched = compare_counts(base, rl, CompareOptions(extrapolate=0))
    assert list(matched.rl.n) == [16, 16, 8] and list(matched.rl.c) == [16, 3, 0] and list(matched.base.c) == [4, 0, 8]
    assert any("1 of 3 tasks have different sample counts" in w and "hypergeometric" in w for w in matched.warnings)
    assert matched.to_dict()["settings"]["match_budget"] is True
    thinned = compare_counts(counts("base", ["a"], [16], [4]), counts("rl", ["a"], [64], [32]),
                             CompareOptions(extrapolate=0, seed=3))
    assert thinned.rl.n[0] == 16 and 0 < thinned.rl.c[0] < 16  # 32 of 64 correct: some of any 16
    raw = compare_counts(base, rl, CompareOptions(extrapolate=0, match_budget=False))
    assert list(raw.rl.n) == [64, 16, 8] and any("--no-match-budget" in w for w in raw.warnings)


def test_budgets_are_matched_in_a_store_too(known_pair, tmp_path):
    from tether.compare.store import compare_store

    base_path, rl_path, *_ = known_pair
    tether.import_samples(base_path, tmp_path / "run", label="base")
    tether.import_samples(rl_path, tmp_path / "run", label="rl")
    from_store = compare_store(tmp_path / "run", options=CompareOptions(bootstrap_reps=50)).overall
    from_files = compare(base_path, rl_path, options=CompareOptions(bootstrap_reps=50))
    assert list(from_store.rl.c) == list(from_files.rl.c) and list(from_store.rl.n) == [16] * 8


def test_rows_without_a_sample_index_are_matched_in_file_order(tmp_path):
    base = write_jsonl(tmp_path / "b.jsonl", [{"task_id": "t", "correct": c} for c in (False, False, True, True)])
    rl = write_jsonl(tmp_path / "r.jsonl", [{"task_id": "t", "correct": c} for c in (False, True)])
    result = compare(base, rl, options=CompareOptions(bootstrap_reps=20))
    assert (result.base.n[0], result.base.c[0], result.regions[0]) == (2, 0, "E")


def test_one_short_task_does_not_shrink_the_grid_for_the_others():
    """Nine tasks with 64 samples and one with 4: the grid runs to 64, the short task leaves the
    mean beyond k = 4, and a warning names it."""
    ids = [f"t{i}" for i in range(10)]
    n = np.array([64] * 9 + [4])
    c = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 4])
    base = TaskCounts.from_arrays("base", "a", ids, n, c)
    rl = TaskCounts.from_arrays("rl", "b", ids, n, np.minimum(c + 1, n))
    result = compare_counts(base, rl, CompareOptions(bootstrap_reps=50))
    assert result.k_grid.tolist() == [1, 2, 4, 8, 16, 32, 64]
    assert any("1 tasks have fewer samples than the k grid reaches (64)" in w and "t9 (n=4)" in w
               for w in result.warnings)
    at_8 = pass_at_k(n[:9], c[:9], 8).mean()  # the nine full tasks only
    assert result.pass_at_k["base"][3] == pytest.approx(at_8)
    assert result.pass_at_k["base"][2] == pytest.approx(pass_at_k(n, c, 4).mean())  # all ten up to k = 4
    lo, hi = result.pass_at_k_ci["base"]
    assert np.all(lo <= result.pass_at_k["base"] + 1e-12) and np.all(result.pass_at_k["base"] <= hi + 1e-12)


def test_a_task_without_samples_is_one_clear_error():
    base = TaskCounts.from_arrays("base", "a", ["t1", "t2"], [4, 0], [1, 0])
    rl = TaskCounts.from_arrays("rl", "b", ["t1", "t2"], [4, 4], [1, 0])
    with pytest.raises(InputError, match="every task needs at least one sample"):
        compare_counts(base, rl, CompareOptions(bootstrap_reps=20))


@pytest.mark.parametrize("name", ["exp[1]", "run*?", "with {braces} and spaces", "été-ü"])
def test_store_names_are_never_patterns(known_pair, tmp_path, name):
    """A store whose name holds pattern characters reads its own shards, not a sibling's."""
    base_path, rl_path, *_ = known_pair
    options = CompareOptions(bootstrap_reps=20, match_budget=False)
    sibling = tmp_path / "exp1"  # what `exp[1]` would match as a glob: the models swapped
    tether.import_samples(rl_path, sibling, label="base")
    tether.import_samples(base_path, sibling, label="rl")
    store = tmp_path / name
    tether.import_samples(base_path, store, label="base")
    tether.import_samples(rl_path, store, label="rl")
    result = compare(store=store, options=options)
    assert result.counts.as_dict() == {"P": 3, "S": 2, "E": 1, "O": 2}
    assert list(result.base.n) == [16] * 8
