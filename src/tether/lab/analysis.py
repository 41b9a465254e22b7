"""Exact analysis of a lab model pair: every probability computed, none estimated.

For every prompt and both models the completions are enumerated exactly
(`tether.lab.enumerate`), giving: the exact probability of a correct
completion, exact pass@k = 1 - (1 - p)^k, the epsilon-support sets of correct
completions (SPEC section 2), the expected region counts at k samples, the
support-preservation check (every correct completion above epsilon under the
RL model is above a smaller stated threshold under the base; violations are
listed), and the distance of the RL model from the KL-regularised optimum:
total variation between the closed-form tilt of the base and (a) the tabular
optimiser's result (must be < 1e-6) and (b) the GRPO-trained network (reported).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tether.lab.enumerate import enumerate_completions
from tether.lab.tilt import exponential_tilt, optimise_tabular, total_variation


@dataclass(frozen=True)
class ExactModel:
    """One model on one prompt: P(correct), the correct modes' probabilities, all completions' probabilities."""

    p_correct: float
    modes: dict[str, float]
    completions: dict[str, float]
    mass: float

    @property
    def entropy(self) -> float:
        """Shannon entropy (nats) of the distribution of completions (the enumerated part)."""
        p = np.array([v for v in self.completions.values() if v > 0])
        return float(-(p * np.log(p)).sum())


@dataclass(frozen=True)
class ExactPrompt:
    task_id: str
    target: int
    base: ExactModel
    rl: ExactModel


@dataclass
class LabAnalysis:
    prompts: list[ExactPrompt]
    k: int
    epsilon: float
    lower: float
    tilt: float
    k_grid: np.ndarray
    pass_at_k: dict[str, np.ndarray]
    expected_regions: dict[str, float]
    region_chance: dict[str, float]  # exact probability that a run of k samples puts >= 1 task in the region
    mode_regions: dict[str, int]
    support_violations: list[tuple[str, str, float, float]] = field(default_factory=list)
    tv_tabular: float = 0.0
    tv_grpo: list[float] = field(default_factory=list)

    def mean(self, label: str, what: str) -> float:
        """Mean over prompts of `what` ('p_correct' or 'entropy') for model `label`."""
        return float(np.mean([getattr(getattr(p, label), what) for p in self.prompts]))

    @property
    def min_mass(self) -> float:
        return min(min(p.base.mass, p.rl.mass) for p in self.prompts)

    def to_dict(self) -> dict:
        """The exact values as JSON: per prompt P(correct) and pass@k inputs, and every summary."""
        return {
            "k": self.k, "epsilon": self.epsilon, "support_lower": self.lower, "tilt": self.tilt,
            "k_grid": [int(k) for k in self.k_grid],
            "pass_at_k": {label: [float(v) for v in curve] for label, curve in self.pass_at_k.items()},
            "expected_regions": self.expected_regions, "region_chance": self.region_chance,
            "mode_regions": self.mode_regions, "min_enumerated_mass": self.min_mass,
            "tv_tabular_max": self.tv_tabular, "tv_grpo": [float(v) for v in self.tv_grpo],
            "support_violations": [list(v) for v in self.support_violations],
            "prompts": [{"task_id": p.task_id, "target": p.target,
                         **{label: {"p_correct": m.p_correct, "entropy": m.entropy, "mass": m.mass,
                                    "modes": len(m.modes)} for label, m in (("base", p.base), ("rl", p.rl))}}
                        for p in self.prompts],
        }


def exact_model(model, tokenizer, prompt: str, is_correct: Callable[[str], bool], **enumeration) -> ExactModel:
    found = enumerate_completions(model, tokenizer, prompt, **enumeration)
    completions = found.probabilities()
    modes = {text: p for text, p in completions.items() if is_correct(text)}
    return ExactModel(sum(modes.values()), modes, completions, found.mass)


def analyse(prompts: Sequence[ExactPrompt], *, k: int, epsilon: float, lower: float, tilt: float,
            k_grid: Sequence[int]) -> LabAnalysis:
    """Everything exact about a pair, from the prompts' enumerations."""
    grid = np.asarray(k_grid, dtype=np.int64)
    p_base = np.array([p.base.p_correct for p in prompts])
    p_rl = np.array([p.rl.p_correct for p in prompts])
    curves = {"base": exact_pass_at_k(p_base, grid).mean(axis=0), "rl": exact_pass_at_k(p_rl, grid).mean(axis=0)}
    cover_b, cover_r = 1 - (1 - p_base) ** k, 1 - (1 - p_rl) ** k
    per_task = {"P": cover_b * cover_r, "S": cover_b * (1 - cover_r), "E": (1 - cover_b) * cover_r,
                "O": (1 - cover_b) * (1 - cover_r)}
    expected = {region: float(p.sum()) for region, p in per_task.items()}
    chance = {region: float(1 - np.prod(1 - p)) for region, p in per_task.items()}
    result = LabAnalysis(list(prompts), k, epsilon, lower, tilt, grid, curves, expected, chance,
                         _mode_regions(prompts, epsilon))
    for prompt in prompts:
        for text, p in prompt.rl.modes.items():
            if p > epsilon and prompt.base.modes.get(text, 0.0) <= lower:
                result.support_violations.append((prompt.task_id, text, p, prompt.base.modes.get(text, 0.0)))
        tabular, closed, grpo = _tilts(prompt, tilt)
        result.tv_tabular = max(result.tv_tabular, total_variation(tabular, closed))
        result.tv_grpo.append(total_variation(grpo, closed))
    return result


def exact_pass_at_k(p: np.ndarray, k_grid: np.ndarray) -> np.ndarray:
    """1 - (1 - p)^k per prompt (rows) and k (columns), accurate for tiny p."""
    return -np.expm1(np.asarray(k_grid)[None, :] * np.log1p(-np.minimum(np.asarray(p)[:, None], 1 - 1e-300)))


def _mode_regions(prompts: Sequence[ExactPrompt], epsilon: float) -> dict[str, int]:
    """Solution modes by epsilon-support membership under each model (SPEC: supp_eps)."""
    counts = {"P": 0, "S": 0, "E": 0, "O": 0}
    for prompt in prompts:
        for text in set(prompt.base.modes) | set(prompt.rl.modes):
            in_base = prompt.base.modes.get(text, 0.0) > epsilon
            in_rl = prompt.rl.modes.get(text, 0.0) > epsilon
            counts["P" if in_base and in_rl else "S" if in_base else "E" if in_rl else "O"] += 1
    return counts


def _tilts(prompt: ExactPrompt, tilt: float):
    """Tabular optimum, closed-form tilt and the RL network, on the union of enumerated completions."""
    texts = sorted(set(prompt.base.completions) | set(prompt.rl.completions))
    q = np.array([prompt.base.completions.get(t, 0.0) for t in texts])
    q = q / q.sum()
    rewards = np.array([1.0 if t in prompt.base.modes or t in prompt.rl.modes else 0.0 for t in texts])
    closed = exponential_tilt(q, rewards, tilt)
    tabular = optimise_tabular(q, rewards, tilt).pi
    grpo = np.array([prompt.rl.completions.get(t, 0.0) for t in texts])
    return tabular, closed, grpo / grpo.sum()
