"""`TetherCallback`: a training run's support, checkpoint by checkpoint, while it trains (TRL's `GRPOTrainer`, or
any `transformers.Trainer`).

At every save and evaluation (or every `every` steps) the callback samples the trainer's current policy in this
process (the trainer's own colocated vLLM or model, and its tokenizer: nothing is reloaded from disk), writes the
samples under the label ``<run>-<step>`` with the run and step in the store's manifest (so the store is a study's
training run: `tether compare STORE --base base --rl '<run>-*'`), grades them with the tasks' verifiers,
compares the step with the base and logs the comparison through the trainer's own loggers
(`Trainer.log`: TensorBoard, W&B and the rest see ``tether/…``). The base is an existing graded label, or the
policy at step 0, sampled once when training starts.

What it logs per step (docs/training.md): ``tether/P``, ``/E``, ``/S``, ``/O`` (tasks per region at k),
``tether/S_chance`` and ``/E_chance`` (what a policy identical to the base gives), ``tether/S_p`` and ``/E_p``
(their excess tests, Holm over the two), ``tether/srr``, ``/ndr``, ``/sds``, ``/nscr`` and ``tether/pass@K`` for
K on the comparison's grid (the policy's; at step 0, the base's).

The policy at step s is sampled with run seed ``seed + s`` (sample j of task t: seed (seed + s, t, j)), the base
sampled at step 0 with ``seed``: draws independent from step to step, as the chance levels assume (with the same
seeds, near-identical policies draw near-identical samples, which hides S and E). The decoding is the trainer's
own where its arguments say it (``temperature``, ``top_p``, ``max_completion_length``), else tether's defaults;
the trainer's ``top_k`` and ``min_p`` have no counterpart (a warning says so).

The engine is the trainer's own. A trainer that generates with a colocated vLLM (``use_vllm=True``,
``vllm_mode="colocate"``) is sampled through that `vllm.LLM` (`VLLMEngine.live`), after the trainer's own weight
sync (`sync_weights`, as before each of its generations: the LLM then holds the weights of this step, not of the
step's rollouts). Otherwise it is sampled with transformers on the unwrapped model (TRL's
`unwrap_model_for_generation`, which gathers ZeRO-3 shards); a trainer whose vLLM is a server
(``vllm_mode="server"``) also comes here, since the server takes one seed per request, not per sample, and so
does a colocated vLLM split by tensor parallelism, whose ranks generate together. With several processes, every
one joins the sync or the unwrapping and the main one samples.

A failure (the engine, the store, a verifier, the comparison) is logged as a warning and the step skipped; it is
never raised into training, and it leaves no verdicts of its own (a unit that failed writes nothing). The model's
train/eval mode and every random generator (Python, NumPy, torch, CUDA) are as they were after each evaluation.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import re
import time
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from tether import defaults
from tether.compare import CompareOptions, Comparison, compare
from tether.engines.base import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.engines.vllm_engine import VLLMEngine
from tether.errors import InputError
from tether.grading import GradeOptions, grade
from tether.metrics.adaptive import AdaptiveRule
from tether.sampling import SamplingConfig, sample
from tether.store import Store, open_store
from tether.store.schema import check_label
from tether.tasks import Task, load_tasks

log = logging.getLogger(__name__)
PREFIX = "tether/"
NOT_SAMPLED_THROUGH = {  # a trainer's vLLM that the callback does not sample through, and why
    "server": "the trainer generates with a vLLM server, which takes one seed per request",
    "split": "the trainer's colocated vLLM is split over processes (vllm_tensor_parallel_size > 1) that "
             "generate together",
}


@dataclass
class Evaluation:
    """One evaluation of the policy: its step and label, what was logged, or why it was skipped."""

    step: int
    label: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    comparison: Comparison | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


class EvaluationError(Exception):
    """An evaluation that cannot go on (failed units, ungraded samples): logged and skipped."""


class TetherCallback(TrainerCallback):
    """Sample, grade and compare the trainer's policy with the base at each save and evaluation, or every
    `every` steps; log SRR, NDR, NSCR, P/E/S/O and pass@k as ``tether/…`` through `Trainer.log`.

    `trainer`: the trainer whose policy is sampled (its model, processing class, accelerator and arguments).
    `store`: a tether store (created when absent). `tasks`: a task spec (``"lab-sums:2-12"``, a preset, a file)
    or `Task` objects. `k`: samples per task and step. `run`: the training run's name in the labels
    (``<run>-<step>``) and the manifest (default: the output folder's name). `base`: the label every step is
    compared with; sampled from the policy when training starts at step 0 where the store lacks it.
    `adaptive`: an `AdaptiveRule` (`tether.metrics.adaptive`) samples each task in rounds and stops it once its
    outcome at k is settled (docs/adaptive.md). `decoding`: how to sample (default: the trainer's own settings).
    """

    def __init__(self, trainer, store: str | Path | Store, tasks: str | Sequence[Task], k: int, *,
                 every: int | None = None, run: str | None = None, base: str = "base",
                 adaptive: AdaptiveRule | None = None, decoding: Decoding | None = None, seed: int = 0,
                 template: str = "auto", batch_size: int = 64, grading: GradeOptions | None = None,
                 options: CompareOptions | None = None):
        if every is not None and every < 1:
            raise InputError(f"every must be >= 1 step (or None: at each save and evaluation), got {every}")
        self.trainer = trainer
        self.store = open_store(store, create=True)
        self.tasks = load_tasks(tasks) if isinstance(tasks, str) else list(tasks)
        if not self.tasks:
            raise InputError("TetherCallback needs at least one task")
        self.run = run or safe_run_name(getattr(trainer.args, "output_dir", None))
        self.base = check_label(base)
        check_label(self.label(10 ** 9))  # the longest label a run may reach is a label
        self.config = SamplingConfig(k, decoding or trainer_decoding(trainer.args), seed=seed)
        self.every, self.adaptive, self.template, self.batch_size = every, adaptive, template, batch_size
        self.grading = grading or GradeOptions(workers=1)
        self.options = options or CompareOptions(extrapolate=0)
        self.evaluations: list[Evaluation] = []
        self.base_ready = False
        self._done: set[int] = set()
        if (mode := trainer_vllm_mode(trainer)) in NOT_SAMPLED_THROUGH:
            log.warning("tether: %s: its policy is sampled here with transformers (the same weights, per-sample "
                        "seeds)", NOT_SAMPLED_THROUGH[mode])

    def label(self, step: int) -> str:
        """The label of the policy at `step` (labels are file names: no '@')."""
        return f"{self.run}-{step}"

    # -- the trainer's events -------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        never = [name for name in ("save_strategy", "eval_strategy")
                 if str(getattr(getattr(args, name, "no"), "value", getattr(args, name, "no"))) == "no"]
        if self.every is None and len(never) == 2:
            log.warning("tether: the trainer neither saves nor evaluates (save_strategy and eval_strategy 'no'), "
                        "so no step is sampled: give TetherCallback every=N, or set save_steps")
        try:
            self.base_ready = self._prepare_base(state)
        except Exception as exc:  # noqa: BLE001 - never raised into training
            log.warning("tether: the base %r could not be prepared, so no step is compared: %s", self.base,
                        _said(exc))

    def on_step_end(self, args, state, control, **kwargs):
        if self.every is not None and state.global_step % self.every == 0:
            self.evaluate(state.global_step)

    def on_evaluate(self, args, state, control, **kwargs):
        if self.every is None:
            self.evaluate(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        if self.every is None:
            self.evaluate(state.global_step)

    # -- one evaluation -------------------------------------------------------------

    def evaluate(self, step: int) -> Evaluation | None:
        """Sample, grade and compare the policy at `step` (once per step) and log the result; a failure is
        logged as a warning and returned as an `Evaluation` with its error, never raised."""
        if step in self._done:
            return None
        self._done.add(step)
        found = Evaluation(step, self.label(step))
        started = time.perf_counter()
        try:
            if not self._sample(found.label, step):
                return None  # another process of a distributed run: the main one samples
            if self.base_ready:
                found.comparison = compare(store=self.store.root, base_label=self.base, rl_label=found.label,
                                           options=self.options)
                found.metrics = comparison_metrics(found.comparison)
        except Exception as exc:  # noqa: BLE001 - a failed evaluation is skipped, training goes on
            found.error = _said(exc)
            log.warning("tether: step %d (%s) not evaluated: %s", step, found.label, found.error)
        found.seconds = time.perf_counter() - started
        if found.ok and found.metrics:
            self._log({**found.metrics, f"{PREFIX}seconds": found.seconds})
        self.evaluations.append(found)
        return found

    def _prepare_base(self, state) -> bool:
        """Whether the base is graded in the store now: it was, or its samples were graded, or it was sampled
        from the policy at step 0 (marked as the run's step 0) and graded."""
        if self.base in self.store.labels("verdicts"):
            return True
        if self.base in self.store.labels("samples"):
            self._grade(self.base)
            return True
        if state.global_step != 0:
            log.warning("tether: the store has no base %r and training resumes at step %d, not 0: steps are "
                        "sampled but not compared", self.base, state.global_step)
            return False
        started = time.perf_counter()
        if not self._sample(self.base, 0):
            return False
        self._log({**base_pass_at_k(self.store, self.base, self.options), f"{PREFIX}seconds":
                   time.perf_counter() - started})
        return True

    def _sample(self, label: str, step: int) -> bool:
        """Sample the policy into `label`, mark it as this run's `step` and grade it; False on a process that is
        not the main one (it only joins the weight sync or the unwrapping)."""
        from tether.experiment.run import mark_checkpoint

        with self._engine(step) as engine:
            if engine is None:
                return False
            config = dataclasses.replace(self.config, seed=self.config.seed + step)
            if self.adaptive is not None:
                from tether.experiment.adaptive import sample_adaptive

                done = sample_adaptive(self.tasks, engine, self.store, label, config, self.adaptive, self.grading)
            else:
                done = sample(self.tasks, engine, self.store, label, config)
        if not done.ok:
            unit, error = done.failed[0]
            raise EvaluationError(f"{len(done.failed)} unit(s) failed to sample (first: {unit}: {error})")
        mark_checkpoint(self.store.root, label, (self.run, step))
        self._grade(label)
        return True

    def _grade(self, label: str) -> None:
        graded = grade(self.store, self.grading, labels=[label], tasks=self.tasks)
        if not graded.ok:
            raise EvaluationError(f"{graded.failed} sample(s) of {label!r} could not be graded")

    @contextmanager
    def _engine(self, step: int):
        """The engine that samples the policy at `step` on the main process (None on the others, which only join
        the weight sync or the unwrapping): the trainer's colocated vLLM holding its current weights, else
        transformers on the unwrapped policy. Every random generator's state is restored afterwards."""
        trainer = self.trainer
        tokenizer = getattr(trainer, "processing_class", None) or getattr(trainer, "tokenizer", None)
        if tokenizer is None or not hasattr(tokenizer, "pad_token_id"):
            raise InputError("TetherCallback samples text models: the trainer has no tokenizer as its processing "
                             "class")
        main = getattr(getattr(trainer, "accelerator", None), "is_main_process", True)
        with _generators_kept():
            if trainer_vllm_mode(trainer) == "colocate":
                with _synced(trainer) as llm:
                    yield VLLMEngine.live(llm, tokenizer, model_id=self._model_id(step),
                                          template=self.template) if main else None
            else:
                with self._policy() as model:
                    yield TransformersEngine.live(model, tokenizer, model_id=self._model_id(step),
                                                  template=self.template, batch_size=self.batch_size) if main else None

    @contextmanager
    def _policy(self):
        """The unwrapped policy in eval mode, without gradients, its mode restored afterwards."""
        import torch

        trainer = self.trainer
        wrapped = getattr(trainer, "model_wrapped", None) or trainer.model
        with _unwrapped(trainer, wrapped) as model:
            training = model.training
            model.eval()
            try:
                with torch.no_grad():
                    yield model
            finally:
                model.train(training)

    def _model_id(self, step: int) -> str:
        model = self.trainer.model
        name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
        return f"{name} (training run {self.run}, step {step})"

    def _log(self, metrics: dict[str, float]) -> None:
        """Through `transformers.Trainer.log` itself: TRL's own `log` would fold (and clear) the training metrics
        it has gathered since its last log into ours."""
        from transformers import Trainer

        Trainer.log(self.trainer, dict(metrics))


def comparison_metrics(c: Comparison) -> dict[str, float]:
    """What the callback logs of a step's comparison with the base (NaN rates left out: a logger draws no
    undefined point)."""
    found: dict[str, float] = {f"{PREFIX}{region}": float(value) for region, value in c.counts.as_dict().items()}
    found.update({f"{PREFIX}S_chance": c.chance.s.expected, f"{PREFIX}E_chance": c.chance.e.expected,
                  f"{PREFIX}S_p": c.chance.family["S"], f"{PREFIX}E_p": c.chance.family["E"]})
    found.update({f"{PREFIX}{name}": float(rate.value) for name, rate in c.rates.items()})
    found.update({f"{PREFIX}pass@{k}": float(v) for k, v in zip(c.k_grid, c.pass_at_k["rl"])})
    return {key: value for key, value in found.items() if math.isfinite(value)}


def base_pass_at_k(store: Store, label: str, options: CompareOptions) -> dict[str, float]:
    """The base's mean pass@k on the grid a comparison would use (`options.k_grid`, else powers of two up to
    the median budget): the policy's curve at step 0."""
    import numpy as np

    from tether.metrics.passk import log_k_grid, pass_at_k_where_sampled
    from tether.store.query import task_counts

    counts = task_counts(store, label)
    grid = np.array(options.k_grid) if options.k_grid else log_k_grid(int(np.median(counts.n)))
    curve = np.nanmean(pass_at_k_where_sampled(counts.n, counts.c, grid), axis=0)
    return {f"{PREFIX}pass@{int(k)}": float(v) for k, v in zip(grid, curve)}


def trainer_decoding(args) -> Decoding:
    """The trainer's own sampling settings as tether's `Decoding` (tether's defaults where it has none)."""
    temperature = getattr(args, "temperature", None)
    top_p = getattr(args, "top_p", None)
    max_tokens = getattr(args, "max_completion_length", None)
    unmatched = [f"{name} = {value}" for name in ("top_k", "min_p", "repetition_penalty")
                 if (value := getattr(args, name, None)) not in (None, 0, 0.0, 1.0, -1)]
    if unmatched:
        log.warning("tether: the trainer samples with %s, which tether's sampling does not apply: its samples come "
                    "from temperature and top_p only", ", ".join(unmatched))
    return Decoding(temperature=defaults.TEMPERATURE if temperature is None else float(temperature),
                    top_p=defaults.TOP_P if top_p is None else float(top_p),
                    max_tokens=defaults.MAX_TOKENS if max_tokens is None else int(max_tokens))


def trainer_vllm_mode(trainer) -> str | None:
    """How the trainer generates with vLLM: "colocate" (an in-process `vllm.LLM` at ``trainer.vllm_generation
    .llm``), "split" (colocated, with tensor parallelism: the ranks of a group generate together), "server"
    (TRL's `VLLMClient`), or None (it does not)."""
    if not getattr(getattr(trainer, "args", None), "use_vllm", False):
        return None
    generation = getattr(trainer, "vllm_generation", None)
    mode = getattr(generation, "mode", None)
    if mode == "colocate" and getattr(generation, "llm", None) is not None:
        return "colocate" if getattr(generation, "tensor_parallel_size", 1) == 1 else "split"
    return "server" if mode == "server" else None


def safe_run_name(output_dir: str | None) -> str:
    """A run name for labels from the trainer's output folder: letters, digits, '.', '_', '-' (else "run")."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(output_dir or "").name).strip("-._")[:40]
    return name or "run"


@contextmanager
def _synced(trainer):
    """The trainer's colocated `vllm.LLM` holding the policy's current weights: TRL's own `sync_weights` (every
    process joins it: it gathers sharded parameters), marked as the trainer's last sync so that its next
    generation at this step does not repeat it; with TRL's sleep mode, its cache awake while it samples and the
    LLM asleep again afterwards, as after TRL's own generation."""
    generation = trainer.vllm_generation
    generation.sync_weights()
    trainer._last_loaded_step = trainer.state.global_step
    sleeps = bool(getattr(generation, "enable_sleep_mode", False))
    if sleeps:
        generation.llm.wake_up(tags=["kv_cache"])
    try:
        yield generation.llm
    finally:
        if sleeps:
            generation.llm.sleep(level=2)
            generation._llm_weights_sleeping = True


@contextmanager
def _generators_kept():
    """Every random generator (Python, NumPy, torch, CUDA) as it was on entering, on leaving."""
    import numpy as np
    import torch

    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
              torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])


@contextmanager
def _unwrapped(trainer, wrapped):
    """The model as it generates: TRL's `unwrap_model_for_generation` (DeepSpeed ZeRO-3 shards gathered, gradient
    checkpointing off) where TRL and an accelerator are at hand, else the accelerator's unwrapped model."""
    accelerator = getattr(trainer, "accelerator", None)
    if accelerator is None:
        with nullcontext(wrapped) as model:
            yield model
        return
    try:
        from trl.models.utils import unwrap_model_for_generation
    except ImportError:
        yield accelerator.unwrap_model(wrapped)
        return
    kwargs = getattr(trainer.args, "gradient_checkpointing_kwargs", None)
    with unwrap_model_for_generation(wrapped, accelerator, gradient_checkpointing_kwargs=kwargs) as model:
        yield model


def _said(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
