"""Benchmark: the lab's own GRPO against TRL's `GRPOTrainer`, on the lab's task and tiny model.

    python benchmarks/trainer.py [--steps 300]     # needs `pip install trl`

Both start from the shipped base model (`tether/lab/pair/base`) and train on N = 2..50 with the
same reward (the `lab_sum` verifier's 0/1), the lab's settings: 16 prompts x 8 completions per
step, learning rate 3e-4 (constant, Adam without weight decay), beta (KL coefficient) 0.04, clip
0.2, one gradient step per batch, temperature 1, at most 6 tokens, group-normalised advantages,
per-sequence token means. Each trained model is then analysed exactly on the demo's prompts
(enumeration to 1e-9): its total-variation distance to the closed-form tilt of the base
(tilt = 1 / beta; mean over prompts) and the expected regions at k = 1024 against the base. Prints
a table with the training time of each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

DEMO_PROMPTS = "lab-sums:2-12,23,29,37,41-50,54,60,66-68,74,88,100,120"
TARGETS = list(range(2, 51))


def train_lab(base: Path, out: Path, steps: int) -> float:
    from tether.lab.grpo import GRPOConfig, train_grpo

    start = time.perf_counter()
    train_grpo(base, TARGETS, GRPOConfig(steps=steps), out)
    return time.perf_counter() - start


def train_trl(base: Path, out: Path, steps: int) -> float:
    from tether.lab.grpo import GRPOConfig
    from tether.lab.trl_grpo import train_trl_grpo

    start = time.perf_counter()
    train_trl_grpo(base, TARGETS, GRPOConfig(steps=steps), out)
    return time.perf_counter() - start


def evaluate(base: Path, rl: Path) -> dict:
    from tether.experiment.demo import exact_prompts
    from tether.lab.analysis import analyse
    from tether.metrics import detectability_epsilon
    from tether.tasks import load_tasks

    prompts = exact_prompts(load_tasks(DEMO_PROMPTS), base, rl, max_tokens=6, threshold=1e-9)
    found = analyse(prompts, k=1024, epsilon=detectability_epsilon(1024), lower=1e-8, tilt=1 / 0.04, k_grid=[1, 1024])
    return {"tv": float(np.mean(found.tv_grpo)), "regions": found.expected_regions,
            "p_correct": found.mean("rl", "p_correct")}


def main() -> None:
    from tether.lab.models import SHIPPED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tether-trainer-"))
    base = SHIPPED / "base"
    try:
        rows = {}
        for name, train in (("tether lab GRPO", train_lab), ("TRL GRPOTrainer", train_trl)):
            seconds = train(base, work / name.split()[0], args.steps)
            rows[name] = {"seconds": seconds, **evaluate(base, work / name.split()[0])}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nGRPO on the lab task ({args.steps} steps x 16 prompts x 8 completions), from the shipped base")
    print(f"{'':18} {'train s':>8} {'TV to tilt':>11} {'mean P(correct)':>16}   expected regions at k = 1024")
    for name, row in rows.items():
        regions = " ".join(f"{r} {v:.2f}" for r, v in row["regions"].items())
        print(f"{name:18} {row['seconds']:8.1f} {row['tv']:11.3f} {row['p_correct']:16.3f}   {regions}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
