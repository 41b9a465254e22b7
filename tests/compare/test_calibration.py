"""The comparison's inference under the null, at a small size: two models with the same chance on every task.

Each rate is the share of simulated runs in which the comparison says more than chance allows
(`tether.compare.calibration`; `benchmarks/calibration.py` runs the same at scale). Seeded, so the shares are
fixed numbers; the margins allow for the Monte Carlo noise of 60 runs (a rate of 5 % has a standard error of
2.8 %), and each assertion failed before its fix: nine pointwise intervals excluded 0 somewhere in about a fifth
of runs, a crossover was printed in a third, NSCR without budget matching excluded 0 almost always.
"""

import pytest

from tether.compare import CompareOptions
from tether.compare.calibration import null_rates

OPTIONS = CompareOptions(bootstrap_reps=300)


@pytest.fixture(scope="module")
def equal():
    return null_rates(tasks=150, budgets=(64, 64), runs=60, options=OPTIONS, seed=1)


def test_no_k_and_no_crossover_is_beyond_chance_more_often_than_the_band_allows(equal):
    assert equal["delta band"] <= 0.12 and equal["crossover"] <= 0.05
    assert equal["delta pointwise"] >= equal["delta band"] + 0.05  # what the band replaces


def test_s_or_e_and_any_task_are_beyond_chance_at_most_alpha_of_the_time(equal):
    assert equal["S or E"] <= 0.1 and equal["task"] <= 0.1 and equal["NSCR"] <= 0.12
    assert equal["coverage"] >= 0.85


def test_unmatched_budgets_bias_nscr_and_matched_ones_do_not():
    unmatched = null_rates(150, (64, 16), 40, CompareOptions(bootstrap_reps=300, match_budget=False), seed=2)
    matched = null_rates(150, (64, 16), 40, OPTIONS, seed=2)
    assert unmatched["NSCR"] >= 0.6 and matched["NSCR"] <= 0.15


def test_fixed_intervals_cover_this_task_sets_own_mean():
    fixed = null_rates(150, (64, 64), 30, CompareOptions(bootstrap_reps=300, intervals="fixed"), seed=3)
    assert fixed["coverage"] >= 0.85 and fixed["delta band"] <= 0.15
