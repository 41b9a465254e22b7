"""The detectability bound: how rare an outcome k samples can miss at confidence 1 - delta.

An outcome of probability p is missed by k i.i.d. samples with probability
(1-p)^k <= exp(-pk). So not seeing it in k samples means, at confidence
1 - delta, that p < ln(1/delta)/k =: epsilon (SPEC section 2). For k = 8192 and
delta = 0.05, epsilon = 3.66e-4.
"""

from __future__ import annotations

import math

from tether.errors import InputError


def detectability_epsilon(k: int, delta: float = 0.05) -> float:
    """Smallest probability that k samples detect with confidence 1 - delta."""
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    _check_delta(delta)
    return math.log(1 / delta) / k


def samples_needed(epsilon: float, delta: float = 0.05) -> int:
    """Fewest samples k whose detectability epsilon is at most `epsilon`."""
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise InputError(f"epsilon must be a positive number, got {epsilon}")
    _check_delta(delta)
    exact = math.log(1 / delta) / epsilon
    return max(1, math.ceil(exact * (1 - 1e-12)))  # absorb rounding in epsilon's own computation


def _check_delta(delta: float) -> None:
    if not 0 < delta < 1:
        raise InputError(f"delta must be in (0, 1), got {delta}")


def format_probability(value: float) -> str:
    """Three significant digits in short scientific form: 0.000366 -> '3.66e-4'."""
    if value == 0 or not math.isfinite(value):
        return str(value)
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"
