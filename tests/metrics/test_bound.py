"""The detectability bound, both ways."""

import math

import pytest

from tether.errors import InputError
from tether.metrics import detectability_epsilon, format_probability, samples_needed


def test_paper_value():
    eps = detectability_epsilon(8192, 0.05)
    assert eps == pytest.approx(math.log(20) / 8192)
    assert format_probability(eps) == "3.66e-4"


def test_inverse_round_trips():
    for k in (1, 10, 1024, 8192, 16384):
        assert samples_needed(detectability_epsilon(k, 0.05), 0.05) == k
    assert detectability_epsilon(samples_needed(1e-3, 0.01), 0.01) <= 1e-3


def test_missing_probability_is_at_most_delta():
    k = samples_needed(1e-3, 0.05)
    assert (1 - 1e-3) ** k <= 0.05


@pytest.mark.parametrize("call", [lambda: detectability_epsilon(0), lambda: detectability_epsilon(10, 1.5),
                                  lambda: samples_needed(0.0), lambda: samples_needed(0.1, 0.0)])
def test_bad_arguments(call):
    with pytest.raises(InputError):
        call()
