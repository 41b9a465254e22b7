"""The report's "Regions by grader" section: the saved comparison's regions under each verdict set both labels
keep (`tether.compare.sensitivity`), in HTML and in Markdown, with the tasks whose region moves. Shown only
where the store keeps two sets or more for both labels (else nothing)."""

from __future__ import annotations

import html

from tether.compare import Comparison

TITLE = "Regions by grader"
NOTE = ("The same samples graded by each verifier (`tether grade --verifier auto,exact,...`): how an answer is "
        "extracted and compared moves tasks between regions, so P, S, E and O are read with the grader that made "
        "them. 'By chance': the S and E counts two identical models would give under that set (expectation, 95% "
        "interval). The set marked 'counts' is the one every other table uses.")


def html_section(result: Comparison, labels: tuple[str, str], table) -> str:
    """The section as HTML (`table` renders (header, rows) as the report's other tables); empty without sets."""
    found = result.sensitivity
    if found is None:
        return ""
    notes = "".join(f"<p class='muted'>{html.escape(note)}</p>" for note in found.notes)
    return (f"<h2>{TITLE}</h2>" + table(*found.table(labels)) + f"<p>{html.escape(found.moved_line())}</p>"
            + f"<p class='muted'>{html.escape(NOTE)}</p>" + notes)


def markdown_section(result: Comparison, labels: tuple[str, str], table) -> list[str]:
    """The section as Markdown lines (`table` as for `html_section`); none without sets."""
    found = result.sensitivity
    if found is None:
        return []
    return [f"## {TITLE}", "", *table(*found.table(labels)), "", found.moved_line(), "", NOTE, "",
            *(line for note in found.notes for line in (f"*{note}*", ""))]
