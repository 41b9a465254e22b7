"""Every crossing of two curves, and the crossover as the k beyond which the base stays ahead."""

import pytest

from tether.metrics import crossings, crossover_k


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
