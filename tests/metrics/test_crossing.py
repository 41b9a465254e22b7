"""Every crossing of two curves, and the crossover as the k beyond which the base stays ahead."""

import numpy as np
import pytest

from tether.metrics import Crossover, crossings, crossover_estimate, crossover_k


def test_a_base_ahead_only_in_the_middle_has_crossings_but_no_crossover():
    k = [1, 2, 4, 8, 16]
    base = [0.1, 0.5, 0.6, 0.6, 0.6]
    rl = [0.4, 0.4, 0.5, 0.7, 0.8]  # -, +, +, -, -
    found = crossings(k, base, rl)
    assert [c.leader for c in found] == ["base", "rl"] and found[0].k < 2 < 4 < found[1].k < 8
    assert crossover_k(k, base, rl) is None


def test_the_crossover_is_the_last_crossing_when_the_base_leads_at_the_end():
    k = [1, 2, 4, 8, 16]
    base = [0.1, 0.5, 0.4, 0.8, 0.9]
    rl = [0.4, 0.4, 0.5, 0.7, 0.8]  # -, +, -, +, +
    found = crossings(k, base, rl)
    assert [c.leader for c in found] == ["base", "rl", "base"]
    assert crossover_k(k, base, rl) == found[-1].k and 4 < found[-1].k < 8


def test_exact_meetings_on_the_grid():
    assert crossover_k([1, 2, 4, 8], [0.1, 0.5, 0.5, 0.7], [0.4, 0.5, 0.5, 0.6]) == 2.0  # -, 0, 0, +
    assert crossings([1, 2, 4], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]) == []
    assert crossover_k([1, 2], [0.1, 0.3], [0.2, 0.1]) == pytest.approx(2 ** (1 / 3))


def test_a_tie_at_the_largest_k_is_not_a_lead():
    # -, +, 0: the base led in the middle, the curves meet at the end: no crossover
    assert crossover_k([1, 2, 4], [0.1, 0.6, 0.9], [0.2, 0.5, 0.9]) is None
    assert crossover_k([1, 2, 4], [0.1, 0.6, 0.95], [0.2, 0.5, 0.9]) == pytest.approx(2 ** (1 / 2))


K = np.array([1, 2, 4, 8])
BASE, RL = np.array([0.1, 0.3, 0.6, 0.8]), np.array([0.2, 0.35, 0.5, 0.6])  # cross between 2 and 4; base leads


def _estimate(band_hi_last: float, band_hi=None):
    hi = np.array(band_hi if band_hi is not None else [0.2, 0.1, 0.05, band_hi_last])
    reps = np.tile(BASE, (20, 1)), np.tile(RL, (20, 1))
    return crossover_estimate(K, *reps, BASE, RL, (hi - 0.3, hi), 0.95)


def test_a_crossover_is_detected_only_when_the_band_shows_the_base_ahead_at_the_largest_k():
    found = _estimate(-0.01)
    assert found.significant and found.k == found.curves_cross and 2 < found.k < 4 and found.reason == ""
    assert Crossover.from_dict(found.as_dict()) == found


def test_curves_that_cross_within_the_band_detect_nothing_and_say_why():
    found = _estimate(0.02, band_hi=[0.2, 0.1, -0.01, 0.02])  # ahead at k = 4 only: not at the largest k
    assert found.k is None and not found.significant and 2 < found.curves_cross < 4
    assert "the difference at k = 8 is within the simultaneous 95% band (-0.280..+0.020)" in found.reason
    nowhere = _estimate(0.02)
    assert "the curves cross at k ≈ 2.5, but the base is not ahead beyond chance at any k" in nowhere.reason


@pytest.mark.parametrize("base, reason", [
    ([0.3, 0.4, 0.7, 0.9], "the base leads at every k where the curves differ; they never cross"),
    ([0.1, 0.3, 0.6, 0.6], "the curves are tied at the largest k (k = 8): a tie is not a lead"),
    ([0.1, 0.3, 0.6, 0.5], "the RL model is ahead at the largest k (k = 8)"),
])
def test_no_crossover_of_the_curves_names_its_reason(base, reason):
    hi = np.array([-0.1, -0.1, -0.1, -0.1])  # the band alone would call the base ahead everywhere
    found = crossover_estimate(K, np.tile(base, (5, 1)), np.tile(RL, (5, 1)), np.array(base), RL, (hi - 0.1, hi), 0.95)
    assert found.k is None and not found.significant and reason in found.reason


def test_the_band_family_leaves_out_k_it_does_not_show():
    hi = np.array([0.2, np.nan, 0.05, -0.01])  # k = 2 is off the shown grid
    found = crossover_estimate(K, np.tile(BASE, (5, 1)), np.tile(RL, (5, 1)), BASE, RL, (hi - 0.3, hi), 0.95)
    assert found.significant
