"""Answers that only restate an expression from the question, which are not answers.

Models learn to game graders, and weak ones echo: "Solving this equation 4 + 3 = requires a proper
understanding …" parses to ``4 + 3``, which a symbolic checker finds equal to the gold 7 (issue 29).
An answer is a restatement when it is an unevaluated computation (an operator between two operands:
``4 + 3``, ``8+7+5+6``, ``2x + 1``) whose text, spaces and dollar signs aside, is part of the
question, or a computation of numbers alone whose numbers are the question's, in any order (``3 + 4``
for "4 + 3 =", ``6 \\times 7`` for "What is 6 times 7?"): nothing was computed. A number, a fraction
``a/b`` and a statement with ``=`` ("4 + 3 = 7") are never one.
"""

from __future__ import annotations

import re
from collections import Counter

_SPACES = re.compile(r"\s+|\$|\\left|\\right|\\[,!;: ]")
_OPERATORS = (("\\times", "*"), ("\\cdot", "*"), ("×", "*"), ("·", "*"), ("\\div", "/"), ("÷", "/"), ("−", "-"))
_COMPUTATION = re.compile(r"[\w)}]\s*[-+*/^]\s*[\w(\\{]")
_FRACTION = re.compile(r"[-+]?\d+/\d+")
_NUMBERS_ONLY = re.compile(r"[-+*/^(){}.\d]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def normalise(text: str) -> str:
    for old, new in _OPERATORS:
        text = text.replace(old, new)
    return _SPACES.sub("", text)


def restates_question(answer: str, question: str | None) -> bool:
    """Whether `answer` is only a computation copied from `question` (see the module's doc)."""
    if not question or "=" in answer:
        return False
    compact = normalise(answer)
    if not _COMPUTATION.search(compact) or _FRACTION.fullmatch(compact):
        return False
    asked = normalise(question)
    if compact in asked:
        return True
    if not _NUMBERS_ONLY.fullmatch(compact):
        return False
    used, given = Counter(_NUMBER.findall(compact)), Counter(_NUMBER.findall(asked))
    return len(used) > 0 and sum(used.values()) >= 2 and not used - given


def question_of(reference: dict) -> str | None:
    """The task's bare question: a file's or preset's ``question``, or a Reasoning Gym entry's."""
    entry = reference.get("entry")
    return reference.get("question") or (entry.get("question") if isinstance(entry, dict) else None)
