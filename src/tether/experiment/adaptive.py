"""Adaptive sampling: each task in rounds, graded between rounds, stopped once its outcome at k is settled.

`sample_adaptive` runs `tether.sampling.sample` once per round of the rule
(`tether.metrics.adaptive`), or the same units on an executor's workers (Ray): round r asks for
samples [0, R_r) of the tasks still active, and `tether.grading.grade` grades them before the next
round decides which tasks go on. Sample j of task t keeps its seed from (seed, t, j), so the
samples are the first n_t of a full run's, and a task is stopped only by correct verdicts (a
verifier error is not correct). The rule is part of the label's run settings in the manifest, so a run resumes only with the same rule; a killed run
resumes at the round it was in (the rounds' decisions are recomputed from the verdicts, which are
the same), with no duplicates (a round's units are ordinary units).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from tether.metrics.adaptive import AdaptiveRule, settled
from tether.sampling import SampleSummary, SamplingConfig, sample
from tether.store import Store, open_store
from tether.tasks import Task


@dataclass
class AdaptiveSummary:
    """What an adaptive run did: the rounds, each task's samples, and the samples a full run would draw."""

    label: str
    rule: AdaptiveRule
    k: int
    rounds: list[tuple[int, int]] = field(default_factory=list)  # (round end, tasks sampled in it)
    samples: dict[str, int] = field(default_factory=dict)  # task -> samples drawn
    summaries: list[SampleSummary] = field(default_factory=list)

    @property
    def failed(self) -> list[tuple[str, str]]:
        return [f for s in self.summaries for f in s.failed]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def samples_written(self) -> int:
        return sum(s.samples_written for s in self.summaries)

    @property
    def tokens_written(self) -> int:
        return sum(s.tokens_written for s in self.summaries)

    @property
    def stopped_early(self) -> int:
        return sum(n < self.k for n in self.samples.values())

    def to_dict(self) -> dict:
        """What `tether sample --adaptive --json` prints (with the store): `SampleSummary.to_dict`'s keys, for the
        whole run, and under ``adaptive`` the rule, its rounds and the samples held against a full run's."""
        held = sum(self.samples.values())
        return {"label": self.label, "tasks": len(self.samples), "samples_written": self.samples_written,
                "samples_skipped": max(0, held - self.samples_written), "tokens_written": self.tokens_written,
                "units_total": sum(s.units_total for s in self.summaries),
                "units_skipped": sum(s.units_skipped for s in self.summaries),
                "seconds": round(sum(s.seconds for s in self.summaries), 3), "ok": self.ok,
                "failed": [{"unit": unit, "error": error} for unit, error in self.failed],
                "warnings": [w for s in self.summaries for w in s.warnings],
                "adaptive": {"rule": {"name": self.rule.name, **self.rule.as_dict()}, "k": self.k,
                             "rounds": [{"end": end, "tasks": tasks} for end, tasks in self.rounds],
                             "samples_held": held, "samples_full_run": self.k * len(self.samples),
                             "stopped_early": self.stopped_early}}


def adaptive_config(config: SamplingConfig, rule: AdaptiveRule) -> SamplingConfig:
    """`config` with the rule recorded (it becomes part of the label's run settings)."""
    return replace(config, adaptive=tuple(sorted(rule.as_dict().items())))


def sample_adaptive(tasks: Sequence[Task], engine, store: str | Store, label: str, config: SamplingConfig,
                    rule: AdaptiveRule, grade_options, *, executor=None,
                    on_round: Callable[[int, int], None] | None = None,
                    on_progress=None, on_start=None, on_in_flight=None) -> AdaptiveSummary:
    """Sample `label` adaptively up to `config.k` per task, grading with `grade_options` between rounds.

    `engine` is a built engine, or with `executor` (e.g. `tether.scale.RayExecutor`) an `EngineSpec` that
    each of the executor's workers builds once and samples every round with."""
    from tether.grading import grade

    target = open_store(store, create=True)
    config = adaptive_config(config, rule)
    summary = AdaptiveSummary(label, rule, config.k)
    with target.writing([label], "tether sample --adaptive"):
        _check_rule(target, label, config)
        if target.shard_paths("samples", label):  # a resumed run: what the killed one sampled is graded first
            grade(target, grade_options, labels=[label])
        with _round_sampler(tasks, engine, target, label, config, executor, on_progress, on_start,
                            on_in_flight) as sample_round:
            for end in rule.rounds(config.k):
                n, c = _counts(target, label, tasks)
                active = [t.task_id for t, nt, ct in zip(tasks, n, c)
                          if nt < end and not settled(nt, ct, config.k, rule)]
                if not active:
                    continue
                summary.rounds.append((end, len(active)))
                if on_round:
                    on_round(end, len(active))
                done = sample_round(replace(config, k=end), set(active))
                summary.summaries.append(done)
                if not done.ok:
                    break  # failed units: the round is incomplete; a re-run retries them and goes on
                grade(target, grade_options, labels=[label])
        if summary.ok:
            _record_budget(target, label, config.k)
        n, _ = _counts(target, label, tasks)
        summary.samples = {t.task_id: int(nt) for t, nt in zip(tasks, n)}
    return summary


@contextmanager
def _round_sampler(tasks, engine, store: Store, label: str, config: SamplingConfig, executor, on_progress,
                   on_start, on_in_flight):
    """A function sampling one round, (round's config, active task ids) -> SampleSummary: with the engine here,
    or on the executor's workers, whose pool stays open across the rounds."""
    if executor is None:
        yield lambda round_config, active: sample(tasks, engine, store, label, round_config, on_progress, on_start,
                                                  on_in_flight, active=active)
        return
    from tether.sampling.distributed import DistributedSampler

    with DistributedSampler(tasks, engine, store, label, config, executor) as sampler:
        yield lambda round_config, active: sampler.sample(round_config, on_progress, on_start, active)


def _record_budget(store: Store, label: str, k: int) -> None:
    """The label's full budget k in the manifest, which each round's run records only up to its own end: when
    every task settled before k, no round reached it, and compare computes chance levels at this k."""
    with store.changing_manifest() as manifest:
        manifest.raise_budget(label, k)


def _check_rule(store: Store, label: str, config: SamplingConfig) -> None:
    """A label sampled under another rule, or in full, is refused before anything runs (as `sample` would refuse
    it at its next round, which a finished run never reaches)."""
    from tether.sampling.run import refuse_other_settings, settings_differences

    run = store.manifest().runs.get(label)
    if run is None or not store.shard_paths("samples", label):
        return
    changes = settings_differences({"adaptive": run.settings.adaptive}, {"adaptive": dict(config.adaptive or ())})
    if changes:
        refuse_other_settings(store, label, changes)


def _counts(store: Store, label: str, tasks: Sequence[Task]) -> tuple[np.ndarray, np.ndarray]:
    """Graded samples and correct ones per task (0, 0 for a task not sampled yet)."""
    from tether.store.query import task_counts

    if not store.shard_paths("verdicts", label):
        return np.zeros(len(tasks), dtype=np.int64), np.zeros(len(tasks), dtype=np.int64)
    counts = task_counts(store, label)
    found = {t: (n, c) for t, n, c in zip(counts.task_ids.astype(str), counts.n, counts.c)}
    pairs = [found.get(t.task_id, (0, 0)) for t in tasks]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)
