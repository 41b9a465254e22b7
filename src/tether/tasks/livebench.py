"""LiveBench's reasoning and language rows as tasks: the release date their scorers dispatch on, as text.

A row of ``livebench/reasoning`` or ``livebench/language`` holds the prompt in ``turns``, the ground truth in
``ground_truth``, the task type in ``task`` and the release in ``livebench_release_date`` (a timestamp in the
hub's Parquet, text in a JSONL copy). `release_row` writes the date as ``YYYY-MM-DD`` (None when the row has
none), so the reference keeps it as text: LiveBench's zebra-puzzle and connections scorers changed on
2024-11-25, and the `livebench` verifier picks the release's by it.
"""

from __future__ import annotations

from typing import Any


def release_date(value: Any) -> str | None:
    """A release date as ``YYYY-MM-DD``: a date or timestamp's, or the first ten characters of its text."""
    if value is None or value == "":
        return None
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def release_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its ``livebench_release_date`` as text (None when it has none)."""
    return {**row, "livebench_release_date": release_date(row.get("livebench_release_date"))}
