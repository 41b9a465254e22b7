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
