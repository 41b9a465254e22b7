"""Two children of one base side by side (Table 3): exact counts from a store, the swap test, its false-alarm rate."""

import json

import numpy as np
import pytest

import tether
from tether.compare import CompareOptions
from tether.compare.children import child_differences, compare_children
from tether.errors import InputError

from ..conftest import graded_rows, write_jsonl

OPTIONS = CompareOptions(bootstrap_reps=200, extrapolate=0)


@pytest.fixture
def family(tmp_path):
    """base covers t0-t5; a keeps t0-t3 and adds t6; b keeps t0-t5 (t5 at 8 samples: matched to 4) and adds none."""
    counts = {
        "base": {f"t{i}": (4, 1 if i < 6 else 0) for i in range(8)},
        "a": {f"t{i}": (4, 2 if i < 4 or i == 6 else 0) for i in range(8)},
        "b": {**{f"t{i}": (4, 3 if i < 5 else 0) for i in range(8)}, "t5": (8, 1)},
    }
    for seed, (label, tasks) in enumerate(counts.items()):
        rows = graded_rows(tasks, seed=seed)
        if label == "b":  # the one correct sample of t5 among its first four: kept when the budget is matched
            rows = [{**row, "correct": row["sample_idx"] == 0} if row["task_id"] == "t5" else row for row in rows]
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", rows), tmp_path / "run", label=label)
    return tmp_path / "run"


def test_each_child_against_the_base_and_their_differences_exactly(family):
    pair = compare_children(family, "a", "b", options=OPTIONS)
    assert pair.first.counts.as_dict() == {"P": 4, "S": 2, "E": 1, "O": 1}
    assert pair.second.counts.as_dict() == {"P": 6, "S": 0, "E": 0, "O": 2}
    assert set(pair.first.base.n) == set(pair.second.rl.n) == {4}  # t5 matched to the fewest samples (4)
    assert any("t5" in line and "first m samples" in line for line in pair.warnings)
    d = pair.differences
    assert (d["P"].value, d["S"].value, d["E"].value, d["O"].value) == (-2, 2, 1, -1)
    assert d["srr"].value == pytest.approx(4 / 6 - 1)
    assert d["nscr"].value == pytest.approx((1 - 2) / 7 - 0)
    assert pair.discordant == {"d1": 2, "d0": 1}
    # the swap: S_a - S_b = 2 X - 2, X ~ Bin(2, 1/2); |2| or more has chance 1/2
    assert d["S"].p_value == pytest.approx(0.5)
    assert d["P"].p_adjusted == d["srr"].p_adjusted == d["S"].p_adjusted  # one test
    assert d["S"].ci.lo <= 2 <= d["S"].ci.hi
    payload = json.loads(json.dumps(pair.to_dict(), allow_nan=False))
    assert payload["family"]["tests"] == 5 and "Holm" in payload["family"]["text"]
    assert payload["against_base"]["a"]["counts"]["S"] == 2
    assert [row["child"] for row in pair.rows()] == ["a", "b", "a - b"]


def test_the_swap_distribution_is_exact():
    """Five tasks the base and b cover and a misses: S_a - S_b = 5, reached by the swap with chance 2 / 2^5."""
    base = np.array([True] * 8)
    b = np.array([True] * 8)
    a = np.array([False] * 5 + [True] * 3)
    found, discordant = child_differences(base, a, b, OPTIONS)
    assert discordant == {"d1": 5, "d0": 0}
    assert found["S"].value == 5
    assert found["S"].p_value == pytest.approx(2 / 32)
    assert found["S"].chance.lo == -found["S"].chance.hi  # symmetric: exchangeable children


def test_a_real_difference_is_beyond_chance_after_holm():
    rng = np.random.default_rng(5)
    base = rng.random(300) < 0.7
    b = base.copy()
    a = base.copy()
    a[np.flatnonzero(base)[:40]] = False  # a loses 40 of the base's tasks, b none
    found, _ = child_differences(base, a, b, OPTIONS)
    assert found["S"].beyond_chance and found["srr"].beyond_chance and found["nscr"].beyond_chance
    assert not found["E"].beyond_chance
    assert found["nscr"].ci.hi < 0


def test_exchangeable_children_claim_a_difference_at_most_alpha_of_the_time():
    """Base and both children sampled from the same chances per task: any difference beyond chance after Holm
    is a false alarm; over 300 replicates their rate stays within alpha (+ its sampling noise)."""
    rng = np.random.default_rng(0)
    reps, alarms = 300, 0
    for _ in range(reps):
        p = rng.beta(0.4, 0.6, 150)
        base, a, b = (rng.binomial(8, p) > 0 for _ in range(3))
        found, _ = child_differences(base, a, b, CompareOptions(bootstrap_reps=20, extrapolate=0))
        alarms += any(d.beyond_chance for d in found.values())
    assert alarms / reps <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / reps)


def test_three_labels_are_needed(family):
    with pytest.raises(InputError, match="three labels"):
        compare_children(family, "a", "a", options=OPTIONS)
    with pytest.raises(InputError, match="three labels"):
        compare_children(family, "base", "b", options=OPTIONS)
