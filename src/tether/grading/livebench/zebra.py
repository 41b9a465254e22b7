"""Zebra puzzles (``zebra_puzzle``): one answer per question, read and scored as LiveBench does for the release.

Puzzles released from 2024-11-25 on ask for a comma-separated list in ``<solution></solution>``. Reading: every
``<solution>…</solution>`` on one line (else between two ``</solution>``); else the last ``\\boxed{}`` without
``\\text{``, braces and backslashes; else the last line when it has one comma fewer than the ground truth has
items. Several tagged lists are joined and their last items kept, as many as the ground truth has. Score: item by
item, lower-cased, "-" read as a space and the word "position" dropped from the answer, an item is right when
it equals the ground truth's or contains it ("3" is in "13"); LiveBench's partial credit
``((all right) + right / total) / 2``.

Earlier puzzles asked for one word in ``***bold italics***``: the last such word, else the response's last
word, is right when it is the ground truth (case aside), the digit of a ground truth written as a word (1-9),
or the ground truth without " movies".
"""

from __future__ import annotations

import re
from typing import Any

from tether.grading.livebench.scoring import TaskScorer, answered, dated_gold_problem, positional_credit, release_date
from tether.grading.livebench.text import boxed, spans

NEW_FORMAT = "2024-11-25"  # puzzles released from this date are scored item by item
NUMBER_WORDS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
                "8": "eight", "9": "nine"}
_TRIPLE_BOLD = re.compile(r"\*\*\*(\w+)\*\*\*")
_WORD = re.compile(r"\w+")


def _read(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    total = len(reference["answer"].split(","))
    tags = spans(text, "<solution>", "</solution>") or spans(text, "</solution>", "</solution>")
    route = "solution_tag"
    if not tags:
        box = boxed(text.replace("\\\\fbox{", "\\\\boxed{"))
        if box is not None:
            tags, route = [box.replace("\\text{", "").replace("}", "").replace("\\", "")], "box"
    if not tags:
        last_line = text.strip().split("\n")[-1]
        if last_line.count(",") == total - 1:
            tags, route = [last_line], "last_line"
    if not tags:
        return None, None
    items = [item for tag in tags for item in tag.split(",")][-total:] if len(tags) > 1 else tags[-1].split(",")
    return answered(",".join(items), route)


def _score(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    golds, given = reference["answer"].split(","), answer.split(",")
    right = 0
    for at, gold in enumerate(golds):
        if at >= len(given):
            continue
        expected = gold.strip().lower().replace("-", " ")
        item = given[at].strip().lower().replace("-", " ").replace("position", "")
        right += expected == item or expected in item
    return positional_credit(right, len(golds)), f"{right} of {len(golds)} right"


def _read_old(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    bold = _TRIPLE_BOLD.findall(text)
    if bold:
        return bold[-1], "bold"
    words = _WORD.findall(text)
    return (words[-1], "last_word") if words else (None, None)


def _score_old(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    gold = reference["answer"].lower()
    right = answer.lower() == gold or NUMBER_WORDS.get(answer) == gold or answer.lower() + " movies" == gold
    return float(right), None


def scorer(reference: dict[str, Any]) -> TaskScorer:
    """The release's scorer: item by item from `NEW_FORMAT` on, one bold word before."""
    if release_date(reference) < NEW_FORMAT:
        return TaskScorer(_read_old, _score_old, dated_gold_problem)
    return TaskScorer(_read, _score, dated_gold_problem)
