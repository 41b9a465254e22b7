"""Terminal rendering (rich) of a study (`tether.compare.study.Study`): the models x domains table (Table 1), each
pair of children side by side (Table 3), every training run over its steps per scope (Table 4), and the one
family the stars are corrected over, said once; no computation (the cells: `tether.compare.cells`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tether.compare.cells import count_cell, difference_cell, number, pass_cell, previous_cell, rate_cell
from tether.compare.study import Study


def _count(row: dict, region: str) -> str:
    return count_cell(row, region, compact=True)


def _rate(row: dict, name: str) -> str:
    return rate_cell(row, name, compact=True)


def render_study(study: Study, console: Console) -> None:
    """Table 1 in two parts that fit a terminal, one row per child x {benchmarks, domains, overall} in each: the
    regions P E S O (S and E beside chance) with pass@k at the grid's largest k, then SRR NDR SDS NSCR with their
    intervals; the pair and the runs where the study has them; then the family the stars are corrected over."""
    children = ", ".join(f"{child.label} vs {child.base}" for child in study.children)
    console.print(Text.assemble(("study", "bold"), f" of {study.store}: {children}"), highlight=False)
    rows = study.rows()
    regions = _table("Support regions by model and domain",
                     ("tasks", "P", "E (chance,excess)", "S (chance,excess)", "O", "k", "pass@k base -> RL"))
    level = f"{study.options.confidence:.0%}"
    rates = _table("Support rates by model and domain", tuple(f"{name} [{level}]" for name in ("SRR", "NDR", "SDS",
                                                                                                 "NSCR")))
    previous = None
    for row in rows:
        first = row["child"] != previous
        if first and previous is not None:
            regions.add_section()
            rates.add_section()
        previous = row["child"]
        scope = Text(row["name"]) if row["scope"] == "benchmark" else Text(
            row["name"] if row["scope"] == "domain" else "Overall", "bold")  # a domain's row sums its benchmarks'
        head = (row["child"] if first else "", scope)
        regions.add_row(*head, str(row["tasks"]), str(row["P"]), _count(row, "E"), _count(row, "S"), str(row["O"]),
                        str(row["k"]), pass_cell(row, "->"))
        rates.add_row(*head, *(_rate(row, name) for name in ("srr", "ndr", "sds", "nscr")))
    console.print(regions)
    console.print(rates)
    for pair in study.pairs:
        _render_pair(study, pair, console)
    for found in study.trajectories:
        _render_run(found, console)
    console.print(f"chance: what a child identical to its base would give (expected count, excess over it); * beyond "
                  f"chance at alpha {study.options.alpha}, {study.family.describe()}", highlight=False)


def _render_pair(study: Study, pair, console: Console) -> None:
    """Table 3: each child against the base (counts beside chance, rates), then their differences a - b with the
    paired interval, * where beyond what two exchangeable children give."""
    rows = pair.rows()
    table = Table(title=f"Two children of {pair.base} side by side: {pair.a} and {pair.b} ({rows[-1]['tasks']} "
                        "shared tasks)", title_justify="left")
    table.add_column("model")
    for name in ("P", "E", "S", "O", "SRR", "NDR", "SDS", "NSCR"):
        table.add_column(name, justify="right")
    for row in rows[:2]:
        table.add_row(row["child"], str(row["P"]), _count(row, "E"), _count(row, "S"), str(row["O"]),
                      *(number(row[name], 2) for name in ("srr", "ndr", "sds", "nscr")))
    diff = rows[-1]
    table.add_section()
    table.add_row(Text(diff["child"], "bold"), *(difference_cell(diff, name, compact=True)
                                                 for name in ("P", "E", "S", "O", "srr", "ndr", "sds", "nscr")))
    console.print(table)
    console.print(f"{pair.a} - {pair.b}: the difference [{study.options.confidence:.0%} paired interval over tasks]; * "
                  "beyond what two exchangeable children give (per task, their counts swapped); P and SRR share S's "
                  "test, O shares E's", highlight=False)


def _render_run(found, console: Console) -> None:
    """Table 4: per scope (each benchmark, each domain, overall), one row per step against the base (regions beside
    chance, rates, pass@k), with its S and E against the step before; then, per scope, the first step whose
    shrinkage is beyond chance, as a sentence."""
    name = found.run or "the run"
    table = Table(title=f"Training run {name} against {found.base}, step by step"
                        + (" (per benchmark, domain and overall)" if found.scopes else ""), title_justify="left")
    for column in ("scope", "step", "model", "P", "E (chance,excess)", "S (chance,excess)", "O", "SRR", "NDR", "NSCR",
                   "pass@k", "S, E vs previous"):
        table.add_column(column, justify="left" if column in ("scope", "model", "step") else "right")
    rows = found.rows()
    for i, row in enumerate(rows):
        first = i == 0 or (rows[i - 1]["scope"], rows[i - 1]["name"]) != (row["scope"], row["name"])
        if first and i:
            table.add_section()
        scope = (Text(row["name"]) if row["scope"] == "benchmark" else
                 Text(row["name"] if row["scope"] == "domain" else "Overall", "bold")) if first else ""
        if first and found.base_step is not None:
            table.add_row(scope, str(found.base_step), found.base, "", "", "", "", "", "", "",
                          f"{number(row['base_pass_at_k'])}", "")
            scope = ""
        table.add_row(scope, str(row["step"]), row["child"], str(row["P"]), _count(row, "E"), _count(row, "S"),
                      str(row["O"]), *(_rate(row, rate) for rate in ("srr", "ndr", "nscr")),
                      f"{number(row['child_pass_at_k'])} @{row['k']}", previous_cell(row))
    console.print(table)
    for scope, part, _, first in found.parts():
        where = "" if scope == "overall" else f" on {part}"
        console.print(f"{name}{where}: {first.reason}", highlight=False)


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    table.add_column("scope")
    for name in columns:
        table.add_column(name, justify="right")
    return table
