"""Make the bundled toy example: graded samples of a base and an RL model with known truth.

Run from the repository root (numpy only, seed 20261126):

    python examples/make_toy.py            # writes examples/toy/{base,rl}.jsonl.gz, truth.csv

120 math-style tasks, 256 samples per task per model. Each task has a true
probability of a correct sample under each model, drawn by group:

    group       tasks  p_base            p_rl                     true region
    sharpened     70   U(0.05, 0.60)     min(0.98, 1.6 p_base + 0.1)   P
    shrunk        20   U(0.03, 0.08)     0                         S
    expanded       8   0                 U(0.03, 0.20)             E
    unsolved      22   0                 0                         O

With 256 samples a task of p >= 0.03 is missed with probability <= 4e-4, so the
sampled regions equal the true ones (they do for this seed; the tests check it).
RL sharpens the easy tasks and loses the rare ones, so the RL model leads at
small k and the base overtakes it at large k: the example has a crossover.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np

SEED = 20261126
SAMPLES = 256
GROUPS = (("sharpened", 70, "P"), ("shrunk", 20, "S"), ("expanded", 8, "E"), ("unsolved", 22, "O"))


def true_probabilities(rng: np.random.Generator) -> list[dict]:
    """One row per task: id, group, true region, p_base, p_rl, gold answer."""
    tasks = []
    for group, size, region in GROUPS:
        for _ in range(size):
            if group == "sharpened":
                p_base = rng.uniform(0.05, 0.60)
                p_rl = min(0.98, 1.6 * p_base + 0.1)
            elif group == "shrunk":
                p_base, p_rl = rng.uniform(0.03, 0.08), 0.0
            elif group == "expanded":
                p_base, p_rl = 0.0, rng.uniform(0.03, 0.20)
            else:
                p_base = p_rl = 0.0
            tasks.append({"group": group, "region": region, "p_base": p_base, "p_rl": p_rl})
    order = rng.permutation(len(tasks))
    rows = []
    for number, index in enumerate(order):
        gold = int(rng.integers(10, 1000))
        rows.append({"task_id": f"toy-{number:03d}", "gold": gold, **tasks[index]})
    return rows


def samples(rng: np.random.Generator, task: dict, p: float) -> list[dict]:
    """`SAMPLES` graded completions of one model on one task."""
    correct = rng.random(SAMPLES) < p
    wrong = rng.integers(1, 1000, size=SAMPLES)
    wrong = np.where(wrong == task["gold"], wrong + 1, wrong)
    rows = []
    for idx in range(SAMPLES):
        answer = str(task["gold"] if correct[idx] else int(wrong[idx]))
        rows.append({
            "task_id": task["task_id"],
            "sample_idx": idx,
            "completion": f"Working through the problem step by step, the result is \\boxed{{{answer}}}.",
            "answer": answer,
            "correct": bool(correct[idx]),
        })
    return rows


def main(out: Path = Path(__file__).parent / "toy") -> None:
    rng = np.random.default_rng(SEED)
    tasks = true_probabilities(rng)
    out.mkdir(parents=True, exist_ok=True)
    for label in ("base", "rl"):
        # mtime=0 keeps the gzip bytes identical from run to run
        with open(out / f"{label}.jsonl.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
            for task in tasks:
                for row in samples(rng, task, task[f"p_{label}"]):
                    handle.write((json.dumps(row) + "\n").encode())
    with open(out / "truth.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["task_id", "group", "region", "p_base", "p_rl", "gold"])
        writer.writeheader()
        for task in tasks:
            writer.writerow({**task, "p_base": f"{task['p_base']:.6f}", "p_rl": f"{task['p_rl']:.6f}"})


if __name__ == "__main__":
    main()
