"""Verifiers without a math engine: `exact` and `numeric` (SciBench style); `choice` is in tether.grading.choice."""

from __future__ import annotations

import math
import re
from typing import Any

from tether.grading import extract as extraction
from tether.grading.base import Grade, too_long, version_string
from tether.grading.extract import answer_tag, cascade, final_answer_line, last_bold, last_boxed, last_line

_TEXT_WRAP = re.compile(r"\\text(?:bf|rm)?\{([^{}]*)\}")
_PUNCT = re.compile(r"^[\s\"'`*$]+|[\s\"'`*$.!]+$")


def normalise_text(text: str) -> str:
    text = _TEXT_WRAP.sub(r"\1", text)
    text = _PUNCT.sub("", text)
    return re.sub(r"\s+", " ", text).casefold()


class ExactVerifier:
    """Normalised string match against any gold answer (case, spacing, quotes, \\text{} and end punctuation ignored)."""

    name = "exact"
    in_process = False

    def version(self) -> str:
        return version_string(self.name, (), {"normalise": 1, "extraction": extraction.VERSION})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return cascade(completion, (answer_tag, last_boxed, final_answer_line, last_bold, last_line))

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        rejected = too_long(answer)
        if rejected:
            return rejected
        golds = reference["answer"] if isinstance(reference["answer"], list) else [reference["answer"]]
        correct = normalise_text(answer) in {normalise_text(str(g)) for g in golds}
        return Grade(correct, float(correct))


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:\s*(?:[eE]|\\times\s*10\^|\*\s*10\^|×\s*10\^)\s*\{?\s*[-+]?\d+\s*\}?)?")


def parse_number(text: str) -> float | None:
    """The first number in `text`, with scientific notation; units and words after it ignored."""
    cleaned = text.replace(",", "").replace("{,}", "").replace("\\!", "").replace("−", "-")
    match = _NUMBER.search(cleaned)
    if not match:
        return None
    token = re.sub(r"\s+", "", match.group(0))
    token = re.sub(r"(?:\\times|\*|×)10\^\{?([-+]?\d+)\}?", r"e\1", token)
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class NumericVerifier:
    """Relative tolerance against a numeric gold (SciBench: 5 %); units stripped."""

    name = "numeric"
    in_process = False

    def __init__(self, rel_tol: float = 0.05):
        self.rel_tol = rel_tol

    def version(self) -> str:
        return version_string(self.name, (), {"rel_tol": self.rel_tol, "extraction": extraction.VERSION})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return cascade(completion, (last_boxed, final_answer_line, last_bold, answer_tag))

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        rejected = too_long(answer)
        if rejected:
            return rejected
        value, gold = parse_number(answer), parse_number(str(reference["answer"]))
        if value is None:
            return Grade(False, 0.0, "ok", "no number in the answer")
        if gold is None:
            return Grade.error(f"gold answer {reference['answer']!r} is not a number")
        correct = math.isclose(value, gold, rel_tol=self.rel_tol, abs_tol=1e-12)
        return Grade(correct, float(correct))


from tether.grading.choice import ChoiceVerifier  # noqa: E402 - kept importable from here

__all__ = ["ChoiceVerifier", "ExactVerifier", "NumericVerifier", "normalise_text", "parse_number"]
