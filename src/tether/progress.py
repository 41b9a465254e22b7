"""Progress hooks: library code reports how far a stage is, the CLI draws the bars.

A `ProgressFactory` takes a stage's description and gives a context manager
yielding a `Bar`: ``start(total, completed)`` once the size is known, then
``advance(n)``; a bar may also take ``in_flight(amount, tokens)``, the work done
inside units not finished yet (sampling reports it from an engine's batch), and
``on_progress(samples, tokens)``, finished samples with their generated tokens
(sampling calls it instead of ``advance`` where a bar has it).
`silent` draws nothing (the default for library calls).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import ContextManager, Protocol


class Bar(Protocol):
    def start(self, total: int, completed: int = 0) -> None: ...

    def advance(self, n: int = 1) -> None: ...


ProgressFactory = Callable[[str], ContextManager[Bar]]


class _NoBar:
    def start(self, total: int, completed: int = 0) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None

    def in_flight(self, amount: float, tokens: int = 0) -> None:
        return None


@contextlib.contextmanager
def silent(description: str) -> Iterator[Bar]:
    yield _NoBar()
