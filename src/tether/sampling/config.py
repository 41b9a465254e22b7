"""`SamplingConfig`: how many samples of each task, how decoded, how seeded and how the work is cut.

It holds itself to the rules and bounds of `tether.sampling.limits` when made, so a config that
exists is one a run can hold (before the tasks and the engine are known). It imports nothing else
of the sampling stage, so every module of it (units, run, distributed) can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tether import defaults
from tether.engines.base import Decoding
from tether.errors import InputError
from tether.sampling.limits import setting_problem, size_problem


@dataclass(frozen=True)
class SamplingConfig:
    """How many samples, how decoded, how seeded and how the work is cut."""

    k: int
    decoding: Decoding = field(default_factory=Decoding)
    seed: int = 0
    task_block: int = defaults.TASK_BLOCK
    sample_block: int = defaults.SAMPLE_BLOCK
    adaptive: tuple[tuple[str, float], ...] | None = None  # the adaptive rule's parameters (recorded, compared)

    def __post_init__(self) -> None:  # the rules and bounds of tether.sampling.limits, stated there
        for name in ("k", "task_block", "sample_block"):
            problem = setting_problem(name, getattr(self, name))
            if problem:
                raise InputError(f"{name} {problem}")
        problem = size_problem(self)
        if problem:
            raise InputError(problem)
