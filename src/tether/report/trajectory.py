"""The figure of a training run over its checkpoints (`tether.compare.trajectory`), drawn like the report's others.

Left: SRR, NDR and NSCR against the step, each with its interval (shaded) and the band a model identical to
the base would show (`chance_band`: grey, hatched), the first step whose shrinkage is significant marked.
Right: mean pass@k at several k against the step (the base at the run's start), with intervals; where the
comparison extrapolated (`CompareOptions.extrapolate`), the estimated k dashed. The study report
(`tether.report.study`) shows it per training run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tether.compare.trajectory import Trajectory, chance_band
from tether.report.figures import Figure, finish, legend_above, pyplot

RATE_COLOURS = {"srr": "#55a868", "ndr": "#8172b3", "nscr": "#c44e52"}
RATE_NAMES = {"srr": "SRR", "ndr": "NDR", "nscr": "NSCR"}
SHOWN_K = 4  # pass@k lines by default: this many k of the grid, spread from its smallest to its largest


def trajectory_figure(found: Trajectory, ks: Sequence[int] | None = None) -> Figure:
    """Rates with chance bands, and pass@k at `ks` (default: a few k of the grid), against the step."""
    plt = pyplot()
    fig, (rates, passk) = plt.subplots(1, 2, figsize=(8.4, 3.0))
    steps = np.array([s.step for s in found.steps], dtype=float)
    for name, colour in RATE_COLOURS.items():
        values = [s.against_base.rates[name] for s in found.steps]
        bands = [chance_band(s.against_base)[name] for s in found.steps]
        rates.fill_between(steps, [b[0] for b in bands], [b[1] for b in bands], color="#999999", alpha=0.25,
                           hatch="//", linewidth=0, label="identical to the base" if name == "srr" else None)
        rates.fill_between(steps, [r.ci.lo for r in values], [r.ci.hi for r in values], color=colour, alpha=0.18,
                           linewidth=0)
        rates.plot(steps, [r.value for r in values], marker="o", markersize=3, color=colour, label=RATE_NAMES[name])
    first = found.first_shrinkage.step
    if first is not None:
        rates.axvline(first, color="#333333", linestyle=":", linewidth=1)
        rates.annotate(f"shrinkage from step {first}", (first, 0.98), fontsize=7, xytext=(3, 0), va="top",
                       textcoords="offset points", xycoords=("data", "axes fraction"))
    rates.axhline(0, color="#cccccc", linewidth=0.6)
    rates.set_xlabel("step")
    rates.set_ylabel(f"rate against {found.base}")
    legend_above(fig, rates)
    _pass_at_k(passk, found, ks)
    return finish(plt, fig, "trajectory", f"{found.base} over its checkpoints: support rates and pass@k by step")


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
    ax.legend(fontsize=7, frameon=False)


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
