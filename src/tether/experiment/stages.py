"""The stages as the CLI and experiment files both run them: one place that wires a stage's inputs.

`resolve_model` turns a model spec into what an engine loads (``lab:base`` is trained or reused
from the lab's cache); `sample_model` builds the engine (here, or one per Ray worker) and samples;
`ray_executor` is the one place a Ray pool is made for sampling and grading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from tether.engines import EngineSpec, make_engine
from tether.errors import InputError
from tether.experiment.adaptive import sample_adaptive
from tether.progress import ProgressFactory, silent
from tether.sampling import SamplingConfig, sample, sample_distributed
from tether.store import Store, open_store
from tether.tasks import Task


def resolve_model(spec: str, root: Path | None = None, on_stage: Callable[[str], None] | None = None,
                  progress: ProgressFactory = silent) -> str:
    """A lab model (``lab:base``, trained or reused), a path relative to `root` that exists, or the spec as given."""
    from tether.lab.models import is_lab_model, resolve_lab_model

    if is_lab_model(spec):
        return resolve_lab_model(spec, on_stage, progress)
    found = maybe_path(root, spec) if root is not None else spec
    check_local_model(found)
    return found


def check_local_model(spec: str) -> None:
    """A model given as a local path (``/``, ``./``, ``../``, ``~``) must be a folder that exists:
    said at once, before any engine imports torch (a hub id looks like ``org/name``)."""
    if not spec.startswith(("/", "./", "../", "~")) and spec not in (".", ".."):
        return
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError(f"model {spec}: no such folder (a local checkpoint folder, or a hub id such as "
                         "HuggingFaceTB/SmolLM2-135M-Instruct)")
    if path.is_dir() and not (path / "config.json").exists() and not any(path.glob("*.gguf")):
        raise InputError(f"model {spec}: a folder without config.json, so not a Hugging Face checkpoint")


def maybe_path(root: Path, value: str) -> str:
    """A relative path that exists under `root`, else the value as given (a preset, a hub id)."""
    candidate = root / value
    return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value


def ray_executor(address: str, workers: int, gpus: float = 0.0):
    """A `tether.scale.RayExecutor` joining (or, for ``local``, starting) Ray at `address`."""
    from tether.scale import RayExecutor, RayOptions

    return RayExecutor(RayOptions(address, workers, num_gpus=gpus))


def sample_model(tasks: Sequence[Task], engine: str, model: str, options: dict, store: str | Path | Store,
                 label: str, config: SamplingConfig, executor=None,
                 on_progress: Callable[[int, int], None] | None = None,
                 on_start: Callable[[int, int], None] | None = None,
                 on_in_flight: Callable[[float, int], None] | None = None, adaptive=None):
    """Sample `label` with engine `engine` of `model`: here, or on `executor`'s workers (one engine each).
    `adaptive` = (rule, grade options) samples in rounds (`tether.experiment.adaptive`) and returns its
    `AdaptiveSummary`."""
    rule, grade_options = adaptive if adaptive is not None else (None, None)
    if executor is not None:
        spec = EngineSpec(engine, model, options)
        if rule is not None:
            return sample_adaptive(tasks, spec, store, label, config, rule, grade_options, executor=executor,
                                   on_progress=on_progress, on_start=on_start)
        return sample_distributed(tasks, spec, store, label, config, executor, on_progress, on_start)
    target = open_store(store, create=True)
    with target.writing([label], "tether sample"):  # refused before a model is loaded, not after
        built = make_engine(engine, model, **options)
        try:
            if rule is not None:
                return sample_adaptive(tasks, built, target, label, config, rule, grade_options,
                                       on_progress=on_progress, on_start=on_start, on_in_flight=on_in_flight)
            return sample(tasks, built, target, label, config, on_progress, on_start, on_in_flight)
        finally:
            built.close()
