"""The verifier registry: a plain dict, filled here and only here."""

from __future__ import annotations

from tether.errors import InputError
from tether.grading.choice import ChoiceVerifier
from tether.grading.code import CodeVerifier
from tether.grading.judge import JudgeVerifier
from tether.grading.livebench import LiveBenchVerifier
from tether.grading.math import MathVerifier
from tether.grading.reasoning_gym import ReasoningGymVerifier
from tether.grading.simple import ExactVerifier, NumericVerifier
from tether.grading.sums import SumVerifier
from tether.grading.vision import VisionMathVerifier

VERIFIERS: dict[str, type] = {
    "math": MathVerifier,
    "reasoning_gym": ReasoningGymVerifier,
    "exact": ExactVerifier,
    "choice": ChoiceVerifier,
    "numeric": NumericVerifier,
    "judge": JudgeVerifier,
    "lab_sum": SumVerifier,
    "code": CodeVerifier,
    "livebench": LiveBenchVerifier,
    "vision_math": VisionMathVerifier,
}


def make_verifier(name: str, **options):
    """A verifier by name, with its options (e.g. the judge's model and base_url)."""
    if name not in VERIFIERS:
        raise InputError(f"unknown verifier {name!r}; known: {', '.join(VERIFIERS)}")
    try:
        return VERIFIERS[name](**options)
    except TypeError as exc:
        raise InputError(f"verifier {name!r}: {exc}") from None
