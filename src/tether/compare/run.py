"""Comparing a base model with its RL-tuned child: regions, rates, CIs, tests, budget view.

`compare(base=..., rl=...)` reads per-task counts of both models (from stores
or files), pairs them by task id (`tether.compare.pairing`: a task only one
model has is refused unless allowed) and computes everything `tether compare`
shows: P/S/E/O, SRR/NDR/SDS/NSCR with intervals (over tasks like these, or for
these tasks: `CompareOptions.intervals`), per-task exact tests with
Benjamini-Hochberg control, mean pass@k curves with the difference's
simultaneous band and the crossover k where the band shows one; with
`verifiers`, the regions under each named verdict set (`tether.compare.sensitivity`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tether.compare.counts import (
    adaptive_budgets,
    adaptive_notes,
    check_regions_grid,
    counter,
    opened_store,
    passk_reach,
)
from tether.compare.curves import pass_at_k_curves
from tether.compare.pairing import align, paired_counts
from tether.compare.result import CompareOptions, Comparison, Rate, SelfComparison
from tether.compare.sensitivity import Side, grader_sensitivity
from tether.errors import InputError
from tether.metrics import (
    RATES,
    Extrapolation,
    bootstrap_rates,
    chance_levels,
    extrapolate,
    fewest_successes,
    log_k_grid,
    miss_probability,
    region_tests,
    support_regions,
)
from tether.metrics.fixed_tasks import fixed_rates
from tether.store import Store
from tether.store.schema import TaskCounts


def compare(
    base: str | Path | Store | None = None,
    rl: str | Path | Store | None = None,
    *,
    store: str | Path | Store | None = None,
    base_label: str | None = None,
    rl_label: str | None = None,
    options: CompareOptions | None = None,
    self_label: str | None = None,
    verifiers: Sequence[str] | None = None,
) -> Comparison:
    """Compare two models' graded samples.

    Either give one `store` holding both models (labels default to 'base' and 'rl'), or `base` and `rl`
    sources (stores or JSONL/Parquet files). Each store is opened once (an opened `Store` is used as it is).
    `self_label` adds the self-comparison of that label of `store` (`self_comparison`).
    `verifiers` (verdict set names, e.g. ("auto", "exact", "math"): sources that are stores) adds the
    regions under each set (`sensitivity`).
    """
    opened: dict[str, Store] = {}

    def once(source):  # a store source opened once, whichever arguments name it
        if source is None or isinstance(source, Store):
            return source
        key = str(source)
        if key not in opened:
            found = opened_store(source)
            if found is None:
                return source  # a file of graded samples
            opened[key] = found
        return opened[key]

    options = options or CompareOptions()
    if store is not None:
        store = once(store)
        base, rl = once(base) or store, once(rl) or store
        if base is rl:  # two labels of one store: never the "only label there is" of each
            return compare_labels(store, base_label or "base", rl_label or "rl", options, self_label=self_label,
                                  verifiers=verifiers)
    base, rl = once(base), once(rl)
    if base is None or rl is None:
        raise InputError("compare needs a store holding both models, or both sources (base and rl)")
    budgets, adaptive = adaptive_budgets([(base, base_label), (rl, rl_label)])
    result = paired_comparison(counter(base, base_label, "base"), counter(rl, rl_label, "rl"), options, budgets,
                               adaptive)
    if self_label is not None:
        if store is None:
            raise InputError("--self needs a store (it splits a label's samples by sample index)")
        result.self_comparison = self_comparison_beside(store, self_label, result, adaptive=bool(adaptive))
    if verifiers is not None:
        result.sensitivity = grader_sensitivity(_side(base, result.base.label), _side(rl, result.rl.label),
                                                verifiers, allow_missing=options.allow_missing,
                                                match_budget=options.match_budget and not adaptive,
                                                confidence=options.confidence, budgets=budgets)
    return result


def compare_labels(store: Store, base_label: str, rl_label: str, options: CompareOptions, *,
                   self_label: str | None = None, verifiers: Sequence[str] | None = None,
                   every_set: bool = False) -> Comparison:
    """Two labels of one opened store compared on all their tasks: the one path of `compare(store=...)`,
    `tether.compare.store.compare_store` (and so `tether compare STORE`, `tether run` and `tether report`).
    The labels checked and described (`checked_labels`: warnings and provenance), their reward-hacking signals,
    `self_label`'s noise floor beside it, and the regions under each of `verifiers` (with `every_set`, when none
    is named: every verdict set both labels keep whole, where they keep two or more)."""
    from tether.compare.provenance import checked_labels, reward_hacks

    warnings, origin = checked_labels(store, base_label, rl_label)
    budgets, adaptive = adaptive_budgets([(store, base_label), (store, rl_label)])
    result = paired_comparison(counter(store, base_label, "base"), counter(store, rl_label, "rl"), options, budgets,
                               adaptive, warnings)
    result.provenance = origin
    result.reward_hacks = reward_hacks(store, base_label, rl_label)
    if self_label is not None:
        result.self_comparison = self_comparison_beside(store, self_label, result, adaptive=bool(adaptive))
    if verifiers is not None or every_set:
        result.sensitivity = grader_sensitivity(Side(store, base_label), Side(store, rl_label), verifiers,
                                                allow_missing=options.allow_missing,
                                                match_budget=options.match_budget and not adaptive,
                                                confidence=options.confidence, budgets=budgets)
    return result


def paired_comparison(count_base: Callable[[dict[str, int] | None], TaskCounts],
                      count_rl: Callable[[dict[str, int] | None], TaskCounts], options: CompareOptions,
                      budgets: Sequence[int | None], adaptive: Sequence[str], said: Sequence[str] = ()) -> Comparison:
    """Two models counted on the tasks both have (`paired_counts`: each task's first m samples, m the fewer,
    unless a label was sampled adaptively) and compared (`compare_counts`). Its warnings: the pairing's, the
    comparison's, `said` (the caller's, about the labels) and the adaptive budgets' notes. The one pair path of
    `compare`, `tether.compare.store.compare_store` and a study's cells (`tether.compare.study`)."""
    base, rl, paired = paired_counts(count_base, count_rl, allow_missing=options.allow_missing,
                                     match_budget=options.match_budget and not adaptive)
    result = compare_counts(base, rl, options, tuple(budgets))
    result.warnings = paired + result.warnings + list(said) + adaptive_notes(list(adaptive), tuple(budgets))
    return result


def _side(source, label: str) -> Side:
    """A model given by an opened store, for its verdict sets (files keep none)."""
    if not isinstance(source, Store):
        raise InputError(f"{source}: --verifiers compares the verdict sets a store keeps (`tether grade "
                         "--verifier auto,exact,...`); a file of graded samples has only its own verdicts")
    return Side(source, label)


def self_comparison(store, label: str, confidence: float = 0.95,
                    budgets: dict[str, int] | None = None) -> SelfComparison:
    """`label`'s even- and odd-indexed samples compared as two models: the noise floor. Without `budgets`, at
    half the label's budget. With `budgets` (task id -> the samples per model a comparison has on it), on
    those tasks, each half of at most that many: the label's first 2m samples of a task are split, so the
    floor is at the comparison's budget wherever the label holds twice it (else at half what it holds)."""
    from tether.store import open_store
    from tether.store.query import half_task_counts

    limits = None if budgets is None else {task: 2 * m for task, m in budgets.items()}
    even, odd = half_task_counts(open_store(store), label, limits)
    even, odd, _ = align(even, odd, allow_missing=True)  # a task with one sample has no odd half
    if len(even) == 0:
        raise InputError(f"{label!r} has no task with two samples or more: nothing to split")
    support = support_regions(even, odd)
    chance = chance_levels(even.n, even.c, odd.n, odd.c, support.regions, confidence)
    beside = None if budgets is None else int(np.median([budgets[t] for t in even.task_ids.astype(str)]))
    return SelfComparison(label, int(np.median(even.n)), support.counts, chance.s, chance.e, beside)


def self_comparison_beside(store, label: str, result: Comparison, adaptive: bool = False) -> SelfComparison:
    """The self-comparison of `label` beside `result`: at its confidence and, task by task, at its budget (the
    label's own samples there when it is one of the two models, else the fewer of the two; an adaptive
    comparison's tasks hold what the rule drew, so there the floor is at half the label's budget)."""
    if adaptive:
        return self_comparison(store, label, result.options.confidence)
    own = {result.base.label: result.base.n, result.rl.label: result.rl.n}.get(label)
    samples = own if own is not None else np.minimum(result.base.n, result.rl.n)
    budgets = {str(task): int(m) for task, m in zip(result.task_ids, samples)}
    return self_comparison(store, label, result.options.confidence, budgets)


def compare_counts(base: TaskCounts, rl: TaskCounts, options: CompareOptions,
                   budgets: tuple[int | None, int | None] = (None, None)) -> Comparison:
    """The comparison of two already-counted models, at one budget per task when `options.match_budget`
    (`matched_budgets`: the step `compare` shares, and the warning when budgets differ and are not matched),
    with intervals over tasks like these or for these tasks (`options.intervals`). `budgets` gives, for a label
    sampled adaptively, its
    full budget k: there a task never solved went on to k, so the chance of an S or E task under the null
    of identical models is computed at k samples for that label (not at the fewer samples a solved task
    stopped at, which would understate it)."""
    base, rl, warnings = align(base, rl, options.allow_missing)
    base, rl, matched = matched_budgets(base, rl, options, budgets)
    warnings += matched
    null_base, null_rl = (np.maximum(counts.n, k) if k else counts.n for counts, k in zip((base, rl), budgets))
    support = support_regions(base, rl)
    regions, counts = support.regions, support.counts
    if options.intervals == "fixed":
        cis = fixed_rates(base.n, base.c, rl.n, rl.c, options.bootstrap_reps, options.confidence, options.seed,
                          (null_base, null_rl))
    else:
        cis = bootstrap_rates(counts, options.bootstrap_reps, options.confidence, options.seed)
    rates = {name: Rate(support.rates[name], cis[name], support.notes.get(name)) for name in RATES}
    check_regions_grid(options.k_grid, [(base, budgets[0]), (rl, budgets[1])])  # a regions-rule label: pass@k
    (base_reach, base_k), (rl_reach, rl_k) = passk_reach(base, budgets[0]), passk_reach(rl, budgets[1])  # as sampled
    grid, short = _k_grid(base, rl, options.k_grid, base_reach, rl_reach)
    warnings += short
    curves = pass_at_k_curves(base, rl, grid, options.bootstrap_reps, options.confidence, options.seed, (base_k, rl_k),
                              options.intervals)
    tests = region_tests(regions, null_base, base.c, null_rl, rl.c)
    extrapolate = options.extrapolate > 0 and (base_k, rl_k) == tuple(budgets)  # none from a regions rule's counts
    beyond = _extrapolation(base, rl, curves, options) if extrapolate else None
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
        delta_pass_at_k_band=curves.delta_band,
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


def matched_budgets(base: TaskCounts, rl: TaskCounts, options: CompareOptions,
                    budgets: tuple[int | None, int | None] = (None, None)) -> tuple[TaskCounts, TaskCounts, list[str]]:
    """Both models at one budget per task, as `options.match_budget` asks, with what it says about it: the one
    step every comparison takes (`compare` has matched the budgets on each task's first samples already).

    - matched, and a task's budgets still differ (counts handed to `compare_counts`): its successes among
      min(n_base, n_rl) of its samples drawn at random (hypergeometric, seeded): counts keep no sample order,
      and this is the distribution of the first samples' count when samples are exchangeable;
    - not matched, and budgets differ: kept, with a warning naming the bias: the model with more samples covers
      more tasks by its extra tries alone, so regions and rates lean its way and their intervals do not know it.
    Adaptive labels (`budgets`) are compared on their own samples (`compare`'s note) and left as they are."""
    differ = np.flatnonzero(base.n != rl.n)
    if not differ.size or any(budgets):
        return base, rl, []
    example = f"e.g. {base.task_ids[differ[0]]}: {int(base.n[differ[0]])} vs {int(rl.n[differ[0]])}"
    if not options.match_budget:
        more = {base.label: int(np.sum(base.n > rl.n)), rl.label: int(np.sum(rl.n > base.n))}
        leans = (f"toward S and a lower NSCR ({base.label} has more samples)" if not more[rl.label] else
                 f"toward E and a higher NSCR ({rl.label} has more samples)" if not more[base.label] else
                 "toward whichever model has more samples on each task")
        return base, rl, [(f"budgets are not matched (--no-match-budget) and differ on {differ.size} of "
                           f"{len(base.n)} tasks ({example} samples): the model with more samples covers more tasks "
                           f"by its extra tries alone, so the regions and rates are biased {leans}, and their "
                           "intervals do not account for it (the chance levels and exact tests do); match budgets "
                           "to compare rates")]
    rng = np.random.default_rng(options.seed)
    fewer = np.minimum(base.n, rl.n)
    trimmed = [dataclasses.replace(model, n=fewer, c=rng.hypergeometric(model.c, model.n - model.c, fewer))
               for model in (base, rl)]
    return *trimmed, [(f"{differ.size} of {len(base.n)} tasks have different sample counts in the two models "
                       f"({example}); counts keep no sample order, so each such task is compared at min(n_base, "
                       "n_rl) samples by drawing its successes among that many of its samples at random "
                       f"(hypergeometric, seed {options.seed}); comparing the samples themselves takes each task's "
                       "first samples")]


def _extrapolation(base: TaskCounts, rl: TaskCounts, curves, options: CompareOptions) -> Extrapolation:
    """Mean pass@k and expected regions at `options.extrapolate` doublings past the grid's end (the budgets the
    joint model identifies; the rest refused with the reason)."""
    top = int(curves.k_grid.max())
    ks = top * 2 ** np.arange(1, options.extrapolate + 1)
    return extrapolate(base.n, base.c, rl.n, rl.c, ks, options.bootstrap_reps, options.confidence, options.seed)
    # no extrapolated crossover: a crossing of estimated curves has no paired evidence behind it (docs/compare.md)


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


