"""The tabular optimiser converges to the closed-form exponential tilt."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.errors import InputError
from tether.lab.tilt import exponential_tilt, objective, optimise_tabular, tilt_from_kl_coef, total_variation


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40), st.sampled_from([0.5, 2.0, 25.0, 100.0]), st.integers(0, 10_000))
def test_optimiser_matches_closed_form(size, tilt, seed):
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.full(size, 0.3))
    rewards = (rng.random(size) < 0.3).astype(float)
    result = optimise_tabular(q, rewards, tilt)
    closed = exponential_tilt(q, rewards, tilt)
    assert result.converged
    assert total_variation(result.pi, closed) < 1e-6
    assert objective(closed, q, rewards, tilt) >= objective(q, q, rewards, tilt) - 1e-12


def test_closed_form_is_the_maximum():
    rng = np.random.default_rng(1)
    q = rng.dirichlet(np.ones(12))
    rewards = rng.random(12)
    best = objective(exponential_tilt(q, rewards, 3.0), q, rewards, 3.0)
    for _ in range(200):
        other = rng.dirichlet(np.ones(12))
        assert objective(other, q, rewards, 3.0) <= best + 1e-12


def test_support_is_preserved_and_large_tilt_renormalises_q_over_correct():
    q = np.array([0.5, 0.3, 0.2, 0.0])
    rewards = np.array([0.0, 1.0, 1.0, 1.0])
    pi = exponential_tilt(q, rewards, 50.0)
    assert pi[3] == 0.0 and optimise_tabular(q, rewards, 50.0).pi[3] == 0.0
    assert pi[1:3] == pytest.approx([0.6, 0.4], abs=1e-12)


def test_kl_coef_naming():
    assert tilt_from_kl_coef(0.04) == pytest.approx(25.0)
    with pytest.raises(InputError):
        tilt_from_kl_coef(0.0)
    with pytest.raises(InputError, match="probability distribution"):
        exponential_tilt([0.5, 0.6], [0, 1], 1.0)
