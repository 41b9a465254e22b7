"""The lab's base model: a tiny Llama trained from scratch on a skewed corpus of sums.

`make_corpus` draws "N:a+b" examples: for each target N a few favourite
decompositions are common, a few are rare, the rest of its solutions never
appear; some targets are absent altogether, and a fraction of examples are
wrong. `pretrain` fits a character-level Llama to the completions (the loss is
on the completion and its EOS, not the prompt) and saves a standard Hugging
Face checkpoint with its tokenizer. Seeded and deterministic on CPU.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tether.tasks import sums


@dataclass(frozen=True)
class CorpusConfig:
    targets: tuple[int, ...] = tuple(range(2, 31))
    absent: tuple[int, ...] = (23, 29)  # never in the corpus
    examples: int = 40_000
    common_modes: int = 2
    rare_modes: int = 2
    rare_weight: float = 0.01  # relative to a common mode's weight of 1
    wrong_fraction: float = 0.05
    faint: tuple[int, ...] = ()  # targets beyond the corpus range seen only `faint_examples` times each
    faint_examples: int = 3
    seed: int = 0


@dataclass(frozen=True)
class PretrainConfig:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    steps: int = 1500
    batch: int = 256
    lr: float = 3e-3
    seed: int = 0

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def make_corpus(config: CorpusConfig) -> list[tuple[int, str]]:
    """(N, completion) pairs; the modes per target are chosen by the seed; faint targets come last."""
    rng = np.random.default_rng(config.seed)
    present = [n for n in config.targets if n not in config.absent]
    modes: dict[int, tuple[list[str], np.ndarray]] = {}
    for n in present:
        options = list(rng.permutation(sums.solutions(n)))
        common = options[: config.common_modes]
        rare = options[config.common_modes : config.common_modes + config.rare_modes]
        weights = np.array([1.0] * len(common) + [config.rare_weight] * len(rare))
        modes[n] = (common + rare, weights / weights.sum())
    corpus = []
    for _ in range(config.examples):
        n = int(rng.choice(present))
        if rng.random() < config.wrong_fraction:
            a = int(rng.integers(0, n + 1))
            b = int(rng.integers(0, n + 1))
            completion = f"{a}+{b if a + b != n else b + 1}"
        else:
            options, weights = modes[n]
            completion = options[int(rng.choice(len(options), p=weights))]
        corpus.append((n, completion))
    for n in config.faint:
        options = sums.solutions(n)
        corpus += [(n, options[int(rng.integers(len(options)))]) for _ in range(config.faint_examples)]
    return corpus


def pretrain(config: PretrainConfig, out_dir: str | Path, on_step=None) -> Path:
    """Train the base model and save it (model + tokenizer) to `out_dir`."""
    import torch

    from tether.lab.checkpoint import char_tokenizer, save_checkpoint, tiny_llama

    torch.manual_seed(config.seed)
    tokenizer = char_tokenizer(sums.ALPHABET, chat_template=None)
    model = tiny_llama(len(tokenizer), hidden=config.hidden, layers=config.layers, heads=config.heads,
                       seed=config.seed, max_positions=32)
    ids, labels = _encode(make_corpus(config.corpus), tokenizer)
    rng = np.random.default_rng(config.seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=config.steps, pct_start=0.1)
    model.train()
    for step in range(config.steps):
        rows = torch.from_numpy(rng.integers(0, len(ids), config.batch))
        loss = model(input_ids=ids[rows], labels=labels[rows]).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if on_step:
            on_step(step, loss.item())
    return save_checkpoint(model.eval(), tokenizer, out_dir)


def _encode(corpus: list[tuple[int, str]], tokenizer):
    """Right-padded token ids, with labels only on the completion and its EOS (-100 elsewhere)."""
    import torch

    rows, targets = [], []
    for n, completion in corpus:
        prompt_ids = tokenizer(sums.prompt(n), add_special_tokens=False)["input_ids"]
        completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append(prompt_ids + completion_ids)
        targets.append([-100] * len(prompt_ids) + completion_ids)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    labels = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
    return ids, labels
