"""Expected regions and mean pass@k beyond the sampled budget, from a joint model of the two models'
chances on each task, with a bootstrap interval, or a refusal where the data cannot say.

The pairs (p_base, p_rl) of the tasks are modelled together (`tether.metrics.joint_prior`: a
nonparametric prior on a grid, tied where the counts are silent), each task gets a posterior, and the
expected P/S/E/O in a fresh run of K samples per model are the tasks' posterior chances summed:
S = Σ_t E[g_b (1 − g_r)], g(p) = 1 − (1 − p)^K. Bootstrap over tasks, the prior refitted in each
replicate from the same start (the same estimator): the replicates' mean against the fit estimates
the fit's bias b, which is taken out of the expected counts (the fitted joint prior favours
differences: it reads some of the noise in (c_base, c_rl) as real, and overstates S and E by 5 to
15 % at 2n). That estimate is itself short: resampling tasks does not redraw each task's binomial
noise, which is what the fit over-reads, and in the simulation the fit's own bias ran to about three
times b (and, where a run is shown because its fit saw few unseen tasks, the other way). So each
interval is the basic bootstrap's (2 × fit − the replicates' percentiles, which carries the
correction once) widened on both sides by 2|b|: the union of the basic intervals for a correction
anywhere from −1 to 3 times the estimate. What they cover is the expectation over tasks like these,
as the support-rate intervals. `task_chances` keeps each task's chances of S and E under the fit,
scaled to the corrected totals, for the plan's power (`tether.compare.budget`).

What the data cannot tell, this refuses to print (a sentence in `refusal`, no numbers):

- too few tasks solved by either model, or none solved sometimes but not always: nothing to fit
  a spread of chances to;
- a fit that does not reproduce the regions seen at the sampled budget (the model's expectation
  for a fresh run of the same budgets against the observed counts), or whose bootstrap interval
  has no width;
- at each K, where more than `UNSEEN_LIMIT` of the expected S + E comes from tasks that neither
  model solved in any sample: their chances lie below 1/n, where no count tells a chance of 1e-3
  from one of 0 or tells the two models apart, so the number would be the model's assumption,
  not the data's. The share grows with K (for two identical models about half the true S + E at
  2n comes from such tasks, two thirds at 4n, nine tenths at 16n, whatever the mix of
  difficulties), so the budgets shown stop at the first K that fails;
- beyond `MAX_FACTOR` times the samples per task, always. Past the first doubling the tasks that
  one model solved and the other never did carry S and E through the other's chance below 1/n,
  which the counts do not pin down either and the fit overstates (a sharpened pair at n = 256,
  K = 4n: E +21 to +26 %, its fitted E from tasks only RL solved twice the truth), and no
  bootstrap sees it; at 16n the unseen share is near nine tenths in every population simulated.

The limit and the factor were chosen by the simulation (`benchmarks/extrapolation.py`: bias,
coverage and refusals where the truth is known), which also shows where the numbers shown still
miss and by how much. `BetaFit` and its helpers (one model at a time, for planning) live in
`tether.metrics.betabinomial` and are re-exported here for their callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tether.metrics.betabinomial import BetaFit, expected_regions, fit_beta_binomial, posterior_pass_at_k
from tether.metrics.joint_prior import chance_solved, fit_prior, pattern_regions, patterns, region_totals

__all__ = ["BetaFit", "Extrapolation", "SampledCheck", "expected_regions", "extrapolate", "fit_beta_binomial",
           "posterior_pass_at_k"]

MIN_SOLVED = 20  # tasks solved at least once by either model
MIN_INFORMATIVE = 10  # tasks solved sometimes but not always by at least one model
UNSEEN_LIMIT = 0.6  # the largest share of expected S + E at K that may come from tasks neither model solved
MAX_FACTOR = 2  # nothing beyond this many times the samples per task (the median of the smaller budget)
BIAS_SPREAD = 2.0  # each interval widened on both sides by this many times the bootstrap's bias estimate
CHECK_LIMIT = 4.0  # standard deviations between the observed and expected S (or E) at the sampled budget
METHOD = ("joint prior of (p_base, p_rl) per set of tasks (NPMLE on a log-odds grid by EM from the models tied); "
          "sum of per-task posterior chances; bootstrap over tasks, the prior refitted in each replicate; bias "
          "taken out, basic intervals widened by twice the bias estimate on each side")
REGIONS = ("P", "S", "E", "O")


@dataclass(frozen=True)
class SampledCheck:
    """The regions observed at the sampled budget beside the fitted model's expectation for a fresh run of
    the same budgets per task, and that expectation's standard deviation over tasks."""

    observed: dict[str, int]
    expected: dict[str, float]
    sd: dict[str, float]

    def worst(self) -> tuple[str, float]:
        """The region (S or E) furthest from its expectation, in standard deviations."""
        gaps = {r: abs(self.observed[r] - self.expected[r]) / self.sd[r] for r in ("S", "E")}
        region = max(gaps, key=gaps.get)
        return region, gaps[region]

    def as_dict(self) -> dict:
        return {"observed": self.observed, "expected": self.expected, "sd": self.sd}


@dataclass(frozen=True)
class Extrapolation:
    """Mean pass@k of both models and the regions expected beyond the sampled k, at the budgets the data
    identify (`k_grid`); the budgets asked for and refused (`refused_k`) and why (`refusal`)."""

    k_grid: np.ndarray  # the budgets shown
    means: dict[str, np.ndarray]  # "base", "rl" -> mean pass@k on k_grid
    cis: dict[str, tuple[np.ndarray, np.ndarray]]
    regions: dict[str, np.ndarray]  # "P", "S", "E", "O" -> expected counts on k_grid
    region_cis: dict[str, tuple[np.ndarray, np.ndarray]]
    refused_k: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    refusal: str | None = None  # a sentence for the user; None when every budget asked for is shown
    unseen_share: dict[int, float] = field(default_factory=dict)  # per budget asked for (fitted ones)
    check: SampledCheck | None = None
    replicates: int = 0  # bootstrap replicates behind the intervals
    # per task (rows) and budget shown (columns): its chance of "S" and of "E" under the fit, scaled to the
    # corrected totals, and ("tied") of S (E) had both models its pooled chance; not in the JSON (see `task_chances`)
    task_chances: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def refused(self) -> bool:
        """Nothing at all is shown."""
        return self.k_grid.size == 0

    def as_dict(self) -> dict:
        keys = [str(int(k)) for k in self.k_grid]

        def curve(values):
            return {k: float(v) for k, v in zip(keys, values)}

        def band(bounds):
            return {k: [float(lo), float(hi)] for k, lo, hi in zip(keys, *bounds)}

        return {"extrapolated": True, "method": METHOD, "refusal": self.refusal,
                "refused_k": [int(k) for k in self.refused_k],
                "unseen_share": {str(k): v for k, v in self.unseen_share.items()},
                "sampled_check": self.check.as_dict() if self.check else None, "replicates": self.replicates,
                "pass_at_k": {side: curve(m) for side, m in self.means.items()},
                "pass_at_k_ci": {side: band(b) for side, b in self.cis.items()},
                "regions": {r: curve(v) for r, v in self.regions.items()},
                "regions_ci": {r: band(b) for r, b in self.region_cis.items()}}

    @classmethod
    def from_dict(cls, payload: dict) -> Extrapolation:
        keys = sorted(payload["pass_at_k"]["base"], key=int) if payload.get("pass_at_k") else []

        def curve(values):
            return np.array([values[k] for k in keys], dtype=float)

        def band(bounds):
            return tuple(np.array([bounds[k][side] for k in keys], dtype=float) for side in (0, 1))

        check = payload.get("sampled_check")
        return cls(np.array([int(k) for k in keys], dtype=np.int64),
                   {side: curve(v) for side, v in payload.get("pass_at_k", {}).items()},
                   {side: band(v) for side, v in payload.get("pass_at_k_ci", {}).items()},
                   {r: curve(v) for r, v in payload.get("regions", {}).items()},
                   {r: band(v) for r, v in payload.get("regions_ci", {}).items()},
                   np.array(payload.get("refused_k", []), dtype=np.int64), payload.get("refusal"),
                   {int(k): float(v) for k, v in payload.get("unseen_share", {}).items()},
                   SampledCheck(**check) if check else None, int(payload.get("replicates", 0)))


def extrapolate(base_n, base_c, rl_n, rl_c, k_grid, reps: int = 1000, confidence: float = 0.95,
                seed: int = 0, unseen_limit: float = UNSEEN_LIMIT, max_factor: float = MAX_FACTOR) -> Extrapolation:
    """Mean pass@k of both models and the expected regions at each k of `k_grid` (beyond the samples),
    where the data identify them; a refusal with its reason elsewhere. `unseen_limit` and `max_factor`
    are for the simulation that chose them (1.0 and inf show every budget the fit allows)."""
    from tether.metrics.uncertainty import percentile_interval

    counts = [np.asarray(v, dtype=np.int64) for v in (base_n, base_c, rl_n, rl_c)]
    ks = np.asarray(sorted({int(k) for k in np.atleast_1d(k_grid)}), dtype=np.int64)
    reason = _too_little(*counts)
    if reason:
        return _refused(ks, reason)
    found = patterns(*counts)
    fit = fit_prior(found)
    if not np.all(np.isfinite(fit.posterior)):
        return _refused(ks, "the joint fit is degenerate (it did not settle on finite values); no extrapolation")
    check = sampled_check(found, fit.prior[0])
    region, gap = check.worst()
    if gap > CHECK_LIMIT:
        return _refused(ks, f"the joint model does not reproduce the regions seen at the sampled budget ({region} "
                            f"{check.observed[region]} observed, {check.expected[region]:.1f} expected); "
                            "no extrapolation", check=check)
    unseen = unseen_shares(found, fit.prior[0], ks)
    budget = int(np.median(np.minimum(counts[0], counts[2])))
    too_far = [unseen[k] > unseen_limit or k > max_factor * budget for k in ks]
    shown = ks[: int(np.argmax(np.r_[too_far, True]))]
    if shown.size == 0:
        return _refused(ks, _unseen_reason(ks, unseen, ks[0], budget), unseen, check)
    rng = np.random.default_rng(seed)
    tasks = int(found.weight.sum())
    weights = rng.multinomial(tasks, found.weight / tasks, size=reps).astype(float)
    boot = fit_prior(found, weights)  # every replicate refitted from the same start: the same estimator
    solved = chance_solved(found.grid, shown)
    fitted, spread = region_totals(fit.posterior, solved), region_totals(boot.posterior, solved)
    point = _corrected(fitted, spread, tasks)
    bounds = {}
    for name in (*REGIONS, "base", "rl"):
        top = tasks if name in REGIONS else 1.0  # regions in tasks, pass@k as a mean over tasks
        value, replicates = fitted[name][0] * top / tasks, spread[name] * top / tasks
        lo, hi = percentile_interval(replicates, confidence)
        room = BIAS_SPREAD * np.abs(replicates.mean(axis=0) - value)  # the bias estimate's own uncertainty
        lo, hi = np.clip(2 * value - hi - room, 0, top), np.clip(2 * value - lo + room, 0, top)  # basic, widened
        estimate = point[name] * top / tasks
        bounds[name] = (np.minimum(lo, estimate), np.maximum(hi, estimate), estimate)
    if any(np.any(hi - lo <= 1e-9 * max(tasks, 1)) for lo, hi, _ in (bounds[r] for r in ("S", "E"))):
        return _refused(ks, "the bootstrap gives a zero-width interval (every replicate the same): the data "
                            "cannot show how uncertain the estimate is; no extrapolation", unseen, check)
    refused_k = ks[shown.size:]
    return Extrapolation(shown, {s: bounds[s][2] for s in ("base", "rl")},
                         {s: bounds[s][:2] for s in ("base", "rl")}, {r: bounds[r][2] for r in REGIONS},
                         {r: bounds[r][:2] for r in REGIONS}, refused_k,
                         _unseen_reason(ks, unseen, refused_k[0], budget) if refused_k.size else None,
                         unseen, check, reps, task_chances(found, fit.prior[0], shown, {r: point[r] for r in ("S", "E")}))


def task_chances(found, prior: np.ndarray, ks: np.ndarray, totals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per task (rows) and budget K (columns): its chance of landing in S and in E in a fresh run of K samples
    per model under the fitted prior, scaled so that the tasks add up to `totals` (the expected S and E shown,
    bias taken out), and ("tied") its chance of S (or E) had both models its pooled chance: E[g (1 − g)] over
    the average of its two posterior marginals. What the plan's power is computed from."""
    post = found.like_base[:, :, None] * prior[None, :, :] * found.like_rl[:, None, :]  # (U, G, G)
    post /= post.sum(axis=(1, 2))[:, None, None]
    solved = chance_solved(found.grid, ks)  # (G, K)
    base, rl = np.einsum("uab,ak->uk", post, solved), np.einsum("uab,bk->uk", post, solved)
    both = np.einsum("uab,ak,bk->uk", post, solved, solved)
    pooled = (post.sum(axis=2) + post.sum(axis=1)) / 2  # (U, G): the two marginals averaged
    out = {"tied": (pooled @ (solved * (1 - solved)))[found.of_task]}
    for region, chances in (("S", base - both), ("E", rl - both)):
        fitted = found.weight @ chances
        scale = np.divide(totals[region], fitted, out=np.ones_like(fitted), where=fitted > 0)
        out[region] = np.clip(chances * scale, 0.0, 1.0)[found.of_task]
    return out


def _corrected(fitted: dict, spread: dict, tasks: int) -> dict[str, np.ndarray]:
    """The fit's expected counts (solved by each model, by both) with the bootstrap's estimate of their
    bias taken out (2 x fit - the replicates' mean), kept to what counts can be: solved counts within
    [0, tasks] and rising with k, P within its bounds and rising no faster than the solved counts (so
    that O falls); the regions follow from them and add up to the tasks."""
    base, rl, both = (np.clip(2 * fitted[r][0] - spread[r].mean(axis=0), 0, tasks) for r in ("base", "rl", "P"))
    base, rl = np.maximum.accumulate(base), np.maximum.accumulate(rl)
    for i in range(both.size):
        low = max(base[i] + rl[i] - tasks, 0.0, both[i - 1] if i else 0.0)
        high = min(base[i], rl[i], both[i - 1] + base[i] - base[i - 1] + rl[i] - rl[i - 1] if i else np.inf)
        both[i] = min(max(both[i], low), high)
    return {"base": base, "rl": rl, "P": both, "S": base - both, "E": rl - both, "O": tasks - base - rl + both}


def _too_little(base_n, base_c, rl_n, rl_c) -> str | None:
    """Why the counts cannot carry a joint fit, or None."""
    if base_n.size == 0:
        return "no tasks; no extrapolation"
    solved = int(np.sum((base_c > 0) | (rl_c > 0)))
    if solved < MIN_SOLVED:
        return (f"only {solved} of {base_n.size} tasks are solved by either model (at least {MIN_SOLVED} are "
                "needed to see how chances spread); no extrapolation")
    informative = int(np.sum(((base_c > 0) & (base_c < base_n)) | ((rl_c > 0) & (rl_c < rl_n))))
    if informative < MIN_INFORMATIVE:
        return (f"only {informative} tasks are solved sometimes but not always (at least {MIN_INFORMATIVE} are "
                "needed); no extrapolation")
    return None


def sampled_check(found, prior: np.ndarray) -> SampledCheck:
    """Observed regions at the sampled budget against the model's expectation for a fresh run of each
    task's own budgets."""
    chances = pattern_regions(found, prior, found.n_base, found.n_rl)
    base, rl = found.c_base > 0, found.c_rl > 0
    observed = {"P": base & rl, "S": base & ~rl, "E": ~base & rl, "O": ~base & ~rl}
    return SampledCheck({r: int(found.weight[observed[r]].sum()) for r in REGIONS},
                        {r: float(found.weight @ chances[r]) for r in REGIONS},
                        {r: float(np.sqrt(max(float(found.weight @ np.clip(chances[r] * (1 - chances[r]), 0.0, None)), 0.0))) + 1.0
                         for r in REGIONS})  # clipped: a chance a rounding error past 1 gives no NaN


def unseen_shares(found, prior: np.ndarray, ks: np.ndarray) -> dict[int, float]:
    """Per budget: the share of the expected S + E that comes from tasks neither model solved."""
    unseen = (found.c_base == 0) & (found.c_rl == 0)
    out = {}
    for k in ks:
        chances = pattern_regions(found, prior, k, k)
        both = found.weight * (chances["S"] + chances["E"])
        out[int(k)] = float(both[unseen].sum() / both.sum()) if both.sum() > 0 else 0.0
    return out


def _unseen_reason(ks, unseen, first: int, budget: int) -> str:
    """Why nothing is shown from budget `first` on."""
    where = f"no numbers at k = {', '.join(str(int(k)) for k in ks[ks >= first])}"
    share = (f"{unseen[first]:.0%} of the expected S + E at k = {first} would come from tasks neither model solved "
             f"in {budget} samples, whose chances the counts do not pin down")
    if unseen[first] > UNSEEN_LIMIT or first <= MAX_FACTOR * budget:
        return f"{where}: {share}"
    return (f"{where}: more than {MAX_FACTOR} times the {budget} samples per task, where S and E rest on the "
            f"chances, below 1/{budget}, of tasks one model never solved, which the counts do not pin down (and "
            f"{unseen[first]:.0%} of the expected S + E at k = {first} would come from tasks neither model solved)")


def _refused(ks, reason: str, unseen=None, check=None) -> Extrapolation:
    empty = np.zeros(0)
    return Extrapolation(np.zeros(0, dtype=np.int64), {s: empty for s in ("base", "rl")},
                         {s: (empty, empty) for s in ("base", "rl")}, {r: empty for r in REGIONS},
                         {r: (empty, empty) for r in REGIONS}, ks, reason, unseen or {}, check)
