"""The one Ray worker pool: actors of any worker class, each given one item at a time.

A stage that can run distributed (sampling, grading) defines its worker class and takes an
executor from its caller; `RayExecutor` is that executor. Plain actors rather than Ray Data's
LLM processors: tether's unit of work is already a resumable shard with per-sample seeds, which a
batch pipeline would re-cut (see docs/cluster.md).

- **Worker failure.** A worker that dies (its process killed, its node lost) fails the call in
  flight; the pool starts a replacement actor and puts the item back in the queue, up to
  `max_retries` times per item, then reports the item as failed.
- **Driver failure.** Nothing is kept outside the store: the stage, run again, resumes from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from tether.errors import InputError


@dataclass
class RayOptions:
    address: str | None = None  # "local": start a new Ray instance here; "auto" or "host:port": join a cluster;
    #                            None: Ray's default (RAY_ADDRESS, else a running local cluster, else a new one)
    workers: int = 2
    num_cpus: float = 1.0  # per worker
    num_gpus: float = 0.0  # per worker that asks for GPUs (1 for a vLLM worker on a GPU node)
    max_retries: int = 3  # per item, after a worker died
    init: dict = field(default_factory=dict)  # extra keyword arguments of ray.init


class RayExecutor:
    """Ray, connected (or started) as `options` say, making `ActorPool`s of worker classes.

    `on_worker_started(pid)` is told of each worker process started (the tests use it to kill one).
    """

    def __init__(self, options: RayOptions | None = None, on_worker_started: Callable[[int], None] | None = None):
        self.options = options or RayOptions()
        self.on_worker_started = on_worker_started
        self.ray = _connected(self.options)

    @property
    def workers(self) -> int:
        return self.options.workers

    def pool(self, worker: type, *args, gpus: bool = False) -> ActorPool:
        """`options.workers` actors of `worker(*args)` (with `options.num_gpus` each when `gpus`)."""
        ray, options = self.ray, self.options
        actor = ray.remote(num_cpus=options.num_cpus, num_gpus=options.num_gpus if gpus else 0,
                           max_restarts=0)(_with_pid(worker))

        def start():
            started = actor.remote(*args)
            if self.on_worker_started:
                self.on_worker_started(ray.get(started.pid.remote()))
            return started

        return ActorPool(ray, start, options.workers, options.max_retries)


class ActorPool:
    """Ray actors made by `start()`, each given one item at a time; an actor that dies is replaced
    and its item retried on another, up to `max_retries` times."""

    def __init__(self, ray, start: Callable[[], object], size: int, max_retries: int):
        self.ray, self.start, self.max_retries = ray, start, max_retries
        self.workers = [start() for _ in range(max(1, size))]
        self.replaced = 0

    def call_first(self, method: str, *args):
        """`method(*args)` on the first worker, waited for."""
        return self.ray.get(getattr(self.workers[0], method).remote(*args))

    def map(self, items: Sequence, method: str) -> Iterator[tuple[object, object, str | None]]:
        """(item, result, None) per item in completion order, or (item, None, error) for an item
        whose actors kept dying; each item goes to one actor's `method(item)`."""
        queue = [(item, 0) for item in reversed(items)]
        idle, running = list(self.workers), {}
        while queue or running:
            while queue and idle:
                worker, (item, tries) = idle.pop(), queue.pop()
                running[getattr(worker, method).remote(item)] = (worker, item, tries)
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


def _with_pid(worker: type) -> type:
    """`worker` with a `pid()` method, so that the driver can name each actor's process."""

    class Worker(worker):
        def pid(self) -> int:
            return os.getpid()

    Worker.__name__ = Worker.__qualname__ = worker.__name__
    return Worker


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
        raise InputError("running on Ray needs the ray package: pip install 'tether[ray]'") from None
    return ray
