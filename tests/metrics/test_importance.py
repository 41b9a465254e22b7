"""The importance-sampling estimate of the base's success probability from RL samples."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.metrics.importance import MIN_ESS, importance_estimate


def world(seed=0, outcomes=40):
    """A discrete world: outcome i has base probability q_i and RL probability pi_i; a third is correct."""
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.full(outcomes, 0.3))
    pi = 0.5 * rng.dirichlet(np.full(outcomes, 0.3)) + 0.5 * q  # the RL model stays near the base
    correct = np.arange(outcomes) % 3 == 0
    return q, pi, correct


def draw(q, pi, correct, n, rng):
    y = rng.choice(len(pi), size=n, p=pi)
    return correct[y], np.log(q[y]), np.log(pi[y])


def test_same_model_gives_the_plain_success_rate():
    correct = np.array([True, False, True, True, False, False, False, True])
    logp = np.log(np.linspace(0.01, 0.2, 8))
    estimate = importance_estimate(correct, logp, logp)
    assert estimate.q_hat == pytest.approx(0.5) and estimate.ess == pytest.approx(4.0)
    assert estimate.n == 8 and estimate.n_correct == 4 and estimate.zero_weight == 0


def test_unbiased_and_the_interval_covers_the_truth():
    """Simulated: the mean estimate matches P_q(correct), and the bootstrap interval covers it in most runs."""
    q, pi, correct = world()
    truth = q[correct].sum()
    rng = np.random.default_rng(1)
    estimates = [importance_estimate(*draw(q, pi, correct, 400, rng), reps=400, seed=i) for i in range(200)]
    mean = np.mean([e.q_hat for e in estimates])
    spread = np.std([e.q_hat for e in estimates]) / math.sqrt(len(estimates))
    assert abs(mean - truth) < 4 * spread
    covered = np.mean([e.ci[0] <= truth <= e.ci[1] for e in estimates if e.trusted])
    assert covered >= 0.88
    assert np.mean([e.se for e in estimates]) == pytest.approx(np.std([e.q_hat for e in estimates]), rel=0.25)


def test_a_completion_the_base_cannot_sample_weighs_nothing_and_is_counted():
    correct = np.array([True, True, False])
    estimate = importance_estimate(correct, np.array([-np.inf, np.log(0.1), 0.0]), np.log([0.5, 0.2, 0.3]))
    assert estimate.zero_weight == 1 and estimate.q_hat == pytest.approx(0.5 / 3)
    nothing = importance_estimate(correct, np.array([-np.inf, -np.inf, 0.0]), np.log([0.5, 0.2, 0.3]))
    assert nothing.q_hat == 0 and nothing.ess == 0 and not nothing.trusted
    assert nothing.samples_needed()[0] == math.inf


def test_uneven_weights_are_not_trusted():
    correct = np.ones(50, dtype=bool)
    log_pi = np.full(50, np.log(0.02))
    log_q = np.full(50, np.log(1e-9))
    log_q[0] = np.log(0.5)  # one sample carries all the weight
    estimate = importance_estimate(correct, log_q, log_pi)
    assert estimate.ess < MIN_ESS and not estimate.trusted


def test_scores_that_do_not_match_the_sampling_distribution_are_refused():
    with pytest.raises(ValueError, match="probability 0 under the distribution it was sampled from"):
        importance_estimate(np.array([True]), np.array([-1.0]), np.array([-np.inf]))
    with pytest.raises(ValueError, match="probability 0 under the distribution it was sampled from"):
        importance_estimate(np.array([True]), np.array([-np.inf]), np.array([-1.0]), own=np.array([True]))


def test_both_models_samples_find_what_a_collapsed_model_abandoned():
    """The RL model has dropped half of the base's correct outcomes (probability 0): from its samples alone the
    estimate misses that mass (a lower bound); with the base's own samples in the mixture it is unbiased."""
    q, _, correct = world(seed=3)
    pi = q.copy()
    abandoned = correct & (np.arange(len(q)) % 2 == 0)
    pi[abandoned] = 0.0
    pi /= pi.sum()
    truth = q[correct].sum()
    rng = np.random.default_rng(5)
    alone, mixed = [], []
    for i in range(150):
        c_pi, lq_pi, lp_pi = draw(q, np.where(pi > 0, pi, 1e-300), correct, 200, rng)
        y = rng.choice(len(q), size=200, p=q)
        with np.errstate(divide="ignore"):
            c_q, lq_q, lp_q = correct[y], np.log(q[y]), np.log(pi[y])
        alone.append(importance_estimate(c_pi, lq_pi, lp_pi, reps=50).q_hat)
        both = importance_estimate(np.r_[c_q, c_pi], np.r_[lq_q, lq_pi], np.r_[lp_q, lp_pi],
                                   own=np.r_[np.ones(200, bool), np.zeros(200, bool)], reps=200, seed=i)
        mixed.append(both)
    assert np.mean(alone) < truth - q[abandoned].sum() / 2
    mean = np.mean([e.q_hat for e in mixed])
    assert abs(mean - truth) < 4 * np.std([e.q_hat for e in mixed]) / math.sqrt(len(mixed))
    assert np.mean([e.ci[0] <= truth <= e.ci[1] for e in mixed]) >= 0.88


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(-800, 0), st.floats(-800, 0)), min_size=1, max_size=30),
       st.floats(-300, 0))
def test_log_space_shift_scales_the_estimate(rows, shift):
    """Weights spanning hundreds of orders of magnitude are handled in log space: shifting every log q by c
    multiplies q̂, its SE and its CI by e^c and leaves the ESS as it is."""
    correct, log_q, log_pi = (np.array(column) for column in zip(*rows))
    a = importance_estimate(correct, log_q, log_pi, reps=50)
    b = importance_estimate(correct, log_q + shift, log_pi, reps=50)
    assert b.ess == pytest.approx(a.ess, rel=1e-9, abs=1e-12)
    if np.isfinite(a.log_q_hat):
        assert b.log_q_hat - a.log_q_hat == pytest.approx(shift, abs=1e-6)
