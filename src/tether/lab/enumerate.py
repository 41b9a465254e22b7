"""Exact enumeration of a causal LM's short completions: every one with probability >= a threshold.

A breadth-first search over the model's next-token distributions, one depth at
a time: every open prefix of a depth is fed its newest token in batched forward
passes that reuse the parent's key/value cache (all prefixes of a depth share
one length, so no padding). A child whose probability falls below the
threshold is pruned and its mass counted. A prefix still open after
`max_tokens` tokens is a completion too, cut by the length limit exactly as
the engine cuts it (finish reason "length"), so the enumeration covers the
distribution of what the engine returns at that `max_tokens`:

    enumerated mass + pruned mass = 1

up to floating point, and the enumerated mass says how exact the enumeration
is; `truncated_mass` is the part of it cut at the length limit.

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

    token_ids: list[tuple[int, ...]]  # ends with an EOS token, or is max_tokens long without one
    texts: list[str]
    logprobs: np.ndarray
    stopped: np.ndarray  # True where the completion ended with EOS, False where max_tokens cut it
    pruned_mass: float
    expanded: int  # prefixes whose next-token distribution was computed

    @property
    def truncated_mass(self) -> float:
        """Probability of the completions cut at max_tokens (part of `mass`)."""
        return float(np.exp(self.logprobs[~self.stopped]).sum()) if len(self.logprobs) else 0.0

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
                          temperature: float = 1.0, top_p: float = 1.0, chunk: int = 8192) -> Enumeration:
    """All completions of `prompt` (its exact text) with probability >= `threshold`.

    Each depth feeds only the newest token of every open prefix, reusing its
    parent's key/value cache (rows gathered by parent index), so a node costs one
    token of compute.
    """
    import torch

    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    eos = model.generation_config.eos_token_id or tokenizer.eos_token_id
    eos = set(eos) if isinstance(eos, (list, tuple)) else {int(eos)}
    log_threshold = math.log(threshold)
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
    logits, cache = out.logits[:, -1, :], _cache_tensors(out.past_key_values)
    prefixes: list[tuple[int, ...]] = [()]
    logps = np.zeros(1)
    finished: list[tuple[tuple[int, ...], float]] = []
    pruned, expanded = 0.0, 1
    for depth in range(max_tokens):
        totals = (torch.from_numpy(logps)[:, None] + step_logprobs(logits.cpu(), temperature, top_p)).numpy()
        keep = totals >= log_threshold
        kept_mass = np.where(keep, np.exp(np.where(keep, totals, -np.inf)), 0.0).sum(axis=1)
        pruned += float(np.clip(np.exp(logps) - kept_mass, 0.0, None).sum())
        rows, tokens = np.nonzero(keep)
        ends = np.isin(tokens, list(eos))
        finished += [(prefixes[r] + (int(t),), float(totals[r, t])) for r, t in zip(rows[ends], tokens[ends])]
        rows, tokens = rows[~ends], tokens[~ends]
        prefixes = [prefixes[r] + (int(t),) for r, t in zip(rows, tokens)]
        logps = totals[rows, tokens]
        if not prefixes or depth == max_tokens - 1:
            break
        logits, cache = _advance(model, cache, rows, tokens, chunk, device, keep_cache=depth < max_tokens - 2)
        expanded += len(prefixes)
    stopped = np.array([True] * len(finished) + [False] * len(prefixes))
    finished += list(zip(prefixes, (float(lp) for lp in logps)))
    decode = text_decoder(tokenizer)
    texts = [decode(ids) for ids, _ in finished]
    return Enumeration([ids for ids, _ in finished], texts, np.array([lp for _, lp in finished]), stopped,
                       pruned, expanded)


def text_decoder(tokenizer):
    """`tokenizer.decode(ids, skip_special_tokens=True)`, as a table lookup where that is the same.

    For a small vocabulary whose tokens decode independently (checked on every pair of tokens,
    as for the lab's character tokenizer), the text is the join of each token's own text, which is
    ~50x faster over the hundreds of thousands of completions an enumeration finds.
    """
    def decode(ids) -> str:
        return tokenizer.decode(list(ids), skip_special_tokens=True)

    size = len(tokenizer)
    if size > 64:
        return decode
    pieces = [decode([i]) for i in range(size)]
    if any(decode([a, b]) != pieces[a] + pieces[b] for a in range(size) for b in range(size)):
        return decode
    return lambda ids: "".join([pieces[i] for i in ids])


def _advance(model, cache: list[tuple], rows: np.ndarray, tokens: np.ndarray, chunk: int, device,
             keep_cache: bool = True):
    """Feed each child's last token after its parent's cache; the children's next logits and caches
    (no caches where `keep_cache` is False: the last depth needs only logits)."""
    import torch
    from transformers import DynamicCache

    all_logits, parts = [], []
    for start in range(0, len(rows), chunk):
        index = torch.from_numpy(rows[start : start + chunk]).to(device)
        past = DynamicCache()
        for layer, (keys, values) in enumerate(cache):
            past.update(keys.index_select(0, index), values.index_select(0, index), layer)
        step = torch.from_numpy(tokens[start : start + chunk]).to(device)[:, None]
        with torch.inference_mode():
            out = model(input_ids=step, past_key_values=past, use_cache=True)
        all_logits.append(out.logits[:, -1, :])
        if keep_cache:
            parts.append(_cache_tensors(out.past_key_values))
    if not keep_cache:
        return torch.cat(all_logits), []
    merged = [(torch.cat([p[layer][0] for p in parts]), torch.cat([p[layer][1] for p in parts]))
              for layer in range(len(parts[0]))]
    return torch.cat(all_logits), merged


def _cache_tensors(cache) -> list[tuple]:
    """(keys, values) per layer of a transformers cache, across the 4.x and 5.x layouts."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))
