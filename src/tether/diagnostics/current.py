"""Diagnostics as they hold now: what every reader shows (`tether report`, `tether run`, the demo).

A value computed from verdicts records which verdicts (`Diagnostic.verdicts`: per label, its
`fingerprint`, i.e. the current verifier versions and how many verdicts count and are correct).
Regrading a label (another verifier, a new verifier version, changed completions) or grading more
of its samples changes the fingerprint, and the stored value no longer describes the verdicts:

- avg@k and answer entropy need no model: they are recomputed here from the current verdicts,
  with the k the diagnose run asked for (not written to the store: a reader changes nothing);
- perplexity by support region needs the models (the regions come from the verdicts of both
  labels): it is kept, and named stale with the command that refreshes it.

Token entropy and perplexity over all traces depend on no verdict and are kept as stored. Rows
of stores written before diagnostics recorded their verdicts count as stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tether.diagnostics.answers import AnswerStats, answer_stats_by_benchmark
from tether.errors import InputError
from tether.store import Store, query
from tether.store.schema import Diagnostic

VERDICT_METRICS = ("avg_at_k", "answer_entropy")  # from the verdicts alone: recomputed when they change
RECOMPUTED = "recomputed from the current verdicts"
NAMES = {"avg_at_k": "avg@k", "answer_entropy": "answer entropy"}


def fingerprint(store: Store, label: str) -> dict:
    """What `label`'s verdicts are now, as far as a diagnostic computed from them can tell: the current
    verifier versions, and how many current verdicts there are and are correct."""
    total, correct = query.verdict_totals(store, label)
    return {"versions": store.manifest().versions(label) or {}, "verdicts": total, "correct": correct}


def verdicts_of(fingerprints: dict[str, dict]) -> str:
    """The `Diagnostic.verdicts` text of a value computed from these labels' verdicts."""
    return json.dumps(fingerprints, sort_keys=True)


def answer_rows(stats: dict[str, AnswerStats], run_id: str, verdicts: str, detail: str | None = None
                ) -> list[Diagnostic]:
    """The avg@k and answer-entropy rows of one label's per-benchmark answer statistics."""
    rows = []
    for name, s in stats.items():
        suffix = f"; {detail}" if detail else ""
        rows += [Diagnostic(s.label, run_id, "avg_at_k", name, "all", s.avg_at_k, s.tasks, s.k, detail,
                            s.requested_k, verdicts),
                 Diagnostic(s.label, run_id, "answer_entropy", name, "all", s.answer_entropy, s.tasks, s.k,
                            "nats" + suffix, s.requested_k, verdicts)]
    return rows


def depends_on_verdicts(row: Diagnostic) -> bool:
    """avg@k, answer entropy, and perplexity over the tasks of one support region."""
    return row.metric in VERDICT_METRICS or (row.metric == "perplexity" and row.group != "all")


@dataclass(frozen=True)
class CurrentDiagnostics:
    """The newest stored diagnostics, with those computed from verdicts since changed recomputed or named."""

    store: str
    rows: list[Diagnostic] = field(default_factory=list)
    recomputed: tuple[str, ...] = ()  # labels whose avg@k and answer entropy were recomputed here
    stale: tuple[Diagnostic, ...] = ()  # rows computed from other verdicts than the current ones, kept as stored

    @property
    def notes(self) -> list[str]:
        """One line for each kind of value not as stored, saying why and what refreshes it."""
        found = []
        if self.recomputed:
            found.append(f"avg@k and answer entropy of {', '.join(self.recomputed)} {RECOMPUTED} (the "
                         "verdicts changed, or their record is older, since `tether diagnose` ran)")
        for metric in sorted({r.metric for r in self.stale}):
            rows = [r for r in self.stale if r.metric == metric]
            what = (f"perplexity by support region ({', '.join(sorted({r.group for r in rows}, key='PSEO'.find))})"
                    if metric == "perplexity" else NAMES.get(metric, metric))
            labels = ", ".join(sorted({r.model for r in rows}))
            refresh = f"tether diagnose {self.store}" + (" --traces FILE" if metric == "perplexity" else "")
            found.append(f"stale: {what} of {labels} was computed from other verdicts than the current ones "
                         f"(regraded since, or not recorded); run `{refresh}` to refresh it")
        return found


def current_diagnostics(store: Store) -> CurrentDiagnostics:
    """The newest value of each (label, metric, benchmark, group), avg@k and answer entropy recomputed
    where the verdicts they were computed from are not the current ones; stale perplexity by region named."""
    rows = query.diagnostics(store)
    known: dict[str, dict] = {}

    def current(row: Diagnostic) -> bool:
        if row.verdicts is None:
            return False
        try:
            recorded = json.loads(row.verdicts)
        except ValueError:
            return False
        for label, seen in recorded.items():
            if label not in known:
                known[label] = fingerprint(store, label)
            if seen != known[label]:
                return False
        return True

    outdated = {r.model for r in rows if r.metric in VERDICT_METRICS and not current(r)}
    kept = [r for r in rows if not (r.metric in VERDICT_METRICS and r.model in outdated)]
    stale = [r for r in kept if depends_on_verdicts(r) and not current(r)]
    recomputed = []
    for label in sorted(outdated):
        mine = [r for r in rows if r.model == label and r.metric in VERDICT_METRICS]
        newest = max(mine, key=lambda r: r.run_id)
        k = newest.requested_k if newest.requested_k is not None else newest.k
        try:
            stats = answer_stats_by_benchmark(store, label, k or 32)
        except InputError:  # no verdicts of the label any more: the stored values, named stale
            kept += mine
            stale += mine
            continue
        if label not in known:
            known[label] = fingerprint(store, label)
        kept += answer_rows(stats, newest.run_id, verdicts_of({label: known[label]}), RECOMPUTED)
        recomputed.append(label)
    kept.sort(key=lambda r: (r.model, r.metric, r.benchmark, r.group))
    return CurrentDiagnostics(str(store.root), kept, tuple(recomputed), tuple(stale))
