"""The report's figures, drawn with matplotlib (Agg) and returned as inline SVG text and PNG bytes.

- `pass_at_k_figure`: both models' mean pass@k per benchmark on a log-k axis, CI bands, the
  crossover marked;
- `task_curves_figure`: chosen tasks showing preservation, expansion and shrinkage;
- `regions_figure`: P/S/E/O per benchmark as stacked bars;
- `diagnostics_figure`: avg@k, answer and token entropy of both models;
- `perplexity_figure`: perplexity on reference traces by support region.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from tether.compare import Comparison
from tether.compare.result import INTERVALS
from tether.metrics import REGIONS
from tether.report.data import TaskCurve
from tether.store.schema import Diagnostic

COLOURS = {"base": "#4c72b0", "rl": "#dd8452"}
REGION_COLOURS = {"P": "#55a868", "S": "#c44e52", "E": "#8172b3", "O": "#b0b0b0"}


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    svg: str
    png: bytes


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "tether"})
    return plt


def finish(plt, fig, name: str, title: str) -> Figure:
    fig.tight_layout()
    svg, png = io.StringIO(), io.BytesIO()
    # the saved area grows to hold everything drawn (a legend above the panels, a long title, labels
    # right of the bars): nothing is clipped
    fig.savefig(svg, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.08)
    fig.savefig(png, format="png", dpi=120, bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    text = svg.getvalue()
    return Figure(name, title, text[text.index("<svg"):], png.getvalue())


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return math.ceil(n / cols), cols


def pass_at_k_figure(benchmarks: dict[str, Comparison], labels: tuple[str, str]) -> Figure:
    plt = pyplot()
    rows, cols = _grid(len(benchmarks))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, (name, result) in zip(axes.flat, benchmarks.items()):
        for key, label in zip(("base", "rl"), labels):
            lo, hi = result.pass_at_k_ci[key]
            ax.fill_between(result.k_grid, lo, hi, color=COLOURS[key], alpha=0.18, linewidth=0)
            ax.plot(result.k_grid, result.pass_at_k[key], marker="o", markersize=3, color=COLOURS[key], label=label)
            if result.extrapolation is not None and not result.extrapolation.refused:  # estimates: dashed
                ext = result.extrapolation
                ax.plot([result.k_grid[-1], *ext.k_grid], [result.pass_at_k[key][-1], *ext.means[key]],
                        linestyle="--", color=COLOURS[key], linewidth=1)
        if result.crossover_k is not None:
            ax.axvline(result.crossover_k, color="#333333", linestyle="--", linewidth=1)
            ax.annotate(f"crossover k≈{result.crossover_k:.0f}", (result.crossover_k, 0.97), fontsize=7,
                        xytext=(-3, 0), textcoords="offset points", ha="right", va="top")
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_title(_wrapped(f"{name} ({len(result.task_ids)} tasks)"), fontsize=9)
        ax.set_xlabel("k (samples)")
        ax.set_ylabel("mean pass@k")
    for ax in list(axes.flat)[len(benchmarks):]:
        ax.set_visible(False)
    legend_above(fig, axes.flat[0])  # one legend for all panels, over none of the curves
    options = next(iter(benchmarks.values())).options
    return finish(plt, fig, "pass_at_k", f"pass@k per benchmark ({options.confidence:.0%} intervals "
                   f"{INTERVALS[options.intervals]}; a crossover detected by the paired evidence: vertical dashed "
                   "line; dashed curves: the joint model's estimate beyond the samples, where the data identify it)")


def delta_figure(benchmarks: dict[str, Comparison], labels: tuple[str, str]) -> Figure:
    """RL - base mean pass@k per benchmark, with the paired bootstrap band and the zero line."""
    plt = pyplot()
    rows, cols = _grid(len(benchmarks))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax, (name, result) in zip(axes.flat, benchmarks.items()):
        lo, hi = result.delta_pass_at_k_ci
        ax.axhline(0, color="#333333", linewidth=0.8)
        ax.fill_between(result.k_grid, *result.band, color=COLOURS["rl"], alpha=0.12, linewidth=0)
        ax.fill_between(result.k_grid, lo, hi, color=COLOURS["rl"], alpha=0.25, linewidth=0)
        ax.plot(result.k_grid, result.delta_pass_at_k, marker="o", markersize=3, color=COLOURS["rl"])
        ax.set_xscale("log", base=2)
        ax.set_title(f"{name}", fontsize=9)
        ax.set_xlabel("k (samples)")
        ax.set_ylabel(f"{labels[1]} − {labels[0]}")
    for ax in list(axes.flat)[len(benchmarks):]:
        ax.set_visible(False)
    options = next(iter(benchmarks.values())).options
    return finish(plt, fig, "delta_pass_at_k",
                   f"Difference in mean pass@k (RL − base): paired pointwise {options.confidence:.0%} intervals (dark) "
                   f"and the simultaneous {options.confidence:.0%} band over the k grid (light; a difference is beyond "
                   f"chance only outside it), intervals {INTERVALS[options.intervals]}; below 0 the base leads")


def task_curves_figure(curves: list[TaskCurve], labels: tuple[str, str]) -> Figure | None:
    if not curves:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 2.8), squeeze=False)
    for ax, curve in zip(axes.flat, curves):
        for key, label, values in (("base", labels[0], curve.base), ("rl", labels[1], curve.rl)):
            ax.plot(curve.k_grid, values, marker="o", markersize=3, color=COLOURS[key], label=label)
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_title(_wrapped(f"{curve.shape}: {curve.task_id} ({curve.region})"), fontsize=8)
        ax.set_xlabel("k (samples)")
        ax.set_ylabel("pass@k")
    legend_above(fig, axes.flat[0])
    return finish(plt, fig, "task_curves", "Three tasks, three shapes: preservation, expansion, shrinkage")


def _wrapped(title: str, width: int = 44) -> str:
    """A long panel title on several lines rather than cut at the panel's edge."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width, break_long_words=True, break_on_hyphens=False)) or title


def legend_above(fig, ax) -> None:
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(names), fontsize=8,
               frameon=False)


def regions_figure(benchmarks: dict[str, Comparison]) -> Figure:
    """Stacked P/S/E/O shares per benchmark; every count is written: on its segment when there is room,
    and all four right of the bar."""
    plt = pyplot()
    names = list(benchmarks)
    lines = sum(_wrapped(n, 28).count("\n") + 1 for n in names)
    fig, ax = plt.subplots(figsize=(8.0, 1.0 + 0.3 * lines + 0.2 * len(names)))
    left = [0.0] * len(names)
    ticks = [_wrapped(n, 28) for n in names]
    for region in REGIONS:
        shares = [getattr(benchmarks[n].counts, region) / max(1, len(benchmarks[n].task_ids)) for n in names]
        bars = ax.barh(ticks, shares, left=left, color=REGION_COLOURS[region], label=region)
        for bar, share, n in zip(bars, shares, names):
            if share >= 0.06:
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2,
                        str(getattr(benchmarks[n].counts, region)), ha="center", va="center", fontsize=7)
        if region in ("S", "E"):  # where the segment would end if the models were the same: the chance level
            for i, n in enumerate(names):
                level = benchmarks[n].chance.s if region == "S" else benchmarks[n].chance.e
                end = left[i] + level.expected / max(1, len(benchmarks[n].task_ids))
                ax.plot([end, end], [i - 0.4, i + 0.4], color="black", linewidth=1.2)
        left = [a + b for a, b in zip(left, shares)]
    for i, n in enumerate(names):
        counts = benchmarks[n].counts
        ax.text(1.02, i, "  ".join(f"{r} {getattr(counts, r)}" for r in REGIONS), ha="left", va="center",
                fontsize=7, transform=ax.get_yaxis_transform())
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of tasks")
    ax.invert_yaxis()
    ax.legend(ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=7, frameon=False)
    return finish(plt, fig, "regions", "Support regions per benchmark (task counts on the bars and right of "
                   "them; a black tick marks where S and E would end for two identical models)")


def diagnostics_figure(rows: list[Diagnostic], labels: tuple[str, str]) -> Figure | None:
    metrics = [m for m in ("avg_at_k", "answer_entropy", "token_entropy")
               if any(r.metric == m and r.benchmark == "all" for r in rows)]
    if not metrics:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 2.6), squeeze=False)
    values = {(r.model, r.metric): r.value for r in rows if r.benchmark == "all" and r.group == "all"}
    ks = {r.k for r in rows if r.metric == "avg_at_k" and r.benchmark == "all" and r.model in labels}
    avg = f"avg@{next(iter(ks))}" if len(ks) == 1 else "avg@k"  # the k used, as Table 3 names it
    titles = {"avg_at_k": avg, "answer_entropy": "answer entropy (nats)", "token_entropy": "token entropy (nats)"}
    for ax, metric in zip(axes.flat, metrics):
        heights = [values.get((label, metric), float("nan")) for label in labels]
        ax.bar(labels, heights, color=[COLOURS["base"], COLOURS["rl"]])
        for i, h in enumerate(heights):
            if not math.isnan(h):
                ax.text(i, h, f"{h:.3f}", ha="center", va="bottom", fontsize=7)
        ax.set_title(titles[metric])
    return finish(plt, fig, "diagnostics", "avg@k and entropies: sharper answers, and how local randomness moved")


def perplexity_figure(rows: list[Diagnostic], labels: tuple[str, str]) -> Figure | None:
    found = {(r.model, r.group): r.value for r in rows if r.metric == "perplexity"}
    groups = [g for g in ("all", *REGIONS) if any((label, g) in found for label in labels)]
    if not groups:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(groups), 2.6))
    width = 0.38
    for j, (key, label) in enumerate(zip(("base", "rl"), labels)):
        xs = [i + (j - 0.5) * width for i in range(len(groups))]
        ax.bar(xs, [found.get((label, g), float("nan")) for g in groups], width, color=COLOURS[key], label=label)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_yscale("log")
    ax.set_ylabel("perplexity per token (log)")
    ax.legend(fontsize=7, frameon=False)
    return finish(plt, fig, "perplexity", "Perplexity on reference traces, by the task's support region")


def likelihood_figure(saved: dict | None) -> Figure | None:
    """log10 of each model's estimated chance on the tasks only the other solved, with its CI, against the
    detection bound at the run's k and the "rare but reachable" threshold; out of reach at the left edge."""
    if not saved:
        return None
    tasks = [t for t in saved["tasks"] if t["region"] in ("E", "S")] or saved["tasks"]
    if not tasks:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 1.0 + 0.28 * len(tasks)))
    shown = [t for t in tasks if t["reachable"] in ("estimated", "few completions") and t["q_hat"] > 0]
    floor = min([math.log10(t["ci"][0]) for t in shown if t["ci"][0] and t["ci"][0] > 0]
                + [math.log10(saved["threshold"]) - 1, math.log10(saved["epsilon"]) - 1])
    for i, t in enumerate(tasks):
        colour = REGION_COLOURS.get(t["region"], "#333333")
        if t in shown:
            low = math.log10(t["ci"][0]) if t["ci"][0] and t["ci"][0] > 0 else floor
            high = math.log10(t["ci"][1]) if t["ci"][1] and t["ci"][1] > 0 else math.log10(t["q_hat"])
            ax.plot([low, high], [i, i], color=colour, linewidth=2)
            ax.plot([math.log10(t["q_hat"])], [i], "o", color=colour)
        else:
            ax.plot([floor], [i], "x" if t["reachable"] == "out of reach" else "s", color=colour, fillstyle="none")
            ax.text(floor, i, f"  {t['reachable']}", va="center", fontsize=7)
    ax.axvline(math.log10(saved["epsilon"]), color="black", linestyle="--", linewidth=1)
    ax.axvline(math.log10(saved["threshold"]), color="#777777", linestyle=":", linewidth=1)
    ax.set_yticks(range(len(tasks)), [_wrapped(f"{t['task_id']} ({t['region']}: {t['target']})", 36) for t in tasks],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("log10 estimated P(correct) of the model that never solved the task")
    return finish(plt, fig, "likelihood", "Each model's chance on the tasks only the other solved (importance "
                   "sampling over both models' samples, 95% CI); dashed: the detection bound at the run's k; dotted: "
                   "the bound at 10x the budget (above it: rare but reachable); x: every correct completion lies "
                   "outside the model's nucleus; square: weights too uneven for an estimate")
