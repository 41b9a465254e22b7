"""Comparing a base model with its RL-tuned child: regions, rates, CIs, tests, budget view.

`compare(base=..., rl=...)` reads per-task counts of both models (from stores
or files), pairs them by task id (`tether.compare.pairing`: a task only one
model has is refused unless allowed) and computes everything `tether compare`
shows: P/S/E/O, SRR/NDR/SDS/NSCR with bootstrap CIs, per-task Fisher tests
with Benjamini-Hochberg control, mean pass@k curves and the crossover k.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tether.compare.counts import ADAPTIVE_NOTE, adaptive_budgets, counter
from tether.compare.curves import pass_at_k_curves
from tether.compare.pairing import align, paired_counts
from tether.compare.result import CompareOptions, Comparison, Rate, SelfComparison
from tether.errors import InputError
from tether.metrics import (
    RATES,
    Extrapolation,
    bootstrap_rates,
    chance_levels,
    crossover_k,
    extrapolate,
    fewest_successes,
    log_k_grid,
    miss_probability,
    region_tests,
    support_regions,
)
from tether.store.schema import TaskCounts


def compare(
    base: str | Path | None = None,
    rl: str | Path | None = None,
    *,
    store: str | Path | None = None,
    base_label: str | None = None,
    rl_label: str | None = None,
    options: CompareOptions | None = None,
    self_label: str | None = None,
) -> Comparison:
    """Compare two models' graded samples.

    Either give one `store` holding both models (labels default to 'base' and
    'rl'), or `base` and `rl` sources (stores or JSONL/Parquet files).
    `self_label` adds the self-comparison of that label of `store` (`self_comparison`).
    """
    warnings: list[str] = []
    origin, hacks = {}, {}
    if store is not None:
        base, rl = base or store, rl or store
        if base == rl:  # two labels of one store: never the "only label there is" of each
            from tether.compare.provenance import checked_labels, reward_hacks
            from tether.store import open_store

            base_label, rl_label = base_label or "base", rl_label or "rl"
            opened = open_store(store)
            warnings, origin = checked_labels(opened, base_label, rl_label)
            hacks = reward_hacks(opened, base_label, rl_label)
    if base is None or rl is None:
        raise InputError("compare needs a store holding both models, or both --base and --rl")
    options = options or CompareOptions()
    budgets, adaptive = adaptive_budgets([(base, base_label), (rl, rl_label)])
    base_counts, rl_counts, paired = paired_counts(counter(base, base_label, "base"), counter(rl, rl_label, "rl"),
                                                   allow_missing=options.allow_missing,
                                                   match_budget=options.match_budget and not adaptive)
    result = compare_counts(base_counts, rl_counts, options, budgets)
    notes = [ADAPTIVE_NOTE.format(labels=" and ".join(adaptive))] if adaptive else []
    result.warnings = paired + result.warnings + warnings + notes
    result.provenance = origin
    result.reward_hacks = hacks
    if self_label is not None:
        if store is None:
            raise InputError("--self needs a store (it splits a label's samples by sample index)")
        result.self_comparison = self_comparison(store, self_label)
    return result


def self_comparison(store, label: str) -> SelfComparison:
    """`label`'s even- and odd-indexed samples compared as two models: the noise floor at half the budget."""
    from tether.store import open_store
    from tether.store.query import half_task_counts

    even, odd = half_task_counts(open_store(store), label)
    even, odd, _ = align(even, odd, allow_missing=True)  # a task with one sample has no odd half
    if len(even) == 0:
        raise InputError(f"{label!r} has no task with two samples or more: nothing to split")
    support = support_regions(even, odd)
    chance = chance_levels(even.n, even.c, odd.n, odd.c, support.regions)
    return SelfComparison(label, int(np.median(even.n)), support.counts, chance.s, chance.e)


def compare_counts(base: TaskCounts, rl: TaskCounts, options: CompareOptions,
                   budgets: tuple[int | None, int | None] = (None, None)) -> Comparison:
    """The comparison of two already-counted models. `budgets` gives, for a label sampled adaptively, its
    full budget k: there a task never solved went on to k, so the chance of an S or E task under the null
    of identical models is computed at k samples for that label (not at the fewer samples a solved task
    stopped at, which would understate it)."""
    base, rl, warnings = align(base, rl, options.allow_missing)
    null_base, null_rl = (np.maximum(counts.n, k) if k else counts.n for counts, k in zip((base, rl), budgets))
    support = support_regions(base, rl)
    regions, counts = support.regions, support.counts
    cis = bootstrap_rates(counts, options.bootstrap_reps, options.confidence, options.seed)
    rates = {name: Rate(support.rates[name], cis[name], support.notes.get(name)) for name in RATES}
    grid, short = _k_grid(base, rl, options.k_grid, null_base, null_rl)
    warnings += short
    curves = pass_at_k_curves(base, rl, grid, options.bootstrap_reps, options.confidence, options.seed, budgets)
    tests = region_tests(regions, null_base, base.c, null_rl, rl.c)
    beyond = _extrapolation(base, rl, curves, options) if options.extrapolate > 0 else None
    n_base, n_rl = int(np.median(base.n)), int(np.median(rl.n))
    return Comparison(
        base=base,
        rl=rl,
        regions=regions,
        counts=counts,
        rates=rates,
        k_grid=curves.k_grid,
        pass_at_k=curves.means,
        pass_at_k_ci=curves.cis,
        crossover_k=curves.crossover.k,
        delta_pass_at_k=curves.delta,
        delta_pass_at_k_ci=curves.delta_ci,
        crossover=curves.crossover,
        p_values=tests.p_values,
        q_values=tests.q_values,
        miss_probability=miss_probability(regions, base.n, base.c, rl.n, rl.c),
        significant=tests.significant(regions, options.alpha),
        chance=chance_levels(null_base, base.c, null_rl, rl.c, regions, options.confidence),
        tested=tests.tested,
        fewest_successes={"S": fewest_successes(n_base, n_rl, options.alpha),
                          "E": fewest_successes(n_rl, n_base, options.alpha)},
        options=options,
        warnings=warnings,
        extrapolation=beyond,
    )


def _extrapolation(base: TaskCounts, rl: TaskCounts, curves, options: CompareOptions) -> Extrapolation:
    """Mean pass@k and expected regions at `options.extrapolate` doublings past the grid's end."""
    top = int(curves.k_grid.max())
    ks = top * 2 ** np.arange(1, options.extrapolate + 1)
    found = extrapolate(base.n, base.c, rl.n, rl.c, ks, options.bootstrap_reps, options.confidence, options.seed)
    joined = np.concatenate([curves.k_grid, ks])
    cross = crossover_k(joined, np.concatenate([curves.means["base"], found.means["base"]]),
                        np.concatenate([curves.means["rl"], found.means["rl"]]))
    return dataclasses.replace(found, crossover_k=cross)


def _k_grid(base: TaskCounts, rl: TaskCounts, requested: tuple[int, ...] | None, base_reach=None,
            rl_reach=None) -> tuple[np.ndarray, list[str]]:
    """The k grid (default: powers of two up to the median budget both models have on a task; an adaptive
    label reaches its full budget on every task) and a warning naming the tasks that leave the curves
    before its end."""
    budget = np.minimum(base.n if base_reach is None else base_reach, rl.n if rl_reach is None else rl_reach)
    if requested is None:
        grid = log_k_grid(int(np.median(budget)))
    else:
        if any(k < 1 for k in requested):
            raise InputError("every k in the grid must be >= 1")
        too_big = [k for k in requested if k > budget.max()]
        if too_big:
            raise InputError(f"k={too_big[0]} exceeds the samples of every task (at most {int(budget.max())}); "
                             "pass@k needs k <= n")
        grid = np.array(sorted(set(requested)), dtype=np.int64)
    short = np.flatnonzero(budget < grid.max())
    if short.size == 0:
        return grid, []
    shown = ", ".join(f"{base.task_ids[i]} (n={int(budget[i])})" for i in short[:5]) + (", ..." if short.size > 5 else "")
    return grid, [f"{short.size} tasks have fewer samples than the k grid reaches ({int(grid.max())}); each is left "
                  f"out of the mean pass@k beyond its own n: {shown}"]


