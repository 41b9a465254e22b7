"""Terminal rendering (rich) of a study (`tether.compare.study.Study`): the models x domains table; no computation."""

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
    """"56 (31.2, +24.8)*": the count, chance alone's expectation and the excess; * beyond chance after Holm."""
    mark = "*" if row[f"{region}_beyond_chance"] else ""
    excess = row[f"{region}_excess"] + 0.0  # no "-0.0"
    return f"{row[region]} ({row[f'{region}_chance']:.1f},{0.0 if abs(excess) < 0.05 else excess:+.1f}){mark}"


def render_study(study: Study, console: Console) -> None:
    """Table 1 in two parts that fit a terminal, one row per child x {benchmarks, domains, overall} in each: the
    regions P E S O (S and E beside chance) with pass@k at the grid's largest k, then SRR NDR SDS NSCR with their
    intervals; then the family the stars are corrected over."""
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
    console.print(f"chance: what a child identical to its base would give (expected count, excess over it); * beyond "
                  f"chance at alpha {study.options.alpha}, {study.family.describe()}", highlight=False)
    console.print(rates)


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    table.add_column("scope")
    for name in columns:
        table.add_column(name, justify="right")
    return table
