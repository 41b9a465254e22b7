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

Several verifiers at once (``GradeOptions.also``, ``tether grade --verifier auto,exact,math``): the
first (`GradeOptions.verifier`) is the one counts use; each other is graded into a named verdict set
kept beside it (`tether.grading.sets`), under the same rules (cache, resume, regrades when text
changed), without changing what counts. Sets are compared side by side by ``tether compare --verifiers``.

A verdict keeps the hash of the completion it graded and the verifier's reason (`detail`).
When a sample's text is no longer what its current verdict graded (its shard quarantined and
refilled with other text), or a verdict does not say what it graded (stores graded before the
hash was kept), the label is regraded under a new version (``+regrade<N>``, as `--regrade`
does): every sample again, each answer the cache already holds carried over, so only new answers
are verified and counts never see two verdicts of one sample. Finding them hashes every graded
completion, so it is done only when the label's sample shards are not the files the last run saw
(``grading[<label>].samples`` in the manifest: a digest of each shard's name, size and
modification time, which a shard set aside or rewritten under its old name changes).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tether import defaults
from tether.errors import InputError
from tether.grading.base import FAILED, Grade, extract_with_route, graded_route, in_parent
from tether.grading.deadline import DeadlineExceeded, time_limit
from tether.grading.math import FULL_TEXT
from tether.grading.pool import GradingPool, Job
from tether.grading.registry import make_verifier
from tether.grading.sets import check_disjoint, check_set_names
from tether.grading.vision import decided_by
from tether.store import Shard, Store, new_shard_name, open_store, query
from tether.store.compliance import requested_route
from tether.store.images import put_images
from tether.store.manifest import Grading, VerdictSet
from tether.store.schema import REWARD_HACKS, CachedGrade, RewardHackCounts, TaskRecord, Verdict, to_table
from tether.tasks.prompts import as_plain
from tether.tasks.task import Task

STATUSES = ("ok", "no_answer", "timeout", "error")
REGRADE = "+regrade"  # a verifier version with this suffix re-graded some verdicts of the one before
EXTRACTION_TIMED_OUT = "\x00extraction timed out\x00"  # a sentinel: compared by identity
REASON_CHARS = 60  # a reason is its detail's text before the first ':', at most this long


@dataclass
class BenchmarkTally:
    """Per (label, benchmark) outcome counts of one grading run."""

    samples: int = 0
    correct: int = 0
    statuses: Counter = field(default_factory=Counter)
    score_sum: float = 0.0
    routes: Counter = field(default_factory=Counter)  # how answers were found ("none": no answer)
    format_asked: int = 0  # samples whose prompt asked for a format (\boxed{}, <answer> tags)
    format_followed: int = 0  # ... and whose answer was found in that format
    formats: set = field(default_factory=set)  # the formats asked for ("box", "answer_tag")
    cut: int = 0  # completions cut at max_tokens (finish reason "length")
    reasons: Counter = field(default_factory=Counter)  # why samples were not correct (`reason_of` their detail)
    reason_examples: dict[str, str] = field(default_factory=dict)  # reason -> the first detail that gave it
    reward_hacks: Counter = field(default_factory=Counter)  # REWARD_HACKS key -> verdicts whose detail signals it
    verifiers: set = field(default_factory=set)  # the verifiers that graded its samples

    @property
    def format_share(self) -> float:
        """The share of samples asked for a format that followed it (nan when none was asked)."""
        return self.format_followed / self.format_asked if self.format_asked else float("nan")

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
    extraction_modes: dict[str, str] = field(default_factory=dict)  # verifier -> its extraction mode, where it has one
    failed: int = 0  # samples whose grading failed (no verdict written; the next run retries them)
    failure_examples: list[tuple[str, str]] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)  # label -> verdicts regraded: their sample's text changed
    unbound: dict[str, int] = field(default_factory=dict)  # label -> verdicts regraded: not saying what they graded
    counted: str = "auto"  # the verdict set counts use (`GradeOptions.verifier`)
    sets: dict[str, GradeSummary] = field(default_factory=dict)  # each other set graded (`GradeOptions.also`)

    @property
    def ok(self) -> bool:
        """True when every sample got a verdict, in every verdict set graded."""
        return self.failed == 0 and all(found.ok for found in self.sets.values())

    def reward_hacks(self, label: str) -> RewardHackCounts:
        """The samples of `label` graded in this run, and how many verdicts signal each reward hack."""
        tallies = [tally for (name, _), tally in self.tallies.items() if name == label]
        return RewardHackCounts(sum(t.samples for t in tallies),
                                **{key: sum(t.reward_hacks[key] for t in tallies) for key in REWARD_HACKS})

    def to_dict(self) -> dict:
        """What `tether grade --json` prints: the verdict counts per label and benchmark, what grading did, the
        samples it failed on, each label's format compliance and warnings, and each other verdict set's counts."""
        from tether.grading.compliance import compliance, warnings

        labels = sorted({label for label, _ in self.tallies})
        return {
            "counted": self.counted, "ok": self.ok,
            "tallies": [{"label": label, "benchmark": benchmark, **_tally_dict(t)}
                        for (label, benchmark), t in sorted(self.tallies.items())],
            "distinct_answers": self.distinct_answers, "verified": self.verified, "cache_hits": self.cache_hits,
            "workers_replaced": self.workers_replaced, "failed": self.failed,
            "failure_examples": [{"task_id": task, "detail": detail} for task, detail in self.failure_examples],
            "regraded_changed": dict(self.changed), "regraded_unbound": dict(self.unbound),
            "reward_hacks": {label: self.reward_hacks(label).as_dict() for label in labels},
            "compliance": {label: _compliance_dict(c) for label, c in compliance(self).items()},
            "warnings": warnings(self), "extraction_modes": dict(self.extraction_modes),
            "no_gold": sorted(self.no_gold), "sets": {name: found.to_dict() for name, found in self.sets.items()},
        }


def _tally_dict(t: BenchmarkTally) -> dict:
    return {"samples": t.samples, "correct": t.correct, "incorrect": t.incorrect,
            **{status: t.statuses[status] for status in STATUSES if status != "ok"},
            "not_graded": t.statuses[FAILED], "mean_score": _number(t.mean_score), "routes": dict(t.routes),
            "format_asked": t.format_asked, "format_followed": t.format_followed, "cut": t.cut,
            "reasons": dict(t.reasons.most_common()),
            **({"decided": decided_by(t.routes)} if "vision_math" in t.verifiers else {})}


def _compliance_dict(c) -> dict:
    return {"samples": c.samples, "correct": c.correct, "format_asked": c.asked, "format_followed": c.followed,
            "share": _number(c.share), "formats": sorted(c.formats), "routes": dict(c.routes),
            "no_answer": c.no_answer, "cut": c.cut}


def _number(value: float) -> float | None:
    """A float for JSON: None for nan (no samples, no format asked)."""
    return None if math.isnan(value) else value


def answer_deadline(timeout: float) -> float:
    """Seconds a worker may spend on one answer before it is killed: `max(30, 6 x timeout)`, where `timeout` is
    math's limit on each parse and comparison (Math-Verify's, whole seconds), which one answer may meet several
    times. One rule, for `tether grade --timeout` and an experiment file's [grading] timeout alike."""
    return max(30.0, 6.0 * timeout)


@dataclass(frozen=True)
class GradeOptions:
    verifier: str = "auto"
    workers: int = defaults.WORKERS
    chunk_size: int = 20_000
    deadline: float = answer_deadline(defaults.MATH_TIMEOUT)  # seconds per answer: `answer_deadline` of math's timeout
    verifier_options: dict = field(default_factory=dict)  # e.g. {"judge": {"model": ..., "base_url": ...}}
    regrade: tuple[str, ...] = ()  # verdict statuses to grade again (e.g. ("error", "timeout")); () = none
    regrade_tasks: tuple[str, ...] = ()  # with `regrade`: only these tasks' verdicts (() = every task's)
    update_tasks: bool = False  # accept given tasks whose reference answer changed (and regrade those tasks)
    strict: bool = False  # explicit answers only (base.IMPLICIT_ROUTES are not graded): else no_answer
    also: tuple[str, ...] = ()  # more verdict sets, graded and kept beside `verifier`'s (which counts): ("exact",)

    @property
    def verdict_sets(self) -> tuple[str, ...]:
        """Every verdict set this grading makes, the one that counts first (duplicates once)."""
        return tuple(dict.fromkeys((self.verifier, *self.also)))


Progress = Callable[[int], None]


def grade(store: str | Store, options: GradeOptions | None = None, labels: Sequence[str] | None = None,
          tasks: Sequence[Task] | None = None, on_progress: Progress | None = None,
          on_start: Callable[[int], None] | None = None, executor=None) -> GradeSummary:
    """Grade every ungraded sample of the given labels (default: all) in `store`.

    Verification runs in local worker processes, or on `executor`'s workers when one is given
    (e.g. `tether.scale.RayExecutor`: then `options.workers` is ignored for the executor's own).
    A script calling this needs an ``if __name__ == "__main__":`` guard (workers re-import it).
    Samples whose grading failed get no verdict: see `GradeSummary.ok` and `.failed`."""
    target = open_store(store)
    options = options or GradeOptions()
    check_set_names(options.verdict_sets)
    summary = GradeSummary(counted=options.verifier)
    chosen = list(labels or target.labels("samples"))
    if not chosen:
        raise InputError(f"{target.root}: no samples to grade")
    with target.writing(chosen, "tether grade"), _pool(options, executor) as pool:
        plans = [_plan(target, label, options, tasks) for label in chosen]
        extra = {plan.label: [_set_plan(plan, name) for name in options.verdict_sets[1:]] for plan in plans}
        for plan in plans:
            kept = {name: found.versions for name, found in target.manifest().verdict_sets(plan.label).items()}
            check_disjoint(plan.label, {**kept,
                                        **{p.set_name: p.versions for p in (plan, *extra[plan.label])}})
        summary.extraction_modes = {name: v.extraction for plan in plans for name, v in plan.verifiers.items()
                                    if hasattr(v, "extraction")}
        summary.changed = {plan.label: plan.changed for plan in plans if plan.changed}
        summary.unbound = {plan.label: plan.unbound for plan in plans if plan.unbound}
        summary.sets = {name: GradeSummary(counted=name) for name in options.verdict_sets[1:]}
        if on_start:  # a set sharing another's verdicts (auto and math on math tasks) has them graded once
            pending = {(p.label, tuple(sorted(p.versions.items()))): p.pending
                       for plan in plans for p in (plan, *extra[plan.label])}
            on_start(sum(pending.values()))
        for plan in plans:
            plan.run(pool, summary, on_progress, options.chunk_size)
            for other in extra[plan.label]:
                other.run(pool, summary.sets[other.set_name], on_progress, options.chunk_size)
        summary.workers_replaced = pool.replaced
        for found in summary.sets.values():
            found.changed = {p.label: p.changed for ps in extra.values() for p in ps
                             if p.changed and p.set_name == found.counted}
            summary.failed += found.failed
            summary.failure_examples += found.failure_examples[:max(0, 5 - len(summary.failure_examples))]
    if summary.failed:  # failed attempts are recorded, not stored as verdicts; the next run retries them
        target.record_event("grading-failed", labels=chosen, samples=summary.failed,
                            examples=[f"{task}: {detail}" for task, detail in summary.failure_examples])
    return summary


def _pool(options: GradeOptions, executor):
    """Local worker processes, or the executor's workers."""
    if executor is not None:
        from tether.grading.distributed import DistributedGradingPool

        return DistributedGradingPool(executor, options.deadline)
    return GradingPool(options.workers, options.deadline)


class _LabelPlan:
    """Grading one label into one verdict set (`options.verifier`'s): its tasks, verifiers, versions and
    ungraded samples. `counts`: the set counts use (else one kept beside it, `GradeOptions.also`)."""

    def __init__(self, store: Store, label: str, tasks: dict[str, dict], verifiers: dict[str, Any],
                 options: GradeOptions, changed_tasks: set[str] = frozenset(), counts: bool = True):
        self.store, self.label, self.tasks, self.verifiers, self.options = store, label, tasks, verifiers, options
        self.set_name, self.counts, self.changed_tasks = options.verifier, counts, set(changed_tasks)
        entry = store.manifest().grading_of(label)
        # named sets are recorded once a label has more than one (older manifests: none)
        self.record_sets = bool(options.also) or bool(entry.sets) or not counts
        entry = entry.verdict_set(self.set_name) or VerdictSet(versions=entry.versions,
                                                                 samples=entry.samples if counts else None)
        recorded = entry.versions
        bases, current = {}, {}
        for name, verifier in verifiers.items():
            bases[name] = verifier.version() + ("/strict" if options.strict else "")
            previous = recorded.get(name)
            current[name] = previous if previous and (previous == bases[name] or
                                                      previous.startswith(bases[name] + REGRADE)) else bases[name]
        # verdicts of samples whose text is not what they graded (or that do not say): regraded, like --regrade
        self.samples = query.shards_stamp(store, "samples", label)
        seen = self.samples is not None and entry.samples == self.samples and current == recorded
        self.changed, self.unbound = (0, 0) if seen else query.changed_completions(store, label, current)
        self.versions, self.carried = {}, {}
        for name, version in current.items():
            if options.regrade or changed_tasks or self.changed or self.unbound:
                # a new version; what stays valid is carried over from the old
                self.carried[name] = (version, set(options.regrade), set(options.regrade_tasks), set(changed_tasks))
                version = f"{bases[name]}{REGRADE}{_regrade_number(version) + 1}"
            self.versions[name] = version
        self.pending = query.ungraded_count(store, label, self.versions)
        self.asked = {task_id: requested_route(task["question"]) for task_id, task in tasks.items()}

    def verifier_of(self, task_id: str) -> str:
        return self.options.verifier if self.options.verifier != "auto" else self.tasks[task_id]["verifier"]

    def run(self, pool: GradingPool, summary: GradeSummary, on_progress, chunk_size: int) -> None:
        with self.store.changing_manifest() as manifest:
            entry = manifest.grading_of(self.label)
            if self.counts:  # what counts now; the label's other sets stay
                entry = Grading(versions=self.versions, samples=self.samples, sets=entry.sets)
            if self.record_sets:
                entry.verifier = entry.verifier if not self.counts else self.set_name
                entry.sets[self.set_name] = VerdictSet(versions=self.versions, samples=self.samples)
            manifest.grading[self.label] = entry
        cache = _load_cache(self.store, self.versions)
        self.unwritten = self._carry_over(cache)
        for batch in query.ungraded_samples(self.store, self.label, self.versions, chunk_size):
            self._grade_chunk(batch, cache, pool, summary)
            if on_progress:
                on_progress(batch.num_rows)

    def _grade_chunk(self, batch: pa.RecordBatch, cache: dict, pool: GradingPool, summary: GradeSummary) -> None:
        rows = batch.to_pylist()
        extracted = [self._extract(row) for row in rows]
        answers = [answer for answer, _ in extracted]
        keys = {(self.verifier_of(r["task_id"]), r["task_id"], a) for r, a in zip(rows, answers)
                if a is not None and a is not EXTRACTION_TIMED_OUT}
        summary.distinct_answers += len(keys)
        missing = [k for k in keys if (self.versions[k[0]], k[1], k[2]) not in cache]
        summary.cache_hits += len(keys) - len(missing)
        carried = [k for k in keys if (self.versions[k[0]], k[1], k[2]) in self.unwritten]
        fresh = self._verify(missing, pool)
        summary.verified += len(fresh)
        new_cache, failed = [], {}
        for name, task_id, answer in carried:  # cache rows carried over from the version before a regrade
            self.unwritten.discard((self.versions[name], task_id, answer))
            new_cache.append(self._cache_row(name, task_id, answer, cache[(self.versions[name], task_id, answer)]))
        for (name, task_id, answer), found in fresh.items():
            if not found.is_verdict:  # not cached: the next run tries again
                failed[(self.versions[name], task_id, answer)] = found
                continue
            cache[(self.versions[name], task_id, answer)] = found
            new_cache.append(self._cache_row(name, task_id, answer, found))
        verdicts = [v for row, (answer, route) in zip(rows, extracted)
                    if (v := self._verdict(row, answer, route, cache, failed, summary))]
        if not verdicts:
            return
        shards = [Shard("verdicts", self.label, to_table(verdicts, Verdict), new_shard_name("grade"))]
        by_verifier = defaultdict(list)
        for entry in new_cache:
            by_verifier[entry.verifier].append(entry)
        shards += [Shard("grades", name, to_table(entries, CachedGrade), new_shard_name("cache"))
                   for name, entries in by_verifier.items()]
        self.store.write(shards)

    def _cache_row(self, name: str, task_id: str, answer: str, found: Grade) -> CachedGrade:
        return CachedGrade(name, self.versions[name], task_id, answer, found.correct, found.score, found.status,
                           found.detail)

    def _carry_over(self, cache: dict) -> set[tuple[str, str, str]]:
        """Fill `cache` with the old version's grades that a regrade keeps (not of a status being
        regraded, not of a changed task); the keys whose cache rows are still to be written."""
        kept = set()
        for name, (old, statuses, only, changed) in self.carried.items():
            for _, task_id, answer, correct, score, status, detail in query.cached_grades(self.store, name, old):
                if (status in statuses and (not only or task_id in only)) or task_id in changed:
                    continue
                key = (self.versions[name], task_id, answer)
                cache[key] = Grade(bool(correct), float(score), status, detail)
                kept.add(key)
        return kept

    def _extract(self, row: dict) -> tuple[str | None, str | None]:
        """The row's (answer, how it was found); answer None: none found; `EXTRACTION_TIMED_OUT`:
        extraction overran the deadline."""
        completion = row["completion"]
        if not completion:
            return None, None
        task = self.tasks[row["task_id"]]
        verifier = self.verifiers[self.verifier_of(row["task_id"])]
        try:
            with time_limit(self.options.deadline):
                answer, route = extract_with_route(verifier, completion, task["reference"])
        except DeadlineExceeded:
            return EXTRACTION_TIMED_OUT, None
        if answer is not None and not graded_route(route, row.get("finish_reason"), self.options.strict):
            return None, None  # under --strict, or cut at max_tokens: nothing is read out of the text
        return answer, route

    def _verify(self, keys: list[tuple[str, str, str]], pool: GradingPool) -> dict[tuple, Grade]:
        """A grade for every key. A timeout or a failure gets a second attempt (in a fresh worker):
        a ``timeout`` verdict means the comparison overran its deadline twice."""
        results: dict[tuple, Grade] = {}
        judged = [k for k in keys if in_parent(self.verifiers[k[0]], k[2])]
        for name in sorted({k[0] for k in judged}):  # the judge, and answers another verifier sends to its judge
            mine = [k for k in judged if k[0] == name]
            items = [(a, self.tasks[t]["reference"], self.tasks[t]["question"]) for _, t, a in mine]
            results.update(zip(mine, self.verifiers[name].compare_many(items)))
        jobs = [Job(k, k[0], self.options.verifier_options.get(k[0], {}), k[2], self.tasks[k[1]]["reference"])
                for k in keys if k not in results]
        results.update(pool.grade(jobs))
        again = [job for job in jobs if results[job.key].status in ("timeout", FAILED)]
        results.update(pool.grade(again))
        return results

    def _verdict(self, row: dict, answer: str | None, route: str | None, cache: dict, failed: dict,
                 summary: GradeSummary) -> Verdict | None:
        """The row's verdict, or None when grading it failed (counted in `summary`, retried next run)."""
        name = self.verifier_of(row["task_id"])
        task = self.tasks[row["task_id"]]
        key = (self.versions[name], row["task_id"], answer)
        tally = summary.tallies.setdefault((self.label, task["benchmark"]), BenchmarkTally())
        if key in failed:
            tally.statuses[FAILED] += 1
            summary.failed += 1
            if len(summary.failure_examples) < 5:
                summary.failure_examples.append((row["task_id"], failed[key].detail or "failed"))
            return None
        if answer is EXTRACTION_TIMED_OUT:
            found, answer = Grade.timeout(f"extracting the answer ran past {self.options.deadline:g} s"), None
        else:
            found = Grade.no_answer() if answer is None else cache[key]
        tally.samples += 1
        tally.verifiers.add(name)
        tally.routes[route or "none"] += 1
        asked = self.asked[row["task_id"]]
        if asked:
            tally.format_asked += 1
            tally.format_followed += route == asked
            tally.formats.add(asked)
        tally.cut += row.get("finish_reason") == "length"
        tally.correct += found.correct
        tally.statuses[found.status] += 1
        tally.score_sum += found.score
        if found.detail:
            tally.reward_hacks.update(key for key, prefix in REWARD_HACKS.items() if found.detail.startswith(prefix))
            if not found.correct:
                reason = reason_of(found.detail)
                tally.reasons[reason] += 1
                tally.reason_examples.setdefault(reason, found.detail)
        if found.status == "no_answer" and len(summary.no_answer_examples) < 5 and row["completion"]:
            summary.no_answer_examples.append((row["task_id"], row["completion"][-200:]))
        if found.status == "timeout" and len(summary.timeout_examples) < 5:
            summary.timeout_examples.append((row["task_id"], (answer or "")[:200]))
        if task["reference"].get("answer") is None and name == "reasoning_gym":
            summary.no_gold.add(task["benchmark"])
        stored = answer[len(FULL_TEXT):] if answer is not None and answer.startswith(FULL_TEXT) else answer
        return Verdict(self.label, row["task_id"], row["sample_idx"], found.correct, found.score, found.status, name,
                       self.versions[name], stored, route, completion_hash=row["completion_hash"], detail=found.detail)


def _plan(store: Store, label: str, options: GradeOptions, given: Sequence[Task] | None) -> _LabelPlan:
    tasks = _stored_tasks(store, label)
    changed: set[str] = set()
    if given is not None:
        given_tasks = {t.task_id: t for t in given}
        if not tasks:  # checked before anything is written
            _check_covered(store, label, given_tasks, "the given tasks (--tasks)")
        changed = _changed_golds(store, label, tasks, given_tasks, options.update_tasks)
        new = [t for t in given if t.task_id not in tasks or t.task_id in changed]
        if new:
            _store_tasks(store, label, new, "prompts" if not tasks else new_shard_name("update"))
            if tasks:
                store.record_event("update-tasks", label=label, changed=sorted(changed),
                                   added=sorted(t.task_id for t in new if t.task_id not in tasks))
            tasks = _stored_tasks(store, label)
    if not tasks:
        raise InputError(
            f"{store.root}: no tasks stored for {label!r} (imported samples?); pass --tasks so tether knows "
            "each task's reference answer"
        )
    _check_covered(store, label, tasks, "the stored tasks (pass --tasks with the missing ones)")
    names = {options.verifier} if options.verifier != "auto" else {t["verifier"] for t in tasks.values()}
    verifiers = {name: make_verifier(name, **options.verifier_options.get(name, {})) for name in names}
    _check_tasks(tasks, verifiers, options.verifier)
    return _LabelPlan(store, label, tasks, verifiers, options, changed)


def _set_plan(plan: _LabelPlan, name: str) -> _LabelPlan:
    """Grading `plan`'s label into the verdict set `name` too, kept beside the one that counts: the same tasks
    (and tasks whose reference changed), the same options but for the verifier."""
    options = dataclasses.replace(plan.options, verifier=name, also=())
    names = {name} if name != "auto" else {t["verifier"] for t in plan.tasks.values()}
    verifiers = {v: make_verifier(v, **options.verifier_options.get(v, {})) for v in names}
    _check_tasks(plan.tasks, verifiers, name)
    return _LabelPlan(plan.store, plan.label, plan.tasks, verifiers, options, plan.changed_tasks, counts=False)


def _check_tasks(tasks: dict[str, dict], verifiers: dict[str, Any], name: str) -> None:
    """Tasks a verifier cannot grade are refused before anything is graded."""
    for task_id, task in tasks.items():
        check = getattr(verifiers[name if name != "auto" else task["verifier"]], "check_task", None)
        if check is not None:
            check(task_id, task["reference"])


def _check_covered(store: Store, label: str, tasks, what: str) -> None:
    """Every task id among `label`'s samples must be in `tasks`, before anything is written."""
    missing = sorted(set(query.sample_counts(store, label)) - set(tasks))
    if missing:
        shown = ", ".join(repr(t) for t in missing[:5])
        raise InputError(f"{store.root}: {len(missing)} task ids of {label!r}'s samples are not in {what}, e.g. {shown}")


def _changed_golds(store: Store, label: str, stored: dict[str, dict], given: dict[str, Task], update: bool) -> set[str]:
    """Tasks whose reference (gold answer) differs from the stored one; an error unless `update`."""
    changed = {tid for tid, task in given.items() if tid in stored
               and _gold(json.loads(task.reference_json())) != _gold(stored[tid]["reference"])}
    if changed and not update:
        shown = ", ".join(repr(t) for t in sorted(changed)[:5])
        raise InputError(f"{store.root}: the given tasks change the reference answer of {len(changed)} tasks of "
                         f"{label!r} (e.g. {shown}); pass --update-tasks to store the new ones and regrade those tasks")
    return changed


def _gold(reference: dict) -> dict:
    """What a reference says about the answer (the bare question kept beside it is not part of it)."""
    return {key: value for key, value in reference.items() if key != "question"}


def reason_of(detail: str) -> str:
    """The kind of reason a verdict's detail gives: its text before the first ':' ("failed", "syntax
    error", "exited before the tests finished"), at most `REASON_CHARS` characters."""
    return detail.split(":", 1)[0].strip()[:REASON_CHARS]


def _regrade_number(version: str) -> int:
    suffix = version.rpartition(REGRADE)[2] if REGRADE in version else ""
    return int(suffix) if suffix.isdigit() else 0


def _stored_tasks(store: Store, label: str) -> dict[str, dict]:
    return {
        task_id: {"benchmark": benchmark, "reference": json.loads(reference), "verifier": verifier,
                  "question": as_plain(json.loads(prompt))}
        for task_id, benchmark, prompt, reference, verifier in query.stored_tasks(store, label)
    }


def _store_tasks(store: Store, label: str, tasks: Sequence[Task], name: str = "prompts") -> None:
    put_images(store, {image.digest: image.data for task in tasks for image in task.images})
    records = [TaskRecord(label, t.task_id, t.benchmark, t.prompt_json(), as_plain(t.prompt), t.reference_json(),
                          t.verifier) for t in tasks]
    store.write([Shard("tasks", label, to_table(records, TaskRecord), name)])


def _load_cache(store: Store, versions: dict[str, str]) -> dict[tuple[str, str, str], Grade]:
    cache: dict[tuple[str, str, str], Grade] = {}
    for name, version in versions.items():
        for ver, task_id, answer, correct, score, status, detail in query.cached_grades(store, name, version):
            cache[(ver, task_id, answer)] = Grade(bool(correct), float(score), status, detail)
    return cache
