"""Exact P(correct) of a lab prompt by scoring every correct completion, without enumerating.

The correct completions of ``"N:"`` are the strings ``"a+b"`` with a + b = N (0 <= a, b <= 99, no
leading zeros) followed by EOS: at most 100 of them. Their probabilities, scored in a few batched
forward passes, sum to the model's exact P(correct) at temperature 1 (the enumeration agrees to
float precision, minus the correct completions it prunes below its threshold). Fast enough to scan
every N from 2 to 198, which is how the demo's prompts are chosen (`tether.lab.selection`).
"""

from __future__ import annotations

import numpy as np

from tether.tasks import sums


def correct_completions(n: int) -> list[str]:
    """Every correct completion of ``"n:"``."""
    return [f"{a}+{n - a}" for a in range(0, sums.MAX_TERM + 1) if 0 <= n - a <= sums.MAX_TERM]


def p_correct(model, tokenizer, n: int) -> float:
    """Exact probability that `model` (temperature 1, no top-p) answers ``"n:"`` correctly."""
    import torch

    prompt = tokenizer(sums.prompt(n), add_special_tokens=False)["input_ids"]
    eos = model.generation_config.eos_token_id or tokenizer.eos_token_id
    eos = int(eos[0] if isinstance(eos, (list, tuple)) else eos)
    by_length: dict[int, list[list[int]]] = {}
    for text in correct_completions(n):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [eos]
        by_length.setdefault(len(ids), []).append(ids)
    total = 0.0
    with torch.inference_mode():
        for completions in by_length.values():
            batch = torch.tensor([prompt + ids for ids in completions])
            logprobs = torch.log_softmax(model(input_ids=batch).logits[:, :-1].double(), dim=-1)
            start = len(prompt) - 1
            targets = batch[:, start + 1:]
            picked = logprobs[:, start:].gather(2, targets.unsqueeze(-1)).squeeze(-1)
            total += float(np.exp(picked.sum(dim=1).numpy()).sum())
    return total
