"""Format compliance per model, and the warnings a researcher must not miss wherever verdicts are read.

A prompt that asks for a format (``<answer>`` tags, ``\\boxed{}``) makes compliance measurable: the
share of a model's completions whose answer was found in that format. When it is low, the verdicts
rest on fallback extraction (the last sentence's result, the last line), whose accuracy is what the
labelled corpus measures (docs/grading.md); when no completion of a model is correct, every task is
out of its support and the regions say nothing about what RL did. `compliance_warnings` names both,
with the likely cause: no completion in the requested format, completions cut at ``max_tokens``, no
answer found, or (none of these) tasks beyond the model or answers the verifier misreads.

The arithmetic and the wording live here, beside the verdicts they are read from, so that `tether
grade` (a grading run's tallies: `tether.grading.compliance`) and `tether compare` and the report
(the store's current verdicts: `stored_compliance`) say the same thing in the same words. Verdicts
imported already graded (`tether import`) count as samples, but how their answers were found is not
known: they count in no route and no format.

`LOW_COMPLIANCE` is 0.5: below half, most verdicts of the model come from fallbacks rather than from
the answers it was asked to give.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

LOW_COMPLIANCE = 0.5
# the answer formats a prompt can ask for, as the extraction route that finds each, and the text that asks
FORMAT_MARKERS = (("box", "\\boxed"), ("answer_tag", "<answer>"))
_FORMAT_NAMES = {"answer_tag": "<answer> tags", "box": "\\boxed{}"}


def requested_route(prompt: str) -> str | None:
    """The answer format a task's prompt asks for: "box" (``\\boxed{}``), "answer_tag" (``<answer>``) or None."""
    return next((route for route, marker in FORMAT_MARKERS if marker in prompt), None)


@dataclass
class Compliance:
    """One model's verdicts summed over its benchmarks."""

    label: str
    samples: int = 0
    correct: int = 0
    asked: int = 0  # samples whose prompt asked for a format
    followed: int = 0  # ... whose answer was found in it
    formats: set = field(default_factory=set)  # the formats asked for
    routes: Counter = field(default_factory=Counter)
    no_answer: int = 0
    cut: int = 0  # completions cut at max_tokens
    imported: int = 0  # verdicts imported already graded: how their answers were found is not known

    @property
    def share(self) -> float:
        """The share of samples asked for a format that followed it (nan when none was asked)."""
        return self.followed / self.asked if self.asked else float("nan")

    @property
    def low(self) -> bool:
        return self.asked > 0 and self.share < LOW_COMPLIANCE

    def format_name(self) -> str:
        return " or ".join(sorted(_FORMAT_NAMES.get(f, f) for f in self.formats)) or "the requested format"


def stored_compliance(store, label: str) -> Compliance:
    """`label`'s `Compliance` over its current verdicts in `store` (their extraction routes, the formats
    their tasks' prompts ask for, their statuses and their samples' finish reasons: one query)."""
    from tether.store.query import compliance_counts

    found = Compliance(label)
    for route, asked, status, cut, imported, samples, correct in compliance_counts(store, label):
        found.samples += samples
        found.correct += correct
        if imported:
            found.imported += samples
            continue
        found.routes[route or "none"] += samples
        if asked:
            found.asked += samples
            found.followed += samples if route == asked else 0
            found.formats.add(asked)
        found.no_answer += samples if status == "no_answer" else 0
        found.cut += samples if cut else 0
    return found


def route_shares(routes: Counter) -> str:
    """How answers were found, as shares: "box 80%, final_answer 12%, none 8%" ("-" when there were none)."""
    total = sum(routes.values())
    return ", ".join(f"{route} {n / total:.0%}" for route, n in routes.most_common()) if total else "-"


def compliance_line(c: Compliance) -> str:
    """"rl: 12% of completions in the requested <answer> tags (61 of 512); answers found by last_result 80%, …"."""
    routes = route_shares(c.routes)
    asked = (f"{c.share:.0%} of completions in the requested {c.format_name()} ({c.followed:,} of {c.asked:,})"
             if c.asked else "no format requested")
    return f"{c.label}: {asked}; answers found by {routes}; {c.correct:,} of {c.samples:,} correct"


def compliance_warnings(found: Iterable[Compliance]) -> list[str]:
    """One line per model whose compliance is low or none of whose samples is correct, naming the likely cause."""
    lines = []
    for c in found:
        if not c.samples:
            continue
        if c.correct == 0:
            lines.append(f"{c.label}: 0 of {c.samples:,} completions correct, so every task is out of "
                         f"{c.label}'s support; likely cause: {_cause(c)}")
        elif c.low:
            lines.append(f"{c.label}: only {c.followed:,} of {c.asked:,} completions ({c.share:.0%}) gave their "
                         f"answer in the requested {c.format_name()}; the other verdicts rest on fallback "
                         f"extraction ({_fallbacks(c)}), whose accuracy docs/grading.md reports")
    return lines


def _cause(c: Compliance) -> str:
    if c.asked and c.followed == 0:
        return (f"no completion of {c.label} followed the requested {c.format_name()} "
                f"(answers found by {_fallbacks(c)}): check the prompt's format instruction and the extraction "
                "(docs/grading.md)")
    if c.cut > c.samples / 2:
        return f"{c.cut:,} of {c.samples:,} completions were cut at max_tokens before an answer: raise max_tokens"
    if c.no_answer > c.samples / 2:
        return f"no answer was found in {c.no_answer:,} of {c.samples:,} completions: read a few of them"
    if c.low:
        return (f"only {c.share:.0%} of completions followed the requested {c.format_name()}; "
                "the tasks may also be beyond the model")
    if c.imported == c.samples:
        return ("the tasks are beyond the model at this k, or the grader that made these imported verdicts "
                "misreads its answers: read a few of them")
    return "the tasks are beyond the model at this k, or the verifier misreads its answers: read a few of them"


def _fallbacks(c: Compliance) -> str:
    """The routes other than the requested formats, with counts: "final_answer 47, last_result 22; none in 3"."""
    shown = ", ".join(f"{route} {n:,}" for route, n in c.routes.most_common() if route not in c.formats | {"none"})
    missing = f"none in {c.routes['none']:,}" if c.routes["none"] else ""
    return "; ".join(part for part in (shown, missing) if part) or "none"
