"""The detectability bound: how rare an outcome k samples can miss at confidence 1 - delta.

An outcome of probability p is missed by k i.i.d. samples with probability
(1-p)^k. So not seeing it in k samples means, at confidence 1 - delta, that
p < 1 - delta^(1/k) =: epsilon, exactly. The paper uses the bound
(1-p)^k <= exp(-pk), which gives ln(1/delta)/k (SPEC section 2): slightly
larger, and above 1 for small k. For k = 8192 and delta = 0.05 both are
3.66e-4. `detectability_epsilon` is the exact one (never above 1);
`paper_epsilon` the paper's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from tether.errors import InputError


@dataclass(frozen=True)
class Detectability:
    """The bound read one way (`detectability`): k samples see an outcome of probability above epsilon with
    probability at least 1 - delta."""

    given: str  # "k" or "epsilon": the one asked from
    k: int
    epsilon: float  # the given epsilon, or the exact one of the given k
    delta: float
    paper_epsilon: float  # ln(1/delta)/k of this k

    def to_dict(self) -> dict:
        return asdict(self)


def detectability(k: int | None = None, epsilon: float | None = None, delta: float = 0.05) -> Detectability:
    """From k, its epsilon; from epsilon, the samples needed (exactly one of them given)."""
    if (k is None) == (epsilon is None):
        raise InputError("give exactly one of k or epsilon")
    if k is not None:
        return Detectability("k", k, detectability_epsilon(k, delta), delta, paper_epsilon(k, delta))
    needed = samples_needed(epsilon, delta)
    return Detectability("epsilon", needed, epsilon, delta, paper_epsilon(needed, delta))


def detectability_epsilon(k: int, delta: float = 0.05) -> float:
    """Smallest probability that k samples detect with confidence 1 - delta: 1 - delta^(1/k)."""
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    _check_delta(delta)
    return -math.expm1(math.log(delta) / k)


def paper_epsilon(k: int, delta: float = 0.05) -> float:
    """The paper's looser form, ln(1/delta)/k (above 1 for k < ln(1/delta))."""
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    _check_delta(delta)
    return math.log(1 / delta) / k


def samples_needed(epsilon: float, delta: float = 0.05) -> int:
    """Fewest samples k whose detectability epsilon is at most `epsilon`: (1 - epsilon)^k <= delta."""
    if not (0 < epsilon < 1):
        raise InputError(f"epsilon must be a probability in (0, 1), got {epsilon}")
    _check_delta(delta)
    exact = math.log(delta) / math.log1p(-epsilon)
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
