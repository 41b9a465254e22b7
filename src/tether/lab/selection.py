"""Choosing the demo's prompts from a model pair's exact probabilities.

For every N in a range, `scan` computes both models' exact P(correct) (`tether.lab.scoring`);
at k samples each prompt then lands in P, S, E or O with known probabilities (a region of a
task is where "some sample of the base is correct" and "some sample of RL is correct" put it).
`choose` keeps the story's fixed prompts (easy sums, the sums absent from the corpus) and adds,
region by region, the prompts most likely to show it until the chance that a run has at least
one task in that region reaches `min_chance`. Run as a module to write the bundled demo's task
spec and its expectations for the shipped pair:

    python -m tether.lab.selection            # prints the spec and the expectations
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tether.lab.scoring import p_correct

STORY = tuple(range(2, 13)) + (23, 29, 37)  # easy sums, and the three the corpus leaves out
REGIONS = ("P", "S", "E", "O")


@dataclass(frozen=True)
class Expectation:
    """Exact expectations of a prompt set at k samples per prompt and model."""

    k: int
    prompts: dict[int, tuple[float, float]]  # N -> (base P(correct), RL P(correct))
    expected: dict[str, float]  # expected number of tasks per region
    chance: dict[str, float]  # probability that a run has at least one task in the region

    def to_dict(self) -> dict:
        return {"k": self.k, "expected_regions": self.expected, "region_chance": self.chance,
                "prompts": {str(n): {"base": b, "rl": r} for n, (b, r) in sorted(self.prompts.items())}}


def scan(base, rl, tokenizer, ns: Iterable[int]) -> dict[int, tuple[float, float]]:
    """N -> (base P(correct), RL P(correct)), exactly."""
    return {n: (p_correct(base, tokenizer, n), p_correct(rl, tokenizer, n)) for n in ns}


def region_probabilities(p_base: np.ndarray, p_rl: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per prompt, the probability of each region at k samples per model."""
    cover_b = -np.expm1(k * np.log1p(-np.minimum(p_base, 1 - 1e-16)))
    cover_r = -np.expm1(k * np.log1p(-np.minimum(p_rl, 1 - 1e-16)))
    return {"P": cover_b * cover_r, "S": cover_b * (1 - cover_r), "E": (1 - cover_b) * cover_r,
            "O": (1 - cover_b) * (1 - cover_r)}


def expectation(scanned: dict[int, tuple[float, float]], ns: Sequence[int], k: int) -> Expectation:
    p_base = np.array([scanned[n][0] for n in ns])
    p_rl = np.array([scanned[n][1] for n in ns])
    per = region_probabilities(p_base, p_rl, k)
    return Expectation(k, {n: scanned[n] for n in ns}, {r: float(per[r].sum()) for r in REGIONS},
                       {r: float(1 - np.prod(1 - per[r])) for r in REGIONS})


def choose(scanned: dict[int, tuple[float, float]], k: int, min_chance: float = 0.95,
           limit: int = 36) -> list[int]:
    """The story's prompts plus, for each region, the likeliest prompts until its chance reaches `min_chance`."""
    chosen = [n for n in STORY if n in scanned]
    for region in ("E", "S", "O"):  # the rarest first
        ranked = sorted((n for n in scanned if n not in chosen),
                        key=lambda n: -region_probabilities(np.array([scanned[n][0]]), np.array([scanned[n][1]]),
                                                            k)[region][0])
        for n in ranked:
            if expectation(scanned, chosen, k).chance[region] >= min_chance or len(chosen) >= limit:
                break
            chosen.append(n)
    return sorted(chosen)


def spec(ns: Sequence[int]) -> str:
    """``lab-sums:2-12,23,...``: consecutive runs written as ranges."""
    parts, run = [], []
    for n in sorted(ns):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [n]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return "lab-sums:" + ",".join(parts)


def main() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tether.lab.models import CONFIGS, lab_models

    base_dir, rl_dir = lab_models(CONFIGS["lab"])
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    rl = AutoModelForCausalLM.from_pretrained(rl_dir).eval()
    scanned = scan(base, rl, tokenizer, range(2, 199))
    chosen = choose(scanned, k=1024)
    print(spec(chosen))
    print(json.dumps(expectation(scanned, chosen, 1024).to_dict(), indent=1))


if __name__ == "__main__":
    main()
