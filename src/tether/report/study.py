"""A study's report (`tether report STORE --rl a --rl b`, and `tether run` on a study file): report.html (one
self-contained page), report.md with PNG figures, and summary.json, from one `tether.compare.study.Study`.

The page holds the study's tables as `tether compare` prints them: models x scopes (the paper's Table 1: P E S
O with chance and excess, SRR NDR SDS NSCR with intervals, pass@k at the grid's largest k), the two children
side by side with their differences (Table 3) when the study has a pair, and per training run its steps
(Table 4) with the first step whose shrinkage is significant and the figure of its rates and pass@k by step
(`tether.report.trajectory`). Every "beyond chance" (a `*`) is read from the study's one multiplicity family,
named once under the heading. Nothing is computed here: the numbers are the study's (`Study.to_dict()`).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

from tether._version import __version__
from tether.compare.study import Study
from tether.compare.trajectory import Trajectory
from tether.report.build import STYLE, ReportFiles, finite, html_figure, html_table, md_table
from tether.report.figures import Figure
from tether.report.trajectory import trajectory_figure

QUESTION = "Did RL expand what each model can solve, or only sharpen it?"
RATES = ("srr", "ndr", "sds", "nscr")
DIFFERENCES = ("P", "E", "S", "O", "srr", "ndr", "sds", "nscr")


@dataclasses.dataclass(frozen=True)
class Section:
    """One part of the page: a heading, lines of text around a table, and a figure (any may be empty)."""

    heading: str
    before: list[str]
    header: list[str]
    rows: list[list[str]]
    after: list[str]
    figure: Figure | None = None


def build_study_report(study: Study, out: str | Path) -> ReportFiles:
    """Write report.html, report.md, summary.json and figures/*.png of `study` into the folder `out`."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    found = study.to_dict()
    sections = [table1(found, study.options)]
    if study.pair is not None:
        sections.append(pair_section(study.pair, found, study.options))
    sections += [trajectory_section(run, study.options, _figure_name(run, study.trajectories))
                 for run in study.trajectories]
    drawn = [s.figure for s in sections if s.figure is not None]
    pngs = []
    for figure in drawn:
        path = out / "figures" / f"{figure.name}.png"
        path.write_bytes(figure.png)
        pngs.append(path)
    files = ReportFiles(out / "report.html", out / "report.md", out / "summary.json", pngs, None)
    files.html.write_text(render_html(found, sections), encoding="utf-8")
    files.markdown.write_text(render_markdown(found, sections), encoding="utf-8")
    summary = {"tether_version": __version__, **finite(found),
               "figures": [f"figures/{figure.name}.png" for figure in drawn]}
    files.summary.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return files


def _figure_name(run: Trajectory, runs: list[Trajectory]) -> str:
    """trajectory-<run>, with its base where two runs of one name start from different bases."""
    same = sum(other.run == run.run for other in runs) > 1
    return "trajectory-" + _slug(f"{run.run}-{run.base}" if same else str(run.run))


def family_text(found: dict) -> str:
    family = found["family"]
    return f"a * marks a count or difference beyond chance at alpha {family['alpha']:g}, {family['text']}"


# -- formatting: one row of numbers as cells ------------------------------------------------------------------

def number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def rate_cell(row: Mapping, name: str) -> str:
    """"0.960 [0.870, 1.000]": a rate with its interval; n/a where undefined."""
    if number(row.get(name)) == "n/a":
        return "n/a"
    return f"{number(row[name])} [{number(row.get(f'{name}_lo'))}, {number(row.get(f'{name}_hi'))}]"


def count_cell(row: Mapping, region: str) -> str:
    """"56 (31.2, +24.8)*": the count, what a child identical to its base gives, the excess; * beyond chance on
    the study's family."""
    chance = row.get(f"{region}_chance")
    if chance is None:
        return str(row[region])
    excess = row.get(f"{region}_excess", row[region] - chance) + 0.0
    mark = "*" if row.get(f"{region}_beyond_chance") else ""
    return f"{row[region]} ({chance:.1f}, {0.0 if abs(excess) < 0.05 else excess:+.1f}){mark}"


def pass_cell(row: Mapping) -> str:
    return f"{number(row.get('base_pass_at_k'))} → {number(row.get('child_pass_at_k'))}"


def comparison_cells(row: Mapping) -> list[str]:
    """tasks, P, E, S, O, the four rates and pass@k of one comparison row (`tether.compare.tables`)."""
    return [str(row["tasks"]), str(row["P"]), count_cell(row, "E"), count_cell(row, "S"), str(row["O"]),
            *(rate_cell(row, name) for name in RATES), f"{row['k']}", pass_cell(row)]


def comparison_header(options) -> list[str]:
    level = f"{options.confidence:.0%}"
    return ["tasks", "P", "E (chance, excess)", "S (chance, excess)", "O",
            *(f"{name.upper()} [{level} CI]" for name in RATES), "k", "pass@k base → model"]


# -- the three tables -----------------------------------------------------------------------------------------

def table1(found: dict, options) -> Section:
    """Models x scopes: one row per child and benchmark, domain and Overall."""
    rows, previous = [], None
    for row in found["rows"]:
        scope = {"domain": row["name"], "overall": "Overall"}.get(row["scope"], row["name"])
        model = row["child"] if row["child"] != previous else ""
        previous = row["child"]
        rows.append([model, row["base"] if model else "", _step(row) if model else "", scope,
                     *comparison_cells(row)])
    note = ("P both solve a task at least once, S only the base, E only the model, O neither; chance: what a "
            "model identical to its base gives (expected count, excess over it); SRR = P/(P+S), NDR = E/(P+E), "
            "SDS, NSCR as in the paper; a domain's row sums its benchmarks' tasks; * beyond chance in the study's "
            "family (above).")
    return Section("Models by benchmark and domain", [], ["model", "base", "run, step", "scope",
                                                          *comparison_header(options)], rows, [note])


def pair_section(pair, found: dict, options) -> Section:
    """Two children of one base side by side, each against the base on the same tasks, and their difference."""
    rows = pair.rows()
    children, difference = rows[:-1], rows[-1]
    body = [[row["child"], *comparison_cells(row)] for row in children]
    body.append([difference["child"], str(difference.get("tasks", "")),
                 *(_difference(difference, name, found["family"]["alpha"]) for name in DIFFERENCES), "", ""])
    note = ("Each child against the base on the tasks all three share, at one matched budget; the last row is the "
            f"difference with its paired {options.confidence:.0%} interval and the p-value of swapping the two "
            "children's counts task by task (adjusted in the study's family; * beyond chance).")
    return Section(f"Two children side by side: {pair.a} and {pair.b} (base {pair.base})", [],
                   ["model", *comparison_header(options)], body, [note])


def _difference(row: Mapping, name: str, alpha: float) -> str:
    """"-0.040 [-0.080, 0.000] p=0.03*": a - b with its interval and adjusted p-value."""
    if row.get(name) is None:
        return ""
    digits = 0 if name in ("P", "E", "S", "O") else 3
    p = row.get(f"{name}_p_holm")
    beyond = row.get(f"{name}_beyond_chance", p is not None and p <= alpha)
    said = "" if p is None or not math.isfinite(p) else f" p={p:.2g}" + ("*" if beyond else "")
    return (f"{number(row[name], digits)} [{number(row.get(f'{name}_lo'), digits)}, "
            f"{number(row.get(f'{name}_hi'), digits)}]{said}")


def trajectory_section(run: Trajectory, options, figure_name: str) -> Section:
    """A training run's steps, each against the base and against the step before, and its figure."""
    rows = []
    for row in run.rows():
        previous = ("" if row.get("S_previous") is None else
                    f"S {row['S_previous']}{_mark(row, 'S_previous')}, E {row['E_previous']}{_mark(row, 'E_previous')}")
        rows.append([str(row["step"]), row["child"], *comparison_cells(row), previous])
    header = ["step", "model", *comparison_header(options), "vs the step before"]
    sentence = _sentence(run.first_shrinkage.reason.rstrip("."))  # the first step whose shrinkage is significant
    name = run.run
    figure = dataclasses.replace(trajectory_figure(run), name=figure_name,
                                 title=f"Training run {name} against {run.base}: support rates and pass@k by step")
    note = ("Every step against the base (P E S O with chance, the rates, pass@k), and its S and E against the "
            "step before (* beyond chance in the study's family).")
    return Section(f"Training run {name}: {len(run.steps)} checkpoints against {run.base}", [sentence], header,
                   rows, [note], figure)


def _mark(row: Mapping, key: str) -> str:
    return "*" if row.get(f"{key}_beyond_chance") else ""


def _step(row: Mapping) -> str:
    return "" if row.get("run") is None else f"{row['run']}, {row['step']}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"


# -- HTML and Markdown ----------------------------------------------------------------------------------------

def _sentence(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}."


def _heading(found: dict) -> tuple[str, str]:
    store = found["study"]["store"]
    children = ", ".join(f"{c['label']} vs {c['base']}" for c in found["study"]["children"])
    return store, children


def render_html(found: dict, sections: list[Section]) -> str:
    store, children = _heading(found)
    head = ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tether study report</title>"
            f"<style>{STYLE}</style></head><body>")
    said = (f"<p class='muted'>study of store <code>{html.escape(store)}</code>: {html.escape(children)}; "
            f"tether {__version__}</p>")
    parts = [head, f"<h1>{html.escape(QUESTION)}</h1>", said,
             f"<p class='conclusion'>{html.escape(_sentence(family_text(found)))}</p>"]
    if found["warnings"]:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in found["warnings"])
        parts.append(f"<div class='warning'><b>Read before the numbers:</b><ul>{items}</ul></div>")
    for s in sections:
        parts += [f"<h2>{html.escape(s.heading)}</h2>", *(f"<p>{html.escape(line)}</p>" for line in s.before),
                  html_table(s.header, s.rows), *(f"<p class='muted'>{html.escape(line)}</p>" for line in s.after),
                  html_figure(s.figure)]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def render_markdown(found: dict, sections: list[Section]) -> str:
    store, children = _heading(found)
    lines = ["# tether study report", "", f"Store `{store}`: {children}.", "", f"**{QUESTION}**", "",
             f"*{_sentence(family_text(found))}*", "",
             *[line for w in found["warnings"] for line in (f"> **Warning:** {w}", "")]]
    for s in sections:
        lines += [f"## {s.heading}", "", *[line for text in s.before for line in (text, "")],
                  *md_table(s.header, s.rows), "", *[line for text in s.after for line in (f"*{text}*", "")]]
        if s.figure is not None:
            lines += [f"![{s.figure.title}](figures/{s.figure.name}.png)", "", f"*{s.figure.title}*", ""]
    return "\n".join(lines) + "\n"
