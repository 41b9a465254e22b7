"""Exact enumeration of a causal LM's short completions: every one with probability >= a threshold.

A breadth-first search over the model's next-token distributions, one depth at
a time, batching all frontier prefixes of a depth into forward passes (they
share one length, so no padding). A child whose probability falls below the
threshold is pruned and its mass counted; a prefix still open after
`max_tokens` tokens is counted as truncated. So

    enumerated mass + pruned mass + truncated mass = 1

up to floating point, and the enumerated mass says how exact the enumeration is.

Temperature and top-p are applied exactly as `TransformersEngine`'s sampler
applies them (softmax of logits / T, then the nucleus of sorted tokens whose
preceding cumulative mass is < top_p, renormalised), so enumerated
probabilities are the probabilities of what the engine samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Enumeration:
    """The completions found, with their exact log-probabilities, and where the rest of the mass went."""

    token_ids: list[tuple[int, ...]]  # each ends with an EOS token
    texts: list[str]
    logprobs: np.ndarray
    pruned_mass: float
    truncated_mass: float
    expanded: int  # prefixes whose next-token distribution was computed

    @property
    def mass(self) -> float:
        return float(np.exp(self.logprobs).sum()) if len(self.logprobs) else 0.0

    def probabilities(self) -> dict[str, float]:
        """Probability per completion text (texts that decode alike are summed)."""
        found: dict[str, float] = {}
        for text, logprob in zip(self.texts, self.logprobs):
            found[text] = found.get(text, 0.0) + math.exp(logprob)
        return found


def step_logprobs(logits, temperature: float = 1.0, top_p: float = 1.0):
    """Next-token log-probabilities (float64) after temperature and top-p; -inf outside the nucleus."""
    import torch

    logp = torch.log_softmax(logits.double() / temperature, dim=-1)
    if top_p >= 1.0:
        return logp
    probs = logp.exp()
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    keep_sorted = (sorted_probs.cumsum(dim=-1) - sorted_probs) < top_p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = torch.where(keep, probs, torch.zeros_like(probs))
    return torch.where(keep, torch.log(kept / kept.sum(-1, keepdim=True)), torch.full_like(probs, -math.inf))


def enumerate_completions(model, tokenizer, prompt: str, *, max_tokens: int, threshold: float = 1e-12,
                          temperature: float = 1.0, top_p: float = 1.0, chunk: int = 4096) -> Enumeration:
    """All completions of `prompt` (its exact text) with probability >= `threshold`."""
    import torch

    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    eos = model.generation_config.eos_token_id or tokenizer.eos_token_id
    eos = set(eos) if isinstance(eos, (list, tuple)) else {int(eos)}
    log_threshold = math.log(threshold)
    device = next(model.parameters()).device
    frontier: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[tuple[int, ...], float]] = []
    pruned, expanded = 0.0, 0
    for _ in range(max_tokens):
        next_frontier = []
        for start in range(0, len(frontier), chunk):
            block = frontier[start : start + chunk]
            ids = torch.tensor([prompt_ids + list(prefix) for prefix, _ in block], device=device)
            with torch.inference_mode():
                logits = model(input_ids=ids).logits[:, -1, :]
            totals = (torch.tensor([lp for _, lp in block], dtype=torch.float64, device=device)[:, None]
                      + step_logprobs(logits, temperature, top_p)).cpu().numpy()
            expanded += len(block)
            keep = totals >= log_threshold
            parents = np.exp([lp for _, lp in block])
            kept_mass = np.where(keep, np.exp(np.where(keep, totals, -np.inf)), 0.0).sum(axis=1)
            pruned += float(np.clip(parents - kept_mass, 0.0, None).sum())
            for row, token in zip(*np.nonzero(keep)):
                child = (block[row][0] + (int(token),), float(totals[row, token]))
                (finished if int(token) in eos else next_frontier).append(child)
        frontier = next_frontier
        if not frontier:
            break
    truncated = float(sum(math.exp(lp) for _, lp in frontier))
    texts = [tokenizer.decode(list(ids), skip_special_tokens=True) for ids, _ in finished]
    return Enumeration([ids for ids, _ in finished], texts, np.array([lp for _, lp in finished]), pruned,
                       truncated, expanded)
