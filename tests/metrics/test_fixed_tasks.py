"""Intervals for one fixed task set: the noise of each task's samples, the tasks held fixed."""

import numpy as np

from tether.metrics import RegionCounts, bootstrap_rates, pass_at_k_where_sampled, support_rates
from tether.metrics.fixed_tasks import fixed_mean_replicates, fixed_rate_replicates, fixed_rates
from tether.metrics.uncertainty import percentile_interval

K = np.array([1, 8, 64])


def _estimate(n, c):
    return pass_at_k_where_sampled(n, c, K)


def _fixed(n, c, reps=400, seed=0):
    (found,) = fixed_mean_replicates([(n, c, _estimate, np.zeros((len(n), len(K)), bool))], K, reps, seed)
    return found


def test_the_interval_covers_this_task_sets_own_mean():
    """Tasks drawn once and held; fresh samples each run: the interval holds the set's true mean pass@k (at
    k = 1 and 64 = n, a third of the tasks never solvable, a third rare) in at least ~95 % of runs."""
    rng = np.random.default_rng(4)
    kind = rng.integers(0, 3, 300)
    p = np.where(kind == 0, rng.beta(0.6, 2, 300), np.where(kind == 1, 10 ** rng.uniform(-4, -2, 300), 0.0))
    truth = np.mean(-np.expm1(K[None, :] * np.log1p(-p[:, None])), axis=0)
    n, covered, runs = np.full(300, 64), 0, 80
    for run in range(runs):
        lo, hi = percentile_interval(_fixed(n, rng.binomial(n, p), 300, run), 0.95)
        covered += (lo <= truth) & (truth <= hi)
    assert np.all(covered >= 0.88 * runs), covered


def test_the_fixed_interval_is_much_narrower_than_the_one_over_tasks():
    from tether.metrics import bootstrap_means

    rng = np.random.default_rng(5)
    p = rng.beta(0.3, 3, 500)
    n = np.full(500, 64)
    c = rng.binomial(n, p)
    flo, fhi = percentile_interval(_fixed(n, c), 0.95)
    tlo, thi = bootstrap_means(_estimate(n, c), 400, 0.95, 0)
    assert np.all(fhi - flo < 0.7 * (thi - tlo))
    assert np.all((flo < _estimate(n, c).mean(axis=0)) & (_estimate(n, c).mean(axis=0) < fhi))  # centred


def test_a_task_never_solved_still_varies():
    """0 of 64 is a chance below ~1/64, not 0: the interval of a set of such tasks is not a point."""
    lo, hi = percentile_interval(_fixed(np.full(50, 64), np.zeros(50, int)), 0.95)
    assert np.all(lo == 0) and hi[-1] > 0.01


def test_fixed_rates_hold_the_observed_value_and_are_seeded():
    rng = np.random.default_rng(6)
    p = rng.beta(0.3, 3, 200)
    n = np.full(200, 32)
    cb, cr = rng.binomial(n, p), rng.binomial(n, p)
    found = fixed_rates(n, cb, n, cr, 300, 0.95, 1)
    point = support_rates(*(np.sum(x) for x in ((cb > 0) & (cr > 0), (cb > 0) & (cr == 0), (cb == 0) & (cr > 0))))
    for name, interval in found.items():
        assert interval.lo <= float(point[name]) <= interval.hi
    assert fixed_rates(n, cb, n, cr, 300, 0.95, 1) == found
    counts = RegionCounts(*(int(np.sum(x)) for x in ((cb > 0) & (cr > 0), (cb > 0) & (cr == 0),
                                                       (cb == 0) & (cr > 0), (cb == 0) & (cr == 0))))
    over_tasks = bootstrap_rates(counts, 300, 0.95, 1)
    assert found["nscr"].hi - found["nscr"].lo < over_tasks["nscr"].hi - over_tasks["nscr"].lo


def test_a_fresh_run_at_the_full_budget_covers_a_stopped_task():
    """An adaptive label's task stopped at 4 samples with 2 correct: a fresh run draws its full budget (64), so
    the replicates count it covered nearly always; drawn at its 4 samples it would miss about one time in ten."""
    n, c, rl_n, rl_c = np.array([4]), np.array([2]), np.array([64]), np.array([40])
    full = fixed_rate_replicates(n, c, rl_n, rl_c, 400, 0, budgets=(np.array([64]), None))
    held = fixed_rate_replicates(n, c, rl_n, rl_c, 400, 0)
    assert np.nanstd(full["ndr"]) < 0.01 < np.nanstd(held["ndr"])
