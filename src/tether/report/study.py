"""A study's report (`tether report STORE --rl a --rl b`, and `tether run` on a study file): report.html (one
self-contained page), report.md with PNG figures, and summary.json, from one `tether.compare.study.Study`.

The page holds the study's tables as `tether compare` prints them: models x scopes (the paper's Table 1: P E S
O with chance and excess, SRR NDR SDS NSCR with intervals, pass@k at the grid's largest k), each pair of
children side by side with their differences (Table 3), and per training run its steps per benchmark, domain
and overall (Table 4) with the first step whose shrinkage is significant on each, the figure of its rates and
pass@k by step and that of its rates per benchmark (`tether.report.trajectory`). Every "beyond chance" (a `*`)
is read from the study's one multiplicity family, named once under the heading. Nothing is computed here: the
numbers are the study's (`Study.to_dict()`), the cells' text `tether.compare.cells`'.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Mapping
from pathlib import Path

from tether._version import __version__
from tether.compare.cells import count_cell, difference_cell, pass_cell, previous_cell, rate_cell
from tether.compare.study import Study
from tether.compare.trajectory import Trajectory
from tether.report.build import STYLE, ReportFiles, finite, html_figure, html_table, md_table
from tether.report.figures import Figure
from tether.report.trajectory import scopes_figure, trajectory_figure

QUESTION = "Did RL expand what each model can solve, or only sharpen it?"
RATES = ("srr", "ndr", "sds", "nscr")
DIFFERENCES = ("P", "E", "S", "O", "srr", "ndr", "sds", "nscr")


@dataclasses.dataclass(frozen=True)
class Section:
    """One part of the page: a heading, lines of text around a table, and figures (any may be empty)."""

    heading: str
    before: list[str]
    header: list[str]
    rows: list[list[str]]
    after: list[str]
    figures: tuple[Figure, ...] = ()


def build_study_report(study: Study, out: str | Path) -> ReportFiles:
    """Write report.html, report.md, summary.json and figures/*.png of `study` into the folder `out`."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    found = study.to_dict()
    sections = [table1(found, study.options)]
    sections += [pair_section(pair, study.options) for pair in study.pairs]
    sections += [trajectory_section(run, study.options, _figure_name(run, study.trajectories))
                 for run in study.trajectories]
    drawn = [figure for s in sections for figure in s.figures]
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


# -- one row of numbers as cells (`tether.compare.cells`) --------------------------------------------------

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


def pair_section(pair, options) -> Section:
    """Two children of one base side by side, each against the base on the same tasks, and their difference."""
    rows = pair.rows()
    children, difference = rows[:-1], rows[-1]
    body = [[row["child"], *comparison_cells(row)] for row in children]
    body.append([difference["child"], str(difference.get("tasks", "")),
                 *(difference_cell(difference, name) for name in DIFFERENCES), "", ""])
    note = ("Each child against the base on the tasks all three share, at one matched budget; the last row is the "
            f"difference with its paired {options.confidence:.0%} interval and the p-value of swapping the two "
            "children's counts task by task (adjusted in the study's family; * beyond chance).")
    return Section(f"Two children side by side: {pair.a} and {pair.b} (base {pair.base})", [],
                   ["model", *comparison_header(options)], body, [note])


def trajectory_section(run: Trajectory, options, figure_name: str) -> Section:
    """A training run's steps per scope (each benchmark, each domain, overall), each against the base and against
    the step before; the first step whose shrinkage is significant on each; its figures."""
    rows, shown = [], None
    for row in run.rows():
        scope = {"domain": row["name"], "overall": "Overall"}.get(row["scope"], row["name"])
        rows.append([scope if scope != shown else "", str(row["step"]), row["child"], *comparison_cells(row),
                     previous_cell(row)])
        shown = scope
    header = ["scope", "step", "model", *comparison_header(options), "vs the step before"]
    sentence = _sentence(run.first_shrinkage.reason.rstrip("."))  # the first step whose shrinkage is significant
    name = run.run
    figures = [dataclasses.replace(trajectory_figure(run), name=figure_name,
                                   title=f"Training run {name} against {run.base}: support rates and pass@k by step")]
    per_benchmark = scopes_figure(run)
    if per_benchmark is not None:
        figures.append(dataclasses.replace(per_benchmark, name=f"{figure_name}-benchmarks",
                                           title=f"Training run {name} against {run.base}, per benchmark: SRR, NDR "
                                                 "and NSCR by step, the band a model identical to the base gives"))
    scoped = [f"On {part}: {first.reason}." for scope, part, _, first in run.parts() if scope != "overall"]
    note = ("Every step against the base (P E S O with chance, the rates, pass@k) on each benchmark's tasks, each "
            "domain's and all of them, and its S and E against the step before (* beyond chance in the study's "
            "family).")
    return Section(f"Training run {name}: {len(run.steps)} checkpoints against {run.base}", [sentence, *scoped],
                   header, rows, [note], tuple(figures))


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
                  *(html_figure(figure) for figure in s.figures)]
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
        for figure in s.figures:
            lines += [f"![{figure.title}](figures/{figure.name}.png)", "", f"*{figure.title}*", ""]
    return "\n".join(lines) + "\n"
