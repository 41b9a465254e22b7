"""Sampling spread over workers: the same units, seeds and shards as on one machine.

`sample_distributed` runs the missing units of a run on an executor's pool of workers (Ray
actors from `tether.scale`, handed in by the caller), each holding one engine built from an
`EngineSpec` (vLLM on GPU nodes, transformers anywhere, or a client of an OpenAI-compatible
server) and writing its own shards to the shared store.

- **Same samples.** Seeds come from (run seed, task, sample index) and shard names from the unit,
  so 1 or N workers, and any interruption, give the same store.
- **Worker failure.** The pool replaces a dead worker and retries its unit. A shard is linked
  atomically, so a unit is either wholly in the store or not at all, and a unit whose shard
  already exists is not redone: every sample is in the store exactly once.
- **Driver failure.** Nothing is kept outside the store: run the same command again and it
  resumes from the shard names, as on one machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence

from tether.engines import EngineSpec
from tether.sampling.config import SamplingConfig
from tether.sampling.run import Progress, SampleSummary, prepare_run, run_unit, unit_tasks
from tether.sampling.units import Unit
from tether.store import Store, open_store
from tether.tasks.task import Task
from tether.testing import hold


class SamplingWorker:
    """A worker: one engine, generating whole units and writing their shards."""

    def __init__(self, spec: EngineSpec, store_root: str, label: str, tasks: list[Task], config: SamplingConfig):
        self.engine = spec.build()
        self.store = open_store(store_root)
        self.label, self.tasks, self.config = label, tasks, config

    def prepare(self) -> tuple[list[str], dict, int | None]:
        """The engine's rendering of every prompt, its description (for the run's settings) and the tokens its
        model holds, where it knows them (`tether.sampling.limits`)."""
        return ([self.engine.render(t.prompt) for t in self.tasks], self.engine.describe(),
                getattr(self.engine, "max_context", None))

    def run(self, job: tuple[Unit, tuple[str, ...] | None]) -> tuple[int, int, str | None]:
        """(samples, tokens, error) of one unit, for the job's active tasks where it names them (an adaptive round).

        The driver hands out only units missing when the call started, so a unit whose shard exists
        was written during this call, by a worker that died before it could report it: its samples
        count as written (its token count is not known here: 0)."""
        unit, active = job
        summary = run_unit(unit, self.tasks, self.engine, self.store, self.label, self.config, active)
        if summary.units_skipped:
            return len(unit_tasks(unit, self.tasks, self.config, active)) * (unit.stop - unit.start), 0, None
        error = summary.failed[0][1] if summary.failed else None
        return summary.samples_written, summary.tokens_written, error


class DistributedSampler:
    """A pool of sampling workers for one label, kept open across calls: `sample` runs a call's missing
    units on it (adaptive rounds are calls, so each worker loads its engine once for the whole run).
    The caller holds the label's writing lock; the workers write under it."""

    def __init__(self, tasks: Sequence[Task], spec: EngineSpec, store: Store, label: str, config: SamplingConfig,
                 executor):
        self.tasks, self.store, self.label, self.config = list(tasks), store, label, config
        self.pool = executor.pool(SamplingWorker, spec, str(store.root), label, self.tasks, config, gpus=True)
        try:
            self.rendered, self.description, self.context = self.pool.call_first("prepare")
        except BaseException:
            self.pool.close()
            raise

    def sample(self, config: SamplingConfig, on_progress: Progress | None = None,
               on_start: Callable[[int, int], None] | None = None,
               active: Collection[str] | None = None) -> SampleSummary:
        """`tether.sample`'s work for `config` (the pool's run settings, any k), on the workers."""
        todo, summary = prepare_run(self.store, self.label, self.tasks, self.rendered, self.description, config,
                                    on_start, active, self.context)
        jobs = [(unit, None if active is None else tuple(t.task_id for t in unit_tasks(unit, self.tasks, config,
                                                                                          active)))
                for unit in todo]
        started = time.perf_counter()
        for (unit, _), result, died in self.pool.map(jobs, "run"):
            hold("sampling:unit-done")
            samples, tokens, error = result or (0, 0, died)
            if error:
                summary.failed.append((unit.name, error))
                continue
            summary.samples_written += samples
            summary.tokens_written += tokens
            if on_progress:
                on_progress(samples, tokens)
        summary.seconds = time.perf_counter() - started
        return summary

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> DistributedSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sample_distributed(tasks: Sequence[Task], spec: EngineSpec, store: str | Store, label: str,
                       config: SamplingConfig, executor, on_progress: Progress | None = None,
                       on_start: Callable[[int, int], None] | None = None) -> SampleSummary:
    """`tether.sample` with the units spread over `executor`'s workers (e.g. `tether.scale.RayExecutor`)."""
    target = open_store(store, create=True)
    with target.writing([label], "tether sample, distributed"):  # the workers write under the driver's lock
        with DistributedSampler(tasks, spec, target, label, config, executor) as sampler:
            return sampler.sample(config, on_progress, on_start)
