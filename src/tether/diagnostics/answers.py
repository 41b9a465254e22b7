"""avg@k and answer-level entropy from the stored verdicts.

- avg@k: the mean accuracy of the first k samples of each task, averaged over tasks (the paper
  uses k = 32).
- Answer entropy: per task, the Shannon entropy in nats of the empirical distribution of the
  distinct extracted answers among its first k samples, averaged over tasks. Samples with no
  extracted answer count as one outcome of their own ("no answer"). Answers are compared as
  stored (each verifier's extraction already strips and normalises what it must).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tether.counts import connect, current_verdicts, quoted
from tether.errors import InputError
from tether.store import Store

NO_ANSWER = object()


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
    k: int
    tasks: int
    avg_at_k: float
    answer_entropy: float


def answer_stats(store: Store, label: str, k: int = 32) -> AnswerStats:
    """avg@k and mean answer entropy of one model's first k samples per task."""
    if not store.shard_paths("verdicts", label):
        raise InputError(f"{store.root}: no verdicts for {label!r}; run `tether grade` first")
    query = (f"SELECT task_id, correct, answer FROM read_parquet('{quoted(store.glob('verdicts', label))}') "
             f"WHERE sample_idx < {int(k)} AND {current_verdicts(store, label)} ORDER BY task_id, sample_idx")
    with connect() as connection:
        rows = connection.sql(query).fetchall()
    by_task: dict[str, list[tuple[bool, str | None]]] = {}
    for task_id, correct, answer in rows:
        by_task.setdefault(task_id, []).append((bool(correct), answer))
    if not by_task:
        raise InputError(f"{store.root}: no graded samples of {label!r}")
    accuracy = [sum(c for c, _ in items) / len(items) for items in by_task.values()]
    entropy = [answer_entropy([a for _, a in items]) for items in by_task.values()]
    return AnswerStats(label, k, len(by_task), sum(accuracy) / len(accuracy), sum(entropy) / len(entropy))
