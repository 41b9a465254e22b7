"""The detectability bound, both ways."""

import math

import pytest

from tether.errors import InputError
from tether.metrics import detectability_epsilon, format_probability, samples_needed
from tether.metrics.bound import paper_epsilon


def test_paper_value():
    eps = detectability_epsilon(8192, 0.05)
    assert eps == pytest.approx(1 - 0.05 ** (1 / 8192), rel=1e-12)
    assert format_probability(eps) == format_probability(paper_epsilon(8192, 0.05)) == "3.66e-4"
    assert paper_epsilon(8192, 0.05) == pytest.approx(math.log(20) / 8192)


def test_exact_epsilon_is_a_probability_at_every_k():
    assert detectability_epsilon(1, 0.05) == pytest.approx(0.95) and paper_epsilon(1, 0.05) > 1
    for k in (1, 2, 3, 100):
        eps = detectability_epsilon(k, 0.05)
        assert 0 < eps < 1 and (1 - eps) ** k == pytest.approx(0.05)


def test_inverse_round_trips():
    for k in (1, 10, 1024, 8192, 16384):
        assert samples_needed(detectability_epsilon(k, 0.05), 0.05) == k
    assert detectability_epsilon(samples_needed(1e-3, 0.01), 0.01) <= 1e-3


def test_missing_probability_is_at_most_delta():
    k = samples_needed(1e-3, 0.05)
    assert (1 - 1e-3) ** k <= 0.05


@pytest.mark.parametrize("call", [lambda: detectability_epsilon(0), lambda: detectability_epsilon(10, 1.5),
                                  lambda: samples_needed(0.0), lambda: samples_needed(0.1, 0.0),
                                  lambda: samples_needed(1.0), lambda: samples_needed(2.5)])
def test_bad_arguments(call):
    with pytest.raises(InputError):
        call()
