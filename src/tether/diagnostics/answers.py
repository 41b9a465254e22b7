"""avg@k and answer-level entropy from the stored verdicts, per benchmark.

- avg@k: the mean accuracy of the first k samples of each task, averaged over tasks (the paper
  uses k = 32). The k it reports is the one used: min(k asked, samples per task), the largest
  over the tasks (16 when k = 32 was asked of a store with 16 samples per task).
- Answer entropy: per task, the Shannon entropy in nats of the empirical distribution of the
  distinct extracted answers among its first k samples, averaged over tasks. Samples with no
  extracted answer count as one outcome of their own ("no answer"). Answers are compared as
  stored (each verifier's extraction already strips and normalises what it must).

Benchmarks come from the store's `tasks` table; a store without one (verdicts imported from a
file) has all its tasks in one benchmark named "all".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tether.errors import InputError
from tether.store import Store
from tether.store.query import graded_answers, task_benchmarks

NO_ANSWER = object()
ALL = "all"


def answer_entropy(answers: Sequence[str | None]) -> float:
    """Shannon entropy (nats) of the answers' empirical distribution; None is its own outcome."""
    if not answers:
        raise InputError("answer entropy needs at least one answer")
    counts = Counter(NO_ANSWER if a is None else a for a in answers)
    total = len(answers)
    return -sum(c / total * math.log(c / total) for c in counts.values())


@dataclass(frozen=True)
class AnswerStats:
    label: str
    k: int  # samples per task used: min(requested_k, samples per task), the largest over the tasks
    tasks: int
    avg_at_k: float
    answer_entropy: float
    benchmark: str = ALL
    requested_k: int | None = None  # the k asked for


def answer_stats(store: Store, label: str, k: int = 32) -> AnswerStats:
    """avg@k and mean answer entropy of one model's first k samples per task, over all its tasks."""
    return answer_stats_by_benchmark(store, label, k)[ALL]


def answer_stats_by_benchmark(store: Store, label: str, k: int = 32) -> dict[str, AnswerStats]:
    """avg@k and mean answer entropy per benchmark, and over all tasks (key "all")."""
    by_task = _graded_answers(store, label, k)
    benchmarks = task_benchmarks(store, label)
    groups: dict[str, list[str]] = {ALL: sorted(by_task)}
    for task_id in groups[ALL]:
        if task_id in benchmarks:
            groups.setdefault(benchmarks[task_id], []).append(task_id)
    return {name: _stats(label, k, name, [by_task[t] for t in ids]) for name, ids in groups.items()}


def _graded_answers(store: Store, label: str, k: int) -> dict[str, list[tuple[bool, str | None]]]:
    rows = graded_answers(store, label, k)
    by_task: dict[str, list[tuple[bool, str | None]]] = {}
    for task_id, correct, answer in rows:
        by_task.setdefault(task_id, []).append((bool(correct), answer))
    if not by_task:
        raise InputError(f"{store.root}: no graded samples of {label!r}")
    return by_task


def _stats(label: str, k: int, benchmark: str, tasks: list[list[tuple[bool, str | None]]]) -> AnswerStats:
    accuracy = [sum(c for c, _ in items) / len(items) for items in tasks]
    entropy = [answer_entropy([a for _, a in items]) for items in tasks]
    used = max(len(items) for items in tasks)
    return AnswerStats(label, used, len(tasks), sum(accuracy) / len(accuracy), sum(entropy) / len(entropy),
                       benchmark, k)
