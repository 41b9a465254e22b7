"""`grade`: every ungraded sample of a store into verdicts, each distinct (task, answer) verified once.

For each model label: the tasks' references come from the store's ``tasks``
table (written by `tether sample`; give `tasks=` for imported samples). The
samples lacking a verdict under the current verifier versions are streamed
from DuckDB in chunks. Per chunk, answers are extracted in this process (text
only, under the same per-answer deadline as comparison), deduplicated per (task, answer), looked up in the store's verdict cache
(``grades/<verifier>/``, keyed by verifier version), and only the misses are
verified, in a `GradingPool` of worker processes (or by the judge, which waits
on the network). Each chunk's verdicts and new cache rows are written together,
atomically; an interrupted run resumes from the chunks not yet written.

The manifest's ``grading[<label>]`` names the current verifier versions; counts
(`tether compare`) use only verdicts of those versions, so a new verifier version
or config re-grades everything under it, never mixing old and new verdicts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tether.errors import InputError
from tether.grading.base import Grade
from tether.grading.deadline import DeadlineExceeded, time_limit
from tether.grading.math import FULL_TEXT
from tether.grading.pool import GradingPool, Job
from tether.grading.registry import make_verifier
from tether.store import Shard, Store, new_shard_name, open_store, query
from tether.store.schema import CachedGrade, TaskRecord, Verdict, to_table
from tether.tasks.prompts import as_plain
from tether.tasks.task import Task

STATUSES = ("ok", "no_answer", "timeout", "error")
EXTRACTION_TIMED_OUT = "\x00extraction timed out\x00"  # a sentinel: compared by identity


@dataclass
class BenchmarkTally:
    """Per (label, benchmark) outcome counts of one grading run."""

    samples: int = 0
    correct: int = 0
    statuses: Counter = field(default_factory=Counter)
    score_sum: float = 0.0

    @property
    def incorrect(self) -> int:
        return self.statuses["ok"] - self.correct

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.samples if self.samples else float("nan")


@dataclass
class GradeSummary:
    tallies: dict[tuple[str, str], BenchmarkTally] = field(default_factory=dict)
    distinct_answers: int = 0
    verified: int = 0
    cache_hits: int = 0
    workers_replaced: int = 0
    no_answer_examples: list[tuple[str, str]] = field(default_factory=list)
    timeout_examples: list[tuple[str, str]] = field(default_factory=list)
    no_gold: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class GradeOptions:
    verifier: str = "auto"
    workers: int = 2
    chunk_size: int = 20_000
    deadline: float = 30.0
    verifier_options: dict = field(default_factory=dict)  # e.g. {"judge": {"model": ..., "base_url": ...}}


Progress = Callable[[int], None]


def grade(store: str | Store, options: GradeOptions | None = None, labels: Sequence[str] | None = None,
          tasks: Sequence[Task] | None = None, on_progress: Progress | None = None,
          on_start: Callable[[int], None] | None = None, executor=None) -> GradeSummary:
    """Grade every ungraded sample of the given labels (default: all) in `store`.

    Verification runs in local worker processes, or on `executor`'s workers when one is given
    (e.g. `tether.scale.RayExecutor`: then `options.workers` is ignored for the executor's own)."""
    target = open_store(store)
    options = options or GradeOptions()
    summary = GradeSummary()
    chosen = list(labels or target.labels("samples"))
    if not chosen:
        raise InputError(f"{target.root}: no samples to grade")
    with target.writing(chosen, "tether grade"), _pool(options, executor) as pool:
        plans = [_plan(target, label, options, tasks) for label in chosen]
        if on_start:
            on_start(sum(plan.pending for plan in plans))
        for plan in plans:
            plan.run(pool, summary, on_progress, options.chunk_size)
        summary.workers_replaced = pool.replaced
    return summary


def _pool(options: GradeOptions, executor):
    """Local worker processes, or the executor's workers."""
    if executor is not None:
        from tether.grading.distributed import DistributedGradingPool

        return DistributedGradingPool(executor, options.deadline)
    return GradingPool(options.workers, options.deadline)


class _LabelPlan:
    """Grading one label: its tasks, verifiers, versions and ungraded samples."""

    def __init__(self, store: Store, label: str, tasks: dict[str, dict], verifiers: dict[str, Any],
                 options: GradeOptions):
        self.store, self.label, self.tasks, self.verifiers, self.options = store, label, tasks, verifiers, options
        self.versions = {name: v.version() for name, v in verifiers.items()}
        self.pending = query.ungraded_count(store, label, self.versions)

    def verifier_of(self, task_id: str) -> str:
        return self.options.verifier if self.options.verifier != "auto" else self.tasks[task_id]["verifier"]

    def run(self, pool: GradingPool, summary: GradeSummary, on_progress, chunk_size: int) -> None:
        with self.store.changing_manifest() as manifest:
            manifest.setdefault("grading", {})[self.label] = {"versions": self.versions}
        cache = _load_cache(self.store, self.versions)
        for batch in query.ungraded_samples(self.store, self.label, self.versions, chunk_size):
            self._grade_chunk(batch, cache, pool, summary)
            if on_progress:
                on_progress(batch.num_rows)

    def _grade_chunk(self, batch: pa.RecordBatch, cache: dict, pool: GradingPool, summary: GradeSummary) -> None:
        rows = batch.to_pylist()
        answers = [self._extract(row) for row in rows]
        keys = {(self.verifier_of(r["task_id"]), r["task_id"], a) for r, a in zip(rows, answers)
                if a is not None and a is not EXTRACTION_TIMED_OUT}
        summary.distinct_answers += len(keys)
        missing = [k for k in keys if (self.versions[k[0]], k[1], k[2]) not in cache]
        summary.cache_hits += len(keys) - len(missing)
        fresh = self._verify(missing, pool)
        summary.verified += len(fresh)
        new_cache = []
        for (name, task_id, answer), found in fresh.items():
            cache[(self.versions[name], task_id, answer)] = found
            new_cache.append(CachedGrade(name, self.versions[name], task_id, answer, found.correct, found.score,
                                         found.status, found.detail))
        verdicts = [self._verdict(row, answer, cache, summary) for row, answer in zip(rows, answers)]
        shards = [Shard("verdicts", self.label, to_table(verdicts, Verdict), new_shard_name("grade"))]
        by_verifier = defaultdict(list)
        for entry in new_cache:
            by_verifier[entry.verifier].append(entry)
        shards += [Shard("grades", name, to_table(entries, CachedGrade), new_shard_name("cache"))
                   for name, entries in by_verifier.items()]
        self.store.write(shards)

    def _extract(self, row: dict) -> str | None:
        """The row's answer (None: none found; `EXTRACTION_TIMED_OUT`: extraction overran the deadline)."""
        completion = row["completion"]
        if not completion:
            return None
        task = self.tasks[row["task_id"]]
        verifier = self.verifiers[self.verifier_of(row["task_id"])]
        try:
            with time_limit(self.options.deadline):
                return verifier.extract(completion, task["reference"])
        except DeadlineExceeded:
            return EXTRACTION_TIMED_OUT

    def _verify(self, keys: list[tuple[str, str, str]], pool: GradingPool) -> dict[tuple, Grade]:
        results: dict[tuple, Grade] = {}
        judged = [k for k in keys if self.verifiers[k[0]].in_process]
        if judged:
            items = [(a, self.tasks[t]["reference"], self.tasks[t]["question"]) for _, t, a in judged]
            for key, found in zip(judged, self.verifiers["judge"].compare_many(items)):
                results[key] = found
        jobs = [Job(k, k[0], self.options.verifier_options.get(k[0], {}), k[2], self.tasks[k[1]]["reference"])
                for k in keys if not self.verifiers[k[0]].in_process]
        results.update(pool.grade(jobs))
        return results

    def _verdict(self, row: dict, answer: str | None, cache: dict, summary: GradeSummary) -> Verdict:
        name = self.verifier_of(row["task_id"])
        task = self.tasks[row["task_id"]]
        if answer is EXTRACTION_TIMED_OUT:
            found, answer = Grade.timeout(f"extracting the answer ran past {self.options.deadline:g} s"), None
        else:
            found = Grade.no_answer() if answer is None else cache[(self.versions[name], row["task_id"], answer)]
        tally = summary.tallies.setdefault((self.label, task["benchmark"]), BenchmarkTally())
        tally.samples += 1
        tally.correct += found.correct
        tally.statuses[found.status] += 1
        tally.score_sum += found.score
        if found.status == "no_answer" and len(summary.no_answer_examples) < 5 and row["completion"]:
            summary.no_answer_examples.append((row["task_id"], row["completion"][-200:]))
        if found.status == "timeout" and len(summary.timeout_examples) < 5:
            summary.timeout_examples.append((row["task_id"], (answer or "")[:200]))
        if task["reference"].get("answer") is None and name == "reasoning_gym":
            summary.no_gold.add(task["benchmark"])
        stored = None if answer is None or answer.startswith(FULL_TEXT) else answer
        return Verdict(self.label, row["task_id"], row["sample_idx"], found.correct, found.score, found.status, name,
                       self.versions[name], stored)


def _plan(store: Store, label: str, options: GradeOptions, given: Sequence[Task] | None) -> _LabelPlan:
    tasks = _stored_tasks(store, label)
    if not tasks:
        if given is None:
            raise InputError(
                f"{store.root}: no tasks stored for {label!r} (imported samples?); pass --tasks so tether knows "
                "each task's reference answer"
            )
        _store_tasks(store, label, given)
        tasks = _stored_tasks(store, label)
    names = {options.verifier} if options.verifier != "auto" else {t["verifier"] for t in tasks.values()}
    verifiers = {name: make_verifier(name, **options.verifier_options.get(name, {})) for name in names}
    return _LabelPlan(store, label, tasks, verifiers, options)


def _stored_tasks(store: Store, label: str) -> dict[str, dict]:
    return {
        task_id: {"benchmark": benchmark, "reference": json.loads(reference), "verifier": verifier,
                  "question": as_plain(json.loads(prompt))}
        for task_id, benchmark, prompt, reference, verifier in query.stored_tasks(store, label)
    }


def _store_tasks(store: Store, label: str, tasks: Sequence[Task]) -> None:
    records = [TaskRecord(label, t.task_id, t.benchmark, t.prompt_json(), as_plain(t.prompt), t.reference_json(),
                          t.verifier) for t in tasks]
    store.write([Shard("tasks", label, to_table(records, TaskRecord), "prompts")])


def _load_cache(store: Store, versions: dict[str, str]) -> dict[tuple[str, str, str], Grade]:
    cache: dict[tuple[str, str, str], Grade] = {}
    for name, version in versions.items():
        for ver, task_id, answer, correct, score, status, detail in query.cached_grades(store, name, version):
            cache[(ver, task_id, answer)] = Grade(bool(correct), float(score), status, detail)
    return cache
