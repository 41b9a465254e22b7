"""`tether plan`: what a full and an adaptive run would cost, planned from a pilot run in a store.

From each label's pilot counts (n, c) per task, a beta-binomial fit across tasks (as the
extrapolation of docs/science.md) gives each task a posterior for its success probability.
Under it: the full protocol draws k samples per task; the adaptive rule
(`tether.metrics.adaptive`) draws the expected number its dynamic programme gives, averaged over
the posterior; tokens are samples times the pilot's mean completion length, GPU hours those
tokens at a throughput the user states. The expected regions at k and the tasks each model is
expected to leave unsolved at k come from the posterior pass@k (`posterior_pass_at_k`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tether.errors import InputError
from tether.metrics.adaptive import AdaptiveRule, posterior_outlook
from tether.metrics.extrapolate import expected_regions, fit_beta_binomial, posterior_pass_at_k
from tether.store import Store, open_store
from tether.store.query import mean_tokens, task_counts


@dataclass(frozen=True)
class ModelBudget:
    label: str
    tasks: int
    pilot_samples: float  # median samples per task in the pilot
    tokens_per_sample: float | None  # the pilot's mean completion length
    full_samples: int
    adaptive_samples: float  # expected
    stopped_early: float  # expected tasks the rule stops before k
    unsolved_at_k: float  # expected tasks without a correct sample at k

    def tokens(self, samples: float) -> float | None:
        return None if self.tokens_per_sample is None else samples * self.tokens_per_sample


@dataclass
class BudgetPlan:
    k: int
    rule: AdaptiveRule
    throughput: float
    models: list[ModelBudget]
    regions_at_k: dict[str, float]  # expected P/S/E/O at k
    notes: list[str] = field(default_factory=list)

    def gpu_hours(self, tokens: float | None) -> float | None:
        return None if tokens is None else tokens / self.throughput / 3600

    def to_dict(self) -> dict:
        return {"k": self.k, "rule": self.rule.as_dict(), "throughput": self.throughput,
                "regions_at_k": self.regions_at_k, "notes": self.notes,
                "models": [{**m.__dict__, "full_tokens": m.tokens(m.full_samples),
                            "adaptive_tokens": m.tokens(m.adaptive_samples),
                            "full_gpu_hours": self.gpu_hours(m.tokens(m.full_samples)),
                            "adaptive_gpu_hours": self.gpu_hours(m.tokens(m.adaptive_samples))}
                           for m in self.models]}


def plan_budget(store: str | Store, k: int, *, rule: AdaptiveRule = AdaptiveRule(), throughput: float = 5000.0,
                base_label: str = "base", rl_label: str = "rl", seed: int = 0) -> BudgetPlan:
    """The plan for a run of k samples per task of both labels, from the pilot the store holds."""
    from tether.compare.pairing import align

    if k < 1 or throughput <= 0:
        raise InputError("k must be >= 1 and the throughput > 0")
    store = open_store(store)
    counts = [task_counts(store, label) for label in (base_label, rl_label)]
    base, rl, dropped = align(*counts, allow_missing=True)
    plan = BudgetPlan(k, rule, throughput, [], {})
    passes = []
    for label, pilot in ((base_label, base), (rl_label, rl)):
        if np.median(pilot.n) > k:
            raise InputError(f"{label}'s pilot holds {np.median(pilot.n):.0f} samples per task, more than k = {k}")
        fit = fit_beta_binomial(pilot.n, pilot.c)
        samples, to_the_end = posterior_outlook(pilot.n, pilot.c, fit.a, fit.b, k, rule, seed=seed)
        solved = posterior_pass_at_k(pilot.n, pilot.c, fit, [k])[:, 0]
        passes.append(solved[:, None])
        per_sample = mean_tokens(store, label)
        plan.models.append(ModelBudget(label, len(pilot.n), float(np.median(pilot.n)), per_sample,
                                       len(pilot.n) * k, float(samples.sum()), float((1 - to_the_end).sum()),
                                       float((1 - solved).sum())))
        if per_sample is None:
            plan.notes.append(f"{label}'s pilot samples record no token counts: tokens and GPU hours are not known")
    plan.regions_at_k = {region: float(values[0]) for region, values in expected_regions(*passes).items()}
    plan.notes += dropped
    return plan
