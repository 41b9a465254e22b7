"""Beyond the samples: the one-model beta-binomial posterior (for planning) and the joint extrapolation of
the regions, checked where the truth is known (simulation) and on properties every answer must have."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.metrics import Extrapolation, extrapolate, fit_beta_binomial, pass_at_k
from tether.metrics.extrapolate import UNSEEN_LIMIT, expected_regions, posterior_pass_at_k


def _simulated(seed: int, tasks: int = 500, n: int = 256):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 3.0, tasks)
    return p, np.full(tasks, n), rng.binomial(n, p)


def _regions(p_base, p_rl, k):
    g_b, g_r = 1 - (1 - p_base) ** k, 1 - (1 - p_rl) ** k
    return {"S": float(np.sum(g_b * (1 - g_r))), "E": float(np.sum((1 - g_b) * g_r))}


def test_the_beta_fit_recovers_the_beta_behind_the_counts():
    _, n, c = _simulated(0, tasks=3000)
    fit = fit_beta_binomial(n, c)
    assert fit.a == pytest.approx(0.3, rel=0.15) and fit.b == pytest.approx(3.0, rel=0.2)
    within = pass_at_k(n, c, 256).mean()  # at the sampled k the posterior agrees with the unbiased estimate
    assert posterior_pass_at_k(n, c, fit, [256]).mean() == pytest.approx(within, abs=0.02)


def test_independent_posteriors_overstate_the_regions_of_identical_models():
    """Why the extrapolation is joint: two separate posteriors multiplied as if independent give identical
    models far more S at 16n than they have; the joint estimate does not."""
    rng = np.random.default_rng(4)
    p = rng.beta(0.3, 3.0, 400)
    n = np.full(400, 64)
    c_b, c_r = rng.binomial(n, p), rng.binomial(n, p)
    truth = _regions(p, p, 128)["S"]
    apart = expected_regions(posterior_pass_at_k(n, c_b, fit_beta_binomial(n, c_b), [128]),
                             posterior_pass_at_k(n, c_r, fit_beta_binomial(n, c_r), [128]))["S"][0]
    joint = extrapolate(n, c_b, n, c_r, [128], reps=100)
    assert apart > 1.5 * truth
    assert joint.regions["S"][0] == pytest.approx(truth, rel=0.3)


def test_identical_models_at_twice_the_budget_are_estimated_and_covered():
    """Eight fixed simulations of two identical models (300 tasks, 64 samples each): at 2n the estimate is
    near the truth on average and its interval covers it in nearly every run; at 16n nothing is shown."""
    errors, covered = [], 0
    for seed in range(8):
        rng = np.random.default_rng([7, seed])
        p = rng.beta(0.3, 3.0, 300)
        n = np.full(300, 64)
        found = extrapolate(n, rng.binomial(n, p), n, rng.binomial(n, p), [128, 1024], reps=100, seed=seed)
        assert found.refused_k.tolist()[-1] == 1024 and "neither model solved" in found.refusal
        if found.k_grid.size:
            truth = _regions(p, p, 128)
            for region in "SE":
                lo, hi = found.region_cis[region]
                errors.append(found.regions[region][0] / truth[region] - 1)
                covered += lo[0] <= truth[region] <= hi[0]
    assert len(errors) >= 8  # most runs show 2n
    assert abs(np.mean(errors)) < 0.25
    assert covered >= 0.85 * len(errors)


def test_a_sharpened_pair_shows_its_shrinkage_at_twice_the_budget():
    rng = np.random.default_rng(2)
    p = rng.beta(1.0, 2.0, 400)  # few rare tasks: the answer rests on tasks the counts see
    p_rl = np.where(rng.random(400) < 0.2, 0.0, p)
    n = np.full(400, 64)
    found = extrapolate(n, rng.binomial(n, p), n, rng.binomial(n, p_rl), [128, 256], reps=100)
    assert found.k_grid.tolist() == [128] and found.refused_k.tolist() == [256]  # past the first doubling: never
    assert found.refusal.startswith("no numbers at k = 256: more than 2 times the 64 samples per task")
    truth = _regions(p, p_rl, 128)
    lo, hi = found.region_cis["S"]
    assert lo[-1] <= truth["S"] <= hi[-1]
    assert np.all(found.regions["S"] > found.region_cis["E"][1])


def test_the_interval_carries_the_bias_estimate_and_the_task_chances_add_up_to_the_counts(monkeypatch):
    """Each bound moves out by twice the bootstrap's bias estimate (the fit's expected count minus the corrected
    one), so the interval is wider than the basic bootstrap's by four times it; the per-task chances the plan
    uses add up to the corrected counts shown."""
    import sys

    from tether.metrics.joint_prior import chance_solved, fit_prior, patterns, region_totals

    rng = np.random.default_rng(11)
    p = rng.beta(0.3, 3.0, 300)
    n = np.full(300, 64)
    c_b, c_r = rng.binomial(n, p), rng.binomial(n, p)
    widened = extrapolate(n, c_b, n, c_r, [64, 128], reps=100)
    monkeypatch.setattr(sys.modules["tether.metrics.extrapolate"], "BIAS_SPREAD", 0.0)
    basic = extrapolate(n, c_b, n, c_r, [64, 128], reps=100)
    found = patterns(n, c_b, n, c_r)
    fitted = region_totals(fit_prior(found).posterior, chance_solved(found.grid, widened.k_grid))
    for region in "SE":
        bias = fitted[region][0] - widened.regions[region]
        assert np.all(np.abs(bias) > 0.05)  # a correction to carry
        assert np.allclose(basic.regions[region], widened.regions[region])
        (lo, hi), (lo0, hi0) = widened.region_cis[region], basic.region_cis[region]
        assert np.allclose(lo0 - lo, 2 * np.abs(bias)) and np.allclose(hi - hi0, 2 * np.abs(bias))
        chances = widened.task_chances[region]
        assert chances.shape == (300, 2) and np.all((chances >= 0) & (chances <= 1))
        assert np.allclose(chances.sum(axis=0), widened.regions[region])
    assert widened.task_chances["tied"].shape == (300, 2)


def test_sparse_counts_are_refused_with_a_reason():
    rng = np.random.default_rng(5)
    p = 10 ** rng.uniform(-5, -2.5, 500)
    n = np.full(500, 64)
    found = extrapolate(n, rng.binomial(n, p), n, rng.binomial(n, p), [128, 256, 1024])
    assert found.refused and found.refused_k.tolist() == [128, 256, 1024]
    assert "tasks" in found.refusal and "None" not in found.refusal
    assert Extrapolation.from_dict(found.as_dict()).refusal == found.refusal


@pytest.mark.parametrize("case", ["all zeros", "all ones", "one task", "no tasks"])
def test_degenerate_counts_are_refused_not_crashed(case):
    tasks = {"all zeros": 200, "all ones": 200, "one task": 1, "no tasks": 0}[case]
    n = np.full(tasks, 32)
    c = n if case == "all ones" else np.zeros(tasks, dtype=int)
    found = extrapolate(n, c, n, c, [64, 128], reps=20)
    assert found.refused and found.refusal and found.k_grid.size == 0


def test_the_unseen_share_follows_the_truth_and_refuses_far_budgets():
    """The fitted share of S + E from tasks neither model solved grows with k as the true share does
    (about one half at 2n, nine tenths at 16n for these identical models), within 0.15."""
    rng = np.random.default_rng(6)
    p = rng.beta(0.3, 3.0, 500)
    n = np.full(500, 64)
    c_b, c_r = rng.binomial(n, p), rng.binomial(n, p)
    found = extrapolate(n, c_b, n, c_r, [128, 256, 1024], reps=50)
    unseen = (c_b == 0) & (c_r == 0)
    for k, share in found.unseen_share.items():
        g = 1 - (1 - p) ** k
        true_share = np.sum(2 * g * (1 - g) * unseen) / np.sum(2 * g * (1 - g))
        assert share == pytest.approx(true_share, abs=0.15)
    assert found.unseen_share[1024] > UNSEEN_LIMIT and 1024 in found.refused_k


def test_the_sampled_budget_check_matches_the_observed_regions():
    _, n, c = _simulated(8, tasks=400, n=64)
    rng = np.random.default_rng(9)
    c_r = rng.binomial(n, np.clip(c / n, 0, 1))
    found = extrapolate(n, c, n, c_r, [128], reps=50)
    for region in "PSEO":
        assert abs(found.check.observed[region] - found.check.expected[region]) <= 3 * found.check.sd[region]


@st.composite
def count_sets(draw):
    """30 to 80 tasks, each with its own n per model (unequal between tasks and models) and counts."""
    tasks = draw(st.integers(30, 80))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    p = rng.beta(draw(st.floats(0.2, 2.0)), draw(st.floats(0.5, 4.0)), tasks)
    p_rl = np.where(rng.random(tasks) < draw(st.floats(0, 0.5)), rng.random(tasks), p)
    n_b, n_r = rng.integers(4, 48, tasks), rng.integers(4, 48, tasks)
    return n_b, rng.binomial(n_b, p), n_r, rng.binomial(n_r, p_rl)


@settings(max_examples=25, deadline=None)
@given(count_sets())
def test_every_answer_adds_up_is_monotone_and_has_a_real_interval(counts):
    n_b, c_b, n_r, c_r = counts
    ks = [16, 32, 64, 128]
    found = extrapolate(n_b, c_b, n_r, c_r, ks, reps=30)
    assert sorted([*found.k_grid.tolist(), *found.refused_k.tolist()]) == ks
    assert (found.refusal is None) == (found.refused_k.size == 0)
    if found.refused:
        return
    total = sum(found.regions[r] for r in "PSEO")
    assert np.allclose(total, len(n_b))
    assert np.all(np.diff(found.regions["P"]) >= -1e-9) and np.all(np.diff(found.regions["O"]) <= 1e-9)
    for side in ("base", "rl"):
        assert np.all(np.diff(found.means[side]) >= -1e-12)
        assert np.all((0 <= found.means[side]) & (found.means[side] <= 1))
    for name, (lo, hi), value in [*((r, found.region_cis[r], found.regions[r]) for r in "PSEO"),
                                  *((s, found.cis[s], found.means[s]) for s in ("base", "rl"))]:
        assert np.all(lo <= value + 1e-9) and np.all(value <= hi + 1e-9), name
    for region in "SE":
        lo, hi = found.region_cis[region]
        assert np.all(hi - lo > 0)
    again = Extrapolation.from_dict(found.as_dict())
    assert np.allclose(again.regions["S"], found.regions["S"]) and again.k_grid.tolist() == found.k_grid.tolist()
