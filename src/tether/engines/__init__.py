"""Sampling engines behind one small protocol (`Engine`): transformers, OpenAI-compatible servers, vLLM.

Backends are imported only when an engine is built, so `import tether.engines`
stays light.
"""

from __future__ import annotations

from tether.engines.base import Completion, Decoding, Engine, Request, Result, TokenScores, derive_seed
from tether.errors import InputError

ENGINES = ("hf", "vllm", "openai")

# The options each engine takes (beyond the model), as named on the CLI and in experiment files.
ENGINE_OPTIONS: dict[str, tuple[str, ...]] = {
    "hf": ("template", "batch_size", "device", "dtype"),
    "vllm": ("template", "dtype"),
    "openai": ("template", "base_url", "api", "api_key", "concurrency", "n_per_request", "tokenizer"),
}


def engine_options(kind: str, given: dict) -> dict:
    """The entries of `given` that engine `kind` takes, leaving out those that are None."""
    return {key: given[key] for key in ENGINE_OPTIONS.get(kind, ()) if given.get(key) is not None}


def make_engine(kind: str, model: str, **options) -> Engine:
    """An engine by its CLI name: ``hf`` (transformers), ``vllm`` (offline) or ``openai`` (a server)."""
    if kind == "hf":
        from tether.engines.transformers_engine import TransformersEngine

        return TransformersEngine(model, **options)
    if kind == "vllm":
        from tether.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model, **options)
    if kind == "openai":
        from tether.engines.openai_engine import OpenAICompatibleEngine

        if not options.get("base_url"):
            raise InputError("the openai engine needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        return OpenAICompatibleEngine(model, **options)
    raise InputError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "ENGINE_OPTIONS", "engine_options", "Completion", "Decoding", "Engine", "Request", "Result", "TokenScores", "derive_seed",
           "make_engine"]
