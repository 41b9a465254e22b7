"""The diagnostics as the paper's tables, in text cells shared by the terminal and the report:
Table 3 (per benchmark and model: avg@k, answer entropy, token entropy) and perplexity on
reference traces by support region. A `*` marks a token entropy from top-k log-probs. avg@k
names the k used (min(k asked, samples per task)); where models or benchmarks used different k,
each cell says its own ("41.0% @16")."""

from __future__ import annotations

from collections.abc import Sequence

from tether.store.schema import Diagnostic

TABLE3 = (("avg_at_k", ".1%"), ("answer_entropy", ".3f"), ("token_entropy", ".3f"))
GROUPS = ("all", "P", "S", "E", "O")


def shown_benchmarks(rows: Sequence[Diagnostic]) -> list[str]:
    """The benchmarks a Table 3 shows, "all" last; only the one benchmark when there is just one."""
    names = sorted({r.benchmark for r in rows if r.metric != "perplexity"}, key=lambda b: (b == "all", b))
    if len(names) == 2 and "all" in names:  # one benchmark: its rows and the overall rows are the same
        names.remove("all")
    return names


def is_approximate(row: Diagnostic) -> bool:
    return "approximation" in (row.detail or "")


def table3(rows: Sequence[Diagnostic], models: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of Table 3; models default to those in `rows`, base first."""
    values = {(r.model, r.metric, r.benchmark): r for r in rows if r.group == "all"}
    models = list(models or _models(rows))
    ks = {r.k for r in rows if r.metric == "avg_at_k" and r.model in models}
    one_k = len(ks) == 1  # the k used (16 when 32 was asked of 16 samples per task); per cell where they differ
    body = []
    for benchmark in shown_benchmarks(rows):
        for model in models:
            cells = []
            for metric, fmt in TABLE3:
                row = values.get((model, metric, benchmark))
                cells.append("-" if row is None else format(row.value, fmt) + ("*" if is_approximate(row) else "")
                             + (f" @{row.k}" if metric == "avg_at_k" and not one_k else ""))
            body.append([benchmark, model, *cells])
    avg = f"avg@{next(iter(ks))}" if one_k else "avg@k"
    return ["benchmark", "model", avg, "answer entropy", "token entropy"], body


def perplexity_table(rows: Sequence[Diagnostic], models: Sequence[str] | None = None
                     ) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of per-token perplexity by region; no rows when there is no perplexity."""
    found = {(r.model, r.group): r for r in rows if r.metric == "perplexity"}
    models = list(models or _models(rows))
    groups = [g for g in GROUPS if any((model, g) in found for model in models)]
    body = [[model, *(f"{found[(model, g)].value:.3f}" if (model, g) in found else "-" for g in groups)]
            for model in models]
    return ["model", *groups], body if groups else []


def _models(rows: Sequence[Diagnostic]) -> list[str]:
    return sorted({r.model for r in rows}, key=lambda m: (m != "base", m))
