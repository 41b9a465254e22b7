"""Pairing two models' per-task counts: the tasks both were sampled on, and the budget both are compared at.

Every comparison goes through `paired_counts` (files, stores, `tether.compare`, `compare_store`, the
likelihood's regions; budgets matched or not), and `compare_counts` through `align`, in this order:

1. `align`: a task only one model has is refused, naming how many and the first ids of each side,
   or, with ``allow_missing``, dropped with a warning that says the same. This runs on each model's
   full counts, before any budget is matched, so no task can leave the comparison unnamed.
2. `matched_limits`: when budgets are matched and differ on some common task, both models are
   counted again on each common task's first min(n_base, n_rl) samples, with a warning.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tether.errors import InputError
from tether.store.schema import TaskCounts

SHOWN = 5  # ids named in a message about missing tasks

Count = Callable[[dict[str, int] | None], TaskCounts]  # a model's counts, on each task's first m samples where given


def align(base: TaskCounts, rl: TaskCounts, allow_missing: bool) -> tuple[TaskCounts, TaskCounts, list[str]]:
    """Both models on their common tasks, in one order. Tasks only one model has are an error naming their
    count and first ids (both sides at once), unless `allow_missing`: then dropped, with that as a warning."""
    base_ids, rl_ids = base.task_ids.astype(str), rl.task_ids.astype(str)
    common = np.intersect1d(base_ids, rl_ids)
    if common.size == 0 and base_ids.size and rl_ids.size:
        raise InputError(no_common_tasks(base, rl))
    found = []
    for model, other, only in ((base, rl, np.setdiff1d(base_ids, rl_ids)), (rl, base, np.setdiff1d(rl_ids, base_ids))):
        if only.size:
            shown = ", ".join(map(str, only[:SHOWN])) + (", ..." if only.size > SHOWN else "")
            found.append(f"{only.size} tasks of {model.label!r} ({model.source}) are missing from "
                         f"{other.label!r}: {shown}")
    if found and not allow_missing:
        raise InputError("; ".join(found) + " (use --allow-missing, or allow_missing = true under an experiment's "
                         "[compare], to drop them)")
    if common.size == 0:
        raise InputError(f"{base.source} and {rl.source} share no task ids")  # one side has none
    if found:
        total = len(base_ids) + len(rl_ids) - 2 * common.size
        found = [f"{'; '.join(found)}; dropped these {total} tasks: compared on the {common.size} tasks both have"]
    return base.subset(common), rl.subset(common), found


def no_common_tasks(base: TaskCounts, rl: TaskCounts) -> str:
    """Why two models that share no task id cannot be compared, and the likely cause: not a task to drop
    (--allow-missing would drop every one) but ids that name the same documents differently, most often the
    benchmark before the first '/' (taken from a file's name), or two different task sets."""
    base_ids, rl_ids = base.task_ids.astype(str), rl.task_ids.astype(str)
    line = (f"{base.label!r} ({base.source}) and {rl.label!r} ({rl.source}) share no task ids (e.g. {base_ids[0]} vs "
            f"{rl_ids[0]}), so there is nothing to compare")

    def split(ids):
        parts = [i.split("/", 1) for i in ids]
        return {p[0] for p in parts if len(p) == 2}, {p[1] for p in parts if len(p) == 2}

    (base_names, base_rest), (rl_names, rl_rest) = split(base_ids), split(rl_ids)
    if base_rest & rl_rest:
        names = ", ".join(sorted(base_names)[:SHOWN]), ", ".join(sorted(rl_names)[:SHOWN])
        return (f"{line}: their ids name the benchmark differently ({names[0]} vs {names[1]}) before the same "
                f"document ids, e.g. {min(base_rest & rl_rest)}; give both the same benchmark name (`tether "
                "import --benchmark NAME` for a harness file renamed for its model)")
    return (f"{line}: were both sampled on the same tasks, with the same task ids? (the benchmark name or the id "
            "scheme differs between them)")


def matched_limits(base: TaskCounts, rl: TaskCounts) -> tuple[dict[str, int] | None, str | None]:
    """Per common task, min(n_base, n_rl), and a warning saying how many tasks it trims; (None,
    None) when both models have the same number of samples on every common task."""
    rl_n = dict(zip(rl.task_ids.astype(str), rl.n.tolist()))
    pairs = {t: (nb, rl_n[t]) for t, nb in zip(base.task_ids.astype(str), base.n.tolist()) if t in rl_n}
    differ = [t for t, (nb, nr) in pairs.items() if nb != nr]
    if not differ:
        return None, None
    example = differ[0]
    warning = (f"{len(differ)} of {len(pairs)} tasks have different sample counts in the two models (e.g. "
               f"{example}: {pairs[example][0]} vs {pairs[example][1]}); both are compared on each task's first "
               "min(n_base, n_rl) samples (--no-match-budget keeps the raw counts)")
    return {t: min(nb, nr) for t, (nb, nr) in pairs.items()}, warning


def paired_counts(count_base: Count, count_rl: Count, *, allow_missing: bool,
                  match_budget: bool) -> tuple[TaskCounts, TaskCounts, list[str]]:
    """Both models' counts on their common tasks (`align`), each counted on the common tasks' first
    min(n_base, n_rl) samples when `match_budget` and their budgets differ; with the warnings of both steps."""
    base, rl, warnings = align(count_base(None), count_rl(None), allow_missing)
    limits, warning = matched_limits(base, rl) if match_budget else (None, None)
    if limits is not None:
        base, rl, _ = align(count_base(limits), count_rl(limits), allow_missing=False)  # the same tasks again
        warnings.append(warning)
    return base, rl, warnings
