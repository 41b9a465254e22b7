"""Plot unscrambling (``plot_unscrambling``): the plot's sentences put back in order, scored by LiveBench's order distance.

Reading: the text from the first ``<PLOT_SUMMARY>`` to the last ``</PLOT_SUMMARY>`` after it, else to the end,
else the whole response. Score: both texts are cut into sentences at every full stop (trimmed, empty ones and
the markers ``</PLOT_SUMMARY>`` and ``**End of Plot Summary**`` dropped); each ground-truth sentence is matched
to the answer's most similar sentence (``difflib.get_close_matches``, no cutoff: a paraphrase still finds its
place); the score is ``1 - d / n``, with d the edit distance between the ground truth's order 0 … n-1 and the
positions so found, n the ground truth's sentences. A sentence left out costs an edit, as does one out of place,
so the score is partial credit in [0, 1].
"""

from __future__ import annotations

import difflib
from typing import Any

from tether.grading.livebench.scoring import TaskScorer, answered

OPEN, CLOSE = "<PLOT_SUMMARY>", "</PLOT_SUMMARY>"
_MARKERS = (CLOSE, "**End of Plot Summary**")


def _read(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    start = text.find(OPEN)
    if start < 0:
        return answered(text, "whole")
    inside = start + len(OPEN)
    end = text.rfind(CLOSE)
    return answered(text[inside:end] if end >= inside else text[inside:], "plot_summary_tag")


def sentences(text: str) -> list[str]:
    return [part.strip() for part in text.split(".") if part.strip() and part.strip() not in _MARKERS]


def edit_distance(first: list[int], second: list[int]) -> int:
    """Levenshtein distance between two sequences (insertions, deletions and substitutions cost 1)."""
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, 1):
        current = [i]
        for j, b in enumerate(second, 1):
            current.append(previous[j - 1] if a == b else 1 + min(previous[j], current[j - 1], previous[j - 1]))
        previous = current
    return previous[-1]


def _score(answer: str, reference: dict[str, Any]) -> tuple[float, str | None]:
    golds, given = sentences(reference["answer"]), sentences(answer)
    order = []
    for sentence in golds:
        best = difflib.get_close_matches(sentence, given, n=1, cutoff=0.0)
        if best:
            order.append(given.index(best[0]))
    distance = edit_distance(list(range(len(golds))), order)
    return 1 - distance / len(golds), f"order distance {distance} over {len(golds)} sentences"


def _problem(reference: dict[str, Any]) -> str | None:
    gold = reference.get("answer")
    return None if isinstance(gold, str) and sentences(gold) else f"the ground truth {str(gold)[:40]!r} has no sentence"


SCORERS = {"plot_unscrambling": TaskScorer(_read, _score, _problem)}
