"""`tether run FILE --check`: an experiment validated and its cost planned, without loading a model.

The plan says what the run would do: the store, the tasks (counted without fetching
anything: a preset's known size, a local file's rows), each model with its engine and
its own decoding, the samples to draw, and the tokens: at most ``tasks x k x max_tokens``
per model (every completion cut at the limit), and at a mean completion length the user
states. GPU hours are those tokens at a throughput the user states (tokens per second per
GPU): tether cannot know it without running the model, so the number is the user's, and the
plan says so.

Where the file enables diagnose with token entropy, the plan adds its cost (`DiagnosePlan`): the
stage teacher-forces each model's first k stored samples per task (each completion after its
prompt) through the model, one forward pass per batch of sequences: the work of sampling's
prefill, not of decoding. Its hours are given at the same stated throughput, an assumption the
plan names (on a GPU a teacher-forced pass is usually many times faster than decoding; on a CPU
about as slow), with the keys that turn it off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from tether import defaults
from tether.errors import InputError
from tether.experiment.schema import Experiment, load_experiment
from tether.experiment.stages import check_local_model, maybe_path


@dataclass(frozen=True)
class ModelPlan:
    label: str
    model: str
    engine: str
    temperature: float
    top_p: float
    seed: int
    samples: int
    max_tokens: int  # every completion at max_tokens
    expected_tokens: int  # at the stated mean completion length
    base: str | None = None  # the label it is compared with (None: a base)
    run: str | None = None  # a training run's checkpoint: the run and the step
    step: int | None = None


@dataclass(frozen=True)
class DiagnosePlan:
    """The token-entropy diagnose stage's cost: each model's first `k` samples per task scored by teacher forcing."""

    k: int  # samples per task scored: min(the diagnostics k, the sampling k)
    samples: int  # per model
    tokens: int  # completion tokens scored, every model, at the stated mean completion length (prompts besides)
    max_tokens: int  # the same at max_tokens
    traces: str | None = None  # reference traces scored besides (perplexity), as the file names them
    models: int = 2  # the models scored

    def lines(self, hours, throughput: float) -> list[str]:
        """What `tether run --check` says of it; `hours(tokens)` at the plan's `throughput`."""
        bound = f" (≤ {_count(self.max_tokens)})" if self.max_tokens != self.tokens else ""
        which = "both models" if self.models == 2 else f"each of the {self.models} models"
        first = (f"diagnose: token entropy teacher-forces the first {self.k:,} samples per task of {which} "
                 f"({self.samples:,} each): {_count(self.tokens)} completion tokens{bound}, each after its prompt; "
                 f"about {hours(self.tokens):,.1f} GPU hours at {throughput:,.0f} tokens/s, assuming scoring runs "
                 "at the sampling rate (a teacher-forced pass is sampling's prefill: on a GPU usually much faster, "
                 "on a CPU about as slow)")
        if self.traces and self.models == 2:
            first += f"; then perplexity on the reference traces of {self.traces}"
        off = ("  to skip it: token_entropy = false under [diagnostics] (avg@k and answer entropy only, from the "
               "verdicts, no model), or enabled = false")
        return [first, off]


@dataclass
class Plan:
    path: Path
    store: str
    spec: str
    tasks: dict[str, int | None]  # per part of the spec
    k: int
    max_tokens: int
    mean_tokens: int
    throughput: float
    models: list[ModelPlan]
    stages: list[str]
    notes: list[str] = field(default_factory=list)
    diagnose: DiagnosePlan | None = None  # where diagnose scores samples with the models (token entropy)

    @property
    def n_tasks(self) -> int:
        """The tasks counted (parts whose count is not known offline are left out, with a note)."""
        return sum(n for n in self.tasks.values() if n is not None)

    def gpu_hours(self, tokens: int) -> float:
        return tokens / self.throughput / 3600

    def to_dict(self) -> dict:
        """`tether run --check --json`: the plan, each token count with its GPU hours at the stated throughput."""
        total = sum(m.expected_tokens for m in self.models)
        diagnose = None if self.diagnose is None else {**asdict(self.diagnose),
                                                       "gpu_hours": self.gpu_hours(self.diagnose.tokens)}
        return {"path": str(self.path), "store": self.store, "spec": self.spec, "tasks": dict(self.tasks),
                "n_tasks": self.n_tasks, "k": self.k, "max_tokens": self.max_tokens, "mean_tokens": self.mean_tokens,
                "throughput": self.throughput, "stages": list(self.stages), "notes": list(self.notes),
                "models": [{**asdict(m), "gpu_hours": self.gpu_hours(m.expected_tokens),
                            "max_gpu_hours": self.gpu_hours(m.max_tokens)} for m in self.models],
                "tokens": total, "gpu_hours": self.gpu_hours(total), "diagnose": diagnose}


def plan_experiment(path: str | Path, throughput: float = defaults.THROUGHPUT,
                    mean_tokens: int | None = None) -> Plan:
    """Validate an experiment file (schema, model folders, task specs) and plan its sampling cost."""
    from tether.engines import engine_name
    from tether.experiment.run import store_location
    from tether.lab.models import is_lab_model
    from tether.sampling.limits import check_run
    from tether.tasks import count_tasks

    if throughput <= 0:
        raise InputError(f"throughput must be > 0 tokens/s, got {throughput}")
    experiment, root = load_experiment(path)
    s = experiment.sampling
    mean = s.max_tokens if mean_tokens is None else mean_tokens
    if not 1 <= mean <= s.max_tokens:
        raise InputError(f"mean completion length must be between 1 and max_tokens ({s.max_tokens}), got {mean}")
    spec = maybe_path(root, experiment.tasks.spec)
    data_dir = str(root / experiment.tasks.data_dir) if experiment.tasks.data_dir else None
    counts = count_tasks(spec, data_dir, experiment.tasks.limit)
    plan = Plan(Path(path), str(store_location(root, experiment.store)), spec, counts, s.k, s.max_tokens, mean,
                throughput, [], _stages(experiment))
    check_run(s.config(), plan.n_tasks)
    children = experiment.children
    for label in experiment.bases + children:
        section = experiment.models[label]
        model = section.model if is_lab_model(section.model) else maybe_path(root, section.model)
        check_local_model(model)
        config = section.sampling(s.config())
        samples = plan.n_tasks * s.k
        plan.models.append(ModelPlan(label, model, engine_name(section.engine), config.decoding.temperature,
                                     config.decoding.top_p, config.seed, samples, samples * s.max_tokens,
                                     samples * mean, experiment.base_of(label) if label in children else None,
                                     section.run, section.step))
    d = experiment.diagnostics
    if d.enabled and d.token_entropy:
        scored, n = plan.n_tasks * min(d.k, s.k), len(plan.models)
        plan.diagnose = DiagnosePlan(min(d.k, s.k), scored, n * scored * mean, n * scored * s.max_tokens,
                                     str(d.traces) if d.traces else None, n)
    if experiment.study:
        plan.notes.append(f"a study: {len(children)} model{'s' if len(children) > 1 else ''} compared with "
                          "their bases on the same tasks and budget, per benchmark, domain and overall "
                          "(docs/study.md); the likelihood is a pair's and is skipped")
    unknown = [part for part, count in counts.items() if count is None]
    if unknown:
        plan.notes.append(f"task count not known offline for {', '.join(unknown)}: the totals leave them out")
    return plan


def _stages(experiment: Experiment) -> list[str]:
    study = experiment.study
    stages = [f"sample {label}" for label in experiment.bases + experiment.children]
    stages += [f"grade ({', '.join(experiment.grading.sets)})", "compare (a study)" if study else "compare"]
    if experiment.diagnostics.enabled:
        stages.append(f"diagnose (k {experiment.diagnostics.k})")
    if experiment.report.enabled:
        stages.append("report")
    return stages


def _count(n: int) -> str:
    """A token count as 12.30M, 1.20B (as the plan's table writes them)."""
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:,.2f}{unit}"
    return f"{n:,}"
