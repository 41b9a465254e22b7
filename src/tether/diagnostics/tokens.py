"""Token-level entropy of stored samples, and perplexity on reference traces, by teacher forcing.

Both feed text back through a model with the engine's `score` method (SPEC section 4):

- **Token entropy**: each stored completion after its task's prompt (rendered by the engine as
  when sampling); at every generated position the entropy (nats) of the full next-token
  distribution; averaged over the positions of a sample, then over samples. Where the engine
  sees only the top-k log-probs of each position (an OpenAI-compatible server, vLLM's prompt
  log-probs), the entropy is -sum p log p over those k tokens, an approximation the result
  states (`exact = False`).
- **Perplexity on reference traces**: solutions written by someone else (another model, a
  human), given as JSONL lines ``{"task_id": ..., "trace": ...}``; per-token perplexity
  exp(total negative log-likelihood / total tokens) of each model on them, over all traces and
  per support region (P/S/E/O) of the trace's task.

Completions are re-tokenised from their text, so a completion whose sampled tokens differ from
the tokeniser's own split of the text is scored on the latter (the usual convention).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tether.diagnostics.answers import ALL
from tether.engines.base import Scorer, TokenScores
from tether.errors import InputError
from tether.store import Store
from tether.store.images import lend_images
from tether.store.query import completions_with_benchmark, sample_counts, stored_prompts

Progress = Callable[[int], None]


@dataclass(frozen=True)
class TokenEntropy:
    label: str
    benchmark: str
    value: float  # nats: mean over samples of each sample's mean over its positions
    samples: int
    tokens: int
    k: int  # samples per task used: min(k asked, samples per task)
    exact: bool  # False when computed from a server's top-k log-probs


@dataclass(frozen=True)
class Trace:
    task_id: str
    trace: str


@dataclass(frozen=True)
class Perplexity:
    label: str
    group: str  # "all" or a support region P/S/E/O
    value: float  # exp(total NLL / total tokens)
    traces: int
    tokens: int


def token_entropy(store: Store, label: str, engine: Scorer, *, k: int = 32, batch: int = 16,
                  on_start: Progress | None = None, on_progress: Progress | None = None) -> dict[str, TokenEntropy]:
    """Token entropy of one model's first k stored samples per task, per benchmark and over all."""
    rows = _stored_completions(store, label, k)
    if on_start:
        on_start(len(rows))
    scores = _scored(engine, [r[2] for r in rows], [r[3] for r in rows], batch, on_progress, store)
    per_sample = np.array([float(s.entropies.mean()) if len(s.entropies) else np.nan for s in scores])
    lengths = np.array([len(s.entropies) for s in scores])
    exact = all(s.exact_entropy for s in scores)
    benchmarks = np.array([r[1] for r in rows], dtype=object)
    groups = {ALL: np.ones(len(rows), dtype=bool)}
    for name in sorted(set(benchmarks)):
        groups[name] = benchmarks == name
    used = min(k, max(sample_counts(store, label).values(), default=k))  # the k used: 16 of 32 asked with 16 samples
    return {name: _entropy_of(label, name, per_sample[mask], lengths[mask], used, exact)
            for name, mask in groups.items()}


def read_traces(path: str | Path) -> list[Trace]:
    """Reference traces from a JSONL (or .jsonl.gz) file of {"task_id", "trace"} objects; errors name file:line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file of reference traces")
    from tether.tasks.loaders import numbered_jsonl

    traces = []
    for number, item in numbered_jsonl(path):
        if not isinstance(item.get("task_id"), str) or not isinstance(item.get("trace"), str) or not item["trace"]:
            raise InputError(f"{path}:{number}: expected an object with string fields task_id and trace")
        traces.append(Trace(item["task_id"], item["trace"]))
    if not traces:
        raise InputError(f"{path}: no reference traces")
    return traces


def trace_perplexity(store: Store, label: str, engine: Scorer, traces: Sequence[Trace],
                     regions: Mapping[str, str], *, batch: int = 16, on_start: Progress | None = None,
                     on_progress: Progress | None = None) -> dict[str, Perplexity]:
    """Per-token perplexity of one model on the traces: over all, and per region of their tasks."""
    prompts = stored_prompts(store, label)
    missing = sorted({t.task_id for t in traces} - set(prompts))
    if missing:
        raise InputError(f"{len(missing)} reference traces name tasks that {label!r} has not in {store.root}, "
                         f"e.g. {missing[0]!r}")
    if on_start:
        on_start(len(traces))
    scores = _scored(engine, [prompts[t.task_id] for t in traces], [t.trace for t in traces], batch, on_progress,
                     store)
    nll = np.array([-float(s.logprobs.sum()) for s in scores])
    tokens = np.array([len(s.logprobs) for s in scores])
    group_of = np.array([regions.get(t.task_id, "?") for t in traces], dtype=object)
    groups = {ALL: np.ones(len(traces), dtype=bool)}
    for region in ("P", "S", "E", "O"):
        if (group_of == region).any():
            groups[region] = group_of == region
    return {name: Perplexity(label, name, perplexity(nll[mask].sum(), tokens[mask].sum()), int(mask.sum()),
                             int(tokens[mask].sum())) for name, mask in groups.items()}


def perplexity(total_nll: float, total_tokens: int) -> float:
    """exp(total negative log-likelihood / total tokens); NaN with no tokens."""
    return float(np.exp(total_nll / total_tokens)) if total_tokens > 0 else float("nan")


def _stored_completions(store: Store, label: str, k: int) -> list[tuple[str, str, object, str]]:
    """(task id, benchmark, prompt, completion) of the first k samples per task that have a completion."""
    rows = completions_with_benchmark(store, label, k)
    prompts = stored_prompts(store, label)
    if not rows:
        raise InputError(f"{store.root}: no stored completions of {label!r} to score")
    return [(task_id, benchmark, prompts[task_id], completion) for task_id, benchmark, completion in rows]


def _scored(engine: Scorer, prompts: list, texts: list[str], batch: int, on_progress: Progress | None,
            store: Store | None = None) -> list[TokenScores]:
    if store is not None:
        lend_images(engine, store)  # prompts with images name them; the engine reads them from the store
    scores: list[TokenScores] = []
    for start in range(0, len(texts), batch):
        scores += engine.score(prompts[start : start + batch], texts[start : start + batch])
        if on_progress:
            on_progress(min(batch, len(texts) - start))
    return scores


def _entropy_of(label: str, benchmark: str, per_sample: np.ndarray, lengths: np.ndarray, k: int,
                exact: bool) -> TokenEntropy:
    scored = lengths > 0
    value = float(per_sample[scored].mean()) if scored.any() else float("nan")
    return TokenEntropy(label, benchmark, value, int(scored.sum()), int(lengths.sum()), k, exact)


__all__ = ["Perplexity", "Trace", "TokenEntropy", "perplexity", "read_traces", "stored_prompts", "token_entropy",
           "trace_perplexity"]
