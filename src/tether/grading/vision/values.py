"""Free-form answers of MathVista and MathVision: read by their answer type, compared by its rule.

MathVista's metadata gives each free-form question an ``answer_type`` and, for floats, a
``precision`` (decimal places), and some a ``unit``:

- ``integer``: the answer's number (``1,000``, ``1000 g``, ``5 years``, ``\\text{}`` units; the task's
  unit may follow without a space) equals the gold integer; a non-integer is not truncated (MathVista's
  script truncates ``2.9`` to ``2``);
- ``float``: the number rounded to ``precision`` places equals the gold so rounded (MathVista's rule);
- ``list``: the answer's numbers in order (``[2014, 2016]``, ``2014, 2016``, ``(2014, 2016)``) equal the
  gold list's, element by element;
- ``text``: the normalised text equals the gold's (case, spaces, quotes, ``\\text{}`` aside).

A task with no answer type (MathVision's free-form questions, an in-house file) compares as an
``expression`` through tether's math verifier (Math-Verify, its restatement check, its timeouts)
when the gold is mathematics, and as ``text`` when it is not (a gold ``C`` without options).
`read_value` says whether the rules can read an answer as its kind at all (None: they cannot).
"""

from __future__ import annotations

import math
import re
from typing import Any

from tether.grading.base import Grade
from tether.grading.extract import leading_math
from tether.grading.numbers import parse_number
from tether.grading.restated import question_of, restates_question
from tether.grading.simple import normalise_text

KINDS = ("choice", "integer", "float", "list", "text", "expression")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_LIST_ITEM = re.compile(_NUM)
_LIST = re.compile(r"^[\[(]?\s*" + _NUM + r"(?:\s*(?:,|;|\band\b)\s*" + _NUM + r")*\s*[\])]?$")
_WRAPPED_UNIT = re.compile(r"\\(?:text|mathrm|mbox)\s*\{\s*([^{}]*)\}")


def kind_of(reference: dict[str, Any]) -> str:
    """How a task's answer is read and compared (one of `KINDS`)."""
    if reference.get("choices"):
        return "choice"
    kind = reference.get("answer_type")
    if kind in ("integer", "float", "list", "text"):
        return kind
    return "expression" if leading_math(str(reference.get("answer", ""))) else "text"


def without_unit(text: str, unit: str | None) -> str:
    """`text` without the task's unit at its end (``5years``, ``5 \\text{years}``, ``1000 g``)."""
    text = _WRAPPED_UNIT.sub(r" \1", text).replace("\\$", "$").strip()
    if unit and text.casefold().endswith(unit.strip().casefold()) and len(text) > len(unit.strip()):
        text = text[: len(text) - len(unit.strip())].rstrip()
    return text


def number_of(text: str, unit: str | None = None) -> float | None:
    return parse_number(without_unit(text, unit))


def list_of(text: str) -> list[float] | None:
    """The numbers of a list answer in order, or None when `text` is not a list of numbers."""
    compact = text.strip().rstrip(".")
    if not _LIST.match(compact):
        return None
    try:
        return [float(item) for item in _LIST_ITEM.findall(compact)]
    except ValueError:
        return None


def read_value(text: str, reference: dict[str, Any]) -> str | None:
    """The answer as the task's kind reads it, or None when the rules cannot read it as that kind."""
    kind, text = kind_of(reference), text.strip()
    if not text:
        return None
    if kind in ("integer", "float"):
        return without_unit(text, reference.get("unit")) if number_of(text, reference.get("unit")) is not None \
            else None
    if kind == "list":
        return text if list_of(text) is not None else None
    if kind == "expression":
        return leading_math(without_unit(text, reference.get("unit")))
    return text


def compare_value(answer: str, reference: dict[str, Any], math_verifier) -> Grade:
    """The verdict on a free-form answer `read_value` read (see the module's doc)."""
    kind, gold = kind_of(reference), str(reference["answer"]).strip()
    question = question_of(reference)
    if kind in ("integer", "float", "list") and restates_question(answer, question):
        return Grade(False, 0.0, "ok", f"restates the question: {answer}")
    if kind == "integer":
        value, target = number_of(answer, reference.get("unit")), parse_number(gold)
        if target is None:
            return Grade.error(f"gold answer {gold!r} is not a number")
        correct = value is not None and math.isclose(value, target, rel_tol=0, abs_tol=1e-9)
        return _graded(correct, value is not None and value != int(value), "not an integer")
    if kind == "float":
        value, target = number_of(answer, reference.get("unit")), parse_number(gold)
        if target is None:
            return Grade.error(f"gold answer {gold!r} is not a number")
        places = _places(reference.get("precision"), gold)
        correct = value is not None and round(value, places) == round(target, places)
        return Grade(correct, float(correct), "ok", None if correct else f"not {target} to {places} places")
    if kind == "list":
        values, target = list_of(answer), list_of(gold)
        if target is None:
            return Grade.error(f"gold answer {gold!r} is not a list of numbers")
        correct = values is not None and len(values) == len(target) and all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(values, target))
        return Grade(correct, float(correct))
    if kind == "text":
        correct = normalise_text(answer) == normalise_text(gold)
        return Grade(correct, float(correct))
    return math_verifier.compare(answer, {**reference, "answer": gold})


def _graded(correct: bool, flagged: bool, why: str) -> Grade:
    return Grade(correct, float(correct), "ok", why if flagged and not correct else None)


def _places(precision, gold: str) -> int:
    """Decimal places to compare at: MathVista's ``precision``, else the gold's own."""
    if precision is not None and not (isinstance(precision, float) and math.isnan(precision)):
        return int(precision)
    return len(gold.partition(".")[2]) if "." in gold else 0
