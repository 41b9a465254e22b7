"""Verifiers without a math engine: `exact` and `numeric` (SciBench style); `choice` is in tether.grading.choice."""

from __future__ import annotations

import math
import re
from typing import Any

from tether.grading import extract as extraction
from tether.grading.base import Grade, too_long, version_string
from tether.grading.extract import answer_tag, cascade_route, final_answer_line, last_bold, last_boxed, last_line
from tether.grading.numbers import parse_number

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
        return version_string(self.name, (), {"normalise": 1, "extraction": extraction.VERSION,
                                               "statements": extraction.STATEMENT_VERSION})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return self.extract_with_route(completion, reference)[0]

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        return cascade_route(completion, (answer_tag, last_boxed, final_answer_line, last_bold, last_line))

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        rejected = too_long(answer)
        if rejected:
            return rejected
        golds = reference["answer"] if isinstance(reference["answer"], list) else [reference["answer"]]
        correct = normalise_text(answer) in {normalise_text(str(g)) for g in golds}
        return Grade(correct, float(correct))


class NumericVerifier:
    """The answer's number (tether.grading.numbers: the whole final expression) against a numeric
    gold, within a relative tolerance (default 5 %, as SciBench; `rel_tol`); a unit after the number is ignored."""

    name = "numeric"
    in_process = False

    def __init__(self, rel_tol: float = 0.05):
        self.rel_tol = rel_tol

    def version(self) -> str:
        return version_string(self.name, (), {"rel_tol": self.rel_tol, "extraction": extraction.VERSION,
                                                 "statements": extraction.STATEMENT_VERSION, "numbers": 2})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return self.extract_with_route(completion, reference)[0]

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        return cascade_route(completion, (last_boxed, final_answer_line, last_bold, answer_tag))

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        rejected = too_long(answer)
        if rejected:
            return rejected
        value, gold = parse_number(answer), parse_number(str(reference["answer"]))
        if value is None:
            return Grade(False, 0.0, "ok", "the answer is not a single number")
        if gold is None:
            return Grade.error(f"gold answer {reference['answer']!r} is not a number")
        correct = math.isclose(value, gold, rel_tol=self.rel_tol, abs_tol=1e-12)
        return Grade(correct, float(correct))


from tether.grading.choice import ChoiceVerifier  # noqa: E402 - kept importable from here

__all__ = ["ChoiceVerifier", "ExactVerifier", "NumericVerifier", "normalise_text", "parse_number"]
