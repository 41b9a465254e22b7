"""`tether run EXPERIMENT.toml`: one file describing a whole comparison, run stage by stage.

The file names the two models, the tasks, k and decoding, the verifier and the
output store; it is validated up front (unknown keys, wrong types and missing
fields are reported with their place in the file). Then the stages run in order:
sample (each model), grade, compare, diagnose, report; each is resumable and does nothing when
already complete, so re-running a finished experiment only re-prints its
tables. Relative paths are relative to the file's folder. See docs/experiment.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tether.errors import InputError
from tether.progress import ProgressFactory, silent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TasksSection(_Strict):
    spec: str
    data_dir: str | None = None
    columns: str | None = None
    template: str | None = None
    verifier: str | None = None
    limit: int | None = Field(default=None, ge=1)


class SamplingSection(_Strict):
    k: int = Field(ge=1)
    temperature: float = Field(default=0.6, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=1024, ge=1)
    stop: list[str] = Field(default_factory=list)
    seed: int = 0
    task_block: int = Field(default=8, ge=1)
    sample_block: int = Field(default=64, ge=1)
    ray: str | None = None  # "local", "auto" or a cluster address: sample on Ray (docs/cluster.md)
    ray_workers: int = Field(default=2, ge=1)
    ray_gpus: float = Field(default=0.0, ge=0)


class ModelSection(_Strict):
    model: str
    engine: Literal["hf", "vllm", "openai"] = "hf"
    template: str = "auto"
    batch_size: int | None = Field(default=None, ge=1)
    device: str | None = None
    dtype: str | None = None
    base_url: str | None = None
    api: Literal["auto", "completions", "chat"] | None = None
    api_key: str | None = None
    concurrency: int | None = Field(default=None, ge=1)
    n_per_request: int | None = Field(default=None, ge=1)
    tokenizer: str | None = None

    @model_validator(mode="after")
    def _openai_needs_url(self):
        if self.engine == "openai" and not self.base_url:
            raise ValueError("engine 'openai' needs base_url")
        return self

    def engine_options(self) -> dict:
        from tether.engines import engine_options

        return engine_options(self.engine, self.model_dump())


class GradingSection(_Strict):
    verifier: str = "auto"
    workers: int = Field(default=2, ge=1)
    timeout: int = Field(default=5, ge=1)


class CompareSection(_Strict):
    k_grid: list[int] | None = None
    bootstrap_reps: int = Field(default=1000, ge=10)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    alpha: float = Field(default=0.05, ge=0, le=1)
    seed: int = 0


class DiagnosticsSection(_Strict):
    enabled: bool = True
    k: int = Field(default=32, ge=1)
    token_entropy: bool = True
    traces: str | None = None  # JSONL of {task_id, trace}: perplexity on reference traces
    batch_size: int = Field(default=16, ge=1)


class ReportSection(_Strict):
    enabled: bool = True
    out: str = "report"


class Experiment(_Strict):
    out: str
    tasks: TasksSection
    sampling: SamplingSection
    models: dict[str, ModelSection]
    grading: GradingSection = Field(default_factory=GradingSection)
    compare: CompareSection = Field(default_factory=CompareSection)
    diagnostics: DiagnosticsSection = Field(default_factory=DiagnosticsSection)
    report: ReportSection = Field(default_factory=ReportSection)

    @model_validator(mode="after")
    def _two_models(self):
        missing = {"base", "rl"} - set(self.models)
        if missing:
            raise ValueError(f"models needs [models.base] and [models.rl]; missing {', '.join(sorted(missing))}")
        return self


def load_experiment(path: str | Path) -> tuple[Experiment, Path]:
    """The validated experiment and the folder its relative paths start from."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such experiment file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    try:
        return Experiment.model_validate(raw), path.resolve().parent
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"{path}: {where}: {first['msg']}{more}") from None


@dataclass
class StageLog:
    """What each stage did, in order: (stage, 'ran' | 'skipped', detail)."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, stage: str, status: str, detail: str) -> None:
        self.entries.append((stage, status, detail))


def run_experiment(path: str | Path, on_stage: Callable[[str, str, str], None] | None = None,
                   progress: ProgressFactory = silent):
    """Run (or resume) every stage of an experiment; returns (comparison, store path, stage log)."""
    from tether.compare import CompareOptions, compare, save_comparison
    from tether.engines import Decoding, make_engine
    from tether.grading import GradeOptions, grade
    from tether.sampling import SamplingConfig, sample
    from tether.tasks import ColumnMap, load_tasks

    experiment, root = load_experiment(path)
    log = StageLog()

    def note(stage: str, status: str, detail: str) -> None:
        log.add(stage, status, detail)
        if on_stage:
            on_stage(stage, status, detail)

    store = _resolve(root, experiment.out)
    spec = experiment.tasks
    tasks = load_tasks(_maybe_path(root, spec.spec), data_dir=_resolve(root, spec.data_dir) if spec.data_dir else None,
                       columns=ColumnMap.parse(spec.columns), template=spec.template, verifier=spec.verifier,
                       limit=spec.limit)
    s = experiment.sampling
    config = SamplingConfig(s.k, Decoding(s.temperature, s.top_p, s.max_tokens, tuple(s.stop)), s.seed,
                            s.task_block, s.sample_block)
    models = {}
    for label in ("base", "rl"):
        section = experiment.models[label]
        model = models[label] = _model_path(root, section.model, lambda text: note(f"model {label}", "ran", text),
                                            progress)
        with progress(f"sample {label}") as bar:
            if s.ray:
                from tether.on_ray import EngineSpec, RayOptions, sample_on_ray

                summary = sample_on_ray(tasks, EngineSpec(section.engine, model, section.engine_options()), store,
                                        label, config, RayOptions(s.ray, s.ray_workers,
                                                                  num_gpus=s.ray_gpus),
                                        lambda n, _: bar.advance(n), bar.start)
            else:
                engine = make_engine(section.engine, model, **section.engine_options())
                summary = sample(tasks, engine, store, label, config, lambda n, _: bar.advance(n), bar.start)
                engine.close()
        if summary.failed:
            raise InputError(f"sampling {label}: {len(summary.failed)} units failed, e.g. {summary.failed[0][1]}; "
                             "re-run to retry them")
        status = "skipped" if summary.samples_written == 0 else "ran"
        note(f"sample {label}", status, f"{summary.samples_written} samples written, "
             f"{summary.units_skipped} of {summary.units_total} units already done")
    g = experiment.grading
    with progress("grade") as bar:
        graded = grade(store, GradeOptions(g.verifier, g.workers, verifier_options={"math": {"timeout_seconds": g.timeout}}),
                       on_progress=bar.advance, on_start=bar.start)
    done = sum(t.samples for t in graded.tallies.values())
    note("grade", "ran" if done else "skipped", f"{done} samples graded, {graded.verified} answers verified")
    c = experiment.compare
    options = CompareOptions(tuple(c.k_grid) if c.k_grid else None, False, c.bootstrap_reps, c.confidence, c.alpha,
                             c.seed)
    result = compare(store=store, options=options)
    save_comparison(result, store / "compare")
    note("compare", "ran", f"written to {store / 'compare'}")
    _diagnose_stage(experiment, root, store, models, note, progress)
    if experiment.report.enabled:
        from tether.report import build_report

        files = build_report(store, _resolve(root, experiment.report.out), options=options)
        note("report", "ran", f"written to {files.html}")
    else:
        note("report", "skipped", "disabled in the file")
    return result, store, log


def _diagnose_stage(experiment: Experiment, root: Path, store: Path, models: dict[str, str], note,
                    progress: ProgressFactory) -> None:
    """avg@k and entropies (and perplexity on traces), unless disabled or already in the store."""
    from tether.diagnostics import diagnose, load_diagnostics, read_traces
    from tether.engines import make_engine
    from tether.store import Store

    d = experiment.diagnostics
    if not d.enabled:
        note("diagnose", "skipped", "disabled in the file")
        return
    opened = Store(store)
    wanted = {"avg_at_k"} | ({"token_entropy"} if d.token_entropy else set()) | ({"perplexity"} if d.traces else set())
    done = {(r.model, r.metric) for r in load_diagnostics(opened) if r.k in (d.k, None)}
    if all((label, metric) in done for label in ("base", "rl") for metric in wanted):
        note("diagnose", "skipped", "already in the store")
        return
    sections = experiment.models
    traces = read_traces(_resolve(root, d.traces)) if d.traces else None
    diagnose(opened, ("base", "rl"), k=d.k, traces=traces, token_entropy_on=d.token_entropy, batch=d.batch_size,
             engines=lambda label: make_engine(sections[label].engine, models[label], **sections[label].engine_options()),
             progress=progress)
    note("diagnose", "ran", f"{', '.join(sorted(wanted))} of both models")


def _model_path(root: Path, spec: str, on_stage, progress: ProgressFactory) -> str:
    """A lab model (``lab:base``, trained or reused), a path next to the file, or the spec as given."""
    from tether.lab.models import is_lab_model, resolve_lab_model

    return resolve_lab_model(spec, on_stage, progress) if is_lab_model(spec) else _maybe_path(root, spec)


def _resolve(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _maybe_path(root: Path, value: str) -> str:
    """A relative path that exists next to the file, else the value as given (a preset, a hub id)."""
    candidate = root / value
    return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value
