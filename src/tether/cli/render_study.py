"""Terminal rendering (rich) of a study (`tether.compare.study.Study`): the models x domains table (Table 1), the
pair of children side by side (Table 3), every training run over its steps (Table 4), and the one family the
stars are corrected over, said once; no computation."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tether.compare.study import Study


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _short(value: float | None) -> str:
    """An interval's end in two decimals without the leading zero: .09, -.74, 1.00."""
    return _num(value).replace("0.", ".", 1) if _num(value).lstrip("-").startswith("0.") else _num(value)


def _rate(row: dict, name: str) -> str:
    if _num(row[name]) == "n/a":
        return "n/a"
    return f"{_num(row[name])} [{_short(row[f'{name}_lo'])},{_short(row[f'{name}_hi'])}]"


def _count(row: dict, region: str) -> str:
    """"56 (31.2, +24.8)*": the count, chance alone's expectation and the excess; * beyond chance after Holm
    (no mark where the row makes no claim: a pair's children against the base)."""
    mark = "*" if row.get(f"{region}_beyond_chance") else ""
    excess = row[f"{region}_excess"] + 0.0  # no "-0.0"
    return f"{row[region]} ({row[f'{region}_chance']:.1f},{0.0 if abs(excess) < 0.05 else excess:+.1f}){mark}"


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
                        str(row["k"]), f"{_num(row['base_pass_at_k'], 3)} -> {_num(row['child_pass_at_k'], 3)}")
        rates.add_row(*head, *(_rate(row, name) for name in ("srr", "ndr", "sds", "nscr")))
    console.print(regions)
    console.print(rates)
    if study.pair is not None:
        _render_pair(study, console)
    for found in study.trajectories:
        _render_run(found, console)
    console.print(f"chance: what a child identical to its base would give (expected count, excess over it); * beyond "
                  f"chance at alpha {study.options.alpha}, {study.family.describe()}", highlight=False)


def _render_pair(study: Study, console: Console) -> None:
    """Table 3: each child against the base (counts beside chance, rates), then their differences a - b with the
    paired interval, * where beyond what two exchangeable children give."""
    pair = study.pair
    rows = pair.rows()
    table = Table(title=f"Two children of {pair.base} side by side ({rows[-1]['tasks']} shared tasks)",
                  title_justify="left")
    table.add_column("model")
    for name in ("P", "E", "S", "O", "SRR", "NDR", "SDS", "NSCR"):
        table.add_column(name, justify="right")
    for row in rows[:2]:
        table.add_row(row["child"], str(row["P"]), _count(row, "E"), _count(row, "S"), str(row["O"]),
                      *(_num(row[name]) for name in ("srr", "ndr", "sds", "nscr")))
    diff = rows[-1]
    table.add_section()
    table.add_row(Text(diff["child"], "bold"), *(_difference(diff, name) for name in ("P", "E", "S", "O", "srr", "ndr",
                                                                                      "sds", "nscr")))
    console.print(table)
    console.print(f"{pair.a} - {pair.b}: the difference [{study.options.confidence:.0%} paired interval over tasks]; * "
                  "beyond what two exchangeable children give (per task, their counts swapped); P and SRR share S's "
                  "test, O shares E's", highlight=False)


def _difference(row: dict, name: str) -> str:
    value = row[name]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    digits = 0 if name in ("P", "E", "S", "O") else 2
    shown = f"{value:+.{digits}f}" if value else f"{0:.{digits}f}"
    mark = "*" if row[f"{name}_beyond_chance"] else ""
    return f"{shown} [{_num(row[f'{name}_lo'], digits)},{_num(row[f'{name}_hi'], digits)}]{mark}"


def _render_run(found, console: Console) -> None:
    """Table 4: one row per step against the base (regions beside chance, rates, pass@k), with its S and E against
    the step before; then the first step whose shrinkage is beyond chance, as a sentence."""
    name = found.run or "the run"
    table = Table(title=f"Training run {name} against {found.base}, step by step", title_justify="left")
    for column in ("step", "model", "P", "E (chance,excess)", "S (chance,excess)", "O", "SRR", "NDR", "NSCR",
                   "pass@k", "S, E vs previous"):
        table.add_column(column, justify="left" if column in ("model", "step") else "right")
    rows = found.rows()
    if found.base_step is not None:
        first = rows[0]
        table.add_row(str(found.base_step), found.base, "", "", "", "", "", "", "", f"{_num(first['base_pass_at_k'], 3)}",
                      "")
    for row in rows:
        previous = "" if "S_previous" not in row else (
            f"{row['S_previous']}{'*' if row['S_previous_beyond_chance'] else ''}, "
            f"{row['E_previous']}{'*' if row['E_previous_beyond_chance'] else ''}")
        table.add_row(str(row["step"]), row["child"], str(row["P"]), _count(row, "E"), _count(row, "S"), str(row["O"]),
                      *(_rate(row, rate) for rate in ("srr", "ndr", "nscr")),
                      f"{_num(row['child_pass_at_k'], 3)} @{row['k']}", previous)
    console.print(table)
    console.print(f"{name}: {found.first_shrinkage.reason}", highlight=False)


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    table.add_column("scope")
    for name in columns:
        table.add_column(name, justify="right")
    return table
