"""Bootstrap intervals and per-task tests."""

import math

import numpy as np
import pytest
from scipy.stats import false_discovery_control, fisher_exact

from tether.metrics import (
    RegionCounts,
    bootstrap_means,
    bootstrap_rates,
    shift_tests,
    simultaneous_band,
    support_rates,
)
from tether.metrics.uncertainty import percentile_interval


def explicit_task_bootstrap(regions: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """SRR by resampling task indices: the textbook bootstrap the multinomial form replaces."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(regions), size=(reps, len(regions)))
    drawn = regions[idx]
    P, S, E = ((drawn == r).sum(axis=1) for r in "PSE")
    return support_rates(P, S, E)["srr"]


def test_rate_intervals_match_explicit_task_resampling():
    counts = RegionCounts(P=60, S=25, E=5, O=10)
    regions = np.array(["P"] * 60 + ["S"] * 25 + ["E"] * 5 + ["O"] * 10)
    ours = bootstrap_rates(counts, reps=4000, seed=1)["srr"]
    lo, hi = np.percentile(explicit_task_bootstrap(regions, 4000, seed=2), [2.5, 97.5])
    assert ours.lo == pytest.approx(lo, abs=0.02)
    assert ours.hi == pytest.approx(hi, abs=0.02)
    assert ours.lo < 60 / 85 < ours.hi


def test_zero_counts_give_real_intervals_that_hold_the_observed_rate():
    from scipy.stats import beta

    cis = bootstrap_rates(RegionCounts(P=40, S=10, E=0, O=50), reps=20000, seed=0)
    assert cis["ndr"].lo == 0.0 and 0.005 < cis["ndr"].hi < 0.08  # E = 0: not [0, 0]
    assert cis["sds"].lo == 0.0 and cis["sds"].hi > 0
    jeffreys = beta(40.5, 10.5).ppf([0.025, 0.975])  # SRR's interval is Jeffreys' for P of P + S
    assert [cis["srr"].lo, cis["srr"].hi] == pytest.approx(list(jeffreys), abs=0.01)
    full = bootstrap_rates(RegionCounts(P=30, S=0, E=3, O=0))
    assert full["srr"].hi == 1.0 and full["srr"].lo < 1.0  # S = 0: SRR's interval reaches below 1


def test_bootstrap_is_seeded():
    counts = RegionCounts(P=10, S=3, E=2, O=1)
    assert bootstrap_rates(counts, seed=3) == bootstrap_rates(counts, seed=3)
    assert bootstrap_rates(counts, seed=3) != bootstrap_rates(counts, seed=4)


def test_undefined_rate_has_nan_interval():
    cis = bootstrap_rates(RegionCounts(P=0, S=0, E=2, O=3))
    assert math.isnan(cis["srr"].lo) and math.isnan(cis["srr"].hi)
    assert not math.isnan(cis["ndr"].lo)


def test_bootstrap_means_cover_the_mean():
    rng = np.random.default_rng(0)
    values = rng.random((200, 3))
    lo, hi = bootstrap_means(values, reps=1000, seed=0)
    means = values.mean(axis=0)
    assert np.all(lo < means) and np.all(means < hi)
    # a standard error of ~0.02 gives a 95% half-width of about 0.04
    assert np.all((hi - lo) > 0.05) and np.all((hi - lo) < 0.12)


def test_shift_tests_match_scipy_and_bh():
    regions = np.array(["S", "E", "P", "S", "O"])
    base_n, base_c = np.array([100, 50, 10, 64, 10]), np.array([30, 0, 4, 1, 0])
    rl_n, rl_c = np.array([200, 60, 10, 64, 10]), np.array([0, 20, 5, 0, 0])
    tests = shift_tests(regions, base_n, base_c, rl_n, rl_c)
    expected = [
        fisher_exact([[30, 70], [0, 200]]).pvalue,
        fisher_exact([[0, 50], [20, 40]]).pvalue,
        fisher_exact([[1, 63], [0, 64]]).pvalue,
    ]
    tested = [0, 1, 3]
    assert tests.p_values[tested] == pytest.approx(expected)
    assert tests.q_values[tested] == pytest.approx(false_discovery_control(expected, method="bh"))
    assert np.isnan(tests.p_values[[2, 4]]).all()
    # one correct in 64 is well within noise; 30 of 100 against 0 of 200 is not
    assert tests.significant(regions, 0.05) == {"S": 1, "E": 1}
    assert tests.miss_probability[0] == pytest.approx(0.7**200)
    assert tests.miss_probability[3] == pytest.approx((63 / 64) ** 64)


def test_paired_replicates_equal_a_direct_resampling_loop():
    """The weights trick draws the same replicates as resampling tasks one by one, and both arrays
    share each draw (paired)."""
    from tether.metrics import bootstrap_mean_replicates

    rng = np.random.default_rng(5)
    a, b = rng.random((40, 3)), rng.random((40, 3))
    got_a, got_b = bootstrap_mean_replicates([a, b], reps=50, seed=11)
    draws = np.random.default_rng(11).integers(0, 40, size=(50, 40))
    assert np.allclose(got_a, np.stack([a[d].mean(axis=0) for d in draws]))
    assert np.allclose(got_b, np.stack([b[d].mean(axis=0) for d in draws]))


def test_the_paired_interval_of_a_difference_is_narrower_when_models_agree_task_by_task():
    from tether.metrics import bootstrap_mean_replicates
    from tether.metrics.uncertainty import percentile_interval

    rng = np.random.default_rng(2)
    difficulty = rng.random((300, 1))
    base, rl = difficulty, difficulty + 0.02 + 0.01 * rng.standard_normal((300, 1))
    rb, rr = bootstrap_mean_replicates([base, rl], reps=2000, seed=0)
    lo, hi = percentile_interval(rr - rb, 0.95)
    (_, hi_b), (lo_r, _) = percentile_interval(rb, 0.95), percentile_interval(rr, 0.95)
    assert 0 < lo[0] < 0.02 < hi[0]  # the paired CI excludes 0 ...
    assert lo_r[0] < hi_b[0]  # ... although the two models' own intervals overlap


def test_the_simultaneous_band_holds_every_column_at_once():
    """Independent normal columns of very different spreads: the band covers all of them together in ~95 % of
    draws (nine pointwise 95 % intervals together cover ~63 %), and each column's width scales with its spread."""
    rng = np.random.default_rng(0)
    spread = np.array([0.001, 0.01, 0.05, 0.2, 1.0, 0.2, 0.05, 0.01, 0.001])
    replicates = rng.normal(0, spread, size=(4000, 9))
    lo, hi = simultaneous_band(replicates, np.zeros(9), 0.95)
    plo, phi = percentile_interval(replicates, 0.95)
    fresh = rng.normal(0, spread, size=(4000, 9))
    inside = np.all((lo <= fresh) & (fresh <= hi), axis=1).mean()
    pointwise = np.all((plo <= fresh) & (fresh <= phi), axis=1).mean()
    assert 0.93 <= inside <= 0.97 and pointwise < 0.7
    assert np.allclose((hi - lo) / spread, (hi - lo)[0] / spread[0], rtol=0.1)  # studentised: one factor
    assert np.all(hi - lo > phi - plo)


def test_a_column_that_never_varies_is_its_point_and_nan_stays_nan():
    replicates = np.column_stack([np.random.default_rng(1).normal(size=200), np.zeros(200), np.full(200, np.nan)])
    lo, hi = simultaneous_band(replicates, np.array([0.0, 0.0, np.nan]), 0.9)
    assert lo[0] < 0 < hi[0] and lo[1] == hi[1] == 0 and np.isnan(lo[2]) and np.isnan(hi[2])
