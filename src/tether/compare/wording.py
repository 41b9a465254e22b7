"""What a comparison says beyond its counts, in words: one wording for the terminal and the report.

Each line names the interval or test its claim rests on, so no "beyond chance" is read off the wrong one:

- `intervals_line`: what every interval covers (`CompareOptions.intervals`) and at which confidence;
- `delta_line`: where RL - base is beyond chance, by the simultaneous band over the k grid (never the
  pointwise intervals, which the pass@k table also shows, labelled so);
- `crossover_line`: the crossover when the paired evidence shows one, else "none detected" and why;
- `tests_line`: the per-task tests (two-sided, Benjamini-Hochberg over S and E together) and what a single
  task needs to reach significance, or that none can;
- `self_line`: the noise floor of `--self` and the budget it is measured at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tether.compare.result import INTERVALS

if TYPE_CHECKING:
    from tether.compare.result import Comparison


def intervals_line(result: Comparison) -> str:
    """"intervals: 95 % over tasks like these (tasks resampled); --intervals fixed: for these tasks only"."""
    chosen = result.options.intervals
    other = next(name for name in INTERVALS if name != chosen)
    return (f"intervals: {result.options.confidence:.0%} {INTERVALS[chosen]}; --intervals {other}: "
            f"{INTERVALS[other].split(' (')[0]}")


def band_name(result: Comparison) -> str:
    return f"simultaneous {result.options.confidence:.0%} band over the {len(result.k_grid)} k of the grid"


def delta_line(result: Comparison) -> str:
    """Where RL - base is beyond chance at any k, by the simultaneous band."""
    lo, _ = result.band
    if np.all(np.isnan(lo)):
        return "RL - base: no simultaneous band (a comparison saved by an older tether); compare again"
    ahead = result.beyond_band()
    if not any(len(ks) for ks in ahead.values()):
        return f"{result.rl.label} - {result.base.label}: within chance at every k (the {band_name(result)} holds 0)"
    parts = [f"{model.label} ahead at k = {_ks(ahead[side])}" for side, model in (("rl", result.rl),
                                                                              ("base", result.base))
             if len(ahead[side])]
    return f"{result.rl.label} - {result.base.label} beyond chance ({band_name(result)}): {'; '.join(parts)}"


def crossover_line(result: Comparison) -> str:
    """The crossover with its interval when detected (module docstring), else why none is; and every crossing
    of the estimated curves when there are several."""
    cross = result.crossover
    if cross.k is not None:
        share = f"{cross.without:.0%} of replicates have none"
        ahead = result.beyond_band()["base"]
        line = (f"crossover: the base overtakes the RL model at k ≈ {cross.k:.1f} [{_number(cross.ci[0])}, "
                f"{_number(cross.ci[1])}; {share}]; the base is ahead beyond chance at k = {_ks(ahead)} "
                f"({band_name(result)})")
    else:
        line = f"crossover: none detected: {cross.reason or 'the base is not ahead beyond chance at the largest k'}"
    if len(cross.crossings) > 1:
        line += "\ncrossings of the estimated curves: " + ", ".join(f"k ≈ {c.k:.1f} ({c.leader} leads)"
                                                                   for c in cross.crossings)
    return line


def tests_line(result: Comparison) -> str:
    """The per-task tests: how many S and E tasks are significant, and what a single task needs."""
    sig, alpha, fewest = result.significant, result.options.alpha, result.fewest_successes
    s, e = fewest.get("S"), fewest.get("E")
    if s is None and e is None:
        need = f"no single task can reach p <= {alpha:g} on its own at these budgets"
    elif s == e:
        need = (f"a task needs >= {s} successes of the model that solves it (and none of the other's) to reach "
                f"p <= {alpha:g} on its own")
    else:
        need = "; ".join(f"no {region} task can reach p <= {alpha:g} on its own at these budgets" if t is None else
                         f"an {region} task needs >= {t} successes of {who} to reach p <= {alpha:g} on its own"
                         for region, t, who in (("S", s, "the base"), ("E", e, "RL")))
    return (f"significant tasks at q <= {alpha:g} (exact test of each task's region, two-sided; Benjamini-Hochberg "
            f"over the {result.tested} tasks with a success, S and E together): S {sig['S']} of {result.counts.S}, "
            f"E {sig['E']} of {result.counts.E}; {need}")


def self_line(result: Comparison) -> str:
    """The noise floor of `--self`: S and E of a label's two halves beside their chance level, and its budget."""
    own = result.self_comparison
    if own is None:
        return ""
    at = own.comparison_samples
    budget = ("the comparison's budget" if at is not None and own.samples_per_half >= at else
              f"half the label's samples, below the comparison's {at}" if at is not None else "half the budget")
    return (f"{own.label} against itself (even vs odd samples, {own.samples_per_half} per task each): "
            f"S {own.counts.S}, E {own.counts.E}; chance alone {own.s.expected:.1f} "
            f"[{own.s.interval[0]}, {own.s.interval[1]}] each "
            f"({result.chance.confidence:.0%}): the noise floor at {budget}")


def _ks(values) -> str:
    return ", ".join(str(int(k)) for k in values)


def _number(value: float) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.1f}"


def inference_lines(result: Comparison) -> list[str]:
    """The lines above that every rendering of a comparison shows beside its tables (the report's)."""
    return [intervals_line(result), delta_line(result), *crossover_line(result).split("\n"), tests_line(result),
            *([self_line(result)] if result.self_comparison is not None else [])]
