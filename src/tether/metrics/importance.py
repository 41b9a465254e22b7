"""The base model's chance of solving a task, estimated from the RL model's samples by importance sampling.

For one task, the RL model drew n completions y_1 … y_n from its sampling distribution π
(its temperature and top-p). With q the base's sampling distribution, the base's success
probability is P_q(correct) = E_π[1[correct(y)] q(y)/π(y)] wherever π(y) > 0 for every correct y
that q can produce, so

    q̂ = (1/n) Σ_j 1[correct(y_j)] · q(y_j)/π(y_j)

is unbiased then; where π misses part of q's correct mass (an RL nucleus that excludes a token
the base would use) it is a lower bound. Only correct completions carry weight, so only they
need scoring. A correct completion with q(y) = 0 (a token outside the base's nucleus) has
weight 0: the base's sampler cannot emit it.

The weights w_j are uneven when the RL model has moved far from the base; their effective
sample size ESS = (Σ w)² / Σ w² says how many samples the estimate is worth. Below `MIN_ESS`
the estimate is not trusted: reported as such, not as a number. Everything is computed in log
space (q/π ranges over hundreds of orders of magnitude).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_ESS = 10.0  # fewer effective samples than this: the estimate is reported as untrustworthy
BOOTSTRAP_REPS = 2000


@dataclass(frozen=True)
class ImportanceEstimate:
    """q̂ with its standard error, a percentile-bootstrap CI, and how trustworthy the weights are."""

    n: int  # RL samples of the task (correct or not)
    n_correct: int
    log_q_hat: float  # natural log of q̂ (-inf when no correct completion can come from the base)
    se: float
    ci: tuple[float, float]
    ess: float
    zero_weight: int  # correct completions the base cannot sample (q = 0: outside its nucleus)
    confidence: float

    @property
    def trusted(self) -> bool:
        return self.ess >= MIN_ESS

    @property
    def q_hat(self) -> float:
        return float(np.exp(self.log_q_hat))

    @property
    def log10_q_hat(self) -> float:
        return self.log_q_hat / float(np.log(10))

    def samples_needed(self) -> tuple[float, tuple[float, float]]:
        """About 1/q̂ base samples to solve the task once, with the CI's reciprocal."""
        inverse = float(np.exp(-self.log_q_hat))
        return inverse, (_reciprocal(self.ci[1]), _reciprocal(self.ci[0]))


def importance_estimate(correct: np.ndarray, log_q: np.ndarray, log_pi: np.ndarray, *, confidence: float = 0.95,
                        reps: int = BOOTSTRAP_REPS, seed: int = 0) -> ImportanceEstimate:
    """The estimate from one task's RL samples: `correct` for all n of them, `log_q` and `log_pi`
    (sequence log-probabilities under the base's and the RL model's sampling distributions) where
    correct (values elsewhere are ignored; -inf in `log_q` means the base cannot produce it)."""
    correct = np.asarray(correct, dtype=bool)
    n = correct.size
    if n == 0:
        raise ValueError("no samples")
    log_q, log_pi = np.asarray(log_q, dtype=np.float64)[correct], np.asarray(log_pi, dtype=np.float64)[correct]
    if np.any(~np.isfinite(log_pi)):
        raise ValueError("an RL sample has probability 0 under the RL model's own sampling distribution: its "
                         "scores do not match the distribution it was sampled from")
    log_w = log_q - log_pi  # -inf where the base cannot produce the completion
    zero = int(np.sum(np.isneginf(log_w)))
    if not np.any(np.isfinite(log_w)):
        return ImportanceEstimate(n, int(correct.sum()), float("-inf"), 0.0, (0.0, 0.0), 0.0, zero, confidence)
    top = np.max(log_w[np.isfinite(log_w)])
    w = np.exp(log_w - top)  # scaled to max 1; zero where -inf
    total, squares = w.sum(), np.square(w).sum()
    ess = float(total ** 2 / squares)
    with np.errstate(over="ignore"):  # q/π beyond 1e308 cannot be a float; log_q_hat still holds it
        scale = np.exp(top)
    log_q_hat = float(np.log(total) - np.log(n) + top)
    spread = np.sqrt(max(0.0, (squares / n - (total / n) ** 2) * n / max(n - 1, 1)))
    se = float(spread / np.sqrt(n) * scale)
    ci = _bootstrap_ci(w, n, confidence, reps, seed)
    return ImportanceEstimate(n, int(correct.sum()), log_q_hat, se, (ci[0] * scale, ci[1] * scale), ess, zero,
                              confidence)


def _bootstrap_ci(w: np.ndarray, n: int, confidence: float, reps: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap over the n samples; only the weighted ones need their own counts (the
    zero-weight rest is one multinomial cell)."""
    rng = np.random.default_rng(seed)
    m = w.size
    cells = np.append(np.full(m, 1.0 / n), (n - m) / n)
    counts = rng.multinomial(n, cells, size=reps)[:, :m]
    means = counts @ w / n
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def _reciprocal(value: float) -> float:
    return float("inf") if value <= 0 else 1.0 / value
