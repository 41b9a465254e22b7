"""The scopes a study counts on: each benchmark's tasks, each domain's (the sum of its benchmarks'), and all of them.

A task's benchmark is the one the store's tasks table records, else its id's first part (`math500/12`); a
benchmark's domain is `tether.tasks.domains.domain_of` (the math presets Math, the others Non-Math, unless
overridden). `scopes` gives the table's order: the benchmarks in natural order, then Math, Non-Math and any
other domain; none where the store names no benchmark (every task "all": the overall row says it all). Used by
a study's cells (`tether.compare.study`) and by a training run's steps (`tether.compare.trajectory`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from tether.compare.result import natural_key
from tether.store import Store
from tether.store.query import task_benchmarks
from tether.tasks.domains import MATH, NON_MATH, benchmark_of_task, domain_of

OVERALL = "overall"
Scopes = list[tuple[str, list[tuple[str, np.ndarray]]]]  # [(scope, [(name, task ids)])]


def benchmarks_of(store: Store, base_label: str, task_ids: Iterable[str]) -> dict[str, str]:
    """task id -> benchmark: the store's tasks table where it has one, else the id's first part."""
    stored = task_benchmarks(store, base_label)
    return {task: stored.get(task) or benchmark_of_task(task) for task in task_ids}


def scopes(benchmark_of: Mapping[str, str], domains: Mapping[str, str] | None = None,
           used: dict[str, str] | None = None) -> Scopes:
    """(scope, [(name, task ids)]) for the benchmarks and the domains, in the table's order; none when the
    store names no benchmark. Records the grouping (benchmark -> domain) in `used`."""
    names = sorted(set(benchmark_of.values()), key=natural_key)
    if names == ["all"]:
        return []
    ids = np.array(list(benchmark_of), dtype=object)
    of = np.array(list(benchmark_of.values()), dtype=object)
    grouping = {name: domain_of(name, domains) for name in names}
    if used is not None:
        used.update(grouping)
    order = [MATH, NON_MATH] + sorted(set(grouping.values()) - {MATH, NON_MATH})
    domain_names = [d for d in order if d in grouping.values()]
    return [("benchmark", [(name, ids[of == name]) for name in names]),
            ("domain", [(d, ids[np.isin(of, [b for b, g in grouping.items() if g == d])]) for d in domain_names])]
