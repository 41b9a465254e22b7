"""Sampling engines behind one small protocol (`Engine`), found by name in a lazy registry.

`ENGINES` maps each engine's name to ``"module:Class"``; the module is imported only when that
engine is asked for, and its heavy libraries (torch, vllm) only when it is built. An engine's
options are its constructor's keyword parameters: `options_model(kind)` turns them into one
pydantic schema, which validates experiment files and filters CLI flags alike, so an option and
its default are declared once, in the engine. Adding an engine is one registry entry.
"""

from __future__ import annotations

import importlib
import inspect
import typing
import warnings
from dataclasses import dataclass, field
from functools import cache

from tether.defaults import ENGINE
from tether.engines.base import (
    Completion,
    Decoding,
    Engine,
    Request,
    Result,
    Sampler,
    Scorer,
    SequenceScorer,
    SequenceScores,
    TokenScores,
    derive_seed,
)
from tether.errors import InputError

ENGINES: dict[str, str] = {
    "transformers": "tether.engines.transformers_engine:TransformersEngine",
    "vllm": "tether.engines.vllm_engine:VLLMEngine",
    "openai": "tether.engines.openai_engine:OpenAICompatibleEngine",
}
DEPRECATED_NAMES = {"hf": "transformers"}


def engine_name(kind: str) -> str:
    """The registry name of `kind`; a deprecated name (``hf``) is mapped, with a warning."""
    if kind in DEPRECATED_NAMES:
        name = DEPRECATED_NAMES[kind]
        warnings.warn(f"engine name {kind!r} is deprecated; use {name!r}", DeprecationWarning, stacklevel=3)
        return name
    if kind not in ENGINES:
        raise InputError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
    return kind


def engine_class(kind: str) -> type:
    """The class of engine `kind`, imported on first use."""
    module, _, name = ENGINES[engine_name(kind)].partition(":")
    return getattr(importlib.import_module(module), name)


@cache
def _options_model(name: str):
    from pydantic import ConfigDict, create_model

    cls = engine_class(name)
    hints = typing.get_type_hints(cls.__init__, include_extras=True)  # Annotated[int, Field(ge=1)] checks
    fields = {}
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[2:]:  # after self and model
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, typing.Any), default)
    return create_model(f"{cls.__name__}Options", __config__=ConfigDict(extra="forbid"), **fields)


def options_model(kind: str):
    """The pydantic schema of engine `kind`'s options (its constructor's parameters after the model)."""
    return _options_model(engine_name(kind))


def engine_options(kind: str, given: dict) -> dict:
    """The entries of `given` that engine `kind` takes, leaving out those that are None."""
    names = options_model(kind).model_fields
    return {key: value for key, value in given.items() if key in names and value is not None}


def parse_engine_options(kind: str, items: list[str] | tuple[str, ...]) -> dict:
    """Engine options from ``KEY=VALUE`` texts (the command line's ``-o``), each value converted to its type by
    the engine's own options schema; a malformed item, an unknown key or a bad value is one `InputError` line."""
    import difflib

    from pydantic import ValidationError

    schema = options_model(kind)
    given: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"-o {item!r}: expected KEY=VALUE, e.g. -o batch_size=16")
        if key not in schema.model_fields:
            close = difflib.get_close_matches(key, list(schema.model_fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"-o {key}: not an option of engine {engine_name(kind)!r}{hint} "
                             f"(its options: {', '.join(schema.model_fields)}; `tether engines {engine_name(kind)}`)")
        given[key] = value
    required = [name for name, field in schema.model_fields.items() if field.is_required() and name not in given]
    probe = dict.fromkeys(required, "") | given  # required options are checked where the run is assembled
    try:
        checked = schema.model_validate(probe)
    except ValidationError as exc:
        raise InputError(f"engine {engine_name(kind)!r} -o {describe_error(exc)}") from None
    return {key: getattr(checked, key) for key in given}


def make_engine(kind: str, model: str, **options) -> Engine:
    """An engine by name (``transformers``, ``vllm`` or ``openai``) with its options, checked first."""
    from pydantic import ValidationError

    schema = options_model(kind)
    try:
        checked = schema.model_validate(options)
    except ValidationError as exc:
        raise InputError(f"engine {engine_name(kind)!r}: {describe_error(exc)}") from None
    return engine_class(kind)(model, **{key: getattr(checked, key) for key in checked.model_fields_set})


def describe_error(exc) -> str:
    """The first problem of a pydantic ValidationError, as ``field: message``."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    if first["type"] == "missing":
        return f"needs {where}"
    return f"{where}: {first['msg']}" if where else first["msg"]


@dataclass(frozen=True)
class EngineSpec:
    """How a worker builds its engine: `make_engine(kind, model, **options)` (engines themselves do not pickle)."""

    kind: str
    model: str
    options: dict = field(default_factory=dict)

    def build(self) -> Engine:
        return make_engine(self.kind, self.model, **self.options)


__all__ = [
    "DEPRECATED_NAMES",
    "ENGINE",
    "ENGINES",
    "Completion",
    "Decoding",
    "Engine",
    "EngineSpec",
    "Request",
    "Result",
    "Sampler",
    "Scorer",
    "SequenceScorer",
    "SequenceScores",
    "TokenScores",
    "derive_seed",
    "engine_class",
    "engine_name",
    "engine_options",
    "make_engine",
    "options_model",
    "parse_engine_options",
]
