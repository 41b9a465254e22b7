"""The experiment file's schema: one TOML file describing a whole comparison, validated up front.

Unknown keys, wrong types and missing fields are reported with their place in
the file. Defaults are those of `tether.defaults` and of each engine's own
options, declared once; a run's settings are checked by their owner's rules
(`tether.sampling.limits`: finite temperature, k and max_tokens within what the
store, the memory and the engine hold), here as for `tether sample`'s flags.
Paths (``store``, the tasks, the report) are never empty: an empty one would be the
file's own folder. See docs/experiment.md.
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from tether import defaults

if TYPE_CHECKING:
    from tether.grading import GradeOptions
from tether.errors import InputError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # k = "2" or temperature = true: errors


Place = Annotated[str, StringConstraints(pattern=r"\S")]  # a path or spec: not empty, not only spaces


def _owned(value, info):
    """A run setting checked by its owner's rule (`tether.sampling.limits.setting_problem`)."""
    from tether.sampling.limits import setting_problem

    problem = None if value is None else setting_problem(info.field_name, value)
    if problem:
        raise ValueError(problem)
    return value


def _known_verifier(name: str | None) -> str | None:
    from tether.grading.registry import VERIFIERS

    if name is not None and name != "auto" and name not in VERIFIERS:
        raise ValueError(f"unknown verifier {name!r}; known: auto, {', '.join(VERIFIERS)}")
    return name


class TasksSection(_Strict):
    spec: Place
    data_dir: Place | None = None
    columns: str | None = None
    template: str | None = None
    verifier: str | None = None
    limit: int | None = Field(default=None, ge=1)

    _verifier = field_validator("verifier")(_known_verifier)


class SamplingSection(_Strict):
    k: int
    temperature: float = defaults.TEMPERATURE
    top_p: float = defaults.TOP_P
    max_tokens: int = defaults.MAX_TOKENS
    stop: list[str] = Field(default_factory=list)
    seed: int = 0
    task_block: int = defaults.TASK_BLOCK
    sample_block: int = defaults.SAMPLE_BLOCK
    ray: str | None = None  # "local", "auto" or a cluster address: sample on Ray (docs/cluster.md)
    workers: int = Field(default=defaults.WORKERS, ge=1)  # with ray: engine workers (actors), each with its engine
    ray_gpus: float = Field(default=0.0, ge=0)
    adaptive: bool = False  # rounds, stopped once settled (docs/adaptive.md)
    adaptive_first: int | None = Field(default=None, ge=1)  # default: 16 (pass@k rule), 8 (regions rule)
    adaptive_growth: int = Field(default=defaults.ADAPTIVE_GROWTH, ge=2)
    adaptive_tol: float = Field(default=defaults.ADAPTIVE_TOL, gt=0, lt=0.5)
    adaptive_rule: Literal["passk", "regions"] | None = None  # regions: stop at the first success (implies adaptive)

    _settings = field_validator("k", "temperature", "top_p", "max_tokens", "task_block", "sample_block")(_owned)

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data):
        return _renamed(data, "ray_workers", "workers", "sampling.")

    @model_validator(mode="after")
    def _fits(self):
        """The run's size within what the store's names and this machine's memory hold (`SamplingConfig` refuses
        it otherwise, as an InputError: a ValueError, reported here as this section's)."""
        self.config()
        return self

    def rule(self):
        """The `tether.metrics.adaptive.AdaptiveRule` these settings describe (None: a full run)."""
        from tether.metrics.adaptive import REGIONS_FIRST, AdaptiveRule, regions_rule

        if not (self.adaptive or self.adaptive_rule):
            return None
        if self.adaptive_rule == "regions":
            return regions_rule(self.adaptive_first or REGIONS_FIRST, self.adaptive_growth)
        return AdaptiveRule(self.adaptive_first or AdaptiveRule.first, self.adaptive_growth, self.adaptive_tol)

    def config(self):
        """The `tether.sampling.SamplingConfig` these settings describe."""
        from tether.engines import Decoding
        from tether.sampling import SamplingConfig

        decoding = Decoding(self.temperature, self.top_p, self.max_tokens, tuple(self.stop))
        return SamplingConfig(self.k, decoding, self.seed, self.task_block, self.sample_block)


class ModelSection(BaseModel):
    """A model and its engine; every other key is an option of that engine (its constructor's
    keyword parameters, checked against `tether.engines.options_model`)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    model: str
    engine: str = defaults.ENGINE
    temperature: float | None = None  # this model's own decoding, over [sampling]'s
    top_p: float | None = None
    seed: int | None = None
    base: str | None = None  # the label this model is compared with (default: base); see Experiment.base_of
    run: Place | None = None  # with step: this model is that training run's checkpoint (recorded in the manifest)
    step: int | None = Field(default=None, ge=0)

    _settings = field_validator("temperature", "top_p")(_owned)

    @model_validator(mode="after")
    def _checkpoint(self):
        if (self.run is None) != (self.step is None):
            raise ValueError("give run and step together: this model is the checkpoint of training run `run` "
                             "saved at `step` (e.g. run = \"dapo\", step = 30)")
        return self

    @model_validator(mode="after")
    def _engine_and_options(self):
        from tether.engines import describe_error, engine_name, options_model

        try:
            schema = options_model(self.engine)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        try:
            schema.model_validate(self.model_extra or {})
        except ValidationError as exc:
            raise ValueError(f"engine {engine_name(self.engine)!r} {describe_error(exc)}") from None
        return self

    def engine_options(self) -> dict:
        """The engine's options as given (in the file, or as `-o KEY=VALUE`), over those its environment gives
        (`tether.engines.options_from_env`: the openai engine's api_key from OPENAI_API_KEY)."""
        from tether.engines import options_from_env

        return {**options_from_env(self.engine), **(self.model_extra or {})}

    def sampling(self, shared):
        """`shared` (the [sampling] `SamplingConfig`) with this model's temperature, top_p and seed where given.
        A training run's checkpoint (`run`, `step`) without a seed of its own samples with run seed ``seed +
        step``, as `tether.integrations.trl` does: checkpoints draw independently of each other, as the chance
        levels assume (with one seed, near-identical checkpoints draw near-identical samples, hiding S and E)."""
        import dataclasses

        decoding = dataclasses.replace(shared.decoding, **{k: v for k, v in (("temperature", self.temperature),
                                                                              ("top_p", self.top_p)) if v is not None})
        seed = self.seed if self.seed is not None else shared.seed + (self.step or 0)
        return dataclasses.replace(shared, decoding=decoding, seed=seed)


def _verdict_sets(value: str | list[str]) -> str | list[str]:
    """``"auto,exact"`` or ``["auto", "exact"]``: at least one name, each known (`GradingSection.sets`)."""
    names = _set_names(value)
    if not names:
        raise ValueError("name at least one verifier, e.g. \"auto\" or [\"auto\", \"exact\", \"math\"]")
    for name in names:
        _known_verifier(name)
    return value


def _set_names(value: str | list[str]) -> tuple[str, ...]:
    parts = value.split(",") if isinstance(value, str) else value
    return tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))


class GradingSection(_Strict):
    verifier: str | list[str] = "auto"  # several (a list or "auto,exact"): a verdict set each, the first counts
    workers: int = Field(default=defaults.WORKERS, ge=1)  # verifier processes (or Ray actors with `tether grade --ray`)
    timeout: int = Field(default=defaults.MATH_TIMEOUT, ge=1)  # math: whole seconds; the deadline follows it
    strict: bool = False  # math: no full-text fallback (docs/grading.md)
    extraction: Literal["fair", "strict"] = "fair"  # reasoning_gym: fair cascade or Reasoning Gym's own tags
    unsafe_local_exec: bool = False  # code: resource limits only where bubblewrap cannot isolate programs (docs/code.md)
    correct_threshold: float = Field(default=1.0, gt=0, le=1)  # livebench: the score from which a verdict is correct

    _verifier = field_validator("verifier")(_verdict_sets)

    @property
    def sets(self) -> tuple[str, ...]:
        """The verdict sets to grade, the one counts use first (docs/grading.md, "Several verifiers")."""
        return _set_names(self.verifier)

    def options(self) -> GradeOptions:
        """The `tether.grading.GradeOptions` these settings describe (a file's and `tether grade`'s flags alike:
        the answer deadline follows `timeout` by `tether.grading.answer_deadline`)."""
        from tether.grading import GradeOptions, answer_deadline

        first, *also = self.sets
        return GradeOptions(first, self.workers, strict=self.strict, also=tuple(also),
                            deadline=answer_deadline(self.timeout),
                            verifier_options={"math": {"timeout_seconds": self.timeout},
                                              "reasoning_gym": {"extraction": self.extraction},
                                              "code": {"unsafe_local_exec": self.unsafe_local_exec},
                                              "livebench": {"correct_threshold": self.correct_threshold}})


class CompareSection(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    k_grid: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, min_length=1)
    self_label: str | None = Field(default=None, alias="self")  # a label compared against itself (docs/compare.md)
    # the defaults are `tether.compare.CompareOptions`' (their owner, through `tether.defaults`, which the CLI's
    # help reads without loading the comparison); the ranges are checked here, for files and flags alike
    bootstrap_reps: int = Field(default=defaults.BOOTSTRAP_REPS, ge=10)
    confidence: float = Field(default=defaults.CONFIDENCE, ge=0.5, lt=1)
    alpha: float = Field(default=defaults.ALPHA, ge=0, le=1)
    seed: int = 0
    match_budget: bool = True
    extrapolate: int = Field(default=defaults.EXTRAPOLATE, ge=0, le=12)
    allow_missing: bool = False  # drop tasks only one model has, with a warning naming them (else refused)
    intervals: Literal["tasks", "fixed"] = defaults.INTERVALS  # over tasks like these, or for these tasks (docs/compare.md)

    def options(self):
        """The `tether.compare.CompareOptions` these settings describe."""
        from tether.compare import CompareOptions

        return CompareOptions(tuple(self.k_grid) if self.k_grid else None, self.allow_missing, self.bootstrap_reps,
                              self.confidence, self.alpha, self.seed, self.match_budget, self.extrapolate,
                              self.intervals)


class DiagnosticsSection(_Strict):
    """`tether diagnose` as a stage after compare, and the defaults and ranges of its flags."""

    enabled: bool = True
    k: int = Field(default=defaults.DIAGNOSE_K, ge=1)
    token_entropy: bool = True
    traces: Place | None = None  # JSONL of {task_id, trace}: perplexity on reference traces
    batch_size: int = Field(default=defaults.SCORING_BATCH, ge=1)  # completions per scoring call


class LikelihoodSection(_Strict):
    """`tether likelihood` as a stage after compare (off by default: it scores every correct completion
    under both models), and the defaults and ranges of its flags."""

    enabled: bool = False
    regions: list[Literal["E", "S", "P"]] = Field(default_factory=lambda: list(defaults.LIKELIHOOD_REGIONS))
    p_tasks: int = Field(default=defaults.P_TASKS, ge=0)
    max_completions: int | None = Field(default=None, ge=1)
    threshold: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data):
        return _renamed(data, "tasks", "regions", "likelihood.")


class ReportSection(_Strict):
    enabled: bool = True
    out: Place = "report"


class Experiment(_Strict):
    store: Place  # a folder (relative to the file's) or an object-storage URL
    tasks: TasksSection
    sampling: SamplingSection
    models: dict[str, ModelSection]  # one base or more, and the models compared with them (a study: docs/study.md)
    domains: dict[str, Place] = Field(default_factory=dict)  # benchmark -> domain, over tether.tasks.domains'
    grading: GradingSection = Field(default_factory=GradingSection)
    compare: CompareSection = Field(default_factory=CompareSection)
    diagnostics: DiagnosticsSection = Field(default_factory=DiagnosticsSection)
    likelihood: LikelihoodSection = Field(default_factory=LikelihoodSection)
    report: ReportSection = Field(default_factory=ReportSection)

    @field_validator("models")
    @classmethod
    def _bases_and_children(cls, models: dict[str, ModelSection]) -> dict[str, ModelSection]:
        """Labels that are safe file names; each model compared with a model of the file (its `base`, default
        the label base) that is not itself compared with another; at least one such pair."""
        from tether.store.schema import check_label

        for label in models:
            try:
                check_label(label)
            except InputError as exc:
                raise ValueError(f"[models.{label}]: {exc}") from None
        for label, section in models.items():
            if section.base == label:
                raise ValueError(f"[models.{label}] names itself as its base ([compare] self compares a label "
                                 "with itself: the noise floor)")
        bases = _bases(models)
        if bases >= set(models):
            raise ValueError("models needs a base and at least one model compared with it, e.g. [models.base] and "
                             "[models.rl]")
        for label, section in models.items():
            base = _base(models, label)
            if label in bases:
                continue
            if base not in models:
                how = "" if section.base else "; name the model it is compared with as base = \"…\""
                raise ValueError(f"[models.{label}] is compared with {base!r}, which has no [models.{base}]{how}")
            if base not in bases:  # only "base" itself, when it names a base of its own
                raise ValueError(f"[models.{label}] is compared with {base!r}, which is itself compared with "
                                 f"{_base(models, base)!r}; name the base of each model (base = \"…\")")
        users = {label: [child for child in models if child not in bases and _base(models, child) == label]
                 for label in models if label in bases}
        for label, children in users.items():
            if models[label].base is not None:
                raise ValueError(f"[models.{label}] is the base of {', '.join(children)}, so it cannot name a base "
                                 "itself")
        for label, children in users.items():
            if not children:
                raise ValueError(f"[models.{label}] is a base no model is compared with (a model without "
                                 "base = \"…\" is compared with base)")
        return models

    @property
    def bases(self) -> list[str]:
        """The labels other models are compared with, in the file's order (each sampled once)."""
        found = _bases(self.models)
        return [label for label in self.models if label in found]

    @property
    def children(self) -> list[str]:
        """The labels compared with a base (`base_of`), in the file's order: one is a pair, more a study."""
        found = _bases(self.models)
        return [label for label in self.models if label not in found]

    def base_of(self, label: str) -> str:
        """The label `label` is compared with (its ``base``, default ``base``)."""
        return _base(self.models, label)

    @property
    def study(self) -> bool:
        """Whether the file is a study (several models compared, or [domains] to group one's rows by), not a pair."""
        return len(self.children) > 1 or bool(self.domains)

    def checkpoint(self, label: str) -> tuple[str, int] | None:
        """(training run, step) where the file names `label` a run's checkpoint, else None."""
        section = self.models[label]
        return None if section.run is None or section.step is None else (section.run, section.step)

    _deprecations: list[tuple[str, str]] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data):
        return _renamed(data, "out", "store")

    @model_validator(mode="after")
    def _store_location(self):
        from tether.store import is_remote

        if is_remote(self.store):
            try:
                import fsspec  # noqa: F401
            except ImportError:
                raise ValueError(f"store {self.store!r} is on object storage, which needs pip install 'tether[cloud]'")
        return self

    @property
    def deprecations(self) -> list[tuple[str, str]]:
        """(old, new) for each old key name the file used (read for one release; `tether run` says each in
        one line)."""
        return list(self._deprecations)


def _base(models: dict[str, ModelSection], label: str) -> str:
    return models[label].base or "base"


def _bases(models: dict[str, ModelSection]) -> set[str]:
    """The labels other models are compared with: each one named as a ``base``, and the label ``base`` where the
    file has it without a base of its own (every model without a ``base`` key is compared with it)."""
    named = {section.base for section in models.values() if section.base}
    return named | ({"base"} if "base" in models and models["base"].base is None else set())


class RenamedKey(DeprecationWarning):
    """An experiment file's key under its old name, read as the new one for one release."""

    def __init__(self, old: str, new: str):
        super().__init__(f"{old} is deprecated; use {new}")
        self.old, self.new = old, new


def _renamed(data, old: str, new: str, where: str = ""):
    """A section's raw table with `old` read as `new` (a `RenamedKey` warning, collected by `load_experiment`);
    both given is an error."""
    if not isinstance(data, dict) or old not in data:
        return data
    if new in data:
        raise ValueError(f"give {where}{new} only ({where}{old} is its old name)")
    warnings.warn(RenamedKey(f"{where}{old} = …", f"{where}{new} = …"), stacklevel=2)
    return {(new if key == old else key): value for key, value in data.items()}


def from_flags(section: type[BaseModel], **flags) -> BaseModel:
    """A section of the schema from command-line flags (None: the section's default), checked as
    the same section of an experiment file is; a bad value is one line naming its flag."""
    try:
        return section.model_validate({name: value for name, value in flags.items() if value is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            raise InputError(message) from None
        raise InputError(f"--{str(first['loc'][0]).replace('_', '-')}: {message}") from None


def load_experiment(path: str | Path) -> tuple[Experiment, Path]:
    """The validated experiment and the folder its relative paths start from."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such experiment file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: a folder, not an experiment file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start}); TOML files are UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: arrays or tables nested too deeply to read") from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RenamedKey)
            experiment = Experiment.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"{path}: {where}: {_message(first)}{more}") from None
    experiment._deprecations = [(w.message.old, w.message.new) for w in caught if isinstance(w.message, RenamedKey)]
    for other in caught:  # any other warning (a deprecated engine name) goes on to the caller
        if not isinstance(other.message, RenamedKey):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    return experiment, path.resolve().parent


def _message(error: dict) -> str:
    """A validation error's message, in words for a path left empty."""
    if error["type"] == "string_pattern_mismatch":
        return "is empty; name a folder or file (an empty path would be the experiment file's own folder)"
    return error["msg"]
