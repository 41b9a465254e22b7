"""The lab's proof of `TetherCallback`: TRL's `GRPOTrainer` trains the shipped base, the callback samples every
saved checkpoint into a store, and the study of that training run stands beside the exact per-step values.

`run_training_study(out)` trains the shipped pair's base (`tether.lab.models.SHIPPED`) with the lab's TRL
settings (`tether.lab.trl_grpo`), saving a checkpoint every `save_every` steps with `TetherCallback` attached
(the base sampled at step 0, each saved step as ``<run>-<step>``, all on the same tasks at k samples), then:

- the study of the run (`compare_study` over the store's ``<run>-*`` labels: every step against the base and
  the step before, the first significant shrinkage), with intervals for these tasks (``intervals = "fixed"``:
  each task's samples resampled), saved under ``study/``;
- the exact values of every step, from the saved checkpoint's weights: each task's exact P(correct)
  (`tether.lab.scoring`: every correct completion scored), hence exact pass@k and each region's exact
  distribution at k (a sum of independent Bernoulli variables over the tasks: its mean and central interval);
- one row per step: sampled region counts beside the exact expectation and interval, sampled pass@k at the
  largest k (with its interval) beside the exact one, and whether each sampled value lies in its interval.

Written to ``training_study.json``. docs/training.md shows a measured table.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.compare import CompareOptions
from tether.compare.study import Study, child_labels, compare_study, save_study
from tether.errors import InputError, TetherError
from tether.lab.models import CONFIGS, SHIPPED
from tether.metrics.chance import poisson_binomial
from tether.progress import ProgressFactory, silent

REGIONS = ("P", "S", "E", "O")


@dataclass(frozen=True)
class TrainingStudyConfig:
    """The proof's size: TRL steps, a checkpoint every `save_every`, k samples of each task per checkpoint."""

    steps: int = 60
    save_every: int = 15
    k: int = 256
    tasks: str = "lab-sums:2-12,23,29,37,41-50,54,60,66-68,74,88,100,120"  # the demo's tasks
    lr: float = 3e-3  # ten times the shipped pair's: a few dozen steps move the policy (and shrink its support)
    prompts_per_step: int = 16
    group_size: int = 8
    seed: int = 0
    run: str = "grpo"
    confidence: float = 0.95  # of the exact intervals and of the sampled ones
    bootstrap_reps: int = 1000

    def __post_init__(self) -> None:
        if self.steps < 1 or not 1 <= self.save_every <= self.steps:
            raise InputError(f"steps ({self.steps}) >= save_every ({self.save_every}) >= 1")


@dataclass
class ExactStep:
    """One checkpoint's exact values: P(correct) per task, pass@k on the grid, each region's distribution."""

    step: int
    p_correct: np.ndarray
    pass_at_k: np.ndarray  # on the study's k grid
    expected: dict[str, float]  # region -> expected tasks at k (against the base)
    interval: dict[str, tuple[int, int]]  # region -> central interval of its count


@dataclass
class TrainingStudy:
    """What `run_training_study` made: the study, the exact values, a row per step, what the callback logged."""

    folder: Path
    study: Study
    exact: list[ExactStep]
    rows: list[dict]
    logged: list[dict]  # the trainer's log entries carrying tether's metrics
    mean_reward: list[float]
    seconds_per_step: float  # TRL's own time per step (median), saving and evaluations left out
    evaluation_seconds: list[float]
    seconds: float
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"folder": str(self.folder), "rows": self.rows, "logged": self.logged,
                "mean_reward": self.mean_reward, "seconds_per_step": self.seconds_per_step,
                "evaluation_seconds": self.evaluation_seconds, "seconds": self.seconds, "failures": self.failures,
                "exact": [{"step": e.step, "p_correct": e.p_correct.tolist(), "pass_at_k": e.pass_at_k.tolist(),
                           "expected": e.expected, "interval": {r: list(v) for r, v in e.interval.items()}}
                          for e in self.exact],
                "first_shrinkage": self.study.trajectories[0].first_shrinkage.reason if self.study.trajectories
                else None}


def run_training_study(out: str | Path, config: TrainingStudyConfig | None = None,
                       progress: ProgressFactory = silent) -> TrainingStudy:
    """Train the shipped base with TRL and `TetherCallback`, study the run's checkpoints, and put the exact
    per-step values beside the sampled ones (module docstring); everything is written under `out`."""
    from tether.integrations.trl import TetherCallback
    from tether.lab.trl_grpo import trl_trainer

    config = config or TrainingStudyConfig()
    started = time.perf_counter()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    lab = CONFIGS["lab-trl"]
    grpo = dataclasses.replace(lab.grpo, steps=config.steps, lr=config.lr, prompts_per_step=config.prompts_per_step,
                               group_size=config.group_size, seed=config.seed)
    with progress("GRPO (TRL)") as bar:
        bar.start(config.steps)
        trainer, result = trl_trainer(SHIPPED / "base", list(lab.rl_targets), grpo, folder / "trained",
                                      on_step=lambda step, reward: bar.advance(), save_every=config.save_every)
        callback = TetherCallback(trainer, folder / "store", config.tasks, config.k, run=config.run,
                                  template="plain", batch_size=512, seed=config.seed)
        clock = step_clock()
        trainer.add_callback(clock)
        trainer.add_callback(callback)
        trainer.train()
    evaluations = [e.seconds for e in callback.evaluations]
    failures = [f"step {e.step}: {e.error}" for e in callback.evaluations if not e.ok]
    if failures or not callback.base_ready:  # a proof with a step missing proves nothing: said, not studied
        raise TetherError("the callback did not evaluate every checkpoint: " + ("; ".join(failures) or
                                                                               "the base was not sampled"))
    options = CompareOptions(intervals="fixed", extrapolate=0, confidence=config.confidence,
                             bootstrap_reps=config.bootstrap_reps, seed=config.seed)
    study = compare_study(callback.store, child_labels(callback.store, [f"{config.run}-*"]), options=options)
    save_study(study, folder / "study")
    checkpoints = {0: SHIPPED / "base"} | {
        step: folder / "trained" / ".trl" / f"checkpoint-{step}"
        for step in range(config.save_every, config.steps + 1, config.save_every)}
    targets = [int(task.reference["answer"]) for task in callback.tasks]
    trajectory = study.trajectories[0]
    with progress("exact values") as bar:
        bar.start(len(checkpoints))
        exact = exact_steps(checkpoints, targets, config.k, trajectory.steps[0].against_base.k_grid,
                            config.confidence, on_step=bar.advance)
    rows = step_rows(study, exact)
    logged = [entry for entry in trainer.state.log_history if any(key.startswith("tether/") for key in entry)]
    seconds_per_step = float(np.median(clock.seconds))
    found = TrainingStudy(folder, study, exact, rows, logged, list(result.mean_reward), seconds_per_step,
                          evaluations, time.perf_counter() - started, failures)
    (folder / "training_study.json").write_text(json.dumps(found.to_dict(), indent=1, default=float) + "\n")
    return found


def step_clock():
    """A callback timing each TRL step, from its start to its end (logging, saving and evaluations left out)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.seconds: list[float] = []
            self._started = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self._started)

    return StepClock()


def exact_steps(checkpoints: dict[int, Path], targets: list[int], k: int, k_grid, confidence: float,
                on_step=None) -> list[ExactStep]:
    """Each checkpoint's exact values (step 0 is the base, against which the regions are counted)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tether.lab.analysis import exact_pass_at_k
    from tether.lab.scoring import p_correct
    from tether.lab.selection import region_probabilities

    tokenizer = AutoTokenizer.from_pretrained(checkpoints[0])
    found, base = [], None
    for step, where in sorted(checkpoints.items()):
        model = AutoModelForCausalLM.from_pretrained(where).eval()
        p = np.array([p_correct(model, tokenizer, n) for n in targets])
        base = p if base is None else base
        regions = region_probabilities(base, p, k)
        intervals = {r: central_interval(regions[r], confidence) for r in REGIONS}
        found.append(ExactStep(step, p, exact_pass_at_k(p, np.asarray(k_grid)).mean(axis=0),
                               {r: float(regions[r].sum()) for r in REGIONS}, intervals))
        if on_step:
            on_step(1)
    return found


def central_interval(p: np.ndarray, confidence: float) -> tuple[int, int]:
    """The central `confidence` interval of a sum of independent Bernoulli(p_i)."""
    offset, pmf = poisson_binomial(np.asarray(p, dtype=float))
    cdf = np.cumsum(pmf)
    tail = (1 - confidence) / 2
    lo = int(np.searchsorted(cdf, tail * (1 - 1e-12)))
    hi = int(min(len(pmf) - 1, np.searchsorted(cdf, (1 - tail) * (1 - 1e-12))))
    return offset + lo, offset + hi


def step_rows(study: Study, exact: list[ExactStep]) -> list[dict]:
    """One row per checkpoint: sampled regions and pass@k (largest k) beside the exact ones, and whether each
    sampled value is inside its interval (the exact count's interval; the sampled pass@k's bootstrap one)."""
    by_step = {e.step: e for e in exact}
    rows = []
    for s in study.trajectories[0].steps:
        c, e = s.against_base, by_step[s.step]
        counts = c.counts.as_dict()
        lo, hi = c.pass_at_k_ci["rl"][0][-1], c.pass_at_k_ci["rl"][1][-1]
        row = {"step": s.step, "label": s.label, "k": int(c.k_grid[-1])}
        for region in REGIONS:
            row[region] = counts[region]
            row[f"{region}_exact"] = round(e.expected[region], 3)
            row[f"{region}_interval"] = list(e.interval[region])
            row[f"{region}_inside"] = e.interval[region][0] <= counts[region] <= e.interval[region][1]
        row.update({"pass_at_k": float(c.pass_at_k["rl"][-1]), "pass_at_k_ci": [float(lo), float(hi)],
                    "pass_at_k_exact": float(e.pass_at_k[-1]),
                    "pass_at_k_inside": bool(lo - 1e-12 <= e.pass_at_k[-1] <= hi + 1e-12),
                    "srr": float(c.rates["srr"].value), "nscr": float(c.rates["nscr"].value),
                    "S_p_holm": float(s.p_adjusted.get("S", float("nan")))})
        rows.append(row)
    return rows
