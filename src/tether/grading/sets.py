"""Named verdict sets: one label graded under several verifiers, kept side by side.

``tether grade --verifier auto,exact,math`` grades every sample under each; the first set is the one
counts use, the others are kept beside it (the manifest's ``grading[<label>].sets``, named by the
``--verifier`` value) for ``tether compare --verifiers`` to show how the regions depend on the grader.
Sets share what they can: the verdict cache is per verifier, and two sets of the same versions (``auto``
and ``math`` on math tasks) are the same verdicts, graded once.

What this module does not do: grade (`tether.grading.run`) or count (`tether.store.query.task_counts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tether.errors import InputError
from tether.grading.registry import VERIFIERS

AUTO = "auto"  # each task's own verifier


def parse_set_names(text: str) -> tuple[str, ...]:
    """``"auto,exact,math"`` as ("auto", "exact", "math"), each checked (`check_set_names`)."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    check_set_names(names, given=text)
    return names


def check_set_names(names: Sequence[str], given: str | None = None) -> None:
    """Each name is ``auto`` or a verifier's; one line naming the first that is not."""
    if not names:
        raise InputError(f"--verifier {given or ''!r}: name at least one verifier (auto, {', '.join(VERIFIERS)})")
    unknown = [name for name in names if name != AUTO and name not in VERIFIERS]
    if unknown:
        raise InputError(f"unknown verifier {unknown[0]!r}; known: {AUTO}, {', '.join(VERIFIERS)}")


def check_disjoint(label: str, sets: Mapping[str, Mapping[str, str]]) -> None:
    """Two sets of one label that share a verifier version must be the same set: else verdicts one of them
    wrote (``math`` forced on every task) would count in the other (``auto`` on a store whose tasks name
    ``math`` and ``reasoning_gym``), where only the tasks that name ``math`` belong. One line naming both."""
    seen: dict[str, tuple[str, Mapping[str, str]]] = {}
    for name, versions in sets.items():
        for version in versions.values():
            other = seen.get(version)
            if other is not None and dict(other[1]) != dict(versions):
                raise InputError(
                    f"{label!r}: the verdict sets {other[0]!r} and {name!r} would share the verdicts of "
                    f"{version.split('/', 1)[0]} on different tasks (the tasks name several verifiers), so one "
                    "would count the other's; grade them in separate stores, or name only one of them")
            seen.setdefault(version, (name, versions))

