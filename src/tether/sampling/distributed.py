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
from collections.abc import Callable, Sequence

from tether.engines import EngineSpec
from tether.sampling.run import Progress, SampleSummary, SamplingConfig, prepare_run, run_unit
from tether.sampling.units import Unit, unit_samples
from tether.store import Store, open_store
from tether.tasks.task import Task
from tether.testing import hold


class SamplingWorker:
    """A worker: one engine, generating whole units and writing their shards."""

    def __init__(self, spec: EngineSpec, store_root: str, label: str, tasks: list[Task], config: SamplingConfig):
        self.engine = spec.build()
        self.store = open_store(store_root)
        self.label, self.tasks, self.config = label, tasks, config

    def prepare(self) -> tuple[list[str], dict]:
        """The engine's rendering of every prompt and its description (for the run's settings)."""
        return [self.engine.render(t.prompt) for t in self.tasks], self.engine.describe()

    def run(self, unit: Unit) -> tuple[int, int, str | None]:
        """(samples, tokens, error) of one unit.

        The driver hands out only units missing when the run started, so a unit whose shard exists
        was written during this run, by a worker that died before it could report it: its samples
        count as written (its token count is not known here: 0)."""
        summary = run_unit(unit, self.tasks, self.engine, self.store, self.label, self.config)
        if summary.units_skipped:
            return unit_samples(unit, len(self.tasks), self.config), 0, None
        error = summary.failed[0][1] if summary.failed else None
        return summary.samples_written, summary.tokens_written, error


def sample_distributed(tasks: Sequence[Task], spec: EngineSpec, store: str | Store, label: str,
                       config: SamplingConfig, executor, on_progress: Progress | None = None,
                       on_start: Callable[[int, int], None] | None = None) -> SampleSummary:
    """`tether.sample` with the units spread over `executor`'s workers (e.g. `tether.scale.RayExecutor`)."""
    target = open_store(store, create=True)
    with target.writing([label], "tether sample, distributed"):  # the workers write under the driver's lock
        return _drive(tasks, spec, target, label, config, executor, on_progress, on_start)


def _drive(tasks, spec, target: Store, label, config, executor, on_progress, on_start) -> SampleSummary:
    pool = executor.pool(SamplingWorker, spec, str(target.root), label, list(tasks), config, gpus=True)
    try:
        rendered, description = pool.call_first("prepare")
        todo, summary = prepare_run(target, label, tasks, rendered, description, config, on_start)
        started = time.perf_counter()
        for unit, result, died in pool.map(todo, "run"):
            hold("sampling:unit-done")
            samples, tokens, error = result or (0, 0, died)
            if error:
                summary.failed.append((unit.name, error))
                continue
            summary.samples_written += samples
            summary.tokens_written += tokens
            if on_progress:
                on_progress(samples, tokens)
    finally:
        pool.close()
    summary.seconds = time.perf_counter() - started
    return summary
