"""`tether report STORE --out DIR`: report.html (one self-contained page), report.md with PNG
figures, and summary.json.

The HTML page needs no network and no script: the figures are inline SVG drawn by matplotlib,
the style sheet is inline. The Markdown report links the same figures as PNG files next to it.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

from tether._version import __version__
from tether.compare import CompareOptions, Comparison
from tether.compare.result import INTERVALS
from tether.compare.store import StoreComparison, stored_comparison
from tether.compare.wording import inference_lines
from tether.metrics import REGIONS
from tether.metrics.bound import format_probability
from tether.report import figures
from tether.report import sensitivity as by_grader
from tether.report.data import ReportData, gather
from tether.report.tables import perplexity_table, table3
from tether.store import Store, open_store
from tether.store.schema import REWARD_HACKS

REGION_NAMES = {"P": "preservation", "S": "shrinkage", "E": "expansion", "O": "out of support"}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
padding:0 1rem}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}th,td{padding:.25rem .6rem;
border-bottom:1px solid #eee;text-align:right}th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}figcaption{font-size:.85rem;color:#555}
pre{white-space:pre-wrap;background:#f8f8f8;padding:.5rem;font-size:.8rem;max-height:14rem;overflow:auto}
.muted{color:#666;font-size:.85rem}
.conclusion{font-size:1.05rem;background:#f3f7fb;border-left:4px solid #3a6ea5;padding:.6rem .8rem}
.warning{background:#fff4e5;border:1px solid #e0a040;border-left:4px solid #d9822b;padding:.4rem .8rem}
.table{max-width:100%;overflow-x:auto}
table.long td{overflow-wrap:anywhere;min-width:3.5rem}
"""


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    markdown: Path
    summary: Path
    figures: list[Path]
    conclusion: dict | None = None  # the answer the report's heading gives (`Conclusion.as_dict`)

    def to_dict(self) -> dict:
        """`tether report --json`: the files written and the conclusion."""
        return {"html": str(self.html), "markdown": str(self.markdown), "summary": str(self.summary),
                "figures": [str(path) for path in self.figures], "conclusion": self.conclusion}


def build_report(store: str | Path | Store, out: str | Path, *, base_label: str = "base", rl_label: str = "rl",
                 options: CompareOptions | None = None, comparison: StoreComparison | None = None) -> ReportFiles:
    """Write the three reports (and the PNG figures) of a store into `out`.

    `comparison` is the store's comparison as `tether.compare.store` made it; by default the one
    saved in the store (compare/compare.json) when still current, else computed now and saved."""
    store = open_store(store)  # once: the comparison and what the report gathers
    comparison = comparison or stored_comparison(store, base_label, rl_label, options)
    data = gather(store, comparison)
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    drawn = _figures(data)
    pngs = []
    for figure in drawn:
        path = out / "figures" / f"{figure.name}.png"
        path.write_bytes(figure.png)
        pngs.append(path)
    files = ReportFiles(out / "report.html", out / "report.md", out / "summary.json", pngs,
                        data.overall.conclusion.as_dict())
    files.html.write_text(render_html(data, drawn), encoding="utf-8")
    files.markdown.write_text(render_markdown(data, drawn), encoding="utf-8")
    files.summary.write_text(json.dumps(summary(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return files


def _figures(data: ReportData) -> list[figures.Figure]:
    drawn = [figures.pass_at_k_figure(_with_overall(data), data.labels),
             figures.delta_figure(_with_overall(data), data.labels),
             figures.task_curves_figure(data.curves, data.labels),
             figures.regions_figure(_with_overall(data)),
             figures.diagnostics_figure(data.diagnostics, data.labels),
             figures.perplexity_figure(data.diagnostics, data.labels),
             figures.likelihood_figure(data.likelihood)]
    return [f for f in drawn if f is not None]


def _with_overall(data: ReportData) -> dict[str, Comparison]:
    return data.benchmarks if len(data.benchmarks) == 1 else {**data.benchmarks, "all benchmarks": data.overall}


# -- summary.json ----------------------------------------------------------------------

def summary(data: ReportData) -> dict:
    return {
        "tether_version": __version__,
        "store": data.store,
        "labels": {"base": data.labels[0], "rl": data.labels[1]},
        "conclusion": data.overall.conclusion.as_dict(),  # the answer to the question, as the report's heading asks it
        "warnings": list(data.overall.warnings),  # format compliance and the comparison's own, as in the warning box
        "provenance": data.overall.provenance,
        "overall": finite(data.overall.to_dict()),
        "benchmarks": {name: finite({k: v for k, v in c.to_dict().items() if k != "tasks"})
                       for name, c in data.benchmarks.items()},
        "shifted_tasks": [dataclasses.asdict(t) for t in data.shifted],
        "task_curves": [{"shape": c.shape, "task_id": c.task_id, "region": c.region} for c in data.curves],
        "diagnostics": [dataclasses.asdict(r) for r in data.diagnostics],
        "diagnostics_notes": data.diagnostics_notes,
        "likelihood": data.likelihood,
    }


def provenance_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    """Per model: what sampled it, how, how many times, graded by which verifier, and how much was cut."""
    header = ["model", "checkpoint (engine)", "temperature", "top_p", "max_tokens", "seed", "k", "verifier",
              "cut at max_tokens", "samples (tokens) spent"]
    rows = []
    for side in ("base", "rl"):
        found = data.overall.provenance.get(side) or {}
        decoding = found.get("decoding") or {}
        rate = found.get("truncation_rate")
        checkpoint = "imported samples" if found.get("origin") == "imported" else \
            f"{found.get('model')} ({found.get('engine')})"
        rows.append([found.get("label", side), checkpoint if found else "-",
                     *(str(decoding.get(key, "-")) for key in ("temperature", "top_p", "max_tokens")),
                     str(found.get("seed", "-")), str(found.get("k", "-")),
                     ", ".join((found.get("verifier_versions") or {}).values()) or "-",
                     "-" if rate is None else f"{rate:.1%}", _spent(found)])
    return header, rows


def _spent(found: dict) -> str:
    """Samples and tokens the label holds; for an adaptive run, against a full run of k per task."""
    if not found.get("samples"):
        return "-"
    text = f"{found['samples']:,}" + (f" ({found['tokens']:,} tokens)" if found.get("tokens") is not None else "")
    if found.get("adaptive") and found.get("full_run_samples"):
        full = found.get("full_run_tokens")
        text += (f"; adaptive, a full run: {found['full_run_samples']:,}" + (f" ({full:,} tokens)" if full else "")
                 + f", {1 - found['samples'] / found['full_run_samples']:.0%} saved")
    return text


def finite(value):
    """JSON has no NaN: undefined values (a rate with a zero denominator) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


# -- tables, shared by HTML and Markdown ------------------------------------------------

def headline_rows(data: ReportData) -> list[list[str]]:
    rows = []
    for name, result in _with_overall(data).items():
        counts = result.counts.as_dict()
        rates = [f"{_fmt(r.value)} [{_fmt(r.ci.lo)}, {_fmt(r.ci.hi)}]" for r in result.rates.values()]
        top = len(result.k_grid) - 1
        passk = [f"{result.pass_at_k[m][top]:.3f}" for m in ("base", "rl")]
        cross = f"{result.crossover_k:.0f}" if result.crossover_k is not None else "none detected"
        chance = [_chance(level, result.chance.family[region])
                  for region, level in (("S", result.chance.s), ("E", result.chance.e))]
        rows.append([name, str(len(result.task_ids)), *[str(counts[r]) for r in REGIONS], *chance, *rates, *passk,
                     cross])
    return rows


def reward_hack_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    """Per model: its graded samples and how many verdicts signal each reward hack (share in brackets)."""
    header = ["model", "graded samples", *REWARD_HACKS.values()]
    rows = []
    for side, label in zip(("base", "rl"), data.labels):
        counts = data.reward_hacks[side]
        cells = [f"{n:,}" + (f" ({n / counts.samples:.1%})" if counts.samples else "")
                 for n in (getattr(counts, key) for key in REWARD_HACKS)]
        rows.append([label, f"{counts.samples:,}", *cells])
    return header, rows


REWARD_HACK_NOTE = ("Verdicts whose program ended before its tests did, or passed by a trick the `code` verifier "
                    "caught (an object whose == says yes to anything, a replaced test helper): reward-hacking "
                    "signals to read an RL model's pass@k with (docs/code.md).")


def _chance(level, family: float) -> str:
    """What two identical models would give, and the chance of the observed excess (Holm over S and E)."""
    return f"{level.expected:.1f} [{level.interval[0]}, {level.interval[1]}]; p = {family:.2g}"


def headline_header(data: ReportData) -> list[str]:
    k = int(data.overall.k_grid[-1])
    return ["benchmark", "tasks", *REGIONS, "S by chance", "E by chance",
            *(f"{n.upper()} [{data.overall.options.confidence:.0%} CI]" for n in data.overall.rates),
            f"{data.labels[0]} pass@{k}", f"{data.labels[1]} pass@{k}", "crossover k"]


def _fmt(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _intervals(data: ReportData) -> str:
    """What the headline's intervals cover, in words."""
    return f"{data.overall.options.confidence:.0%} intervals {INTERVALS[data.overall.options.intervals]}"


# -- HTML ------------------------------------------------------------------------------

def render_html(data: ReportData, drawn: list[figures.Figure]) -> str:
    by_name = {f.name: f for f in drawn}
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tether report</title>"
             f"<style>{STYLE}</style></head><body>",
             "<h1>Did RL expand what the model can solve, or only sharpen it?</h1>",
             f"<p class='muted'>store <code>{html.escape(data.store)}</code>; base <b>{html.escape(data.labels[0])}</b>, "
             f"RL <b>{html.escape(data.labels[1])}</b>; tether {__version__}</p>",
             f"<p class='conclusion'>{html.escape(data.overall.conclusion.text)}</p>", _html_warnings(data),
             "<h2>What produced these numbers</h2>", html_table(*provenance_table(data), long=True),
             "<h2>Headline</h2>", html_table(headline_header(data), headline_rows(data)),
             ("<p class='muted'>P both solve a task at least once, S only the base, E only RL, O neither. "
              f"SRR = P/(P+S), NDR = E/(P+E), SDS, NSCR as in the paper; {html.escape(_intervals(data))}. "
              "'By chance': the S and E counts two identical models would give on these tasks at these budgets "
              "(expectation, 95% interval) and the p-value of the observed excess, Holm-adjusted over S and E "
              "(docs/science.md).</p>"),
             *(f"<p>{html.escape(line)}</p>" for line in inference_lines(data.overall))]
    if data.shows_reward_hacks:
        parts += ["<h3>Reward-hacking signals</h3>", html_table(*reward_hack_table(data)),
                  f"<p class='muted'>{html.escape(REWARD_HACK_NOTE)}</p>"]
    parts.append(by_grader.html_section(data.overall, data.labels, html_table))
    for name in ("pass_at_k", "delta_pass_at_k", "task_curves", "regions"):
        parts.append(html_figure(by_name.get(name)))
    parts.append("<h2>Diagnostics</h2>")
    header, diag = table3(data.diagnostics, data.labels)
    if diag:
        parts.append(html_table(header, diag))
    else:
        parts.append("<p class='muted'>No diagnostics in the store yet: run <code>tether diagnose</code>.</p>")
    parts.append(html_figure(by_name.get("diagnostics")))
    header, rows = perplexity_table(data.diagnostics, data.labels)
    if rows:
        parts += ["<h3>Perplexity on reference traces</h3>", html_table(header, rows)]
    parts += [f"<p class='muted'><b>{html.escape(note)}</b></p>" if note.startswith("stale")
              else f"<p class='muted'>{html.escape(note)}</p>" for note in data.diagnostics_notes]
    parts.append(html_figure(by_name.get("perplexity")))
    parts += ["<h2>Tasks only one model solves</h2>", _html_shifted(data)]
    if data.likelihood:
        parts += ["<h2>Each model's chance on the other's tasks</h2>", html_figure(by_name.get("likelihood")),
                  html_table(*likelihood_table(data.likelihood)), _html_forks(data.likelihood)]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _html_warnings(data: ReportData) -> str:
    """The comparison's warnings (a model's format compliance, no correct sample, tasks dropped or trimmed) in a
    box under the answer: what to read before any number below."""
    if not data.overall.warnings:
        return ""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in data.overall.warnings)
    return f"<div class='warning'><b>Read before the numbers:</b><ul>{items}</ul></div>"


def html_table(header: list[str], rows: list[list[str]], long: bool = False) -> str:
    """A table in a box of its own that scrolls sideways when the table is wider than the page; `long`: its
    cells hold long values (paths, hub ids, verifier versions) that wrap anywhere rather than widen the page."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    table = '<table class="long">' if long else "<table>"
    return f'<div class="table">{table}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def html_figure(figure: figures.Figure | None) -> str:
    if figure is None:
        return ""
    return (f"<figure class='figure' id='fig-{figure.name}'>{figure.svg}"
            f"<figcaption>{html.escape(figure.title)}</figcaption></figure>")


def _html_shifted(data: ReportData) -> str:
    if not data.shifted:
        return "<p class='muted'>None: every task is in P or O.</p>"
    header = ["task", "benchmark", "region", f"{data.labels[0]} correct", f"{data.labels[1]} correct",
              "p-value (one-sided exact)", "q-value (BH)", "extracted answer (how found)", "gold answer"]
    rows = [[t.task_id, t.benchmark, f"{t.region} ({REGION_NAMES[t.region]})", f"{t.base[0]}/{t.base[1]}",
             f"{t.rl[0]}/{t.rl[1]}", f"{t.p_value:.2g}", f"{t.q_value:.2g}", _found(t), _short(t.gold)]
            for t in data.shifted]
    examples = "".join(
        f"<details><summary>{html.escape(t.task_id)}: a correct completion of "
        f"{html.escape(data.labels[0] if t.region == 'S' else data.labels[1])}</summary>"
        f"<pre>{html.escape(t.example)}</pre></details>" for t in data.shifted[:50] if t.example)
    return html_table(header, rows) + examples


def likelihood_table(saved: dict) -> tuple[list[str], list[list[str]]]:
    header = ["task", "region", "model that never solved it", "its own", "estimated P(correct)", "95% CI", "ESS",
              "status"]
    rows = []
    for t in saved["tasks"]:
        estimated = t["reachable"] in ("estimated", "few completions")  # the latter with its widened interval
        rows.append([t["task_id"], t["region"], t["target"], f"{t['observed']['correct']}/{t['observed']['samples']}",
                     format_probability(t["q_hat"]) if estimated else "",
                     f"[{format_probability(t['ci'][0])}, {format_probability(t['ci'][1])}]" if estimated else "",
                     f"{t['ess']:.1f}", t["reachable"]])
    return header, rows


def _drop(value: float | None) -> str:
    return "−∞" if value is None else f"{value:+.2f} nats"


def _html_forks(saved: dict) -> str:
    """Per E task, the other model's highest-weight correct completion with the fork tokens highlighted."""
    blocks = []
    for t in saved["tasks"]:
        if t["region"] != "E" or not t["forks"]:
            continue
        items = "".join(f"<li>…{html.escape(f['context'][-40:])}<mark>{html.escape(f['token'])}</mark> "
                        f"(position {f['position']}, log q − log π = {_drop(f['drop'])})"
                        "</li>" for f in t["forks"])
        blocks.append(f"<details open><summary>{html.escape(t['task_id'])}: where {html.escape(t['proposal'])} departs "
                      f"from {html.escape(t['target'])} (sample {t['fork_sample']})</summary><ul>{items}</ul></details>")
    for t in saved["tasks"]:
        if t["outside"]:
            f = t["outside"][0]
            blocks.append(f"<p>{html.escape(t['task_id'])}: {len(t['outside'])} of {html.escape(t['proposal'])}'s "
                          f"correct completions need a token {html.escape(t['target'])}'s sampler can never emit, "
                          f"e.g. …{html.escape(f['context'][-40:])}<mark>{html.escape(f['token'])}</mark> "
                          f"(position {f['position']})</p>")
    return "".join(blocks)


# -- Markdown --------------------------------------------------------------------------

def render_markdown(data: ReportData, drawn: list[figures.Figure]) -> str:
    lines = ["# tether report", "", f"Store `{data.store}`: base `{data.labels[0]}`, RL `{data.labels[1]}`.", "",
             f"**Did RL expand what the model can solve, or only sharpen it?** {data.overall.conclusion.text}", "",
             *[line for w in data.overall.warnings for line in (f"> **Warning:** {w}", "")],
             "## What produced these numbers", "", *md_table(*provenance_table(data)), "",
             "## Headline", "", *md_table(headline_header(data), headline_rows(data)), "",
             (f"*{_intervals(data)}; 'by chance': what two identical models would give, and the p-value of the "
              "excess, Holm-adjusted over S and E.*"), "",
             *[line for text in inference_lines(data.overall) for line in (text, "")]]
    if data.shows_reward_hacks:
        lines += ["### Reward-hacking signals", "", *md_table(*reward_hack_table(data)), "", REWARD_HACK_NOTE, ""]
    lines += by_grader.markdown_section(data.overall, data.labels, md_table)
    for figure in drawn:
        lines += [f"![{figure.title}](figures/{figure.name}.png)", "", f"*{figure.title}*", ""]
    header, diag = table3(data.diagnostics, data.labels)
    if diag:
        lines += ["## Diagnostics", "", *md_table(header, diag), ""]
    header, rows = perplexity_table(data.diagnostics, data.labels)
    if rows:
        lines += ["### Perplexity on reference traces", "", *md_table(header, rows), ""]
    for note in data.diagnostics_notes:
        lines += [f"**{note}**" if note.startswith("stale") else f"*{note}*", ""]
    lines += ["## Tasks only one model solves", ""]
    lines += md_table(["task", "region", "base", "rl", "p", "q", "extracted answer (how found)", "gold"],
                       [[t.task_id, t.region, f"{t.base[0]}/{t.base[1]}", f"{t.rl[0]}/{t.rl[1]}", f"{t.p_value:.2g}",
                         f"{t.q_value:.2g}", _found(t), _short(t.gold)] for t in data.shifted]) if data.shifted else ["None."]
    if data.likelihood:
        lines += ["", "## Each model's chance on the other's tasks", "", *md_table(*likelihood_table(data.likelihood))]
    return "\n".join(lines) + "\n"


def _found(task) -> str:
    """The extracted answer of the example and its route, e.g. "42 (box)"."""
    if task.answer is None:
        return "-" if task.example is None else f"- ({task.extraction or 'no answer'})"
    return f"{_short(task.answer)} ({task.extraction or 'imported'})"


def _short(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]
