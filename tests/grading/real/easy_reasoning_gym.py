"""Sample a model on the easy Reasoning Gym tasks of the labelled corpus (README.md here).

    python tests/grading/real/easy_reasoning_gym.py MODEL STORE LABEL TEMPERATURE

SmolLM2-135M-Instruct solves almost none of Reasoning Gym's default tasks, so a corpus of them holds
too few correct completions to measure a verifier's recall. These are the tasks of ``chain_sum`` and
``basic_arithmetic`` (300 generated with seed 7 each) that a small model can solve: chain sums of at
most three one-digit numbers, and sums of two numbers of at most two digits without parentheses;
the first 20 of each. They keep their Reasoning Gym references (dataset, size, seed, index), so the
``reasoning_gym`` verifier regenerates and scores them as any other. k = 3, 320 tokens at most, seed 29.
"""

from __future__ import annotations

import re
import sys

SIZE, SEED, PER_DATASET = 300, 7, 20


def easy(name: str, question: str) -> bool:
    if name == "chain_sum":
        numbers = re.findall(r"\d+", question.split("problem:")[-1])
        return len(numbers) <= 3 and all(len(n) == 1 for n in numbers)
    numbers = re.findall(r"\d+", question)
    return len(numbers) <= 2 and all(len(n) <= 2 for n in numbers) and "(" not in question


def tasks():
    from tether.tasks.reasoning_gym import generate

    chosen = []
    for name in ("chain_sum", "basic_arithmetic"):
        chosen += [t for t in generate(name, SIZE, SEED) if easy(name, t.reference["entry"]["question"])][:PER_DATASET]
    return chosen


if __name__ == "__main__":
    from tether.engines.base import Decoding
    from tether.experiment.stages import sample_model
    from tether.sampling import SamplingConfig

    model, store, label, temperature = sys.argv[1:5]
    config = SamplingConfig(k=3, decoding=Decoding(temperature=float(temperature), max_tokens=320), seed=29)
    summary = sample_model(tasks(), "transformers", model, {"device": "cpu"}, store, label, config)
    print(f"{label}: {summary.samples_written} samples written")
