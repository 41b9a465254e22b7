"""pass@k against exact rational arithmetic, its properties, and the crossover."""

from fractions import Fraction
from math import prod

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.errors import InputError
from tether.metrics import crossover_k, log_k_grid, pass_at_k


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """1 - C(n-c, k)/C(n, k) exactly; the ratio equals prod_{j<m} (n-M-j)/(n-j), m=min(c,k), M=max(c,k)."""
    if n - c < k:
        return Fraction(1)
    m, big = min(c, k), max(c, k)
    return 1 - Fraction(prod(n - big - j for j in range(m)), prod(n - j for j in range(m)))


def test_reference_is_the_binomial_ratio():
    from math import comb

    for n, c, k in [(10, 3, 4), (30, 7, 12), (50, 20, 25), (12, 12, 1)]:
        expected = 1 - Fraction(comb(n - c, k), comb(n, k))
        assert exact_pass_at_k(n, c, k) == expected


@pytest.mark.parametrize(
    "n,c,k",
    [
        (1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 7), (10, 3, 8), (100, 1, 50), (1000, 999, 1),
        (10**6, 1, 1), (10**6, 1, 10**6), (10**6, 5, 1000), (10**6, 100, 10**4), (10**6, 2, 500_000),
        (10**6, 10**6 - 1, 1), (10**6, 373, 2335), (10**6, 1219, 126), (10**6, 29, 307), (10**6, 6000, 6000),
        (10**6, 3, 999_998), (10**5, 40, 10**4), (16384, 1, 8192), (8192, 7, 8192), (4096, 2, 4096),
    ],
)
def test_matches_exact_fractions(n, c, k):
    assert abs(pass_at_k(n, c, k) - float(exact_pass_at_k(n, c, k))) <= 1e-12


def test_random_large_cases_match_fractions():
    rng = np.random.default_rng(7)
    n = np.full(40, 10**6)
    c = rng.integers(0, 4000, size=40)
    ks = rng.integers(1, 4000, size=5)
    got = pass_at_k(n, c, ks)
    for i in range(len(n)):
        for j, k in enumerate(ks):
            assert abs(got[i, j] - float(exact_pass_at_k(int(n[i]), int(c[i]), int(k)))) <= 1e-12


def test_small_probabilities_keep_relative_accuracy():
    # 1e-6 exactly: a naive 1 - ratio would lose digits here.
    assert pass_at_k(10**6, 1, 1) == pytest.approx(1e-6, rel=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_hypothesis_matches_fractions(case):
    n, c, k = case
    assert abs(pass_at_k(n, c, k) - float(exact_pass_at_k(n, c, k))) <= 1e-12


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_properties(case):
    n, c = case
    ks = np.unique(np.linspace(1, n, num=min(n, 25)).astype(int))
    values = pass_at_k(n, c, ks)
    assert np.all((values >= 0) & (values <= 1))
    assert np.all(np.diff(values) >= -1e-15), "pass@k must not decrease in k"
    assert pass_at_k(n, c, n) == (1.0 if c > 0 else 0.0)
    assert pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-15)


def test_shapes_vectorise_over_tasks_and_grid():
    n, c = np.array([10, 20, 30]), np.array([0, 5, 30])
    assert pass_at_k(n, c, np.array([1, 2, 4])).shape == (3, 3)
    assert pass_at_k(n, c, 4).shape == (3,)
    assert isinstance(pass_at_k(10, 3, 2), float)


def test_k_above_n_is_a_clear_error():
    with pytest.raises(InputError, match="k=11 exceeds n=10"):
        pass_at_k(10, 3, 11)
    with pytest.raises(InputError, match="k=8 exceeds n=5"):
        pass_at_k([10, 5], [1, 1], [1, 8])


@pytest.mark.parametrize("n,c,k", [(10, 11, 1), (10, -1, 1), (10, 3, 0), (10.5, 3, 1)])
def test_invalid_counts_are_errors(n, c, k):
    with pytest.raises(InputError):
        pass_at_k(n, c, k)


def test_log_k_grid():
    assert log_k_grid(8).tolist() == [1, 2, 4, 8]
    assert log_k_grid(100).tolist() == [1, 2, 4, 8, 16, 32, 64, 100]
    assert log_k_grid(100, extra=[10, 500]).tolist() == [1, 2, 4, 8, 10, 16, 32, 64, 100]


def test_crossover_interpolates_on_log_k():
    k = [1, 2, 4, 8]
    base = [0.1, 0.3, 0.5, 0.7]
    rl = [0.4, 0.5, 0.5 - 0.0, 0.6]
    # diff: -0.3, -0.2, 0.0, 0.1 -> exactly zero at k=4 after being below
    assert crossover_k(k, base, rl) == 4.0
    rl = [0.4, 0.5, 0.6, 0.6]
    # diff at 4 is -0.1, at 8 is +0.1: halfway on log2 between 4 and 8
    assert crossover_k(k, base, rl) == pytest.approx(2 ** 2.5)


def test_no_crossover_when_base_never_below_or_never_above():
    assert crossover_k([1, 2, 4], [0.5, 0.6, 0.7], [0.4, 0.5, 0.6]) is None
    assert crossover_k([1, 2, 4], [0.1, 0.2, 0.3], [0.4, 0.5, 0.6]) is None
