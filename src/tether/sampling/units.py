"""Units of sampling work: (task block x sample range), named after their shard.

A unit covers ``task_block`` consecutive tasks and up to ``sample_block``
consecutive sample indices, and is written as one shard named
``part-b<task block>-s<first>-<end>.parquet``. Resuming lists those names: the
units still missing are [0, k) minus what the names cover, per task block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tether.errors import StoreError
from tether.sampling.config import SamplingConfig
from tether.sampling.limits import BLOCK_DIGITS, SAMPLE_DIGITS
from tether.store import Store

_UNIT = re.compile(rf"^part-b(\d{{{BLOCK_DIGITS}}})-s(\d{{{SAMPLE_DIGITS}}})-(\d{{{SAMPLE_DIGITS}}})\.parquet$")


@dataclass(frozen=True)
class Unit:
    """One shard's worth of work: tasks [first_task, first_task + task_block) x samples [start, stop)."""

    block: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"b{self.block:0{BLOCK_DIGITS}d}-s{self.start:0{SAMPLE_DIGITS}d}-{self.stop:0{SAMPLE_DIGITS}d}"


def missing_units(n_tasks: int, config: SamplingConfig, done: Sequence[Unit]) -> list[Unit]:
    """The units still to generate, in order: per task block, [0, k) minus what `done` covers."""
    covered: dict[int, list[tuple[int, int]]] = {}
    for unit in done:
        covered.setdefault(unit.block, []).append((unit.start, unit.stop))
    units = []
    for block in range((n_tasks + config.task_block - 1) // config.task_block):
        for start, stop in _gaps(sorted(covered.get(block, [])), config.k):
            cut = start
            while cut < stop:
                end = min(stop, (cut // config.sample_block + 1) * config.sample_block)
                units.append(Unit(block, cut, end))
                cut = end
    return units


def _gaps(ranges: list[tuple[int, int]], k: int) -> list[tuple[int, int]]:
    gaps, position = [], 0
    for start, stop in ranges:
        if start > position:
            gaps.append((position, min(start, k)))
        position = max(position, stop)
        if position >= k:
            break
    if position < k:
        gaps.append((position, k))
    return [(a, b) for a, b in gaps if a < b]


def done_units(store: Store, label: str) -> list[Unit]:
    """The units whose shards are in the store, each checked whole (a truncated shard is an error
    naming `tether check --repair`, never a unit counted as done)."""
    units = []
    for path in store.shard_paths("samples", label):
        store.check_readable(path)
        match = _UNIT.match(path.name)
        if match is None:
            raise StoreError(
                f"{store.root}: samples of {label!r} include {path.name}, which `tether sample` did not write "
                "(imported?); sample into another label"
            )
        units.append(Unit(*(int(g) for g in match.groups())))
    return units


