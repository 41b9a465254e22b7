"""`tether demo`: the lab's whole story, sampled through the normal pipeline and computed exactly.

Copies the bundled experiment (`tether/experiment/demos/demo.toml`, or
`quick.toml`) into the output folder, runs it with `tether.experiment` (the lab
models are trained or reused from the cache; sampling uses TransformersEngine,
grading the `lab_sum` verifier, then the usual comparison), and then
enumerates every prompt's completions under both models to put the exact
values next to the sampled ones.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tether.compare import Comparison
from tether.lab.analysis import ExactPrompt, LabAnalysis, analyse, exact_model
from tether.lab.models import CONFIGS, is_lab_model, lab_models, resolve_lab_model, shipped_pair
from tether.metrics import detectability_epsilon
from tether.progress import ProgressFactory, silent

SUPPORT_LOWER = 1e-8  # correct RL modes above epsilon must be above this under the base


@dataclass
class DemoResult:
    comparison: Comparison
    analysis: LabAnalysis
    answers: dict  # label -> tether.diagnostics.AnswerStats (first 32 samples)
    diagnostics: list  # tether.store.schema.Diagnostic rows of the store (avg@k, entropies)
    folder: Path
    report: Path  # report.html
    seconds: float
    pair: str = "shipped"  # "shipped" (the same on every machine) or "trained" (trained here by --train)
    store: str | None = None  # the experiment's store

    def to_dict(self) -> dict:
        """`tether demo --json`: where everything is, the comparison and the exact analysis."""
        import dataclasses

        return {"pair": self.pair, "folder": str(self.folder), "report": str(self.report),
                "store": self.store, "exact": str(self.folder / "exact.json"),
                "seconds": self.seconds, "comparison": self.comparison.to_dict(), "analysis": self.analysis.to_dict(),
                "diagnostics": [dataclasses.asdict(row) for row in self.diagnostics]}


def run_demo(out: str | Path, *, quick: bool = False, seed: int | None = None,
             on_stage: Callable[[str, str, str], None] | None = None, threshold: float | None = None,
             progress: ProgressFactory = silent, train: bool = False) -> DemoResult:
    """Run the bundled experiment with sampling seed `seed` (default: the file's), then the exact
    analysis; enumeration keeps completions with probability >= `threshold` (default 1e-12; 1e-8
    for the quick setting).

    The model pair is the one shipped with tether (the demo's configuration), so the exact
    expectations are the same on every machine; `train=True` trains a new pair from scratch on
    this machine first (then the expectations are that pair's). `seed` drives the sampling, so a
    run is deterministic given it (and given the pair)."""
    from tether.diagnostics import answer_stats, load_diagnostics
    from tether.experiment.run import load_experiment, run_experiment
    from tether.store import open_store
    from tether.tasks import load_tasks

    _quiet_libraries()
    started = time.perf_counter()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    name = "quick.toml" if quick else "demo.toml"
    source = resources.files("tether.experiment").joinpath("demos", name)
    path = folder / "experiment.toml"
    text = source.read_text()
    config_name = "lab-quick" if quick else "lab"
    if train:
        base_dir, rl_dir = lab_models(CONFIGS[config_name], train=True, progress=progress,
                                      on_stage=(lambda what: on_stage("train", "ran", what)) if on_stage else None)
        text = text.replace(f'"{config_name}:base"', json.dumps(str(base_dir))).replace(
            f'"{config_name}:rl"', json.dumps(str(rl_dir)))
    path.write_text(text if seed is None else with_seed(text, seed))
    comparison, store, _ = run_experiment(path, on_stage=on_stage, progress=progress)
    opened = open_store(store)
    answers = {label: answer_stats(opened, label, k=32) for label in ("base", "rl")}
    diagnostics = load_diagnostics(opened)
    experiment, _ = load_experiment(path)
    tasks = load_tasks(experiment.tasks.spec)
    base, rl = (_lab_folder(experiment.models[label].model) for label in ("base", "rl"))
    k = experiment.sampling.k
    config = CONFIGS[config_name]
    threshold = threshold if threshold is not None else (1e-8 if quick else 1e-12)
    with progress("exact analysis") as bar:
        bar.start(len(tasks))
        prompts = exact_prompts(tasks, base, rl, max_tokens=experiment.sampling.max_tokens, threshold=threshold,
                                on_prompt=bar.advance)
    analysis = analyse(
        prompts,
        k=k, epsilon=detectability_epsilon(k), lower=SUPPORT_LOWER, tilt=1.0 / config.grpo.kl_coef,
        k_grid=list(comparison.k_grid),
    )
    (folder / "exact.json").write_text(json.dumps(analysis.to_dict(), indent=1) + "\n")
    if on_stage:
        on_stage("exact analysis", "ran", f"every completion of {len(tasks)} prompts under both models enumerated")
    report = folder / experiment.report.out / "report.html"
    pair = "trained" if train else ("shipped" if shipped_pair(config) else "cached")
    return DemoResult(comparison, analysis, answers, diagnostics, folder, report, time.perf_counter() - started, pair,
                      str(store))


def _quiet_libraries() -> None:
    """No library chatter on the demo's screen: transformers' progress bars and advisory warnings
    (e.g. deprecations) are the libraries' business, not the reader's; errors still show."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    for module in ("transformers", "torch", "huggingface_hub"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=UserWarning, module=module)


def _lab_folder(spec: str) -> str:
    """A lab model spec (``lab:base``) resolved to its folder; a folder stays as it is."""
    return resolve_lab_model(spec) if is_lab_model(spec) else spec


def with_seed(experiment: str, seed: int) -> str:
    """The bundled experiment's text with its `[sampling]` seed set to `seed`."""
    text, count = re.subn(r"(?m)^seed = \d+", f"seed = {int(seed)}", experiment)
    if count != 1:
        raise ValueError("the bundled experiment must have exactly one 'seed = N' line")
    return text


def exact_prompts(tasks, base_dir, rl_dir, *, max_tokens: int, threshold: float, on_prompt=None,
                  temperature: float = 1.0, top_p: float = 1.0) -> list[ExactPrompt]:
    """Every lab prompt's exact P(correct), modes and completions under both models, sampled at
    `temperature` and `top_p` (the engine's sampling distribution)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tether.tasks import sums

    models = [(AutoModelForCausalLM.from_pretrained(d).eval(), AutoTokenizer.from_pretrained(d))
              for d in (base_dir, rl_dir)]
    prompts = []
    for task in tasks:
        target = int(task.reference["answer"])

        def correct(text: str, n: int = target) -> bool:
            return sums.is_correct(text, n)

        exact = [exact_model(m, t, task.prompt, correct, max_tokens=max_tokens, threshold=threshold,
                             temperature=temperature, top_p=top_p) for m, t in models]
        prompts.append(ExactPrompt(task.task_id, target, *exact))
        if on_prompt:
            on_prompt(1)
    return prompts
