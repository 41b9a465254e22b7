"""Reasoning tasks answered in ``<solution></solution>`` alone: theory of mind, logic with navigation, sudoku.

Tags here are read as LiveBench reads them for these tasks: across lines and in any case.

- ``theory_of_mind``: the last tagged answer (else the text between two ``</solution>``; else the response's
  last line without a leading "Answer:" / "The answer is"), lower-cased, without ``. , ! ? ; :``. Right (1)
  when it is the ground truth or contains it ("the blue_container" for blue_container).
- ``logic_with_navigation``: the first ``(x, y)`` (else ``x, y``) of integers in the last tagged answer; right
  (1) when it is the ground truth's point. A ground truth stored as text ("[3, -2]") is read as its two
  integers (LiveBench's own compares a list).
- ``sudoku``: the *first* tagged answer, every space removed; right (1) when it is the ground truth so written.
"""

from __future__ import annotations

import re
from typing import Any

from tether.grading.livebench.scoring import TaskScorer, answered
from tether.grading.livebench.text import spans

_PUNCTUATION = re.compile(r"[.,!?;:]")
_PREFIXES = ("Answer:", "answer:", "The answer is", "the answer is")
_POINT = re.compile(r"\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)")
_PAIR = re.compile(r"(-?\d+)\s*,\s*(-?\d+)")
_INTEGER = re.compile(r"-?\d+")
_SPACE = re.compile(r"\s+")


def _tags(text: str) -> list[str]:
    return spans(text, "<solution>", "</solution>", across_lines=True, ignore_case=True)


def _read_mind(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    tags = _tags(text) or spans(text, "</solution>", "</solution>", across_lines=True, ignore_case=True)
    if tags:
        answer, route = tags[-1], "solution_tag"
    else:
        answer, route = text.strip().split("\n")[-1].strip(), "last_line"
        for prefix in _PREFIXES:
            if answer.startswith(prefix):
                answer = answer[len(prefix):].strip()
    return answered(_PUNCTUATION.sub("", answer.strip().lower()).strip(), route)


def _score_mind(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    gold = reference["answer"].strip().lower()
    return float(answer == gold or gold in answer), None


def gold_point(reference: dict[str, Any]) -> tuple[int, int] | None:
    """The ground truth's point: a list of two integers, or text holding exactly two."""
    gold = reference.get("answer")
    values = gold if isinstance(gold, (list, tuple)) else _INTEGER.findall(str(gold or ""))
    try:
        point = tuple(int(value) for value in values)
    except (TypeError, ValueError):
        return None
    return point if len(point) == 2 else None


def _read_navigation(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    tags = _tags(text)
    return answered(tags[-1].strip(), "solution_tag") if tags else (None, None)


def _score_navigation(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    found = _POINT.search(answer) or _PAIR.search(answer)
    if found is None:
        return 0.0, "no point (x, y) in the answer"
    return float((int(found.group(1)), int(found.group(2))) == gold_point(reference)), None


def _navigation_problem(reference: dict[str, Any]) -> str | None:
    return None if gold_point(reference) else f"the ground truth {reference.get('answer')!r} is not a point (x, y)"


def _read_sudoku(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    tags = _tags(text)
    return answered(_SPACE.sub("", tags[0]), "solution_tag") if tags else (None, None)


def _score_sudoku(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    return float(answer == _SPACE.sub("", reference["answer"])), None


SCORERS = {
    "theory_of_mind": TaskScorer(_read_mind, _score_mind),
    "logic_with_navigation": TaskScorer(_read_navigation, _score_navigation, _navigation_problem),
    "sudoku": TaskScorer(_read_sudoku, _score_sudoku),
}
