"""What a study's three tables share: one multiplicity family over every test they mark, and a comparison's row.

A study (`tether.compare.study`) prints Table 1 (every child against its base, per scope), Table 3 (two children
side by side: `tether.compare.children`) and Table 4 (a training run: `tether.compare.trajectory`). Each marks
counts or differences "beyond chance"; every such test, in every table, is one family (`adjust`): Holm over all
of them, so a study of children identical to their base claims something anywhere in at most alpha of studies.
A test enters the family once however many rows show it (`same_test`: the two labels, the exact tasks with
their counts, the region): a step against the base is that child's cell, and with one benchmark its benchmark,
domain and Overall rows are one test; every row showing it gets its one adjusted p-value. A table used alone
(`compare_children`, `trajectory`) is its own family, by the same function.

`comparison_row` and `comparison_summary` are one comparison's numbers as every table shows them: a flat row
(CSV, terminal) and a JSON object.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tether.compare.result import Comparison, replace_text
from tether.compare.run import compare_counts
from tether.metrics import ChanceLevels, holm
from tether.metrics.uncertainty import json_number
from tether.store.schema import TaskCounts

METHOD = "Holm"


class Tested(Protocol):
    """Anything that marks tests beyond chance: its raw p-values by name, and where the family's adjusted ones go.
    A member may also say what each of its tests is (`test_keys`: name -> `same_test`), so that a test another
    member shows too enters the family once; a name it does not key is a test of its own."""

    p_adjusted: dict[str, float]

    def raw_p(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class Family:
    """One multiplicity family: how many distinct tests, adjusted how, and what they are (part -> how many it
    adds: a test counted in the first part that has it)."""

    method: str
    tests: int
    alpha: float
    parts: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        what = "; ".join(f"{part}: {n}" for part, n in self.parts)
        return f"{self.method} over {self.tests} tests" + (f" ({what})" if what else "")

    def as_dict(self) -> dict:
        return {"method": self.method, "tests": self.tests, "alpha": self.alpha, "text": self.describe(),
                "parts": {part: n for part, n in self.parts}}


def adjust(groups: Sequence[tuple[str, Sequence[Tested]]], alpha: float) -> Family:
    """Holm over the raw p-values of every member of every (what, members) group, as one family of distinct tests:
    a test two members (or two groups) show, by their `test_keys`, is counted once, in the first group that has
    it. Each member's `p_adjusted` is set to its own tests' adjusted values; the family says how many tests each
    group added."""
    index: dict[Hashable, int] = {}  # a test -> its place in the family
    owners: list[tuple[Tested, str, int]] = []
    raw: list[float] = []
    parts = []
    for what, members in groups:
        before = len(raw)
        for member in members:
            keys = member.test_keys() if hasattr(member, "test_keys") else {}
            for key, p in member.raw_p().items():
                test = keys.get(key, (id(member), key))
                if test not in index:
                    index[test] = len(raw)
                    raw.append(1.0 if math.isnan(p) else p)  # an undefined test claims nothing
                owners.append((member, key, index[test]))
        if len(raw) > before:
            parts.append((what, len(raw) - before))
    adjusted = holm(raw) if raw else []
    found: dict[int, dict[str, float]] = {id(member): {} for _, members in groups for member in members}
    for member, key, at in owners:
        found[id(member)][key] = adjusted[at]
    for _, members in groups:
        for member in members:
            member.p_adjusted = found[id(member)]
    return Family(METHOD, len(raw), alpha, tuple(parts))


def same_test(c: Comparison, region: str) -> tuple:
    """What makes comparison `c`'s `region` excess test ("S" or "E") the same test wherever a table shows it:
    the two labels, the exact tasks with each one's samples and successes on both sides (in task order), the
    region and its p-value (the same data at other null budgets, an adaptive label's, is another test)."""
    order = np.argsort(np.asarray(c.task_ids).astype(str), kind="stable")
    digest = hashlib.blake2b(digest_size=16)
    digest.update("\n".join(np.asarray(c.task_ids).astype(str)[order]).encode())
    for side in (c.base, c.rl):
        for values in (side.n, side.c):
            digest.update(np.ascontiguousarray(np.asarray(values, dtype=np.int64)[order]).tobytes())
    p = getattr(c.chance, region.lower()).p_value
    return c.base.label, c.rl.label, digest.hexdigest(), region, None if math.isnan(p) else float(p)


def compared(base: TaskCounts, rl: TaskCounts, options, known: Mapping[str, Comparison] | None = None) -> Comparison:
    """`compare_counts(base, rl, options)`, or the comparison `known` holds for `rl`'s label where it is of the
    same labels and the same counts task by task (a study's overall cell is also a step's or a pair's row)."""
    found = (known or {}).get(rl.label)
    if found is not None and found.options == options and all(
            a.label == b.label and np.array_equal(a.task_ids, b.task_ids) and np.array_equal(a.n, b.n)
            and np.array_equal(a.c, b.c) for a, b in ((found.base, base), (found.rl, rl))):
        return found
    return compare_counts(base, rl, options)


def level_tests(levels: ChanceLevels | None, suffix: str = "") -> dict[str, float]:
    """The S and E excess tests of one comparison's chance levels: {"S" + suffix: p, "E" + suffix: p}."""
    if levels is None:
        return {}
    return {"S" + suffix: levels.s.p_value, "E" + suffix: levels.e.p_value}


def level_keys(c: Comparison | None, suffix: str = "") -> dict[str, tuple]:
    """What the tests of `level_tests(c.chance, suffix)` are (`same_test`), by the same names."""
    if c is None or c.chance is None:
        return {}
    return {region + suffix: same_test(c, region) for region in ("S", "E")}


def comparison_row(c: Comparison, adjusted: Mapping[str, float] | None = None, alpha: float | None = None) -> dict:
    """One comparison as a flat row: tasks, P E S O, the rates with their intervals, S and E beside chance (with
    their adjusted p and whether beyond chance, where the family adjusted them), pass@k at the grid's largest k."""
    row = {"tasks": len(c.task_ids), **{r: int(getattr(c.counts, r)) for r in ("P", "E", "S", "O")}}
    for name, rate in c.rates.items():
        row.update({name: rate.value, f"{name}_lo": rate.ci.lo, f"{name}_hi": rate.ci.hi})
    for region, level in (("S", c.chance.s), ("E", c.chance.e)):
        row.update({f"{region}_chance": level.expected, f"{region}_chance_lo": level.interval[0],
                    f"{region}_chance_hi": level.interval[1], f"{region}_excess": level.excess,
                    f"{region}_p": level.p_value})
        if adjusted is not None and region in adjusted:
            row.update({f"{region}_p_holm": adjusted[region], f"{region}_beyond_chance": adjusted[region] <= alpha})
    row.update({"k": int(c.k_grid[-1]), "base_pass_at_k": float(c.pass_at_k["base"][-1]),
                "child_pass_at_k": float(c.pass_at_k["rl"][-1])})
    return row


def comparison_summary(c: Comparison) -> dict:
    """One comparison's table-cell numbers as JSON: counts with chance, rates with intervals, pass@k over the grid."""
    return {
        "labels": {"base": c.base.label, "rl": c.rl.label}, "n_tasks": len(c.task_ids), "counts": c.counts.as_dict(),
        "metrics": {name: {"value": json_number(r.value), "ci": [json_number(r.ci.lo), json_number(r.ci.hi)],
                           "note": r.note} for name, r in c.rates.items()},
        "chance": {"S": c.chance.s.as_dict(), "E": c.chance.e.as_dict()},
        "pass_at_k": {side: {str(int(k)): json_number(v) for k, v in zip(c.k_grid, c.pass_at_k[side])}
                      for side in ("base", "rl")},
        "pass_at_k_ci": {side: {str(int(k)): [json_number(lo), json_number(hi)]
                                for k, lo, hi in zip(c.k_grid, *c.pass_at_k_ci[side])} for side in ("base", "rl")},
    }


def json_row(row: Mapping) -> dict:
    """A row with its floats JSON-safe (NaN -> null)."""
    return {key: json_number(value) if isinstance(value, float) else value for key, value in row.items()}


def write_rows(path: Path, rows: Sequence[Mapping]) -> Path:
    """`rows` as CSV at `path`: the columns of every row in first-seen order, undefined values empty."""
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["child"]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns, restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None or (isinstance(value, float) and math.isnan(value)) else value
                         for key, value in row.items()})
    replace_text(path, table.getvalue())
    return path
