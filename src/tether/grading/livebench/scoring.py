"""What one LiveBench task type's scorer is to the `livebench` verifier: how it reads a response, how it scores it.

A `TaskScorer` splits LiveBench's per-task ``process_results`` in the two halves every tether verifier has:
``extract(text, reference) -> (answer, route)`` reads the response (its thinking already removed) as LiveBench
reads it, and ``score(answer, reference) -> (score, detail)`` gives LiveBench's score of that answer, in [0, 1].
Where LiveBench's score depends on several parts of a response (the last three bold phrases of a spatial answer,
every bold list of an old connections answer) the answer is those parts, as JSON, so the score is a function of
the stored answer alone and the verdict cache stays sound. ``problem(reference)`` names what makes a task
ungradable (no ground truth, a missing release date), or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Extract = Callable[[str, dict[str, Any]], "tuple[str | None, str | None]"]
Score = Callable[[str, dict[str, Any]], "tuple[float, str | None]"]


def gold_problem(reference: dict[str, Any]) -> str | None:
    """Why a reference's ground truth (``answer``) is not text a scorer can read, or None."""
    gold = reference.get("answer")
    if not isinstance(gold, str) or not gold.strip():
        return f"the ground truth is {gold!r}, not text"
    return None


def release_date(reference: dict[str, Any]) -> str:
    """The task's LiveBench release date as ``YYYY-MM-DD`` text ('' where the reference has none): it picks the
    scorer of a task type whose answer format changed."""
    return str(reference.get("livebench_release_date") or "")[:10]


def dated_gold_problem(reference: dict[str, Any]) -> str | None:
    """`gold_problem`, and a missing release date (a task type whose scorer depends on it), or None."""
    if not release_date(reference):
        return "no livebench_release_date, which decides LiveBench's scorer for this task"
    return gold_problem(reference)


@dataclass(frozen=True)
class TaskScorer:
    """One LiveBench task type: its reading of a response and its score (see the module's doc)."""

    extract: Extract
    score: Score
    problem: Callable[[dict[str, Any]], str | None] = gold_problem


def positional_credit(right: int, total: int) -> float:
    """LiveBench's partial credit for a list of answers (zebra puzzles, web of lies v3): half for having them all
    right, half for the share right: ``((right == total) + right / total) / 2``."""
    return ((right == total) + right / total) / 2


def answered(answer: str | None, route: str | None) -> tuple[str | None, str | None]:
    """(answer, route), or (None, None) when the answer is empty or only spaces: LiveBench scores those 0."""
    return (answer, route) if answer is not None and answer.strip() else (None, None)
