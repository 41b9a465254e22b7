"""Connections (``connections``): the words in groups of four, with LiveBench's partial credit per group.

Puzzles released from 2024-11-25 on ask for every word, comma-separated, in ``<solution></solution>``. Reading:
the tagged lists on one line, else across lines (newlines dropped), else between two ``</solution>`` (likewise);
else, when the response writes ``\\boxed`` anywhere, the last box without ``\\text{``, braces and backslashes (a
box LiveBench cannot read, as an unclosed one, gives no answer: LiveBench scores it 0). Several lists are joined
and their last words kept, as many as the ground truth has. Score: both lists cut into groups in order (each
group fills up to four different words, trimmed and lower-cased); the share of the ground truth's groups that
the answer's groups equal, counted per answer group, so an answer repeating one right group four times scores
as LiveBench scores it (1).

Earlier puzzles asked for the words in bold: every ``**…**`` of the response (newlines dropped) is one list,
cut into groups of four; a ground-truth group is found when one of the list's groups contains it; the score is
the best list's share of groups found. The answer kept is every bold list, as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from tether.grading.livebench.scoring import TaskScorer, answered, dated_gold_problem, release_date
from tether.grading.livebench.text import Unreadable, boxed, spans

NEW_FORMAT = "2024-11-25"  # puzzles released from this date answer in <solution> tags


def groups_of_four(words: list[str]) -> list[set[str]]:
    """The words, trimmed and lower-cased, in order, into groups of four different words."""
    groups: list[set[str]] = [set()]
    for word in words:
        if len(groups[-1]) == 4:
            groups.append(set())
        groups[-1].add(word.strip().lower())
    return groups


def _read(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    flat = text.replace("\n", "")
    tags = (spans(text, "<solution>", "</solution>") or spans(flat, "<solution>", "</solution>")
            or spans(text, "</solution>", "</solution>") or spans(flat, "</solution>", "</solution>"))
    route = "solution_tag"
    if not tags and "\\boxed" in text:
        box = boxed(text)
        if box is None:
            raise Unreadable("an unclosed \\boxed")
        tags, route = [box.replace("\\text{", "").replace("}", "").replace("\\", "")], "box"
    tags = [tag.replace("\n", "") for tag in tags]
    if not tags:
        return None, None
    total = len(reference["answer"].split(","))
    words = [word for tag in tags for word in tag.split(",")][-total:] if len(tags) > 1 else tags[-1].split(",")
    return answered(",".join(words), route)


def _score(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    golds = groups_of_four(reference["answer"].split(","))
    right = sum(1 for group in groups_of_four(answer.split(",")) if group in golds)
    return right / len(golds), f"{right} of {len(golds)} groups"


def _read_old(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    bold = spans(text.replace("\n", ""), "**", "**")
    return (json.dumps(bold, ensure_ascii=False), "bold") if bold else (None, None)


def _score_old(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    golds = groups_of_four(reference["answer"].split(","))
    best = 0
    for listed in json.loads(answer):
        groups = groups_of_four(listed.split(","))
        best = max(best, sum(1 for gold in golds if any(gold <= group for group in groups)))
    return best / len(golds), f"{best} of {len(golds)} groups"


def scorer(reference: dict[str, Any]) -> TaskScorer:
    """The release's scorer: <solution> lists from `NEW_FORMAT` on, bold lists before."""
    if release_date(reference) < NEW_FORMAT:
        return TaskScorer(_read_old, _score_old, dated_gold_problem)
    return TaskScorer(_read, _score, dated_gold_problem)
