"""A study's table cells as text, one owner for the terminal (`tether.cli.render_study`) and the report
(`tether.report.study`): a count beside chance, a rate with its interval, a difference of two children.

Each takes a flat row (`tether.compare.tables.comparison_row`, `ChildPair.rows()`, `Trajectory.rows()`) and
says it in full (the report: three decimals, p-values) or `compact` (the terminal: two decimals, interval ends
without the leading zero, no spaces). A `*` marks what the study's one family says is beyond chance; a row that
makes no claim (a pair's children against the base) carries no mark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

REGIONS = ("P", "E", "S", "O")


def number(value, digits: int = 3) -> str:
    """`value` to `digits` decimals; n/a where undefined (None, NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _end(value, compact: bool) -> str:
    """An interval's end: three decimals, or two without the leading zero (.09, -.74, 1.00) when compact."""
    if not compact:
        return number(value)
    text = number(value, 2)
    return text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text


def rate_cell(row: Mapping, name: str, compact: bool = False) -> str:
    """"0.960 [0.870, 1.000]" (compact: "0.96 [.87,1.00]"): a rate with its interval; n/a where undefined."""
    if number(row.get(name)) == "n/a":
        return "n/a"
    lo, hi = _end(row.get(f"{name}_lo"), compact), _end(row.get(f"{name}_hi"), compact)
    return f"{number(row[name], 2 if compact else 3)} [{lo},{'' if compact else ' '}{hi}]"


def count_cell(row: Mapping, region: str, compact: bool = False) -> str:
    """"56 (31.2, +24.8)*" (compact: no space): the count, what a child identical to its base gives, the excess;
    * beyond chance on the study's family."""
    chance = row.get(f"{region}_chance")
    if chance is None:
        return str(row[region])
    excess = row.get(f"{region}_excess", row[region] - chance) + 0.0  # no "-0.0"
    mark = "*" if row.get(f"{region}_beyond_chance") else ""
    return f"{row[region]} ({chance:.1f},{'' if compact else ' '}{0.0 if abs(excess) < 0.05 else excess:+.1f}){mark}"


def pass_cell(row: Mapping, arrow: str = "→") -> str:
    """"0.833 → 0.800": pass@k of the base and of the model at the row's k."""
    return f"{number(row.get('base_pass_at_k'))} {arrow} {number(row.get('child_pass_at_k'))}"


def difference_cell(row: Mapping, name: str, compact: bool = False) -> str:
    """a - b of two children with its paired interval and * where beyond chance: "-0.040 [-0.080, 0.000]
    p=0.03*" (compact: "-0.04 [-0.08,0.00]*", signed, no p-value); empty (compact: n/a) where undefined."""
    value = row.get(name)
    if number(value) == "n/a":
        return "n/a" if compact else ""
    digits = 0 if name in REGIONS else (2 if compact else 3)
    mark = "*" if row.get(f"{name}_beyond_chance") else ""
    lo, hi = number(row.get(f"{name}_lo"), digits), number(row.get(f"{name}_hi"), digits)
    if compact:
        shown = f"{value:+.{digits}f}" if value else f"{0:.{digits}f}"
        return f"{shown} [{lo},{hi}]{mark}"
    p = row.get(f"{name}_p_holm")
    said = "" if p is None or not math.isfinite(p) else f" p={p:.2g}{mark}"
    return f"{number(value, digits)} [{lo}, {hi}]{said}"


def previous_cell(row: Mapping) -> str:
    """"S 3*, E 0": a step's S and E against the step before (empty for the first step)."""
    if row.get("S_previous") is None:
        return ""
    return ", ".join(f"{region} {row[f'{region}_previous']}{'*' if row.get(f'{region}_previous_beyond_chance') else ''}"
                     for region in ("S", "E"))
