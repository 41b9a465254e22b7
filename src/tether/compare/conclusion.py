"""The answer to the question a comparison asks, in one or two sentences with their evidence.

"Did RL expand what the model can solve, or only sharpen what the base could sample?" `conclude`
answers from a `Comparison`'s own statistics and claims nothing they do not test:

- every task out of support (O): neither model solved any, so the regions say nothing (no claim);
- expansion (E) and shrinkage (S), each: *beyond chance* when the count's one-sided p-value against
  two identical models (`Comparison.chance`, exact given each task's successes), adjusted by Holm over
  the two (S and E are one family: a comparison claims whichever is beyond chance), is <= alpha, with
  how many of the region's tasks are significant on their own (Benjamini-Hochberg, q <= alpha);
  otherwise *not beyond chance*, however far the count is above its expectation, with what could
  not have been detected: the fewest successes a task of the region needs to reach p <= alpha on its
  own at these budgets (`Comparison.fewest_successes`), or that no single task can;
- a caution when one model has no correct sample on any task: its regions are more likely a grading
  failure (the warnings name the cause) than what RL did.

"No expansion beyond chance" is a statement about the evidence, never that there is none: it comes
with the power clause. The conclusion is derived from the comparison, so compare.json keeps it and
`Comparison.from_dict` recomputes it to the same text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tether.compare.result import Comparison
    from tether.metrics import ChanceLevel

# region -> (its change, the verb of a claim, whose successes count, who solves its tasks)
_WORDS = {"E": ("expansion", "RL expanded support", "RL", "RL"),
          "S": ("shrinkage", "RL shrank support", "base", "the base")}


@dataclass(frozen=True)
class Claim:
    """What the comparison says about one direction: expansion (E) or shrinkage (S)."""

    region: str  # "E" or "S"
    beyond_chance: bool  # the count's one-sided p-value against identical models, Holm over S and E, is <= alpha
    observed: int
    expected: float  # what two identical models would give on these tasks at these budgets
    p_value: float  # one-sided: a count at least this high by chance alone
    p_adjusted: float  # `p_value` adjusted by Holm over the S and E excess tests: what `beyond_chance` reads
    significant_tasks: int  # tasks of the region with q <= alpha
    fewest_successes: int | None  # successes a task of the region needs to reach p <= alpha on its own
    samples: int  # median samples per task of the model whose successes count (RL for E, the base for S)

    def as_dict(self) -> dict:
        return {"region": self.region, "beyond_chance": self.beyond_chance, "observed": self.observed,
                "expected": self.expected, "p_value": self.p_value, "p_adjusted": self.p_adjusted,
                "significant_tasks": self.significant_tasks,
                "fewest_successes": self.fewest_successes, "samples": self.samples}


@dataclass(frozen=True)
class Conclusion:
    """The answer in words (`text`), and the claims it rests on with their p-values."""

    text: str
    evidence: bool  # False: every task is out of support, the regions say nothing
    claims: tuple[Claim, ...]  # expansion first, then shrinkage (none without evidence)
    alpha: float

    def claim(self, region: str) -> Claim | None:
        return next((c for c in self.claims if c.region == region), None)

    def as_dict(self) -> dict:
        return {"text": self.text, "evidence": self.evidence, "alpha": self.alpha,
                "claims": [c.as_dict() for c in self.claims]}


def conclude(result: Comparison) -> Conclusion:
    """The comparison's answer: expansion and shrinkage against chance, with their power (module docstring)."""
    alpha, counts, tasks = result.options.alpha, result.counts, len(result.task_ids)
    if counts.P + counts.S + counts.E == 0:
        text = (f"No conclusion: every one of the {tasks} tasks is out of support (O); neither model solved any, "
                "so the regions say nothing about what RL did (the warnings say why, where they can).")
        return Conclusion(text, False, (), alpha)
    e = _claim("E", result.chance.e, result, _median(result.rl.n))
    s = _claim("S", result.chance.s, result, _median(result.base.n))
    if not e.beyond_chance and not s.beyond_chance and (e.fewest_successes, e.samples) == (s.fewest_successes,
                                                                                         s.samples):
        expected = (f"{_number(e.expected)} each" if _number(e.expected) == _number(s.expected) else
                    f"{_number(e.expected)} and {_number(s.expected)}")
        text = (f"No expansion or shrinkage beyond chance: E {e.observed} and S {s.observed} vs {expected} "
                "expected for identical models "
                f"(p {_p(e.p_adjusted)} and {_p(s.p_adjusted)}{_holm(e, s)}); {_power(e, alpha, both=True)}.")
    else:
        text = f"{_sentence(e, alpha, first=True)} {_sentence(s, alpha, first=False)}"
    silent = [model.label for model in (result.base, result.rl) if not np.any(model.c > 0)]
    if silent:
        text += (f" Caution: {silent[0]} has no correct sample on any task, which points to its grading before "
                 "anything RL did (see the warnings).")
    return Conclusion(text, True, (e, s), alpha)


def _claim(region: str, level: ChanceLevel, result: Comparison, samples: int) -> Claim:
    adjusted = result.chance.family[region]
    return Claim(region, bool(adjusted <= result.options.alpha), level.observed, level.expected,
                 level.p_value, adjusted, int(result.significant.get(region, 0)), result.fewest_successes.get(region),
                 samples)


def _sentence(claim: Claim, alpha: float, first: bool) -> str:
    name, verb, *_ = _WORDS[claim.region]
    against = f"{claim.region} {claim.observed} vs {_number(claim.expected)} expected" + \
        (" for identical models" if first else "")
    if claim.beyond_chance:
        tasks = (f"{claim.significant_tasks} {claim.region} task{'s' if claim.significant_tasks != 1 else ''} "
                 f"significant on {'their' if claim.significant_tasks != 1 else 'its'} own at q ≤ {alpha:g}"
                 if claim.significant_tasks else
                 f"no single {claim.region} task is significant at q ≤ {alpha:g} (the excess is spread over tasks)")
        return f"{verb} beyond chance: {against} (p {_p(claim.p_adjusted)}{_holm(claim)}); {tasks}."
    return f"No {name} beyond chance: {against} (p {_p(claim.p_adjusted)}{_holm(claim)}); {_power(claim, alpha)}."


def _power(claim: Claim, alpha: float, both: bool = False) -> str:
    """What could not have been detected: "at k = 16 an E task needs ≥ 5 RL successes to reach p ≤ 0.05 on its
    own: expansion on tasks RL solves fewer times could not have been detected"."""
    name, _, model, solver = _WORDS[claim.region]
    region, successes, changes, solver = (("an E or S", "successes of the model that solves it", "a change",
                                           "the model solves") if both else
                                          (f"an {claim.region}", f"{model} successes", name, f"{solver} solves"))
    if claim.fewest_successes is None:
        return (f"at k = {claim.samples} no single task can reach p ≤ {alpha:g} on its own, so only a count well "
                f"above chance could show {changes}: more samples per task are needed")
    return (f"at k = {claim.samples} {region} task needs ≥ {claim.fewest_successes} {successes} to reach "
            f"p ≤ {alpha:g} on its own: {changes} on tasks {solver} fewer times could not have been detected")


def _holm(*claims: Claim) -> str:
    """"; Holm over E and S, alone 0.031" where the adjustment moved a p-value (in words), else nothing."""
    moved = [c for c in claims if _p(c.p_adjusted) != _p(c.p_value)]
    if not moved:
        return ""
    return "; Holm over E and S, alone " + " and ".join(_p(c.p_value) for c in claims)


def _median(n: np.ndarray) -> int:
    return int(np.median(n)) if len(n) else 0


def _number(value: float) -> str:
    return f"{value:.1f}"


def _p(value: float) -> str:
    """A p-value in words: "0.78", "0.031", "< 0.001"."""
    if math.isnan(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.2g}"
