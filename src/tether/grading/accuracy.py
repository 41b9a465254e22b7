"""A verifier's accuracy on completions labelled by hand: confusion matrix, precision and recall.

A labelled corpus (``tests/grading/real/``) holds real completions, each labelled by a reader:
``correct`` (the answer the completion commits to is the gold), ``incorrect`` (it commits to another
answer) or ``no_answer`` (it commits to none), and why. `grade_text` grades one completion the way
`tether grade` does (extraction and its route, the rule that nothing is read out of the text of a
completion cut at ``max_tokens`` or graded ``--strict``, then comparison), in this process; `confusion` counts a
verifier's verdicts against the labels. A false positive is a verdict ``correct`` on a completion
not labelled correct; a false negative, a completion labelled correct that the verifier did not credit.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.errors import InputError
from tether.grading.base import Grade, extract_with_route, graded_route
from tether.grading.math import FULL_TEXT

LABELS = ("correct", "incorrect", "no_answer")
OUTCOMES = ("correct", "incorrect", "no_answer", "timeout", "error")


@dataclass(frozen=True)
class Labelled:
    """One completion of the corpus, with its task and the reader's label."""

    id: str
    task_id: str
    verifier: str  # the task's own verifier
    question: str
    gold: Any
    reference: dict
    completion: str
    finish_reason: str | None
    label: str
    reason: str
    ambiguous: bool = False  # a reading that could be argued (the corpus's README says how those were decided)


@dataclass(frozen=True)
class Graded:
    """A verifier's verdict on one labelled completion, with the answer it extracted and its route."""

    row: Labelled
    grade: Grade
    answer: str | None
    route: str | None

    @property
    def outcome(self) -> str:
        if self.grade.status == "ok":
            return "correct" if self.grade.correct else "incorrect"
        return self.grade.status


@dataclass
class Confusion:
    """Labels (rows) against a verifier's outcomes (columns) on a corpus."""

    verifier: str
    cells: Counter = field(default_factory=Counter)  # (label, outcome) -> completions
    graded: list[Graded] = field(default_factory=list)

    def add(self, graded: Graded) -> None:
        self.graded.append(graded)
        self.cells[(graded.row.label, graded.outcome)] += 1

    @property
    def false_positives(self) -> list[Graded]:
        return [g for g in self.graded if g.grade.correct and g.row.label != "correct"]

    @property
    def false_negatives(self) -> list[Graded]:
        return [g for g in self.graded if not g.grade.correct and g.row.label == "correct"]

    @property
    def true_positives(self) -> int:
        return sum(1 for g in self.graded if g.grade.correct and g.row.label == "correct")

    @property
    def precision(self) -> float:
        """Of the completions credited, the share labelled correct (nan when none was credited)."""
        credited = self.true_positives + len(self.false_positives)
        return self.true_positives / credited if credited else float("nan")

    @property
    def recall(self) -> float:
        """Of the completions labelled correct, the share credited (nan when none is labelled correct)."""
        positives = self.true_positives + len(self.false_negatives)
        return self.true_positives / positives if positives else float("nan")


def load_corpus(path: str | Path) -> list[Labelled]:
    """The labelled completions of a JSONL corpus file; a row without a known label is an error."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if raw.get("label") not in LABELS:
            raise InputError(f"{path}:{number}: label {raw.get('label')!r}; use one of {', '.join(LABELS)}")
        rows.append(Labelled(raw["id"], raw["task_id"], raw["verifier"], raw["question"], raw["gold"],
                             raw["reference"], raw["completion"], raw.get("finish_reason"), raw["label"],
                             raw["reason"], bool(raw.get("ambiguous"))))
    return rows


def grade_text(verifier, completion: str, reference: dict, finish_reason: str | None = None,
               strict: bool = False) -> tuple[Grade, str | None, str | None]:
    """(verdict, extracted answer, route) of one completion, as `tether grade` reaches them."""
    answer, route = extract_with_route(verifier, completion, reference) if completion else (None, None)
    if answer is not None and not graded_route(route, finish_reason, strict):
        answer, route = None, None
    if answer is None:
        return Grade.no_answer(), None, None
    shown = answer.removeprefix(FULL_TEXT)
    return verifier.compare(answer, reference), shown, route


def confusion(verifier, rows: list[Labelled]) -> Confusion:
    """`verifier`'s verdicts on `rows` against their labels."""
    found = Confusion(verifier.name)
    for row in rows:
        grade, answer, route = grade_text(verifier, row.completion, row.reference, row.finish_reason)
        found.add(Graded(row, grade, answer, route))
    return found
