"""Format compliance per model in a grading run, and the warnings a researcher must not miss there.

`compliance(summary)` sums a grading run's tallies (`GradeSummary.tallies`) per model into a
`tether.store.compliance.Compliance`; `warnings(summary)` is `compliance_warnings` of those. The
arithmetic and the wording live in `tether.store.compliance`, which `tether compare` and the report
read too (from the store's verdicts), so every place says the same thing in the same words.
"""

from __future__ import annotations

from tether.store.compliance import (  # noqa: F401  (re-exported: grading's names for them)
    LOW_COMPLIANCE,
    Compliance,
    compliance_line,
    compliance_warnings,
    route_shares,
)


def compliance(summary) -> dict[str, Compliance]:
    """Per label, its `Compliance` in this grading run (`GradeSummary.tallies` summed over benchmarks)."""
    found: dict[str, Compliance] = {}
    for (label, _), tally in sorted(summary.tallies.items()):
        c = found.setdefault(label, Compliance(label))
        c.samples += tally.samples
        c.correct += tally.correct
        c.asked += tally.format_asked
        c.followed += tally.format_followed
        c.formats |= set(tally.formats)
        c.routes += tally.routes
        c.no_answer += tally.statuses["no_answer"]
        c.cut += tally.cut
    return found


def warnings(summary) -> list[str]:
    """One line per model whose compliance is low or none of whose samples is correct, naming the likely cause."""
    return compliance_warnings(compliance(summary).values())
