"""The figure of a training run over its checkpoints (`tether.compare.trajectory`), drawn like the report's others.

Left: SRR, NDR and NSCR against the step, each with its interval (shaded) and the band a model identical to
the base would show (`chance_band`: grey, hatched), the first step whose shrinkage is significant marked.
Right: mean pass@k at several k against the step (the base at the run's start), with intervals; where the
comparison extrapolated (`CompareOptions.extrapolate`), the estimated k dashed. `scopes_figure`: the same rates
and bands on each benchmark's tasks, one small panel per benchmark (the paper's table is per benchmark), each
with its own first significant step. The study report (`tether.report.study`) shows both per training run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tether.compare.trajectory import FirstShrinkage, Step, Trajectory, chance_band
from tether.report.figures import Figure, finish, legend_above, pyplot

RATE_COLOURS = {"srr": "#55a868", "ndr": "#8172b3", "nscr": "#c44e52"}
RATE_NAMES = {"srr": "SRR", "ndr": "NDR", "nscr": "NSCR"}
SHOWN_K = 4  # pass@k lines by default: this many k of the grid, spread from its smallest to its largest
PANELS_PER_ROW = 4  # scopes_figure's grid
STEP_TICKS = 8  # up to this many checkpoints: a tick at each step; more: whole steps, evenly spaced


def trajectory_figure(found: Trajectory, ks: Sequence[int] | None = None) -> Figure:
    """Rates with chance bands, and pass@k at `ks` (default: a few k of the grid), against the step."""
    plt = pyplot()
    fig, (rates, passk) = plt.subplots(1, 2, figsize=(8.4, 3.0))
    _rates(rates, found.steps, found.first_shrinkage)
    rates.set_xlabel("step")
    rates.set_ylabel(f"rate against {found.base}")
    legend_above(fig, rates)
    _pass_at_k(passk, found, ks)
    return finish(plt, fig, "trajectory", f"{found.base} over its checkpoints: support rates and pass@k by step")


def scopes_figure(found: Trajectory, scope: str = "benchmark") -> Figure | None:
    """SRR, NDR and NSCR against the step on each benchmark's tasks (`scope`: or each domain's), one panel each
    with its chance band and its first significant step; None where the run has fewer than two such scopes."""
    parts = [part for part in found.scopes if part.scope == scope]
    if len(parts) < 2:
        return None
    plt = pyplot()
    cols = min(PANELS_PER_ROW, len(parts))
    rows = -(-len(parts) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False, sharex=True, sharey=True)
    for ax, part in zip(axes.flat, parts):
        _rates(ax, part.steps, part.first_shrinkage)
        ax.set_title(f"{part.name} ({len(part.steps[0].against_base.task_ids)} tasks)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(parts):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"rate against {found.base}", fontsize=8)
    legend_above(fig, axes.flat[0])
    return finish(plt, fig, f"trajectory-{scope}s", f"{found.base} over its checkpoints, per {scope}: SRR, NDR and "
                  "NSCR by step, the band a model identical to the base gives")


def _rates(ax, found: list[Step], first: FirstShrinkage | None) -> None:
    """SRR, NDR and NSCR of `found` steps with their intervals and chance bands; the first significant step."""
    steps = np.array([s.step for s in found], dtype=float)
    for name, colour in RATE_COLOURS.items():
        values = [s.against_base.rates[name] for s in found]
        bands = [chance_band(s.against_base)[name] for s in found]
        ax.fill_between(steps, [b[0] for b in bands], [b[1] for b in bands], color="#999999", alpha=0.25,
                        hatch="//", linewidth=0, label="identical to the base" if name == "srr" else None)
        ax.fill_between(steps, [r.ci.lo for r in values], [r.ci.hi for r in values], color=colour, alpha=0.18,
                        linewidth=0)
        ax.plot(steps, [r.value for r in values], marker="o", markersize=3, color=colour, label=RATE_NAMES[name])
    step = first.step if first is not None else None
    if step is not None:
        ax.axvline(step, color="#333333", linestyle=":", linewidth=1)
        ax.annotate(f"shrinkage from step {step}", (step, 0.98), fontsize=7, xytext=(3, 0), va="top",
                    textcoords="offset points", xycoords=("data", "axes fraction"))
    ax.axhline(0, color="#cccccc", linewidth=0.6)
    ax.set_ylim(-1.05, 1.05)  # every rate is within [-1, 1]
    _step_ticks(ax, steps)


def _pass_at_k(ax, found: Trajectory, ks: Sequence[int] | None) -> None:
    first = found.steps[0].against_base
    grid = [int(k) for k in first.k_grid]
    chosen = list(ks) if ks is not None else _spread(grid)
    start = found.base_step if found.base_step is not None else 0
    steps = np.array([start] + [s.step for s in found.steps], dtype=float)
    colours = plt_colours(len(chosen))
    for k, colour in zip(chosen, colours):
        sampled = k in grid
        ext = first.extrapolation
        if sampled:
            i = grid.index(k)
            values = [first.pass_at_k["base"][i]] + [s.against_base.pass_at_k["rl"][i] for s in found.steps]
            lo = [first.pass_at_k_ci["base"][0][i]] + [s.against_base.pass_at_k_ci["rl"][0][i] for s in found.steps]
            hi = [first.pass_at_k_ci["base"][1][i]] + [s.against_base.pass_at_k_ci["rl"][1][i] for s in found.steps]
            ax.fill_between(steps, lo, hi, color=colour, alpha=0.15, linewidth=0)
            ax.plot(steps, values, marker="o", markersize=3, color=colour, label=f"pass@{k}")
        elif ext is not None and k in [int(x) for x in ext.k_grid]:  # estimated: dashed
            values = [_estimate(first, "base", k)] + [_estimate(s.against_base, "rl", k) for s in found.steps]
            ax.plot(steps, values, linestyle="--", marker="o", markersize=2, color=colour, label=f"pass@{k} (est.)")
    ax.set_xlabel("step")
    ax.set_ylabel("mean pass@k")
    ax.set_ylim(0, 1)
    _step_ticks(ax, steps)
    ax.legend(fontsize=7, frameon=False)


def _step_ticks(ax, steps: np.ndarray) -> None:
    """Ticks at the steps themselves where they are few enough to read (else whole steps, evenly): a checkpoint
    is a whole step, never 2.5."""
    from matplotlib.ticker import FixedLocator, MaxNLocator  # matplotlib is imported where a figure is drawn

    shown = np.unique(steps)
    ax.xaxis.set_major_locator(FixedLocator(shown) if len(shown) <= STEP_TICKS else MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter("{x:.0f}")


def _estimate(comparison, side: str, k: int) -> float:
    ext = comparison.extrapolation
    if ext is None or k not in [int(x) for x in ext.k_grid]:
        return float("nan")
    return float(ext.means[side][[int(x) for x in ext.k_grid].index(k)])


def _spread(grid: list[int]) -> list[int]:
    if len(grid) <= SHOWN_K:
        return grid
    picks = np.unique(np.round(np.linspace(0, len(grid) - 1, SHOWN_K)).astype(int))
    return [grid[i] for i in picks]


def plt_colours(n: int) -> list[str]:
    palette = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
    return [palette[i % len(palette)] for i in range(n)]
