"""Sampling engines behind one small protocol (`Engine`), found by name in a lazy registry.

`ENGINES` maps each engine's name to ``"module:Class"``; the module is imported only when that
engine is asked for, and its heavy libraries (torch, vllm) only when it is built. Words: `engine`
is the registry name (``vllm``), an `Engine` the built object, an `EngineSpec` its recipe.

An engine's options are its constructor's keyword parameters, each with its type, default, checks
and meaning (``Annotated[int, Field(ge=1, description=...)] = 32``): `options_model(engine)` turns
them into one pydantic schema, which validates experiment files and the command line's
``-o KEY=VALUE`` alike, and `option_listing(engine)` lists them (`tether engines`), so an option is
declared once, in the engine. Adding an engine is one registry entry.
"""

from __future__ import annotations

import importlib
import inspect
import types
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


def engine_name(engine: str) -> str:
    """The registry name of `engine`; a deprecated name (``hf``) is mapped, with a warning."""
    if engine in DEPRECATED_NAMES:
        name = DEPRECATED_NAMES[engine]
        warnings.warn(f"engine name {engine!r} is deprecated; use {name!r}", DeprecationWarning, stacklevel=3)
        return name
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def engine_class(engine: str) -> type:
    """The class of engine `engine`, imported on first use."""
    module, _, name = ENGINES[engine_name(engine)].partition(":")
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


def options_model(engine: str):
    """The pydantic schema of engine `engine`'s options (its constructor's parameters after the model)."""
    return _options_model(engine_name(engine))


def engine_options(engine: str, given: dict) -> dict:
    """The entries of `given` that engine `engine` takes, leaving out those that are None."""
    names = options_model(engine).model_fields
    return {key: value for key, value in given.items() if key in names and value is not None}


@dataclass(frozen=True)
class EngineOption:
    """One option of an engine, as `tether engines` lists it: declared once, in the engine's constructor
    (its type, default, checks and meaning: ``Annotated[int, Field(ge=1, description=...)] = 32``)."""

    name: str
    type: str
    default: object  # None where the option has no default (`required`)
    required: bool
    meaning: str
    env: str | None = None  # an environment variable the option is read from when not given

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "default": self.default, "required": self.required,
                "meaning": self.meaning, "env": self.env}


def option_listing(engine: str) -> list[EngineOption]:
    """Engine `engine`'s options, in the constructor's order, with their meanings."""
    listed = []
    for name, info in options_model(engine).model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        listed.append(EngineOption(name, _type_name(info.annotation), None if info.is_required() else info.default,
                                   info.is_required(), info.description or "", extra.get("env")))
    return listed


def engine_summary(engine: str) -> str:
    """The first line of engine `engine`'s class docstring: what it runs on."""
    return (inspect.getdoc(engine_class(engine)) or "").split("\n", 1)[0]


def options_from_env(engine: str) -> dict:
    """The options of engine `engine` that its environment gives (``OPENAI_API_KEY`` for openai's api_key): read
    where the run is assembled, so that a worker elsewhere (a Ray actor) is handed them."""
    import os

    return {o.name: os.environ[o.env] for o in option_listing(engine) if o.env and os.environ.get(o.env)}


def _type_name(annotation) -> str:
    """A type as a person writes it: ``int``, ``str | None``."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    arguments = typing.get_args(annotation)
    if arguments and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " | ".join(_type_name(argument) for argument in arguments)
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def parse_engine_options(engine: str, items: list[str] | tuple[str, ...]) -> dict:
    """Engine options from ``KEY=VALUE`` texts (the command line's ``-o``), each value converted to its type by
    the engine's own options schema; a malformed item, an unknown key or a bad value is one `InputError` line."""
    import difflib

    from pydantic import ValidationError

    schema = options_model(engine)
    given: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"-o {item!r}: expected KEY=VALUE, e.g. -o batch_size=16")
        if key not in schema.model_fields:
            close = difflib.get_close_matches(key, list(schema.model_fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"-o {key}: not an option of engine {engine_name(engine)!r}{hint} "
                             f"(its options: {', '.join(schema.model_fields)}; `tether engines {engine_name(engine)}`)")
        given[key] = value
    required = [name for name, field in schema.model_fields.items() if field.is_required() and name not in given]
    probe = dict.fromkeys(required, "") | given  # required options are checked where the run is assembled
    try:
        checked = schema.model_validate(probe)
    except ValidationError as exc:
        raise InputError(f"engine {engine_name(engine)!r} -o {describe_error(exc)}") from None
    return {key: getattr(checked, key) for key in given}


def make_engine(engine: str, model: str, **options) -> Engine:
    """An engine by name (``transformers``, ``vllm`` or ``openai``) with its options, checked first."""
    from pydantic import ValidationError

    schema = options_model(engine)
    try:
        checked = schema.model_validate(options)
    except ValidationError as exc:
        raise InputError(f"engine {engine_name(engine)!r}: {describe_error(exc)}") from None
    return engine_class(engine)(model, **{key: getattr(checked, key) for key in checked.model_fields_set})


def describe_error(exc) -> str:
    """The first problem of a pydantic ValidationError, as ``field: message``."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    if first["type"] == "missing":
        return f"needs {where}"
    return f"{where}: {first['msg']}" if where else first["msg"]


@dataclass(frozen=True)
class EngineSpec:
    """The recipe of an engine: `make_engine(engine, model, **options)`, which a worker builds (engines themselves
    do not pickle). `engine` is the registry name."""

    engine: str
    model: str
    options: dict = field(default_factory=dict)

    def build(self) -> Engine:
        return make_engine(self.engine, self.model, **self.options)


__all__ = [
    "DEPRECATED_NAMES",
    "ENGINE",
    "ENGINES",
    "Completion",
    "Decoding",
    "Engine",
    "EngineOption",
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
    "engine_summary",
    "make_engine",
    "option_listing",
    "options_from_env",
    "options_model",
    "parse_engine_options",
]
