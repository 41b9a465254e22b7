"""The `livebench` verifier: LiveBench's reasoning and language tasks graded by LiveBench's own rules, per task type.

A LiveBench row names its task type in ``task`` (``subtask`` first where a row has one, as LiveBench
dispatches); the presets ``livebench-reasoning`` and ``livebench-language`` keep it in the reference with the
row's ``livebench_release_date``, which picks the scorer of a release where LiveBench changed the answer format
(zebra puzzles and connections, on 2024-11-25). Each task type's reading and score is a module here
(`web_of_lies`, `zebra`, `spatial` with house traversal, `tagged` for the ``<solution>``-only tasks,
`connections`, `plot_unscrambling`, `typos`); their docstrings state the rules, restated from LiveBench's
``process_results`` (the facts, not the code).

As LiveBench does, closed ``<think>…</think>`` blocks are removed before reading. The score is in [0, 1], with
LiveBench's partial credit where it gives some (web of lies v3, zebra puzzles, connections, plot
unscrambling); a verdict is correct when its score is at least ``correct_threshold`` (1 by default: only a
full score; ``tether grade --correct-threshold 0.5`` for a more lenient cut). How each answer was found is the
route: ``solution_tag``, ``bold``, ``box``, ``plot_summary_tag``, ``dashes``, ``whole``, ``yes_no_list``
(a yes/no list read out of the text), ``last_word`` and ``last_line`` (these three read out of the text, so not
under ``--strict`` nor for a completion cut at ``max_tokens``). A response LiveBench's own scorer fails on (a
``\\boxed`` it cannot read where it reads one) has no answer: LiveBench scores it 0.

A task whose reference cannot be graded (no task type, one without a scorer here, no ground truth, no release
date where it decides) is refused before grading starts (`check_task`), and a comparison that meets one anyway
is a failed grading, never a verdict.
"""

from __future__ import annotations

from typing import Any

from tether.errors import InputError
from tether.grading.base import Grade, version_string
from tether.grading.livebench import connections, plot_unscrambling, spatial, tagged, typos, web_of_lies, zebra
from tether.grading.livebench.scoring import TaskScorer
from tether.grading.livebench.text import Unreadable, without_thinking

VERSION = 2  # of the scorers' rules: a change here regrades every livebench verdict
SCORERS: dict[str, TaskScorer] = {**web_of_lies.SCORERS, **spatial.SCORERS, **tagged.SCORERS,
                                  **plot_unscrambling.SCORERS, **typos.SCORERS}
BY_RELEASE = {"zebra_puzzle": zebra.scorer, "connections": connections.scorer}  # the scorer depends on the release
TASK_TYPES = tuple(sorted({*SCORERS, *BY_RELEASE}))


def task_type(reference: dict[str, Any]) -> str | None:
    """The task type LiveBench dispatches on: the row's ``subtask`` where it has one, else its ``task``."""
    name = reference.get("subtask") or reference.get("task")
    return str(name) if name else None


def scorer_of(reference: dict[str, Any]) -> TaskScorer | None:
    """The scorer of the reference's task type (any task type holding ``zebra_puzzle`` is one, as in LiveBench)."""
    name = task_type(reference)
    if name is None:
        return None
    if "zebra_puzzle" in name:
        return zebra.scorer(reference)
    if name in BY_RELEASE:
        return BY_RELEASE[name](reference)
    return SCORERS.get(name)


def reference_problem(reference: dict[str, Any]) -> str | None:
    """Why a task's reference cannot be graded by LiveBench's rules, or None."""
    name = task_type(reference)
    if name is None:
        return "the reference names no LiveBench task type ('task')"
    found = scorer_of(reference)
    if found is None:
        return f"LiveBench task type {name!r} has no scorer here; known: {', '.join(TASK_TYPES)}"
    return found.problem(reference)


class LiveBenchVerifier:
    """LiveBench's per-task scorers (see the module's doc); `correct_threshold` is the score that counts as correct."""

    name = "livebench"
    in_process = False

    def __init__(self, correct_threshold: float = 1.0):
        if not 0 < float(correct_threshold) <= 1:
            raise InputError(f"correct_threshold {correct_threshold!r}: a score in (0, 1]")
        self.correct_threshold = float(correct_threshold)

    def version(self) -> str:
        return version_string(self.name, (), {"rules": VERSION, "correct_threshold": self.correct_threshold})

    def check_task(self, task_id: str, reference: dict[str, Any]) -> None:
        """Refuse, in one line naming the task, a task LiveBench's rules cannot grade (before any grading)."""
        problem = reference_problem(reference)
        if problem:
            raise InputError(f"livebench task {task_id!r}: {problem}; load it with the livebench-reasoning or "
                             "livebench-language preset (tether grade --tasks … --update-tasks)")

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return self.extract_with_route(completion, reference)[0]

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        found = scorer_of(reference)
        if found is None or found.problem(reference):
            return None, None  # refused by check_task before grading; compare says so if it is reached
        try:
            return found.extract(without_thinking(completion), reference)
        except Unreadable:
            return None, None

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        problem = reference_problem(reference)
        if problem:  # not a verdict on the model (grading refuses such tasks before it starts)
            return Grade.failed(f"the task's reference: {problem}")
        score, detail = scorer_of(reference).score(answer, reference)
        return Grade(score >= self.correct_threshold, score, "ok", detail)


__all__ = ["SCORERS", "TASK_TYPES", "LiveBenchVerifier", "reference_problem", "scorer_of", "task_type"]
