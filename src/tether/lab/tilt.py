"""The KL-regularised RLVR optimum over an enumerated completion set, in closed form and by optimisation.

Over the completions y of one prompt with base probabilities q(y) and rewards
R(y), the objective E_pi[R] - KL(pi || q) / tilt is maximised by the exponential
tilt pi*(y) proportional to q(y) exp(tilt * R(y)) (SPEC section 1). Here `tilt`
is the inverse temperature of the paper's beta; GRPO/PPO code calls its KL
coefficient beta too, and then ``tilt = 1 / kl_coef`` (`tilt_from_kl_coef`).

`exponential_tilt` computes pi* directly; `optimise_tabular` finds the optimum
by mirror ascent on the simplex (exponentiated-gradient steps on the objective
itself), so the two can be checked against each other: they agree to < 1e-6
in total variation. Completions with q(y) = 0 get pi(y) = 0 in both: support
preservation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tether.errors import InputError


def tilt_from_kl_coef(kl_coef: float) -> float:
    """The tilt (inverse temperature) of a GRPO/PPO run whose KL penalty coefficient is `kl_coef`."""
    if kl_coef <= 0:
        raise InputError(f"kl_coef must be > 0, got {kl_coef}")
    return 1.0 / kl_coef


def exponential_tilt(q, rewards, tilt: float) -> np.ndarray:
    """pi*(y) proportional to q(y) exp(tilt R(y)), computed in log space."""
    q, rewards = _checked(q, rewards)
    with np.errstate(divide="ignore"):
        logits = np.log(q) + tilt * rewards
    logits -= logits[np.isfinite(logits)].max()
    weights = np.exp(logits)
    return weights / weights.sum()


def objective(pi, q, rewards, tilt: float) -> float:
    """E_pi[R] - KL(pi || q) / tilt."""
    pi, q, rewards = np.asarray(pi, float), np.asarray(q, float), np.asarray(rewards, float)
    mask = pi > 0
    kl = float(np.sum(pi[mask] * (np.log(pi[mask]) - np.log(q[mask]))))
    return float(pi @ rewards) - kl / tilt


@dataclass(frozen=True)
class TabularResult:
    pi: np.ndarray
    steps: int
    converged: bool
    objective: float


def optimise_tabular(q, rewards, tilt: float, *, step: float | None = None, tol: float = 1e-13,
                     max_steps: int = 100_000) -> TabularResult:
    """Maximise E_pi[R] - KL(pi||q)/tilt over the simplex on supp(q) by mirror ascent.

    Each step multiplies pi by exp(step * gradient), the gradient being
    R - (log(pi/q) + 1)/tilt, and renormalises; it starts from pi = q. The fixed
    point is the exponential tilt; a `step` in (0, tilt] keeps the iteration a
    contraction with rate 1 - step/tilt. The default, tilt/2, halves the
    distance to the optimum (in log space) every step.
    """
    q, rewards = _checked(q, rewards)
    support = q > 0
    log_q = np.log(q[support])
    log_pi = log_q.copy()
    if tilt <= 0:
        raise InputError(f"tilt must be > 0, got {tilt}")
    eta = tilt / 2 if step is None else min(step, tilt)
    converged = False
    for iteration in range(1, max_steps + 1):
        gradient = rewards[support] - (log_pi - log_q) / tilt
        new = log_pi + eta * gradient
        new -= new.max()
        new -= np.log(np.exp(new).sum())
        change = np.abs(np.exp(new) - np.exp(log_pi)).sum()
        log_pi = new
        if change < tol:
            converged = True
            break
    pi = np.zeros_like(q)
    pi[support] = np.exp(log_pi)
    return TabularResult(pi, iteration, converged, objective(pi, q, rewards, tilt))


def total_variation(p, q) -> float:
    """Half the L1 distance between two distributions on the same completions."""
    return 0.5 * float(np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def _checked(q, rewards) -> tuple[np.ndarray, np.ndarray]:
    q, rewards = np.asarray(q, dtype=float), np.asarray(rewards, dtype=float)
    if q.shape != rewards.shape or q.ndim != 1 or q.size == 0:
        raise InputError("q and rewards must be 1-D arrays of the same, non-zero length")
    if np.any(q < 0) or not np.isclose(q.sum(), 1.0, atol=1e-6):
        raise InputError(f"q must be a probability distribution (sums to {q.sum():.9f})")
    return q / q.sum(), rewards
