"""The lab's model pair: shipped with the package, or trained once per configuration and cached.

`lab_models(config)` returns the folders of the base and RL checkpoints. For the demo's
configuration (``lab``) that is the pair shipped inside the package (`SHIPPED`, about 0.7 MB:
both safetensors checkpoints with tokenizer and config, ``lab.json`` with the configuration and
its hash, ``training.log`` with every step's loss and reward and the machine that trained it), so
every machine analyses the same pair: training on CPU is deterministic on one machine but not
bit-identical across processors and thread counts. Any other configuration, or ``train=True``,
trains (pretraining, then GRPO on `rl_targets`) into the cache, keyed by the configuration hash.
Both are standard Hugging Face checkpoints. An experiment file names them ``model = "lab:base"``
and ``model = "lab:rl"`` (the demo's configuration) or ``"lab-quick:..."``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tether.errors import InputError
from tether.lab.grpo import GRPOConfig, train_grpo
from tether.lab.pretrain import CorpusConfig, PretrainConfig, pretrain
from tether.progress import ProgressFactory, silent


@dataclass(frozen=True)
class LabConfig:
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    rl_targets: tuple[int, ...] = tuple(range(2, 31))
    trainer: str = "tether"  # the RL trainer: "tether" (tether.lab.grpo) or "trl" (TRL's GRPOTrainer)

    def __post_init__(self) -> None:
        if self.trainer not in ("tether", "trl"):
            raise InputError(f"lab trainer {self.trainer!r}: use 'tether' or 'trl'")

    def digest(self) -> str:
        fields = asdict(self)
        if self.trainer == "tether":
            del fields["trainer"]  # the hash of every pair trained before the choice existed
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


DEMO_CORPUS = CorpusConfig(targets=tuple(range(2, 41)), absent=(23, 29, 37), faint=(46, 47, 48, 49))

CONFIGS: dict[str, LabConfig] = {
    # the corpus covers N <= 40 (three of them absent) and shows N = 46..49 three times each; GRPO
    # trains on N <= 50; the demo also asks for N = 41..120, which the base reaches only faintly
    "lab": LabConfig(pretrain=PretrainConfig(corpus=DEMO_CORPUS), rl_targets=tuple(range(2, 51))),
    # the same pair, GRPO by TRL's GRPOTrainer instead of tether's own (benchmarks/trainer.py compares them)
    "lab-trl": LabConfig(pretrain=PretrainConfig(corpus=DEMO_CORPUS), rl_targets=tuple(range(2, 51)), trainer="trl"),
    "lab-quick": LabConfig(
        pretrain=PretrainConfig(corpus=CorpusConfig(examples=8000), steps=300, batch=128),
        grpo=GRPOConfig(steps=20, prompts_per_step=8, lr=2e-3),
    ),
}

Stage = Callable[[str], None]


def cache_root() -> Path:
    return Path(os.environ.get("TETHER_CACHE", Path.home() / ".cache" / "tether")) / "lab"


SHIPPED = Path(__file__).parent / "pair"  # the demo configuration's pair, trained once and shipped


def shipped_pair(config: LabConfig) -> tuple[Path, Path] | None:
    """The shipped (base, RL) folders when they were trained with exactly `config`, else None."""
    record = SHIPPED / "lab.json"
    if not record.is_file() or json.loads(record.read_text()).get("digest") != config.digest():
        return None
    return SHIPPED / "base", SHIPPED / "rl"


def lab_models(config: LabConfig, cache_dir: Path | None = None, on_stage: Stage | None = None,
               progress: ProgressFactory = silent, train: bool = False) -> tuple[Path, Path]:
    """(base folder, RL folder): the shipped pair of this configuration, else a cached one, else
    trained now; `train=True` trains from scratch (replacing a cached pair)."""
    if not train:
        found = shipped_pair(config)
        if found:
            return found
    folder = (cache_dir or cache_root()) / f"pair-{config.digest()}"
    if not train and (folder / "rl" / "config.json").exists():
        return folder / "base", folder / "rl"
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        train_pair(config, staging, on_stage, progress)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / "base", folder / "rl"


def train_pair(config: LabConfig, folder: Path, on_stage: Stage | None = None,
               progress: ProgressFactory = silent) -> None:
    """Pretrain the base and GRPO-tune it into `folder` (``base/``, ``rl/``, ``lab.json``, ``training.log``)."""
    import platform

    import torch

    with open(folder / "training.log", "w") as log:
        log.write(json.dumps({"digest": config.digest(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                              "machine": platform.machine(), "processor": _cpu_name()}) + "\n")

        def record(stage: str, bar):
            def on_step(step: int, value: float) -> None:
                log.write(json.dumps({"stage": stage, "step": step, "value": round(float(value), 6)}) + "\n")
                bar.advance()
            return on_step

        if on_stage:
            on_stage(f"pretraining the base model ({config.pretrain.steps} steps)")
        with progress("pretraining") as bar:
            bar.start(config.pretrain.steps)
            pretrain(config.pretrain, folder / "base", on_step=record("pretrain loss", bar))
        if on_stage:
            on_stage(f"GRPO on {len(config.rl_targets)} prompts ({config.grpo.steps} steps)")
        with progress("GRPO") as bar:
            bar.start(config.grpo.steps)
            trainer = train_grpo
            if config.trainer == "trl":
                from tether.lab.trl_grpo import train_trl_grpo as trainer
            trainer(folder / "base", list(config.rl_targets), config.grpo, folder / "rl",
                    on_step=record("grpo mean reward", bar))
    (folder / "lab.json").write_text(json.dumps({"digest": config.digest(), **asdict(config)}, indent=2))


def _cpu_name() -> str:
    import platform

    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def resolve_lab_model(spec: str, on_stage: Stage | None = None, progress: ProgressFactory = silent) -> str:
    """``lab:base`` / ``lab-quick:rl`` -> the shipped or cached checkpoint folder (trained if needed)."""
    name, _, role = spec.partition(":")
    if name not in CONFIGS or role not in ("base", "rl"):
        raise InputError(f"unknown lab model {spec!r}; use one of "
                         + ", ".join(f"{n}:base, {n}:rl" for n in CONFIGS))
    base, rl = lab_models(CONFIGS[name], on_stage=on_stage, progress=progress)
    return str(base if role == "base" else rl)


def is_lab_model(spec: str) -> bool:
    return spec.split(":", 1)[0] in CONFIGS and ":" in spec
