"""Decoding settings hold to one set of rules: a finite temperature, top_p in (0, 1], max_tokens >= 1 (issue 31)."""

import math

import pytest

from tether.engines import Decoding
from tether.engines.base import decoding_problem
from tether.errors import InputError


@pytest.mark.parametrize("settings, message", [
    (dict(temperature=math.inf), "temperature must be a finite number >= 0, got inf"),
    (dict(temperature=math.nan), "temperature must be a finite number >= 0, got nan"),
    (dict(temperature=-0.5), "temperature must be a finite number >= 0, got -0.5"),
    (dict(top_p=math.nan), r"top_p must be in \(0, 1\], got nan"),
    (dict(top_p=0.0), r"top_p must be in \(0, 1\], got 0.0"),
    (dict(max_tokens=0), "max_tokens must be >= 1, got 0"),
])
def test_decoding_refuses_what_no_engine_can_sample(settings, message):
    with pytest.raises(InputError, match=f"^{message}$"):
        Decoding(**settings)


def test_the_rules_are_the_ones_decoding_holds_to():
    assert decoding_problem("temperature", 0.0) is None and decoding_problem("top_p", 1.0) is None
    assert decoding_problem("temperature", math.inf) == "must be a finite number >= 0, got inf"
    assert Decoding(temperature=0.0, top_p=1.0, max_tokens=1).as_dict()["temperature"] == 0.0
