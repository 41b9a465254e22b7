"""A model's chance of solving a task, estimated from both models' samples by importance sampling.

For one task, the target model q (say the base) drew n_q completions from its sampling
distribution (its temperature and top-p) and the other model π (the RL model) drew n_π. With
every correct completion scored under both distributions, the balance-heuristic multiple
importance sampling estimate (Veach & Guibas, 1995) of P_q(correct) is

    q̂ = Σ over all correct completions y (of either model) of q(y) / (n_q q(y) + n_π π(y)).

It is unbiased: the mixture n_q q + n_π π covers every completion q can produce, so no
support condition is needed while n_q > 0. Where the target never succeeded itself (an E task
for the base) it reduces, up to the denominator, to the plain estimate over the other model's
samples, (1/n_π) Σ q(y)/π(y); with n_q = 0 it is exactly that, and it is then unbiased only
where π reaches every correct completion q can produce. Where the target did succeed (a P
task), its own samples carry the modes the other model has abandoned, so a collapsed RL model
does not hide the base's other solutions.

What no estimate sees: correct completions neither model sampled. For a task the target never
solved in n_q samples, their mass is below the detection bound ε(n_q) with 95 % confidence.

A correct completion with q(y) = 0 (a token outside the target's nucleus) weighs 0: the
target's sampler cannot emit it. The weights' effective sample size ESS = (Σ w)² / Σ w² says
how many samples the estimate is worth; below `MIN_ESS` it is reported as untrustworthy.
Everything is computed in log space; the CI is a percentile bootstrap resampling each model's
samples separately (or sample pairs, where both models drew sample j from one seed).

What the samples fix for certain, and what they cannot show. Each distinct correct completion y
seen is scored exactly, so the target's chance is at least the seen mass S = Σ q(y) over the
distinct ones: the estimate is moved up to S where it falls below (and down to 1 where it runs
past it), which never takes it farther from the truth, and no interval limit is below S or above
1. The bootstrap cannot show what no sample holds: when the proposal's correct samples are a few
completions repeated (a collapsed RL model's 64 copies of one), every replicate is alike and the
interval has no width while the correct completions neither model produced may hold most of the
target's chance. Their mass is bounded only by the target's own samples (the proposal's say
nothing about q where they never went): its c_q successes in n_q samples give the one-sided
Clopper–Pearson upper bound U of its whole chance (for c_q = 0 the detection bound ε(n_q)), so
the unseen mass is below U − S at the interval's confidence. With fewer than `MIN_DISTINCT`
distinct correct completions the interval is [S, max(bootstrap upper limit, U)] and the estimate
is not trusted, whatever its ESS; the result says how many there were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_ESS = 10.0  # fewer effective samples than this: the estimate is reported as untrustworthy
MIN_DISTINCT = 10  # fewer distinct correct completions than this: the interval is widened, not trusted
BOOTSTRAP_REPS = 2000


@dataclass(frozen=True)
class ImportanceEstimate:
    """q̂ with its standard error, its CI, and how trustworthy the weights are (module docstring)."""

    n: int  # samples of both models (correct or not)
    n_correct: int  # correct completions (of either model)
    log_q_hat: float  # natural log of q̂ in [seen mass, 1] (-inf when no correct completion can come from the target)
    se: float
    ci: tuple[float, float]  # within [seen mass, 1]; widened by the own-sample bound where completions are few
    ess: float
    zero_weight: int  # correct completions the target cannot sample (q = 0: outside its nucleus)
    confidence: float
    distinct: int = 0  # distinct correct completions the target can sample (those that carry weight)
    seen_mass: float = 0.0  # their summed probability under the target: its chance is at least this
    own_bound: float = 1.0  # the target's own samples' one-sided upper bound on its chance (1: it drew none)
    bootstrap_ci: tuple[float, float] = (0.0, 0.0)  # the percentile bootstrap's interval, before any of the above
    log_raw: float = float("-inf")  # natural log of the importance-sampling estimate itself (may exceed 0)

    @property
    def few_distinct(self) -> bool:
        """Too few distinct correct completions for the bootstrap to show the estimate's spread."""
        return self.distinct < MIN_DISTINCT

    @property
    def trusted(self) -> bool:
        return self.ess >= MIN_ESS and not self.few_distinct

    @property
    def unseen_bound(self) -> float:
        """The bound on the target's chance of correct completions no sample showed (own bound − seen mass)."""
        return max(0.0, self.own_bound - self.seen_mass)

    @property
    def q_hat(self) -> float:
        return float(np.exp(self.log_q_hat))

    @property
    def log10_q_hat(self) -> float:
        return self.log_q_hat / float(np.log(10))

    def samples_needed(self) -> tuple[float, tuple[float, float]]:
        """About 1/q̂ samples of the target to solve the task once, with the CI's reciprocal (q̂ and its CI are
        within [0, 1], so none of these is below 1)."""
        with np.errstate(over="ignore"):  # below 1e-308: infinitely many, as far as a float can say
            return float(np.exp(-self.log_q_hat)), (_reciprocal(self.ci[1]), _reciprocal(self.ci[0]))


def importance_estimate(correct: np.ndarray, log_q: np.ndarray, log_pi: np.ndarray, *,
                        own: np.ndarray | None = None, pairs: np.ndarray | None = None, confidence: float = 0.95,
                        reps: int = BOOTSTRAP_REPS, seed: int = 0, completions: np.ndarray | None = None,
                        own_counts: tuple[int, int] | None = None) -> ImportanceEstimate:
    """The estimate of P_q(correct) from the samples of one task.

    Each sample (row) has `correct`, `log_q` and `log_pi` (its log-probability under the target's
    and the other model's sampling distributions; needed where correct, ignored elsewhere) and
    `own`: True where the target model drew it (default: none, the plain estimate from the other
    model's samples). -inf in `log_q` means the target cannot produce that completion. `pairs`
    (optional) gives samples that are not independent the same id, and the bootstrap resamples
    them together: tether draws sample j of both models from the same seed, so j is the pair.
    `completions` (optional: the text of each) tells which correct samples are the same completion
    (default: those with the same pair of log-probabilities); `own_counts` the target's own (correct, samples)
    that bound its chance (default: its rows here; give all it drew where only some are rows here)."""
    correct = np.asarray(correct, dtype=bool)
    own = np.zeros(correct.size, dtype=bool) if own is None else np.asarray(own, dtype=bool)
    n_q, n_pi = int(own.sum()), int((~own).sum())
    if correct.size == 0:
        raise ValueError("no samples")
    c_q, drawn = (int((correct & own).sum()), n_q) if own_counts is None else own_counts
    own_bound = _upper_bound(c_q, drawn, confidence)
    log_q, log_pi = np.asarray(log_q, dtype=np.float64), np.asarray(log_pi, dtype=np.float64)
    sampled_by = np.where(own, log_q, log_pi)
    if np.any(correct & ~np.isfinite(sampled_by)):
        raise ValueError("a correct sample has probability 0 under the distribution it was sampled from: its "
                         "scores do not match that distribution")
    log_w = np.full(correct.size, -np.inf)
    lq, lp = log_q[correct], log_pi[correct]
    with np.errstate(divide="ignore"):
        mixture = np.logaddexp(np.log(n_q) + lq if n_q else -np.inf, np.log(n_pi) + lp if n_pi else -np.inf)
    log_w[correct] = lq - mixture
    zero = int(np.sum(correct & np.isneginf(log_q)))
    if not np.any(np.isfinite(log_w)):
        return ImportanceEstimate(correct.size, int(correct.sum()), float("-inf"), 0.0, (0.0, own_bound), 0.0, zero,
                                  confidence, own_bound=own_bound)
    distinct, log_seen = _seen(correct & np.isfinite(log_w), log_q, log_pi, completions)
    seen = float(np.exp(min(log_seen, 0.0)))
    top = np.max(log_w[np.isfinite(log_w)])
    w = np.exp(log_w - top)  # scaled to max 1; zero where -inf
    total, squares = w.sum(), np.square(w).sum()
    with np.errstate(over="ignore"):  # q/π beyond 1e308 cannot be a float; log_raw still holds it
        scale = np.exp(top)
    replicates = _paired_bootstrap(w, pairs, reps, seed) if pairs is not None else _bootstrap(w, own, reps, seed)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    with np.errstate(invalid="ignore", over="ignore"):
        se, bootstrap = float(np.std(replicates) * scale), (float(low * scale), float(high * scale))
    log_raw = float(np.log(total) + top)
    log_estimate = min(max(log_raw, log_seen), 0.0)  # into [seen mass, 1], where the truth is known to lie
    estimate = float(np.exp(log_estimate))
    if distinct < MIN_DISTINCT:  # the bootstrap cannot see what these few completions leave out
        ci = (seen, max(bootstrap[1], own_bound))
    else:
        ci = (max(bootstrap[0], seen), bootstrap[1])
    ci = (min(max(ci[0], 0.0), estimate), min(max(ci[1], estimate), 1.0))
    return ImportanceEstimate(correct.size, int(correct.sum()), log_estimate, se, ci, float(total ** 2 / squares),
                              zero, confidence, distinct, seen, own_bound, bootstrap, log_raw)


def _seen(weighted: np.ndarray, log_q: np.ndarray, log_pi: np.ndarray,
          completions: np.ndarray | None) -> tuple[int, float]:
    """(distinct correct completions among the `weighted` rows, the log of their summed probability under the
    target): by text where given, else by their pair of log-probabilities (two completions scored alike count
    once, so the sum stays a lower bound)."""
    rows = np.flatnonzero(weighted)
    if completions is not None:
        keys = [completions[i] for i in rows]
    else:
        keys = [(log_q[i], log_pi[i]) for i in rows]
    first = {}
    for i, key in zip(rows, keys):
        first.setdefault(key, i)
    chosen = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    if chosen.size == 0:
        return 0, float("-inf")
    top = float(np.max(log_q[chosen]))
    return int(chosen.size), top + float(np.log(np.exp(log_q[chosen] - top).sum()))


def _upper_bound(successes: int, samples: int, confidence: float) -> float:
    """One-sided Clopper–Pearson upper bound of a binomial proportion at `confidence` (1 with no samples): for
    no successes, the detection bound 1 − (1 − confidence)^(1/n)."""
    from scipy.stats import beta

    if samples <= 0 or successes >= samples:
        return 1.0
    return float(beta.ppf(confidence, successes + 1, samples - successes))


def _bootstrap(w: np.ndarray, own: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """The estimate (Σ w) over `reps` resamplings, each model's samples resampled on their own (the
    zero-weight samples of a model are one multinomial cell)."""
    rng = np.random.default_rng(seed)
    totals = np.zeros(reps)
    for group in (own, ~own):
        size = int(group.sum())
        weights = w[group][w[group] > 0]
        if size == 0 or weights.size == 0:
            continue
        cells = np.append(np.full(weights.size, 1.0 / size), (size - weights.size) / size)
        totals += rng.multinomial(size, cells, size=reps)[:, : weights.size] @ weights
    return totals


def _paired_bootstrap(w: np.ndarray, pairs: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """The estimate over `reps` resamplings of the pairs (samples sharing a seed), with replacement."""
    ids, cluster = np.unique(np.asarray(pairs), return_inverse=True)
    sums = np.bincount(cluster, weights=w, minlength=ids.size)
    weights = sums[sums > 0]
    if weights.size == 0:
        return np.zeros(reps)
    cells = np.append(np.full(weights.size, 1.0 / ids.size), (ids.size - weights.size) / ids.size)
    return np.random.default_rng(seed).multinomial(ids.size, cells, size=reps)[:, : weights.size] @ weights


def _reciprocal(value: float) -> float:
    return float("inf") if value <= 0 else 1.0 / value
