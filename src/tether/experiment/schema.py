"""The experiment file's schema: one TOML file describing a whole comparison, validated up front.

Unknown keys, wrong types and missing fields are reported with their place in
the file. Defaults are those of `tether.defaults` and of each engine's own
options, declared once; a run's settings are checked by their owner's rules
(`tether.sampling.limits`: finite temperature, k and max_tokens within what the
store, the memory and the engine hold), here as for `tether sample`'s flags.
Paths (``out``, the tasks, the report) are never empty: an empty one would be the
file's own folder. See docs/experiment.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

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
    ray_workers: int = Field(default=2, ge=1)
    ray_gpus: float = Field(default=0.0, ge=0)
    adaptive: bool = False  # rounds, stopped once settled (docs/adaptive.md)
    adaptive_first: int | None = Field(default=None, ge=1)  # default: 16 (pass@k rule), 8 (regions rule)
    adaptive_growth: int = Field(default=2, ge=2)
    adaptive_tol: float = Field(default=1e-3, gt=0, lt=0.5)
    adaptive_rule: Literal["passk", "regions"] | None = None  # regions: stop at the first success (implies adaptive)

    _settings = field_validator("k", "temperature", "top_p", "max_tokens", "task_block", "sample_block")(_owned)

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

    _settings = field_validator("temperature", "top_p")(_owned)

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
        """The engine's options as given in the file."""
        return dict(self.model_extra or {})

    def sampling(self, shared):
        """`shared` (the [sampling] `SamplingConfig`) with this model's temperature, top_p and seed where given."""
        import dataclasses

        decoding = dataclasses.replace(shared.decoding, **{k: v for k, v in (("temperature", self.temperature),
                                                                              ("top_p", self.top_p)) if v is not None})
        return dataclasses.replace(shared, decoding=decoding, seed=shared.seed if self.seed is None else self.seed)


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
    workers: int = Field(default=2, ge=1)
    timeout: int = Field(default=5, ge=1)
    strict: bool = False  # math: no full-text fallback (docs/grading.md)
    extraction: Literal["fair", "strict"] = "fair"  # reasoning_gym: fair cascade or Reasoning Gym's own tags
    unsafe_local_exec: bool = False  # code: resource limits only where bubblewrap cannot isolate programs (docs/code.md)

    _verifier = field_validator("verifier")(_verdict_sets)

    @property
    def sets(self) -> tuple[str, ...]:
        """The verdict sets to grade, the one counts use first (docs/grading.md, "Several verifiers")."""
        return _set_names(self.verifier)

    def options(self) -> GradeOptions:
        from tether.grading import GradeOptions

        first, *also = self.sets
        return GradeOptions(first, self.workers, strict=self.strict, also=tuple(also),
                            verifier_options={"math": {"timeout_seconds": self.timeout},
                                              "reasoning_gym": {"extraction": self.extraction},
                                              "code": {"unsafe_local_exec": self.unsafe_local_exec}})


class CompareSection(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    k_grid: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, min_length=1)
    self_label: str | None = Field(default=None, alias="self")  # a label compared against itself (docs/compare.md)
    bootstrap_reps: int = Field(default=1000, ge=10)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    alpha: float = Field(default=0.05, ge=0, le=1)
    seed: int = 0
    match_budget: bool = True
    extrapolate: int = Field(default=4, ge=0, le=12)
    allow_missing: bool = False  # drop tasks only one model has, with a warning naming them (else refused)
    intervals: Literal["tasks", "fixed"] = "tasks"  # over tasks like these, or for these tasks (docs/compare.md)

    def options(self):
        """The `tether.compare.CompareOptions` these settings describe."""
        from tether.compare import CompareOptions

        return CompareOptions(tuple(self.k_grid) if self.k_grid else None, self.allow_missing, self.bootstrap_reps,
                              self.confidence, self.alpha, self.seed, self.match_budget, self.extrapolate,
                              self.intervals)


class DiagnosticsSection(_Strict):
    enabled: bool = True
    k: int = Field(default=32, ge=1)
    token_entropy: bool = True
    traces: Place | None = None  # JSONL of {task_id, trace}: perplexity on reference traces
    batch_size: int = Field(default=16, ge=1)


class LikelihoodSection(_Strict):
    """`tether likelihood` as a stage after compare (off by default: it scores every correct completion
    under both models)."""

    enabled: bool = False
    tasks: list[Literal["E", "S", "P"]] = Field(default_factory=lambda: ["E", "S"])
    p_tasks: int = Field(default=5, ge=0)
    max_completions: int | None = Field(default=None, ge=1)
    threshold: float | None = Field(default=None, gt=0, lt=1)


class ReportSection(_Strict):
    enabled: bool = True
    out: Place = "report"


class Experiment(_Strict):
    out: Place  # the store: a folder (relative to the file's) or an object-storage URL
    tasks: TasksSection
    sampling: SamplingSection
    models: dict[str, ModelSection]
    grading: GradingSection = Field(default_factory=GradingSection)
    compare: CompareSection = Field(default_factory=CompareSection)
    diagnostics: DiagnosticsSection = Field(default_factory=DiagnosticsSection)
    likelihood: LikelihoodSection = Field(default_factory=LikelihoodSection)
    report: ReportSection = Field(default_factory=ReportSection)

    @model_validator(mode="after")
    def _two_models(self):
        missing = {"base", "rl"} - set(self.models)
        if missing:
            raise ValueError(f"models needs [models.base] and [models.rl]; missing {', '.join(sorted(missing))}")
        extra = set(self.models) - {"base", "rl"}
        if extra:
            raise ValueError(f"models has only [models.base] and [models.rl]; unknown: {', '.join(sorted(extra))}")
        return self

    @model_validator(mode="after")
    def _store_location(self):
        from tether.store import is_remote

        if is_remote(self.out):
            try:
                import fsspec  # noqa: F401
            except ImportError:
                raise ValueError(f"out {self.out!r} is on object storage, which needs pip install 'tether[cloud]'")
        return self


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
        return Experiment.model_validate(raw), path.resolve().parent
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"{path}: {where}: {_message(first)}{more}") from None


def _message(error: dict) -> str:
    """A validation error's message, in words for a path left empty."""
    if error["type"] == "string_pattern_mismatch":
        return "is empty; name a folder or file (an empty path would be the experiment file's own folder)"
    return error["msg"]
