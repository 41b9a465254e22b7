"""`tether plan`: what a full and an adaptive run would cost, planned from a pilot run in a store.

From each label's pilot counts (n, c) per task, a beta-binomial fit across tasks (as the
extrapolation of docs/science.md) gives each task a posterior for its success probability.
Under it: the full protocol draws k samples per task; the adaptive rule
(`tether.metrics.adaptive`) draws the expected number its dynamic programme gives, averaged over
the posterior; tokens are samples times the pilot's mean completion length, GPU hours those
tokens at a throughput the user states. The tasks each model is expected to leave unsolved at k
come from its posterior pass@k (`posterior_pass_at_k`).

The expected regions at k come from the joint model of both models' chances per task that
`tether compare` extrapolates with (`tether.metrics.extrapolate`, with its bootstrap interval): on
one task the two chances are tied, and multiplying each model's own posterior pass@k as if they
were independent overstates S and E (two identical models would show shrinkage and expansion
growing with k). k equal to the pilot's samples per task is the sampled budget (a fresh run of the
same size). Where the joint model refuses k (too few solved tasks, a fit that does not reproduce the
pilot, k too far beyond it), the plan has no expected regions and says why (`regions_refusal`).

Beside the expected S and E, what two identical models would give (`PlanChance`), on the same
footing: under the joint model each task's posterior chances of the two models are pooled into one
and given to both, so S and E of a task are each E[g (1 - g)], g = 1 - (1 - p)^k. The level is for
comparing with the expected counts beside it, an estimate like them, not the exact conditional
chance level `tether compare` reports after the run. From it, the chance of a run at k showing
expansion (shrinkage) beyond chance: the count test at alpha whose critical count comes from the
chance distribution (a Poisson-binomial over tasks), passed with each task's S (E) chance under
the joint model (`power`). Those chances are the extrapolation's own (`Extrapolation.task_chances`,
one code path with `tether compare`): the fit's, scaled so that they add up to the expected S (E)
shown, bias taken out; scaled instead to the two ends of that count's interval they give
`power_range`, how far the power moves within what the pilot allows.
Where the joint model refuses k, the level falls back on each model's own posterior pass@k q
(averaged, q(1 - q) per task: it assumes the two independent and overstates the level beyond the
pilot) and no power is given. And what a single task needs: the fewest successes for p <= alpha
on its own at k against k (`fewest_successes`), and the per-sample chance that gets there half the
time. `conclusion` says it in one line; nothing here is a claim about the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tether import defaults
from tether.errors import InputError
from tether.metrics import fewest_successes, poisson_binomial
from tether.metrics.adaptive import AdaptiveRule, posterior_floor, posterior_outlook
from tether.metrics.extrapolate import extrapolate, fit_beta_binomial, posterior_pass_at_k
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
    floor_samples: float | None = None  # expected, stopping each task at its first success (docs/adaptive.md)

    def tokens(self, samples: float) -> float | None:
        return None if self.tokens_per_sample is None else samples * self.tokens_per_sample


@dataclass(frozen=True)
class PlanChance:
    """What two identical models would give at k beside the expected S and E, and what a run at k could show."""

    expected: float  # S and E each, for two identical models (the pilots' averaged pass@k at k given to both)
    interval: tuple[int, int]  # central 95% of the S (or E) count under it
    critical: int | None  # the fewest S (E) a run needs to be beyond chance at alpha (None: no count is)
    power: dict[str, float]  # "S"/"E" -> chance that a run at k shows the count beyond chance ({}: not known)
    alpha: float
    fewest_successes: int | None  # successes an E (S) task needs for p <= alpha on its own, k against k
    half_the_time: float | None  # the per-sample chance that reaches `fewest_successes` in k half the time
    power_range: dict[str, tuple[float, float]] = field(default_factory=dict)  # at the ends of S's (E's) interval

    def as_dict(self) -> dict:
        return {"expected": self.expected, "interval": list(self.interval), "critical": self.critical,
                "power": dict(self.power), "power_range": {r: list(v) for r, v in self.power_range.items()},
                "alpha": self.alpha, "fewest_successes": self.fewest_successes, "half_the_time": self.half_the_time}


@dataclass
class BudgetPlan:
    k: int
    rule: AdaptiveRule
    throughput: float
    models: list[ModelBudget]
    regions_at_k: dict[str, float] | None  # expected P/S/E/O at k (joint model); None: refused
    notes: list[str] = field(default_factory=list)
    chance: PlanChance | None = None  # beside S and E: two identical models at k
    regions_ci: dict[str, tuple[float, float]] | None = None  # bootstrap interval of each expected region
    regions_refusal: str | None = None  # why there are no expected regions at k
    confidence: float = 0.95

    @property
    def conclusion(self) -> str:
        """One line: what a run at k could tell (`plan_conclusion`)."""
        return plan_conclusion(self)

    def gpu_hours(self, tokens: float | None) -> float | None:
        return None if tokens is None else tokens / self.throughput / 3600

    def to_dict(self) -> dict:
        return {"k": self.k, "rule": self.rule.as_dict(), "throughput": self.throughput,
                "regions_at_k": self.regions_at_k, "notes": self.notes,
                "regions_at_k_ci": None if self.regions_ci is None else
                {r: list(bounds) for r, bounds in self.regions_ci.items()},
                "regions_at_k_refusal": self.regions_refusal, "confidence": self.confidence,
                "chance_at_k": self.chance.as_dict() if self.chance else None, "conclusion": self.conclusion,
                "models": [{**m.__dict__, "full_tokens": m.tokens(m.full_samples),
                            "adaptive_tokens": m.tokens(m.adaptive_samples),
                            "full_gpu_hours": self.gpu_hours(m.tokens(m.full_samples)),
                            "adaptive_gpu_hours": self.gpu_hours(m.tokens(m.adaptive_samples)),
                            "floor_tokens": m.tokens(m.floor_samples) if m.floor_samples is not None else None}
                           for m in self.models]}


def plan_budget(store: str | Store, k: int, *, rule: AdaptiveRule = AdaptiveRule(),
                throughput: float = defaults.THROUGHPUT,
                base_label: str = "base", rl_label: str = "rl", seed: int = 0, alpha: float = 0.05,
                reps: int = 1000, confidence: float = 0.95) -> BudgetPlan:
    """The plan for a run of k samples per task of both labels, from the pilot the store holds."""
    from tether.compare.pairing import align

    if k < 1 or throughput <= 0:
        raise InputError("k must be >= 1 and the throughput > 0")
    store = open_store(store)
    counts = [task_counts(store, label) for label in (base_label, rl_label)]
    base, rl, dropped = align(*counts, allow_missing=True)
    plan = BudgetPlan(k, rule, throughput, [], None, confidence=confidence)
    passes = []
    for label, pilot in ((base_label, base), (rl_label, rl)):
        if np.median(pilot.n) > k:
            raise InputError(f"{label}'s pilot holds {np.median(pilot.n):.0f} samples per task, more than k = {k}")
        fit = fit_beta_binomial(pilot.n, pilot.c)
        samples, to_the_end = posterior_outlook(pilot.n, pilot.c, fit.a, fit.b, k, rule, seed=seed)
        solved = posterior_pass_at_k(pilot.n, pilot.c, fit, [k])[:, 0]
        passes.append(solved[:, None])
        per_sample = mean_tokens(store, label)
        floor = posterior_floor(pilot.n, pilot.c, fit.a, fit.b, k, seed=seed)  # the least any exact-regions rule draws
        plan.models.append(ModelBudget(label, len(pilot.n), float(np.median(pilot.n)), per_sample,
                                       len(pilot.n) * k, float(samples.sum()), float((1 - to_the_end).sum()),
                                       float((1 - solved).sum()), float(floor.sum())))
        if per_sample is None:
            plan.notes.append(f"{label}'s pilot samples record no token counts: tokens and GPU hours are not known")
    joint = extrapolate(base.n, base.c, rl.n, rl.c, [k], reps, confidence, seed)
    if joint.refused:
        plan.regions_refusal = joint.refusal
        plan.chance = plan_chance(passes[0][:, 0], passes[1][:, 0], k, alpha, power=False)
    else:
        plan.regions_at_k = {r: float(v[0]) for r, v in joint.regions.items()}
        plan.regions_ci = {r: (float(lo[0]), float(hi[0])) for r, (lo, hi) in joint.region_cis.items()}
        chances = {name: v[:, 0] for name, v in joint.task_chances.items()}  # bias taken out, as the counts shown
        plan.chance = plan_chance(passes[0][:, 0], passes[1][:, 0], k, alpha, regions=(chances["S"], chances["E"]),
                                  same=chances["tied"], intervals={r: plan.regions_ci[r] for r in ("S", "E")})
    plan.notes += dropped
    return plan


def plan_chance(base, rl, k: int, alpha: float = 0.05, *, regions=None, same=None,
                power: bool = True, intervals: dict[str, tuple[float, float]] | None = None) -> PlanChance:
    """From each task's chance of being solved at k by each model (`base`, `rl`): the S and E two identical
    models would give, its 95% interval, and the power of a run at k to show S and E beyond it (module
    docstring). `same`: each task's S (E) chance for two identical models (default: q(1 - q) with q the
    averaged chance, as if the models' chances were independent); `regions`: each task's S and E chances
    (default: base (1 - rl) and rl (1 - base), the same assumption); `power=False`: none given; `intervals`:
    the interval of the expected S (E) count, whose ends (the chances scaled to add up to each) give the
    power's range."""
    from scipy.stats import beta

    base, rl = np.asarray(base, float), np.asarray(rl, float)
    if same is None:
        mean = (base + rl) / 2
        same = mean * (1 - mean)
    offset, pmf = poisson_binomial(np.clip(np.asarray(same, float), 0.0, 1.0))
    values = offset + np.arange(len(pmf))
    cdf = np.cumsum(pmf)
    interval = (int(values[np.searchsorted(cdf, 0.025 * (1 - 1e-12))]),
                int(values[min(len(values) - 1, np.searchsorted(cdf, 0.975 * (1 - 1e-12)))]))
    tail = pmf[::-1].cumsum()[::-1]  # P(count >= values[i]) for identical models
    beyond = values[tail <= alpha]
    critical = int(beyond[0]) if beyond.size else None
    shrink, expand = regions if regions is not None else (base * (1 - rl), rl * (1 - base))
    chances_of = {"S": np.clip(shrink, 0.0, 1.0), "E": np.clip(expand, 0.0, 1.0)} if power else {}
    power, power_range = {}, {}
    for region, chances in chances_of.items():
        power[region] = _power(chances, critical)
        total = float(chances.sum())
        if intervals and region in intervals and total > 0:
            power_range[region] = tuple(_power(np.clip(chances * end / total, 0.0, 1.0), critical)
                                        for end in intervals[region])
    fewest = fewest_successes(k, k, alpha)
    half = None if fewest is None else float(beta.ppf(0.5, fewest, k - fewest + 1))
    return PlanChance(float(values @ pmf), interval, critical, power, alpha, fewest, half, power_range)


def _power(chances: np.ndarray, critical: int | None) -> float:
    """The chance that a count with these per-task chances reaches `critical` (0 where no count can)."""
    if critical is None:
        return 0.0
    start, found = poisson_binomial(chances)
    return float(found[start + np.arange(len(found)) >= critical].sum())


def plan_conclusion(plan: BudgetPlan) -> str:
    """"at k = 256: expected E 3.3 and S 3.3 vs 3.1 each for two identical models; a run would show expansion
    beyond chance (p ≤ 0.05) with probability 7% and shrinkage with 6%: this budget would not tell expansion or
    shrinkage from chance; a single E task needs ≥ 5 of RL's 256 samples correct …"; where the joint model
    refuses k, the refusal in place of the expected counts and the power."""
    chance, regions = plan.chance, plan.regions_at_k
    if chance is None:
        return ""
    if regions is None or not chance.power:
        line = f"at k = {plan.k:,}: no expected S or E: {plan.regions_refusal or 'the pilot cannot say'}"
    else:
        line = (f"at k = {plan.k:,}: expected E {regions['E']:,.1f} and S {regions['S']:,.1f} vs "
                f"{chance.expected:,.1f} each for two identical models; ")
        e, s = chance.power["E"], chance.power["S"]
        if chance.critical is None:
            tasks = plan.models[0].tasks if plan.models else 0
            line += (f"no S or E count on these {tasks} tasks would be beyond chance at p ≤ {chance.alpha:g}: too "
                     "few tasks could land in S or E to tell anything")
        else:
            line += (f"a run would show expansion beyond chance (p ≤ {chance.alpha:g}) with probability {e:.0%}"
                     f"{_power_range(chance, 'E', plan.confidence)} and shrinkage with {s:.0%}"
                     f"{_power_range(chance, 'S', plan.confidence)}: ")
            line += ("this budget would not tell expansion or shrinkage from chance" if max(e, s) < 0.5 else
                     "if the pilot's estimates hold, " + "; ".join(f"{name} {_shows(power)}" for name, power in
                                                                   (("expansion", e), ("shrinkage", s))))
    if chance.fewest_successes is None:
        return line + f"; no single task can reach p ≤ {chance.alpha:g} on its own at this k"
    return (line + f"; a single E task needs ≥ {chance.fewest_successes} of RL's {plan.k:,} samples correct (and "
            f"none of the base's) to reach p ≤ {chance.alpha:g} on its own, which a per-sample chance of "
            f"{chance.half_the_time:.2%} reaches half the time")


def _power_range(chance: PlanChance, region: str, confidence: float) -> str:
    """" (2–15% over the expected E's 95% interval)", or nothing where no range was computed."""
    if region not in chance.power_range:
        return ""
    lo, hi = sorted(chance.power_range[region])
    return f" ({lo:.0%}–{hi:.0%} over the expected {region}'s {confidence:.0%} interval)"


def _shows(power: float) -> str:
    return "would likely show" if power >= 0.8 else "might show" if power >= 0.5 else "would not be told from chance"
