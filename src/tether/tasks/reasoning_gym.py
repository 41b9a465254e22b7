"""Reasoning Gym tasks, generated offline by the `reasoning_gym` package.

A spec names a dataset and, after ``?``, tether's ``size`` and ``seed`` and any of the dataset's own
config options (``reasoning-gym:chain_sum?size=50&max_terms=2``): each is checked against the
dataset's config class (its fields and their types) and passed to ``create_dataset(name, size=,
seed=, **options)``. Options given are part of the tasks' identity: the benchmark and the task
ids carry them (``chain_sum?max_terms=2/42/0``), so two option sets never share a task id.

Each task keeps the dataset's full entry (question, answer, metadata) in its reference, plus
(dataset, size, seed, options, index) so a grader can regenerate the exact entry (`create`) and
call the dataset's own ``score_answer`` on it. The prompt is Reasoning Gym's default system
prompt (answer inside ``<answer>`` tags) and the question as the user message. Options of a type
a query string cannot spell (dates, nested configs) are refused, not guessed.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import typing
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from tether.errors import InputError
from tether.tasks.task import Task

VERIFIER = "reasoning_gym"
PREFIX = "reasoning-gym:"
OWN = ("size", "seed")  # tether's query keys; every other key is a dataset option
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclasses.dataclass(frozen=True)
class Spec:
    """A parsed ``reasoning-gym:`` spec: the dataset, how many tasks from which seed, its options as given."""

    name: str
    size: int = 100
    seed: int = 42
    options: tuple[tuple[str, str], ...] = ()  # (key, canonical value), sorted; typed by `typed_options`

    @property
    def query(self) -> str:
        """The options as the task ids and benchmark carry them ("max_terms=2&min_terms=2"); "" for none."""
        return "&".join(f"{key}={value}" for key, value in self.options)

    @property
    def family(self) -> str:
        """The dataset with its options: what the task ids start with ("chain_sum?max_terms=2")."""
        return f"{self.name}?{self.query}" if self.options else self.name


def parse(spec: str) -> Spec:
    """A ``reasoning-gym:<dataset>?size=&seed=&<option>=…`` spec, checked: the dataset exists (else a did-you-mean),
    size and seed are integers, every other key is one of the dataset's config options with a value of its type.
    Without the package installed, only size and seed are checked (generating says what to install)."""
    parts = urlsplit(spec.removeprefix(PREFIX))
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    try:
        size, seed = int(query.pop("size", 100)), int(query.pop("seed", 42))
    except ValueError:
        raise InputError(f"{spec}: size and seed must be integers") from None
    if size < 1:
        raise InputError(f"{spec}: size must be >= 1")
    datasets = _datasets()
    if datasets is None:
        if query:
            raise InputError(f"{spec}: dataset options need the `reasoning-gym` package: pip install 'tether[tasks]'")
        return Spec(parts.path, size, seed)
    check_name(spec, parts.path, datasets)
    config = datasets[parts.path][1]
    typed = typed_options(spec, parts.path, config, query)
    _validated(spec, config, typed, size, seed)
    return Spec(parts.path, size, seed, tuple(sorted((key, _canonical(value)) for key, value in typed.items())))


def check_name(spec: str, name: str, datasets: dict | None = None) -> None:
    """A dataset Reasoning Gym does not have is one line, with the names nearest to it."""
    datasets = _datasets() if datasets is None else datasets
    if datasets is None or name in datasets:
        return
    near = difflib.get_close_matches(name, sorted(datasets), n=5, cutoff=0.6)
    first = name.split("_")[0]
    near += [known for known in sorted(datasets) if len(first) >= 3 and known.startswith(first) and known not in near]
    raise InputError(f"{spec}: no Reasoning Gym dataset {name!r}" + (f"; did you mean {', '.join(near[:5])}?"
                                                                      if near else ""))


def typed_options(spec: str, name: str, config: type, given: dict[str, str]) -> dict[str, object]:
    """`given` (query strings) as the values of `config`'s fields; an unknown key or a value of the wrong type is
    one line naming the dataset's options."""
    hints = typing.get_type_hints(config)
    fields = [f.name for f in dataclasses.fields(config) if f.name not in OWN]
    typed = {}
    for key, text in given.items():
        if key not in fields:
            raise InputError(f"{spec}: unknown option {key!r} for {name}; its options: {', '.join(fields)} "
                             "(and size=, seed=)")
        try:
            typed[key] = _typed(text, hints[key])
        except (ValueError, KeyError):
            raise InputError(f"{spec}: {key} must be {_described(hints[key])}, got {text!r}") from None
        except TypeError:
            raise InputError(f"{spec}: {name}'s option {key} is a {getattr(hints[key], '__name__', hints[key])}, "
                             "which a spec cannot give") from None
    return typed


def _validated(spec: str, config: type, typed: dict, size: int, seed: int) -> None:
    """The dataset config's own checks (max_terms >= min_terms, ...), before anything is generated."""
    try:
        made = config(**typed, size=size, seed=seed)
        if hasattr(made, "validate"):
            made.validate()
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{spec}: Reasoning Gym refuses these options: {exc}") from None


def create(name: str, size: int, seed: int, options: Sequence[tuple[str, str]] | dict = ()):
    """Reasoning Gym's dataset `name` with `options` (canonical strings, as a task's reference keeps them)."""
    import reasoning_gym

    given = dict(options)
    spec = f"{PREFIX}{name}" + (f"?{'&'.join(f'{k}={v}' for k, v in given.items())}" if given else "")
    check_name(spec, name)
    typed = typed_options(spec, name, reasoning_gym.factory.DATASETS[name][1], given) if given else {}
    try:
        return reasoning_gym.create_dataset(name, size=size, seed=seed, **typed)
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{spec}: Reasoning Gym refuses these options: {exc}") from None


def generate(spec: Spec | str, size: int = 100, seed: int = 42) -> list[Task]:
    """`spec.size` tasks of its dataset, generated with its seed and options (or `size` tasks of dataset `spec`
    with `seed`, no options)."""
    spec = spec if isinstance(spec, Spec) else Spec(spec, size, seed)
    try:
        from reasoning_gym.utils import SYSTEM_PROMPTS
    except ImportError:
        raise InputError("Reasoning Gym tasks need the `reasoning-gym` package: pip install 'tether[tasks]'") from None
    if spec.size < 1:
        raise InputError(f"{PREFIX}{spec.name}: size must be >= 1")
    dataset = create(spec.name, spec.size, spec.seed, spec.options)
    system = SYSTEM_PROMPTS["default"]
    tasks = []
    for index in range(spec.size):
        entry = json.loads(json.dumps(dataset[index], default=str))
        reference = {"dataset": spec.name, "size": spec.size, "seed": spec.seed, "index": index,
                     "answer": entry.get("answer"), "entry": entry}
        if spec.options:
            reference["options"] = dict(spec.options)
        prompt = [{"role": "system", "content": system}, {"role": "user", "content": entry["question"]}]
        tasks.append(Task(f"{spec.family}/{spec.seed}/{index}", f"reasoning-gym/{spec.family}", prompt, reference,
                          VERIFIER))
    return tasks


def _datasets() -> dict | None:
    try:
        from reasoning_gym.factory import DATASETS
    except ImportError:
        return None
    return DATASETS


def _typed(text: str, kind) -> object:
    """`text` as a value of type `kind`; ValueError (or KeyError) where it is not one."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union:  # Optional[X]
        inner = [a for a in args if a is not type(None)]
        if text.lower() in ("none", "null", "") and len(inner) < len(args):
            return None
        if len(inner) == 1:
            return _typed(text, inner[0])
        raise ValueError(text)
    if origin is typing.Literal:
        if text not in [str(a) for a in args]:
            raise ValueError(text)
        return next(a for a in args if str(a) == text)
    if kind in (list, tuple) or origin in (list, tuple, Sequence):
        items = [_typed(part.strip(), args[0] if args and args[0] is not Ellipsis else str)
                 for part in text.split(",") if part.strip()]
        return tuple(items) if kind is tuple or origin is tuple else items
    if kind is bool:
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(text)
        return text.lower() in _TRUE
    if kind in (int, float, str):
        return kind(text)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        by_value = {str(member.value): member for member in kind}
        return by_value[text] if text in by_value else kind[text.upper()]
    raise TypeError(kind)  # dates, nested configs: not spelled in a query string


def _described(kind) -> str:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return f"{_described(inner[0])} or none" if len(inner) == 1 else "a value a spec cannot give"
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if kind in (list, tuple) or origin in (list, tuple, Sequence):
        item = args[0] if args and args[0] is not Ellipsis else str
        return f"a comma-separated list of {_described(item).removeprefix('an ').removeprefix('a ')}s"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(str(member.value) for member in kind)
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(kind, "another type")


def _canonical(value: object) -> str:
    """One spelling per value ("02" and "2" are one option set)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return ",".join(_canonical(item) for item in value)
    return "none" if value is None else str(value)
