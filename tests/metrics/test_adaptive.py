"""The adaptive budget's stopping rule and its expected cost."""

import numpy as np
import pytest
from scipy.stats import beta

from tether.metrics.adaptive import AdaptiveRule, clopper_pearson_lower, expected_samples, least_settling, settled


def test_the_rule_against_a_direct_computation():
    """(1 - p_L)^k <= tol with p_L the one-sided Clopper-Pearson bound, computed here term by term."""
    rule = AdaptiveRule(tol=1e-3, confidence=0.95)
    for n in (16, 32, 64, 512):
        for c in range(0, min(n, 40) + 1):
            lower = beta.ppf(0.05, c, n - c + 1) if c else 0.0
            assert clopper_pearson_lower(n, c) == pytest.approx(lower)
            expected = c >= 1 and (1 - lower) ** 1024 <= 1e-3
            assert bool(settled(n, c, 1024, rule)) == expected, (n, c)
    assert rule.rounds(1024) == [16, 32, 64, 128, 256, 512, 1024] and rule.rounds(100) == [16, 32, 64, 100]
    assert least_settling(16, 1024) == min(c for c in range(1, 17) if settled(16, c, 1024))


def test_expected_samples_match_a_simulation_of_the_rule():
    rule, k = AdaptiveRule(), 1024
    rng = np.random.default_rng(0)
    for p in (0.0, 0.002, 0.01, 0.05, 0.5):
        reps = 20000
        c, stopped_at, previous = np.zeros(reps), np.full(reps, k), 0
        running = np.ones(reps, dtype=bool)
        for end in rule.rounds(k):  # all replicates at once: each stops at its first settling round
            c += rng.binomial(end - previous, p, size=reps)
            stop = running & settled(np.full(reps, end), c, k, rule)
            stopped_at[stop] = end
            running &= ~stop
            previous = end
        simulated, spread = stopped_at.mean(), stopped_at.std() / np.sqrt(reps)
        assert expected_samples(p, k, rule) == pytest.approx(simulated, abs=4 * spread + 0.01), p
    assert expected_samples(0.0, k, rule) == k  # never solved: sampled to the end, as the full protocol does
    assert expected_samples(0.9, k, rule) == pytest.approx(16)  # settled in the first round


def test_the_regions_rule_stops_at_the_first_success_and_costs_near_the_floor():
    """The regions rule stops a task after the round holding its first success; its expected cost matches a
    simulation, never undercuts the floor E[min(first success, k)] = (1 - (1 - p)^k)/p, and stays within the
    rounds' doubling (plus the first round) of it."""
    from tether.metrics.adaptive import floor_samples, regions_rule

    rule, k = regions_rule(), 512
    assert rule.first == 8 and rule.as_dict() == {"first": 8, "growth": 2, "regions": 1}
    assert bool(settled(8, 1, k, rule)) and not bool(settled(512, 0, k, rule)) and least_settling(64, k, rule) == 1
    rng = np.random.default_rng(1)
    for p in (0.0, 0.001, 0.01, 0.2, 0.9):
        first = rng.geometric(p, size=40000) if p else np.full(40000, k + 1)  # index of the first success, 1-based
        ends = np.array(rule.rounds(k))
        drawn = np.where(first <= k, ends[np.searchsorted(ends, np.minimum(first, k))], k)
        assert expected_samples(p, k, rule) == pytest.approx(drawn.mean(), abs=4 * drawn.std() / 200 + 0.01), p
        floor = np.minimum(first, k).mean()
        assert floor_samples(p, k) == pytest.approx(floor, abs=4 * np.minimum(first, k).std() / 200 + 0.01), p
        assert floor_samples(p, k) <= expected_samples(p, k, rule) <= 2 * floor_samples(p, k) + rule.first
    assert floor_samples(0.0, k) == k and floor_samples(1.0, k) == 1.0
    assert floor_samples(np.array([[0.5]]), k).shape == (1, 1)


def test_the_regions_rule_keeps_every_region_on_a_lab_like_simulation():
    """Two models on tasks spanning always, rarely and never solved (the lab's mix): the regions rule's samples
    are each task's first n_t of the full run's (per-sample seeds), so whether each model solved a task within k,
    and with it P/S/E/O, is the full run's, task by task, in every replicate; its cost is the floor's or more."""
    from tether.metrics import classify_tasks
    from tether.metrics.adaptive import floor_samples, regions_rule

    rule, k = regions_rule(), 256
    rng = np.random.default_rng(3)
    p = {"base": np.array([0.95, 0.5, 0.02, 0.004, 0.0, 0.01, 0.0, 0.3]),
         "rl": np.array([0.99, 0.9, 0.0, 0.0, 0.0, 0.2, 0.002, 0.0])}
    for _ in range(50):
        full, cut = {}, {}
        for name, rates in p.items():
            draws = rng.random((rates.size, k)) < rates[:, None]
            n = np.zeros(rates.size, dtype=int)
            for end in rule.rounds(k):  # the rule's own decision after each round, as sample_adaptive takes it
                held = np.array([row[:m].sum() for row, m in zip(draws, n)])
                n[~settled(n, held, k, rule)] = end
            full[name] = (np.full(rates.size, k), draws.sum(axis=1))
            cut[name] = (n, np.array([row[:m].sum() for row, m in zip(draws, n)]))
            assert np.all(n[cut[name][1] == 0] == k)  # never solved: sampled to k
        regions = classify_tasks(*full["base"], *full["rl"])
        assert list(classify_tasks(*cut["base"], *cut["rl"])) == list(regions)
    assert expected_samples(p["base"], k, rule).sum() >= floor_samples(p["base"], k).sum()
