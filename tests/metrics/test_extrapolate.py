"""pass@k beyond the samples: the beta-binomial fit, checked where the truth is known (simulation)."""

import numpy as np
import pytest

from tether.metrics import extrapolate, fit_beta_binomial, pass_at_k
from tether.metrics.extrapolate import expected_regions, posterior_pass_at_k


def _simulated(seed: int, tasks: int = 500, n: int = 256):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 3.0, tasks)
    return p, np.full(tasks, n), rng.binomial(n, p)


def test_the_fit_recovers_the_beta_behind_the_counts():
    _, n, c = _simulated(0, tasks=3000)
    fit = fit_beta_binomial(n, c)
    assert fit.a == pytest.approx(0.3, rel=0.15) and fit.b == pytest.approx(3.0, rel=0.2)


def test_extrapolating_from_256_to_8192_samples_is_close_to_the_truth():
    p, n, c = _simulated(1)
    ks = np.array([512, 2048, 8192])
    truth = (1 - (1 - p[:, None]) ** ks).mean(axis=0)
    found = extrapolate(n, c, n, c, ks, reps=200)
    assert np.abs(found.means["base"] - truth).max() < 0.02
    within = pass_at_k(n, c, 256).mean()  # at the sampled k the posterior agrees with the unbiased estimate
    assert posterior_pass_at_k(n, c, found.fits["base"], [256]).mean() == pytest.approx(within, abs=0.02)


def test_expected_regions_add_up_and_a_sharpened_model_shows_shrinkage():
    p, n, c = _simulated(2)
    rng = np.random.default_rng(3)
    lost = rng.random(len(p)) < 0.2
    c_rl = rng.binomial(n, np.where(lost, 0.0, p))
    found = extrapolate(n, c, n, c_rl, [1024, 4096], reps=200)
    total = sum(found.regions[r] for r in "PSEO")
    assert np.allclose(total, len(p))
    assert np.all(found.regions["S"] > found.regions["E"])
    lo, hi = found.region_cis["S"]
    assert np.all(lo <= found.regions["S"]) and np.all(found.regions["S"] <= hi)
    direct = expected_regions(posterior_pass_at_k(n, c, found.fits["base"], [1024]),
                              posterior_pass_at_k(n, c_rl, found.fits["rl"], [1024]))
    assert direct["S"][0] == pytest.approx(found.regions["S"][0])
