"""What chance alone gives: exact per-task chances, the Poisson-binomial, and the false-alarm rate
of the S and E excess when two models are really the same (simulated)."""

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact

from tether.metrics import (
    chance_levels,
    classify_tasks,
    fewest_successes,
    holm,
    poisson_binomial,
    region_chances,
    region_tests,
)
from tether.metrics.chance import all_in_first, signed_sum


@pytest.mark.parametrize("n_base, c_base, n_rl", [(8, 3, 8), (16, 5, 4), (4, 2, 20), (64, 1, 64), (256, 7, 1024)])
def test_all_in_first_is_fishers_one_sided_test_and_the_exact_fraction(n_base, c_base, n_rl):
    p = all_in_first(n_base, n_rl, c_base)
    exact = Fraction(comb(n_base, c_base), comb(n_base + n_rl, c_base))
    fisher = fisher_exact([[c_base, n_base - c_base], [0, n_rl]], alternative="greater").pvalue
    assert p == pytest.approx(float(exact), rel=1e-9) and p == pytest.approx(fisher, rel=1e-9)


def test_chances_of_tasks_without_a_success_or_beyond_a_budget():
    p_s, p_e = region_chances([4, 4, 2], [0, 3, 0], [4, 2, 2], [0, 0, 0])
    assert list(p_s) == [0.0, pytest.approx(4 / 20), 0.0]  # C(4,3)/C(6,3); t = 0 is never S
    assert p_e[1] == 0.0  # three successes cannot all fall in RL's two draws


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=9))
def test_poisson_binomial_matches_enumeration(p):
    offset, pmf = poisson_binomial(np.array(p))
    brute = np.zeros(len(p) + 1)
    for bits in itertools.product([0, 1], repeat=len(p)):
        brute[sum(bits)] += np.prod([q if b else 1 - q for q, b in zip(p, bits)])
    full = np.zeros(len(p) + 1)
    full[offset : offset + len(pmf)] = pmf
    assert np.abs(full - brute).max() < 1e-12


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 0.5), st.floats(0, 0.5)), min_size=1, max_size=7))
def test_signed_sum_matches_enumeration(pairs):
    up, down = np.array(pairs).T
    offset, pmf = signed_sum(up, down)
    brute = {}
    for steps in itertools.product([1, 0, -1], repeat=len(pairs)):
        prob = np.prod([u if s == 1 else d if s == -1 else 1 - u - d for s, (u, d) in zip(steps, pairs)])
        brute[sum(steps)] = brute.get(sum(steps), 0) + prob
    for value, prob in brute.items():
        j = value - offset
        assert abs((pmf[j] if 0 <= j < len(pmf) else 0.0) - prob) < 1e-12


def _identical_pair(rng, tasks: int, n_base: int, n_rl: int):
    p = rng.beta(0.3, 3, tasks) * (rng.random(tasks) < 0.8)
    p[rng.random(tasks) < 0.3] *= 0.01  # many rare successes, as on real benchmarks
    return rng.binomial(n_base, p), rng.binomial(n_rl, p)


@pytest.mark.parametrize("n_base, n_rl", [(64, 64), (256, 64)])
def test_identical_models_raise_few_false_alarms(n_base, n_rl):
    """200 simulated comparisons of two identical models: the S and E excess is significant at
    0.05 in at most ~5 % of runs, the chance interval covers the observed counts, and no task
    survives Benjamini-Hochberg in at least 95 % of runs."""
    rng = np.random.default_rng(7)
    runs, alarms, covered, discoveries = 200, {"S": 0, "E": 0}, 0, 0
    nb, nr = np.full(300, n_base), np.full(300, n_rl)
    for _ in range(runs):
        cb, cr = _identical_pair(rng, 300, n_base, n_rl)
        regions = classify_tasks(nb, cb, nr, cr)
        chance = chance_levels(nb, cb, nr, cr, regions)
        alarms["S"] += chance.s.p_value <= 0.05
        alarms["E"] += chance.e.p_value <= 0.05
        covered += all(lo <= level.observed <= hi for level in (chance.s, chance.e)
                       for lo, hi in [level.interval])
        discoveries += sum(region_tests(regions, nb, cb, nr, cr).significant(regions, 0.05).values()) > 0
    assert alarms["S"] <= 0.08 * runs and alarms["E"] <= 0.08 * runs, alarms
    assert covered >= 0.88 * runs and discoveries <= 0.06 * runs, (covered, discoveries)


def test_a_sharpening_pair_is_detected():
    """RL loses true support on 10 % of tasks: the S excess is far beyond chance."""
    rng = np.random.default_rng(3)
    nb = nr = np.full(500, 256)
    p = rng.beta(0.5, 2, 500)
    lost = rng.random(500) < 0.1
    cb, cr = rng.binomial(nb, p), rng.binomial(nr, np.where(lost, 0.0, p))
    regions = classify_tasks(nb, cb, nr, cr)
    chance = chance_levels(nb, cb, nr, cr, regions)
    assert chance.s.p_value < 1e-6 and chance.s.excess > 0.5 * lost.sum() * 0.5
    assert chance.e.p_value > 0.01 and chance.s_minus_e.p_value < 1e-6


def test_region_tests_are_two_sided_over_solved_tasks():
    """The direction is read off the task's own counts, so an S task's p-value counts the E outcome too:
    at equal budgets twice the one-sided chance that all successes fell to one model."""
    regions = np.array(["S", "E", "P", "O"])
    tests = region_tests(regions, [8, 8, 8, 8], [5, 0, 2, 0], [8, 8, 8, 8], [0, 5, 3, 0])
    assert tests.tested == 3 and np.isnan(tests.p_values[3]) and tests.p_values[2] == 1.0
    assert tests.p_values[0] == pytest.approx(2 * comb(8, 5) / comb(16, 5)) == tests.p_values[1]


def test_unequal_budgets_add_the_other_outcome_only_where_it_is_no_likelier():
    # 3 successes, base 16 samples, RL 4: all to the base is likely (an S task: both outcomes count),
    # all to RL rare (an E task: only its own outcome is as extreme)
    s, e = comb(16, 3) / comb(20, 3), comb(4, 3) / comb(20, 3)
    tests = region_tests(np.array(["S", "E"]), [16, 16], [3, 0], [4, 4], [0, 3])
    assert tests.p_values[0] == pytest.approx(s + e) and tests.p_values[1] == pytest.approx(e)


def test_holm_adjusts_the_s_and_e_excess_as_one_family():
    assert holm([0.03, 0.2]) == pytest.approx([0.06, 0.2])
    assert holm([0.04, 0.03]) == pytest.approx([0.06, 0.06])  # step-down: the larger is never below the smaller
    assert holm([0.8, 0.9]) == pytest.approx([1.0, 1.0])


def test_a_per_task_test_rejects_a_null_task_at_most_alpha_of_the_time():
    """Every outcome of a task with t successes under the null, weighted by its chance: the share of the
    mass with p <= alpha is at most alpha (the one-sided test in the region's direction gave twice that)."""
    for nb, nr in ((16, 16), (64, 16), (8, 64)):
        for t in range(1, 12):
            p_s, p_e = all_in_first(nb, nr, t), all_in_first(nr, nb, t)
            tests = region_tests(np.array(["S", "E"]), [nb, nb], [t, 0], [nr, nr], [0, t])
            rejected = p_s * (tests.p_values[0] <= 0.05) + p_e * (tests.p_values[1] <= 0.05)
            assert rejected <= 0.05 + 1e-12, (nb, nr, t)


def test_fewest_successes_at_equal_and_unequal_budgets():
    assert fewest_successes(64, 64, 0.05) == 6  # two-sided: 2 * 2^-6 < 0.05 <= 2 * 2^-5, about
    assert fewest_successes(1024, 64, 0.05) is not None and fewest_successes(1024, 64, 0.05) > 6
    assert fewest_successes(3, 64, 0.05) == 1  # one success in 3 base samples, none in 64 RL ones: p = 3/67
    assert fewest_successes(2, 2, 0.05) is None  # two samples each: the best case is 1/6
