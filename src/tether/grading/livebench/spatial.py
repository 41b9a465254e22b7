"""Spatial reasoning (``spatial``) and house traversal (``house_traversal``): answers in bold, read as LiveBench does.

Spatial: the whole response equal to the ground truth is right; else any of the last three bold phrases
(``**…**`` without a ``*`` inside; spaces trimmed, lower-cased) is right when it is the ground truth, the
number it spells (zero to twenty: ``**three**`` for 3), or, for the ground truths tetrahedra, tetrahedron,
triangle and square, a phrase holding the shape and shorter than twice its name plus five (``**two
triangles**``, not ``**circle, square, triangle**``); else the last ``\\boxed{}``, without ``\\textbf{``,
``\\mathbf{``, ``\\text{`` and ``}``, equal to the ground truth as written. The answer kept is
``{"bold": [the last three], "box": …}`` as JSON. Score 1 or 0.

House traversal (retired by LiveBench in June 2024): on the lower-cased response, bold is a run of two or more
``*`` and the same run closing it. Right when each of the ground truth's names (split on spaces) is its own
bold phrase, exactly (LiveBench tests a name's membership in its match tuple: ``**the kitchen**`` is not
"kitchen"), the last name the last phrase and so on back, or when all of them appear in order in the last
bold phrase. The answer kept is the last phrases, as many as the names, as JSON. Score 1 or 0.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tether.grading.livebench.scoring import TaskScorer
from tether.grading.livebench.text import Unreadable, boxed

NUMBER_WORDS = {word: str(number) for number, word in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
SHAPES = ("tetrahedra", "tetrahedron", "triangle", "square")
_BOLD = re.compile(r"\*\*([^*]++)\*\*")
_STARS = re.compile(r"\*+")


def _read_spatial(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    if text == reference["answer"]:
        return text, "whole"
    bold = [phrase.strip().lower() for phrase in _BOLD.findall(text)[-3:]]
    try:
        box = boxed(text.replace("\\\\fbox{", "\\\\boxed{"))
    except Unreadable:  # LiveBench fails there only when no bold phrase was right: a score of 0 either way
        box = None
    if box is not None:
        for command in ("\\textbf{", "\\mathbf{", "\\text{", "}"):
            box = box.replace(command, "")
    if not bold and box is None:
        return None, None
    return json.dumps({"bold": bold, "box": box}, ensure_ascii=False), "bold" if bold else "box"


def _score_spatial(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    gold = reference["answer"]
    if answer == gold:
        return 1.0, None
    read = json.loads(answer)
    expected = gold.strip().lower()
    for phrase in read["bold"]:
        if phrase == expected or NUMBER_WORDS.get(phrase) == expected:
            return 1.0, None
        if expected in SHAPES and expected in phrase and len(phrase) < 2 * len(expected) + 5:
            return 1.0, None
    if read["box"] is not None and read["box"] == gold:
        return 1.0, None
    return 0.0, None


def run_bold(text: str) -> list[str]:
    """What ``re.findall(r"(\\*{2,})(.*?)\\1", text)`` finds (the phrases), in one pass per line over its runs
    of ``*``: from a run, the opening is the longest that some later stretch of as many ``*`` closes (on the same
    line: the rest of the run itself when it holds as many, else the first later run long enough)."""
    found = []
    for line in text.split("\n"):
        runs = [(match.start(), match.end()) for match in _STARS.finditer(line)]
        longest_after = [0] * (len(runs) + 1)
        for at in range(len(runs) - 1, -1, -1):
            longest_after[at] = max(longest_after[at + 1], runs[at][1] - runs[at][0])
        at, pos = 0, 0
        while at < len(runs):
            start, end = runs[at]
            pos = max(pos, start)
            stars = end - pos
            opening = max(stars // 2, min(stars, longest_after[at + 1]))
            if stars <= 0 or opening < 2:
                at += 1
                continue
            if stars - opening >= opening:  # closed by the rest of this run
                closing = pos + opening
            else:
                at += 1
                while runs[at][1] - runs[at][0] < opening:
                    at += 1
                closing = runs[at][0]
            found.append(line[pos + opening : closing])
            pos = closing + opening
    return found


def _read_traversal(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    bold = run_bold(text.lower())
    if not bold:
        return None, None
    names = reference["answer"].lower().split(" ")
    return json.dumps(bold[-len(names):], ensure_ascii=False), "bold"


def _score_traversal(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    bold, names = json.loads(answer), reference["answer"].lower().split(" ")
    if len(bold) >= len(names) and all(name == bold[-1 - at] for at, name in enumerate(reversed(names))):
        return 1.0, None
    last, after = bold[-1], -1
    for name in names:
        at = last.find(name)
        if at <= after:
            return 0.0, None
        after = at
    return 1.0, None


SCORERS = {
    "spatial": TaskScorer(_read_spatial, _score_spatial),
    "house_traversal": TaskScorer(_read_traversal, _score_traversal),
}
