"""Web of lies (``web_of_lies_v2``, ``web_of_lies_v3``): a list of yes / no / unknown, read as LiveBench reads it.

Reading, in LiveBench's order (each step only where the ones before found nothing):

1. the last ``<solution>…</solution>`` on one line (v2 also the text between two ``</solution>``), as written;
2. v2 only: the last three of the words yes, no, unknown written in bold (``**yes**, **no**``; lower-cased,
   commas and full stops dropped), joined by ", ";
3. when nothing (or only spaces) was found: the last ``\\boxed{}`` after ``\\textbf{`` is read as ``\\boxed{``
   (v3 drops ``\\text{`` and every ``}`` from it);
4. when still nothing: of the 27 lists "yes, no, unknown" …, the one whose first occurrence in the lower-cased
   response is the latest.

Scores: v2 is 1 when the answer is the ground truth lower-cased, or holds it and names yes / no / unknown three
times in all (counted as substrings, so "unknown" also counts as a "no"); else 0. v3 compares item by item
(split on ",", as written: no case folding, spaces kept) and gives LiveBench's partial credit
``((all right) + right / total) / 2``.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from tether.grading.livebench.scoring import TaskScorer, answered, positional_credit
from tether.grading.livebench.text import boxed, spans

WORDS = ("yes", "no", "unknown")
LISTS = tuple(", ".join(words) for words in product(WORDS, repeat=3))
_BOLD_AS_BOX = (("\\\\boxed{\\\\textbf{", "\\\\boxed{"), ("\\\\fbox{", "\\\\boxed{"), ("\\textbf{", "\\boxed{"))


def _bold_words(text: str) -> str | None:
    words = [word.lower().strip().replace(",", "").replace(".", "") for span in spans(text, "**", "**")
             for word in span.split()]
    last = [word for word in words if word in WORDS][-3:]
    return ", ".join(last) or None


def _latest_list(text: str) -> str | None:
    lowered = text.lower()
    found, latest = None, -1
    for listed in LISTS:
        at = lowered.find(listed)
        if at > latest:
            found, latest = listed, at
    return found


def _read(text: str, version: int) -> tuple[str | None, str | None]:
    tags = spans(text, "<solution>", "</solution>")
    if not tags and version == 2:
        tags = spans(text, "</solution>", "</solution>")
    answer, route = (tags[-1], "solution_tag") if tags else (None, None)
    if answer is None and version == 2:
        answer = _bold_words(text)
        route = "bold" if answer is not None else None
    if answer is None or not answer.strip():
        for old, new in _BOLD_AS_BOX:
            text = text.replace(old, new)
        box = boxed(text)
        if box is not None:
            answer, route = (box if version == 2 else box.replace("\\text{", "").replace("}", "")), "box"
    if answer is None:
        answer = _latest_list(text)
        route = "yes_no_list" if answer is not None else None
    return answered(answer, route)


def _score_v2(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    gold = reference["answer"].lower()
    named = answer.count("yes") + answer.count("no") + answer.count("unknown")
    if answer == gold or (named == 3 and gold in answer):
        return 1.0, None
    return 0.0, None


def _score_v3(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    given, golds = answer.split(","), reference["answer"].split(",")
    right = sum(1 for at, gold in enumerate(golds) if at < len(given) and given[at] == gold)
    return positional_credit(right, len(golds)), f"{right} of {len(golds)} right"


SCORERS = {
    "web_of_lies_v2": TaskScorer(lambda text, reference: _read(text, 2), _score_v2),
    "web_of_lies_v3": TaskScorer(lambda text, reference: _read(text, 3), _score_v3),
}
