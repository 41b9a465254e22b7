"""Grading spread over workers: `GradingPool`'s interface over an executor's pool (e.g. Ray actors).

Jobs go out in batches; each worker grades its batch with its own one-process `GradingPool`
(deadlines, hung processes replaced) on its node. A batch whose worker died is regraded by a
replacement worker; a batch whose workers kept dying is ``failed`` (not a verdict: retried by the next run).
"""

from __future__ import annotations

from tether.grading.base import Grade
from tether.grading.pool import GradingPool


class GradingWorker:
    """A worker: a one-process `GradingPool` on its node."""

    def __init__(self, deadline: float):
        self.pool = GradingPool(1, deadline)

    def grade(self, jobs: list) -> list:
        return list(self.pool.grade(jobs))


class DistributedGradingPool:
    """`GradingPool`'s interface over `executor.pool(GradingWorker, deadline)`."""

    def __init__(self, executor, deadline: float = 20.0, batch: int = 64):
        self.actors = executor.pool(GradingWorker, deadline)
        self.batch = batch

    @property
    def workers(self) -> list:
        return self.actors.workers

    @property
    def replaced(self) -> int:
        return self.actors.replaced

    def __enter__(self) -> DistributedGradingPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.actors.close()

    def grade(self, jobs):
        """(job key, grade) for every job, batch by batch in completion order."""
        jobs = list(jobs)
        batches = [jobs[i : i + self.batch] for i in range(0, len(jobs), self.batch)]
        for batch, results, died in self.actors.map(batches, "grade"):
            if died:
                yield from ((job.key, Grade.failed("grading worker died")) for job in batch)
            else:
                yield from results
