"""Typos (``typos``): the passage with its typos corrected, right when it holds the ground truth verbatim.

Reading: the last ``<solution>…</solution>`` on one line; else, with the tags dropped, the text between the
last two `` --- `` of the first line holding two (the older prompts' delimiters); else the whole response. The
answer's lines are joined by single spaces (empty lines dropped). Score: 1 when the ground truth appears in it
exactly (case, spaces and punctuation as written), else 0: LiveBench gives no partial credit here.
"""

from __future__ import annotations

import re
from typing import Any

from tether.grading.livebench.scoring import TaskScorer, answered
from tether.grading.livebench.text import spans

_DASHES = re.compile("(?= --- )")


def between_dashes(text: str) -> str | None:
    """What ``re.search(r".* --- (.*?) --- .*", text)`` captures, found in one pass per line."""
    for line in text.split("\n"):
        found = [match.start() for match in _DASHES.finditer(line)]
        if len(found) < 2:
            continue
        opening = max((at for at in found if at + 5 <= found[-1]), default=None)
        if opening is None:
            continue
        closing = next(at for at in found if at >= opening + 5)
        return line[opening + 5 : closing]
    return None


def _read(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    tags = spans(text, "<solution>", "</solution>")
    if tags:
        answer, route = tags[-1], "solution_tag"
    else:
        answer = text.replace("<solution>", "").replace("</solution>", "")
        found = between_dashes(answer)
        answer, route = (found, "dashes") if found is not None else (answer, "whole")
    return answered(" ".join(line for line in answer.strip().split("\n") if line), route)


def _score(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    return float(reference["answer"] in answer), None


SCORERS = {"typos": TaskScorer(_read, _score)}
