"""Sampling on a Ray cluster: the same units, seeds and shards as on one machine, spread over workers.

`sample_on_ray` runs the missing (task block x sample range) units of a run on a pool of Ray
actors, each holding one engine built from an `EngineSpec` (vLLM on GPU nodes, transformers
anywhere, or a client of an OpenAI-compatible server) and writing its own shards to the shared
store. Plain actors rather than Ray Data's LLM processors: tether's unit of work is already a
resumable shard with per-sample seeds, which a batch pipeline would re-cut (see docs/cluster.md).

- **Same samples.** Seeds come from (run seed, task, sample index) and shard names from the unit,
  so 1 or N workers, and any interruption, give the same store.
- **Worker failure.** A worker that dies (its process killed, its node lost) fails the call in
  flight; the driver starts a replacement actor and puts the unit back in the queue, up to
  `max_retries` times per unit. A shard is linked atomically, so a unit is either wholly in the
  store or not at all, and a unit whose shard already exists is not redone: every sample is in
  the store exactly once.
- **Driver failure.** Nothing is kept outside the store: run the same command again and it
  resumes from the shard names, as on one machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from tether.errors import InputError
from tether.sampling import SampleSummary, SamplingConfig, Unit, prepare_run, run_unit
from tether.store import Store
from tether.tasks.task import Task
from tether.testing import hold

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EngineSpec:
    """How a worker builds its engine: `make_engine(kind, model, **options)`."""

    kind: str
    model: str
    options: dict = field(default_factory=dict)

    def build(self):
        from tether.engines import make_engine

        return make_engine(self.kind, self.model, **self.options)


@dataclass
class RayOptions:
    address: str | None = None  # "local": start a new Ray instance here; "auto" or "host:port": join a cluster;
    #                            None: Ray's default (RAY_ADDRESS, else a running local cluster, else a new one)
    workers: int = 2
    num_cpus: float = 1.0  # per worker
    num_gpus: float = 0.0  # per worker (1 for a vLLM worker on a GPU node)
    max_retries: int = 3  # per unit, after a worker died
    init: dict = field(default_factory=dict)  # extra keyword arguments of ray.init


class _Actor:
    def pid(self) -> int:
        import os

        return os.getpid()


class SamplingWorker(_Actor):
    """A Ray actor: one engine, generating whole units and writing their shards."""

    def __init__(self, spec: EngineSpec, store_root: str, label: str, tasks: list[Task], config: SamplingConfig):
        self.engine = spec.build()
        self.store = Store(store_root)
        self.label, self.tasks, self.config = label, tasks, config

    def prepare(self) -> tuple[list[str], dict]:
        """The engine's rendering of every prompt and its description (for the run's settings)."""
        return [self.engine.render(t.prompt) for t in self.tasks], self.engine.describe()

    def run(self, unit: Unit) -> tuple[int, int, str | None]:
        """(samples, tokens, error) of one unit."""
        summary = run_unit(unit, self.tasks, self.engine, self.store, self.label, self.config)
        error = summary.failed[0][1] if summary.failed else None
        return summary.samples_written, summary.tokens_written, error


class ActorPool:
    """Ray actors made by `start()`, each given one item at a time; an actor that dies is replaced
    and its item retried on another, up to `max_retries` times."""

    def __init__(self, ray, start: Callable[[], object], size: int, max_retries: int):
        self.ray, self.start, self.max_retries = ray, start, max_retries
        self.workers = [start() for _ in range(max(1, size))]
        self.replaced = 0

    def map(self, items: Sequence, call: Callable) -> Iterator[tuple[object, object, str | None]]:
        """(item, result, None) per item in completion order, or (item, None, error) for an item
        whose actors kept dying; `call(actor, item)` submits the work and returns its object ref."""
        queue = [(item, 0) for item in reversed(items)]
        idle, running = list(self.workers), {}
        while queue or running:
            while queue and idle:
                worker, (item, tries) = idle.pop(), queue.pop()
                running[call(worker, item)] = (worker, item, tries)
            ready, _ = self.ray.wait(list(running), num_returns=1)
            worker, item, tries = running.pop(ready[0])
            try:
                result = self.ray.get(ready[0])
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.WorkerCrashedError) as exc:
                idle.append(self._replace(worker))
                if tries < self.max_retries:
                    queue.append((item, tries + 1))
                else:
                    yield item, None, f"worker died {tries + 1} times: {type(exc).__name__}"
                continue
            idle.append(worker)
            yield item, result, None

    def _replace(self, worker):
        replacement = self.start()
        self.workers[self.workers.index(worker)] = replacement
        self.replaced += 1
        return replacement

    def close(self) -> None:
        for worker in self.workers:
            self.ray.kill(worker)


def sample_on_ray(tasks: Sequence[Task], spec: EngineSpec, store: str | Store, label: str, config: SamplingConfig,
                  ray_options: RayOptions | None = None, on_progress: Progress | None = None,
                  on_start: Callable[[int, int], None] | None = None,
                  on_worker_started: Callable[[int], None] | None = None) -> SampleSummary:
    """`tether.sample` with the units spread over Ray workers; `on_worker_started(pid)` is told of
    each worker process (the tests use it to kill one)."""
    options = ray_options or RayOptions()
    ray = _connected(options)
    target = store if isinstance(store, Store) else Store.open_or_create(store)
    actor = ray.remote(num_cpus=options.num_cpus, num_gpus=options.num_gpus, max_restarts=0)(SamplingWorker)

    def start():
        worker = actor.remote(spec, str(target.root), label, list(tasks), config)
        if on_worker_started:
            on_worker_started(ray.get(worker.pid.remote()))
        return worker

    pool = ActorPool(ray, start, options.workers, options.max_retries)
    try:
        rendered, description = ray.get(pool.workers[0].prepare.remote())
        todo, summary = prepare_run(target, label, tasks, rendered, description, config, on_start)
        started = time.perf_counter()
        for unit, result, died in pool.map(todo, lambda worker, unit: worker.run.remote(unit)):
            hold("ray:unit-done")
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


# -- grading ---------------------------------------------------------------------------------

class GradingWorker(_Actor):
    """A Ray actor: a one-process `GradingPool` (deadlines, hung workers replaced) on its node."""

    def __init__(self, deadline: float):
        from tether.grading.pool import GradingPool

        self.pool = GradingPool(1, deadline)

    def grade(self, jobs: list) -> list:
        return list(self.pool.grade(jobs))


class RayGradingPool:
    """`GradingPool`'s interface over Ray actors: jobs go out in batches to `workers` actors, each
    grading with its own deadline-enforcing process; a batch whose actor died is regraded by a
    replacement actor."""

    def __init__(self, options: RayOptions, deadline: float = 20.0, batch: int = 64):
        ray = _connected(options)
        actor = ray.remote(num_cpus=options.num_cpus, max_restarts=0)(GradingWorker)
        self.actors = ActorPool(ray, lambda: actor.remote(deadline), options.workers, options.max_retries)
        self.batch = batch

    @property
    def workers(self) -> list:
        return self.actors.workers

    @property
    def replaced(self) -> int:
        return self.actors.replaced

    def __enter__(self) -> RayGradingPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.actors.close()

    def grade(self, jobs):
        """(job key, grade) for every job, batch by batch in completion order."""
        from tether.grading.base import Grade

        jobs = list(jobs)
        batches = [jobs[i : i + self.batch] for i in range(0, len(jobs), self.batch)]
        for batch, results, died in self.actors.map(batches, lambda worker, batch: worker.grade.remote(batch)):
            if died:
                yield from ((job.key, Grade.error("Ray grading worker died")) for job in batch)
            else:
                yield from results


def _connected(options: RayOptions):
    """The ray module, connected (or started) as `options` say, unless this process already is."""
    ray = _ray()
    if not ray.is_initialized():
        import logging

        ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, **options.init)
    return ray


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError("sampling on Ray needs the ray package: pip install 'tether[ray]'") from None
    return ray
