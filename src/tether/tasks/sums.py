"""The lab's task family: "write two numbers that sum to N".

A prompt is ``"N:"``; a completion is ``"a+b"`` (decimal, no leading zeros,
0 <= a, b <= 99) and is correct when a + b = N. Every prompt has many distinct
correct completions (solution modes), so a model can prefer some, rarely
produce others and never produce the rest. Completions are at most five
characters over a 12-character alphabet, short enough that every completion of
probability >= 1e-12 can be enumerated exactly (`tether.lab.enumerate`).

The verifier ``lab_sum`` (`tether.grading.sums`) grades a completion exactly;
the lab's models (`tether.lab`) are trained on this family.
"""

from __future__ import annotations

import re

from tether.tasks.task import Task

ALPHABET = "0123456789+:"
BENCHMARK = "lab-sums"
MAX_TERM = 99
PATTERN = r"^(0|[1-9]\d?)\+(0|[1-9]\d?)$"
_SUM = re.compile(PATTERN)


def prompt(n: int) -> str:
    return f"{n}:"


def parse(completion: str) -> tuple[int, int] | None:
    """(a, b) of a well-formed "a+b" completion, else None."""
    match = _SUM.match(completion.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_correct(completion: str, n: int) -> bool:
    terms = parse(completion)
    return terms is not None and sum(terms) == n


def solutions(n: int) -> list[str]:
    """Every correct completion of prompt N, in order of the first term."""
    return [f"{a}+{n - a}" for a in range(0, min(n, MAX_TERM) + 1) if 0 <= n - a <= MAX_TERM]


def tasks(targets: list[int]) -> list[Task]:
    return [Task(f"sum/{n:03d}", BENCHMARK, prompt(n), {"answer": n}, "lab_sum") for n in targets]
