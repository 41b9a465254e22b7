"""The importance-sampling estimate of the base's success probability from RL samples."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.metrics.bound import detectability_epsilon
from tether.metrics.importance import MIN_DISTINCT, MIN_ESS, importance_estimate


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
    """Simulated: the mean importance-sampling estimate matches P_q(correct), the reported one (moved into [seen
    mass, 1]) is never farther from it, and the interval covers it in most runs."""
    q, pi, correct = world()
    truth = q[correct].sum()
    rng = np.random.default_rng(1)
    estimates = [importance_estimate(*draw(q, pi, correct, 400, rng), reps=400, seed=i) for i in range(200)]
    raw = np.exp([e.log_raw for e in estimates])
    mean, spread = np.mean(raw), np.std(raw) / math.sqrt(len(estimates))
    assert abs(mean - truth) < 4 * spread
    assert all(abs(e.q_hat - truth) <= abs(r - truth) + 1e-15 for e, r in zip(estimates, raw))
    assert any(e.q_hat != r for e, r in zip(estimates, raw))  # some fell below the mass their samples showed
    covered = np.mean([e.ci[0] <= truth <= e.ci[1] for e in estimates if e.trusted])
    assert covered >= 0.88
    assert np.mean([e.se for e in estimates]) == pytest.approx(np.std(raw), rel=0.25)


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
    raw = np.exp([e.log_raw for e in mixed])
    assert abs(np.mean(raw) - truth) < 4 * np.std(raw) / math.sqrt(len(mixed))
    assert np.mean([e.ci[0] <= truth <= e.ci[1] for e in mixed]) >= 0.88


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(-800, 0), st.floats(-800, 0)), min_size=1, max_size=30),
       st.floats(-300, 0))
def test_log_space_shift_scales_the_estimate(rows, shift):
    """Weights spanning hundreds of orders of magnitude are handled in log space: shifting every log q by c
    multiplies the importance-sampling estimate and its SE by e^c and leaves the ESS as it is."""
    correct, log_q, log_pi = (np.array(column) for column in zip(*rows))
    a = importance_estimate(correct, log_q, log_pi, reps=50)
    b = importance_estimate(correct, log_q + shift, log_pi, reps=50)
    assert b.ess == pytest.approx(a.ess, rel=1e-9, abs=1e-12)
    if np.isfinite(a.log_raw):
        assert b.log_raw - a.log_raw == pytest.approx(shift, abs=1e-6)
    for e in (a, b):  # a probability, whatever the weights: estimate and interval within [0, 1], in that order
        assert 0 <= e.ci[0] <= e.q_hat <= e.ci[1] <= 1 and e.samples_needed()[1][0] >= 1



def collapsed(q_star=4.86e-3, pi_star=0.999, n=64):
    """The lab's E task: the base never solved it in its n samples; the RL model's n samples are one correct
    completion, n times (sample j of both drawn from seed j)."""
    correct = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    log_q = np.r_[np.full(n, np.nan), np.full(n, np.log(q_star))]
    log_pi = np.r_[np.full(n, np.nan), np.full(n, np.log(pi_star))]
    own = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    return correct, log_q, log_pi, own, np.r_[np.arange(n), np.arange(n)]


def test_one_completion_repeated_gives_no_zero_width_interval():
    """Every bootstrap replicate of 64 copies of one completion is the same: that interval has no width. The
    reported one runs from the mass seen (certain) to the base's own bound on its whole chance: 0 of 64 -> the
    detection bound ε(64); not trusted whatever the ESS, and it says how few completions there were."""
    correct, log_q, log_pi, own, pairs = collapsed()
    e = importance_estimate(correct, log_q, log_pi, own=own, pairs=pairs)
    assert e.bootstrap_ci[1] - e.bootstrap_ci[0] == pytest.approx(0, abs=1e-12)  # the failure being fixed
    assert e.ess == pytest.approx(64) and e.distinct == 1 and e.few_distinct and not e.trusted
    assert e.seen_mass == pytest.approx(4.86e-3) and e.ci[0] == pytest.approx(4.86e-3)
    assert e.ci[1] == pytest.approx(detectability_epsilon(64)) and e.own_bound == pytest.approx(e.ci[1])
    assert e.unseen_bound == pytest.approx(detectability_epsilon(64) - 4.86e-3)
    needed, (low, high) = e.samples_needed()
    assert needed == pytest.approx(1 / e.q_hat) and low == pytest.approx(1 / e.ci[1])
    assert high == pytest.approx(206, abs=1)
    same = importance_estimate(correct, log_q, log_pi, own=own, pairs=pairs, completions=np.array(["y"] * 128))
    assert same.distinct == 1 and same.ci == e.ci  # by text or by scores: one completion


def test_a_p_task_estimate_past_one_is_clipped():
    """The base's 64 samples all one correct completion of probability 1, the RL model's 60 of 64 the same (π =
    0.9): the balance-heuristic sum is 124/121.6 = 1.02; a probability is reported at most 1, and so is its
    interval; the solve-once count is then 1."""
    n = 64
    correct = np.r_[np.ones(n, bool), np.arange(n) < 60]
    log_q, log_pi = np.zeros(2 * n), np.full(2 * n, np.log(0.9))
    e = importance_estimate(correct, log_q, log_pi, own=np.r_[np.ones(n, bool), np.zeros(n, bool)],
                            pairs=np.r_[np.arange(n), np.arange(n)])
    assert np.exp(e.log_raw) == pytest.approx(124 / 121.6) and e.bootstrap_ci[1] > 1
    assert e.q_hat == 1.0 and e.ci[1] == 1.0 and e.ci[0] <= 1.0 and e.samples_needed() == (1.0, (1.0, 1.0 / e.ci[0]))


def test_the_widened_interval_covers_where_a_collapsed_proposal_hides_the_base():
    """Simulated like the lab's E tasks: the RL model puts 0.999 on one correct completion; the base gives it
    4.86e-3 and spreads 6e-3 more over 200 correct completions the RL model almost never writes. The bootstrap
    interval misses the truth nearly always; the reported one covers it in at least 95 % of runs."""
    rng = np.random.default_rng(7)
    others = 200
    q = np.r_[4.86e-3, np.full(others, 6e-3 / others), 0.0]
    pi = np.r_[0.999, np.full(others, 5e-4 / others), 0.0]
    q[-1], pi[-1] = 1 - q[:-1].sum(), 1 - pi[:-1].sum()  # the last outcome: every wrong completion
    is_correct = np.arange(q.size) < q.size - 1
    truth, n, covered, boot = q[is_correct].sum(), 64, [], []
    for i in range(300):
        y = np.r_[rng.choice(q.size, n, p=q), rng.choice(q.size, n, p=pi)]
        e = importance_estimate(is_correct[y], np.log(q[y]), np.log(pi[y]), own=np.arange(2 * n) < n,
                                pairs=np.r_[np.arange(n), np.arange(n)], completions=y, reps=200, seed=i)
        covered.append(e.ci[0] <= truth <= e.ci[1])
        boot.append(e.bootstrap_ci[0] <= truth <= e.bootstrap_ci[1])
        assert e.ci[0] <= truth  # the mass seen is a lower bound, always
        assert e.few_distinct == (e.distinct < MIN_DISTINCT) and (not e.few_distinct or not e.trusted)
    assert np.mean(covered) >= 0.95 and np.mean(boot) < 0.5
