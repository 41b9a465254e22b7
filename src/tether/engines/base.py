"""The engine protocol: requests in, completions out, and teacher-forced scoring.

A `Sampler` turns `Request`s (a prompt, how many samples, their seeds, decoding
parameters) into `Result`s, one per request, in any order, as they finish.
Sample ``i`` of a request uses seed ``request.seeds[i]``: the caller derives
seeds so that a sample's randomness does not depend on how requests are
batched. A `Scorer`'s `score` teacher-forces a completion and returns per-token
log-probs and entropies (used by diagnostics). An `Engine` is both.

An engine that generates in long batches may also report progress inside a
batch: if it has an ``on_batch`` attribute, `tether.sampling.sample` sets it to a
`BatchProgress` callback, which the engine calls as its batch advances with the
samples' worth of work done so far (rows x steps / max_tokens, an upper bound on
the time still needed) and the tokens generated so far, and with ``(0, 0)`` once
the batch is over (its results are then counted as they are yielded).

An engine that knows how many tokens its model holds, prompt and completion together, says so in a
``max_context`` attribute (transformers: the model's positions; vLLM: its max_model_len);
`tether.sampling` refuses a max_tokens beyond it before anything is written.

Engines know nothing of grading or of the store.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tether import defaults
from tether.errors import InputError
from tether.tasks.images import Image
from tether.tasks.task import Messages

SEED_BITS = 31  # llama.cpp takes uint32 seeds, others int64: 31 bits suit every server
# the meanings of options several engines share (`tether engines`; each engine's own are beside its parameters)
TEMPLATE = "Prompt rendering: auto (the model's chat template where it has one), chat or plain (docs/tasks.md)."
REVISION = "A hub branch, tag or commit of the model."


@dataclass(frozen=True)
class Decoding:
    """Sampling parameters shared by every request of a run."""

    temperature: float = defaults.TEMPERATURE
    top_p: float = defaults.TOP_P
    max_tokens: int = defaults.MAX_TOKENS
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p", "max_tokens"):
            problem = decoding_problem(name, getattr(self, name))
            if problem:
                raise InputError(f"{name} {problem}")

    def as_dict(self) -> dict:
        return {**asdict(self), "stop": list(self.stop)}


def decoding_problem(name: str, value: float) -> str | None:
    """What is wrong with a decoding setting's value, or None: the rules `Decoding` holds its settings to,
    stated once (the experiment schema checks each field of a file or a flag with them). The engine's own
    limit on max_tokens (its context) and this machine's are `tether.sampling.limits`'."""
    if name == "temperature" and not (math.isfinite(value) and value >= 0):
        return f"must be a finite number >= 0, got {value}"
    if name == "top_p" and not 0 < value <= 1:
        return f"must be in (0, 1], got {value}"
    if name == "max_tokens" and value < 1:
        return f"must be >= 1, got {value}"
    return None


@dataclass(frozen=True)
class Request:
    """`len(seeds)` samples of one prompt."""

    key: str
    prompt: str | Messages
    seeds: tuple[int, ...]
    decoding: Decoding
    images: tuple[Image, ...] = field(default=(), compare=False, repr=False)  # the bytes of the prompt's images

    @property
    def n(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int | None
    finish_reason: str
    seed: int


@dataclass(frozen=True)
class Result:
    """The completions of one request, or why there are none."""

    request: Request
    completions: list[Completion] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


BatchProgress = Callable[[float, int], None]  # (samples' worth of work, tokens) of the batch in flight


@dataclass(frozen=True)
class TokenScores:
    """Teacher-forced scores of one completion's tokens."""

    logprobs: np.ndarray
    entropies: np.ndarray
    exact_entropy: bool = True  # False when computed from a top-k approximation


@dataclass(frozen=True)
class SequenceScores:
    """One completion's tokens and their log-probabilities under a sampling distribution (temperature,
    top-p as the engine samples): -inf for a token outside the nucleus."""

    logprobs: np.ndarray
    tokens: tuple[str, ...]  # each token's text, for showing where two models part
    token_ids: tuple[int, ...]

    @property
    def total(self) -> float:
        return float(self.logprobs.sum()) if len(self.logprobs) else 0.0


@runtime_checkable
class Sampler(Protocol):
    """What sampling needs: prompts rendered as the model sees them, and completions."""

    name: str

    def render(self, prompt: str | Messages) -> str:
        """The exact text (or JSON of messages) the model is given for `prompt`."""

    def describe(self) -> dict:
        """What identifies this engine's output: backend, model, template; stored with a run."""

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        """One result per request, yielded as each finishes."""

    def close(self) -> None:
        """Release the model or connections."""


@runtime_checkable
class Scorer(Protocol):
    """What diagnostics need: teacher-forced scores of given completions."""

    name: str

    def render(self, prompt: str | Messages) -> str:
        """The exact text (or JSON of messages) the model is given for `prompt`."""

    def score(self, prompts: Sequence[str | Messages], completions: Sequence[str]) -> list[TokenScores]:
        """Per-token log-probs and entropies of each completion after its prompt."""

    def close(self) -> None:
        """Release the model or connections."""


@runtime_checkable
class SequenceScorer(Protocol):
    """What the cross-likelihood needs: a completion's probability under the engine's *sampling*
    distribution at given decoding settings (tempered, nucleus applied), token by token, with the
    end-of-sequence token scored where the completion stopped on it."""

    name: str

    def render(self, prompt: str | Messages) -> str:
        """The exact text (or JSON of messages) the model is given for `prompt`."""

    def sequence_scores(self, prompts: Sequence[str | Messages], completions: Sequence[str], decoding: Decoding,
                        ends: Sequence[bool]) -> list[SequenceScores]:
        """Each completion's token log-probabilities after its prompt; `ends[i]`: it ended with EOS."""


@runtime_checkable
class Engine(Sampler, Scorer, Protocol):
    """Both: what tether's engines provide. A backend that can only sample (a server without
    echoed log-probs) or only score may implement just `Sampler` or `Scorer`."""


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from any parts (run seed, task id, sample index ...), stable across platforms."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)
