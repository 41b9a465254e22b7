"""What a comparison infers beyond its counts, and how it says it: the interval choice, the simultaneous band,
the noise floor of --self at the comparison's budget and confidence, and no "None" in any line."""

import io

import numpy as np
import pytest
from rich.console import Console

import tether
from tether.cli.render import render_comparison
from tether.compare import CompareOptions, Comparison, compare_counts
from tether.compare.run import self_comparison
from tether.errors import InputError
from tether.store.schema import TaskCounts

from ..conftest import graded_rows, write_jsonl


def _counts(label, n, c):
    ids = np.array([f"t{i:03d}" for i in range(len(n))], dtype=object)
    return TaskCounts(label, label, ids, np.asarray(n), np.asarray(c))


def _pair(tasks=120, n=32, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 3, tasks)
    return _counts("base", [n] * tasks, rng.binomial(n, p)), _counts("rl", [n] * tasks, rng.binomial(n, p))


def _text(result) -> str:
    console = Console(file=io.StringIO(), width=400)
    render_comparison(result, console)
    return console.file.getvalue()


def test_every_output_names_what_its_intervals_cover():
    base, rl = _pair()
    fixed = compare_counts(base, rl, CompareOptions(extrapolate=0, bootstrap_reps=200, intervals="fixed"))
    payload = fixed.to_dict()
    assert payload["intervals"] == "fixed" and payload["settings"]["intervals"] == "fixed"
    assert Comparison.from_dict(payload).to_dict() == payload
    assert "intervals: 95% for these tasks only (each task's samples resampled" in _text(fixed)
    tasks = compare_counts(base, rl, CompareOptions(extrapolate=0, bootstrap_reps=200))
    assert tasks.to_dict()["intervals"] == "tasks" and "intervals: 95% over tasks like these" in _text(tasks)
    width = {name: np.mean(r.pass_at_k_ci["base"][1] - r.pass_at_k_ci["base"][0]) for name, r in
             (("fixed", fixed), ("tasks", tasks))}
    assert width["fixed"] < 0.7 * width["tasks"]  # sampling noise only: narrower than tasks like these


def test_an_unknown_interval_choice_is_one_line():
    with pytest.raises(InputError, match="intervals must be one of tasks, fixed, got 'both'"):
        CompareOptions(intervals="both")


def test_the_band_is_wider_than_the_pointwise_intervals_and_is_what_beyond_chance_reads():
    base, rl = _pair()
    lifted = _counts("rl", rl.n, np.minimum(rl.n, rl.c + (base.c > 0) * 6))  # RL better on every solved task
    result = compare_counts(base, lifted, CompareOptions(extrapolate=0, bootstrap_reps=300))
    (lo, hi), (blo, bhi) = result.delta_pass_at_k_ci, result.band
    assert np.all(blo <= lo) and np.all(hi <= bhi) and np.any(blo < lo)
    assert list(result.to_dict()["delta_pass_at_k_band"]) == [str(int(k)) for k in result.k_grid]
    ahead = result.beyond_band()
    assert len(ahead["rl"]) and not len(ahead["base"])
    text = _text(result)
    assert "paired pointwise 95% CI" in text and "paired simultaneous 95% band" in text
    assert f"rl ahead at k = {', '.join(str(int(k)) for k in ahead['rl'])}" in text


def test_identical_counts_are_within_chance_everywhere():
    base, _ = _pair()
    result = compare_counts(base, _counts("rl", base.n, base.c), CompareOptions(extrapolate=0, bootstrap_reps=200))
    assert "within chance at every k" in _text(result) and result.crossover.k is None
    assert "crossover: none detected: the curves are tied at the largest k" in _text(result)


def test_no_none_in_the_text_when_no_task_can_reach_significance():
    base = _counts("base", [2] * 6, [1, 0, 2, 1, 0, 0])
    rl = _counts("rl", [2] * 6, [0, 1, 2, 1, 1, 0])
    result = compare_counts(base, rl, CompareOptions(extrapolate=0, bootstrap_reps=50))
    assert result.fewest_successes == {"S": None, "E": None}
    text = _text(result)
    assert "None" not in text and "no single task can reach p <= 0.05 on its own at these budgets" in text


def test_self_floor_is_at_the_comparisons_budget_and_confidence(tmp_path):
    """rl holds 64 samples per task, base 16: the comparison is at 16 each, and so is rl's floor (its first 32
    samples split), not at 32 per half; the chance interval is at the comparison's confidence."""
    tasks = {f"t{i}": (64, i % 9) for i in range(12)}
    short = {task: (16, c // 4) for task, (_, c) in tasks.items()}
    for label, counts in (("base", short), ("rl", tasks)):
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", graded_rows(counts, 3)), tmp_path / "run",
                              label=label)
    result = tether.compare(store=tmp_path / "run", self_label="rl",
                            options=CompareOptions(extrapolate=0, bootstrap_reps=50, confidence=0.5))
    own = result.self_comparison
    assert (own.samples_per_half, own.comparison_samples) == (16, 16)
    assert "noise floor at the comparison's budget" in _text(result)
    alone = self_comparison(tmp_path / "run", "rl")
    assert alone.samples_per_half == 32 and alone.comparison_samples is None
    wide = self_comparison(tmp_path / "run", "rl", 0.99, {t: 16 for t in tasks})
    assert wide.s.interval[1] - wide.s.interval[0] >= own.s.interval[1] - own.s.interval[0]
    base_floor = tether.compare(store=tmp_path / "run", self_label="base",
                                options=CompareOptions(extrapolate=0, bootstrap_reps=50)).self_comparison
    assert (base_floor.samples_per_half, base_floor.comparison_samples) == (8, 16)
