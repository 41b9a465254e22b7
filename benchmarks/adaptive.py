"""Benchmark: adaptive against full sampling, the same seeds: tokens, wall time, and the regions.

    python benchmarks/adaptive.py [--parts lab,smollm2] [--k 1024] [--smollm2-k 256] [--smollm2-tasks 32]
                                  [--smollm2-max-tokens 256]

- lab: the shipped lab pair (`lab:base`, `lab:rl`) on lab-sums:2-44 (the demo's prompts, and harder ones) at
  k = 1024, temperature 1: a full run and an adaptive run of both models into two stores.
  Target: identical regions; adaptive tokens <= 30 % of the full run's.
- smollm2: SmolLM2-135M-Instruct (both labels the same model at two temperatures, as a stand-in
  pair) on 32 Reasoning Gym `basic_arithmetic` tasks at k = 256 on CPU; reported whatever it is,
  with the share of tasks stopped early.

Each run is graded the way `tether grade` grades (the adaptive run between its rounds); the
printed table has the samples and tokens each run wrote, its wall time, and the regions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))


def run_pair(tasks, models: dict[str, tuple[str, float]], k: int, store_root: Path, template: str,
             max_tokens: int) -> dict:
    """Full and adaptive runs of both labels; per mode: samples, tokens, seconds, regions."""
    import tether
    from tether.engines import Decoding
    from tether.engines.transformers_engine import TransformersEngine
    from tether.experiment.adaptive import sample_adaptive
    from tether.grading import GradeOptions, grade
    from tether.metrics.adaptive import AdaptiveRule
    from tether.sampling import SamplingConfig, sample

    found = {}
    for mode in ("full", "adaptive"):
        store, samples, tokens, started = store_root / mode, 0, 0, time.perf_counter()
        for label, (model, temperature) in models.items():
            engine = TransformersEngine(model, template=template, batch_size=512)
            config = SamplingConfig(k, Decoding(temperature, 1.0, max_tokens), seed=0, task_block=8, sample_block=256)
            if mode == "full":
                done = sample(tasks, engine, store, label, config)
                samples, tokens = samples + done.samples_written, tokens + done.tokens_written
            else:
                done = sample_adaptive(tasks, engine, store, label, config, AdaptiveRule(), GradeOptions(workers=2))
                samples, tokens = samples + done.samples_written, tokens + done.tokens_written
                found.setdefault("stopped", {})[label] = done.stopped_early
            engine.close()
        grade(store, GradeOptions(workers=2))
        result = tether.compare(store=store)
        found[mode] = {"samples": samples, "tokens": tokens, "seconds": time.perf_counter() - started,
                       "regions": dict(zip(result.task_ids.astype(str), result.regions)),
                       "counts": result.counts.as_dict()}
    return found


def report(name: str, found: dict, n_tasks: int) -> None:
    full, adaptive = found["full"], found["adaptive"]
    same = full["regions"] == adaptive["regions"]
    print(f"\n{name}: {n_tasks} tasks; regions identical: {same}; full {full['counts']}, "
          f"adaptive {adaptive['counts']}; tasks stopped early {found['stopped']}")
    print(f"{'run':10} {'samples':>10} {'tokens':>10} {'seconds':>8} {'tokens vs full':>15}")
    for mode in ("full", "adaptive"):
        row = found[mode]
        print(f"{mode:10} {row['samples']:10,} {row['tokens']:10,} {row['seconds']:8.1f} "
              f"{row['tokens'] / full['tokens']:14.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="lab")
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--smollm2-k", type=int, default=256)
    parser.add_argument("--smollm2-tasks", type=int, default=32)
    parser.add_argument("--smollm2-max-tokens", type=int, default=256)
    args = parser.parse_args()
    from tether.experiment.stages import resolve_model
    from tether.tasks import load_tasks

    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as folder:
        if "lab" in parts:
            tasks = load_tasks("lab-sums:2-44")  # the demo's prompts and harder ones beyond the training range
            models = {label: (resolve_model(f"lab:{label}"), 1.0) for label in ("base", "rl")}
            report(f"lab pair, k = {args.k}", run_pair(tasks, models, args.k, Path(folder) / "lab", "plain", 8),
                   len(tasks))
        if "smollm2" in parts:
            from sampling import default_model

            tasks = load_tasks(f"reasoning-gym:basic_arithmetic?size={args.smollm2_tasks}&seed=1")
            model = str(default_model())
            models = {"base": (model, 1.0), "rl": (model, 0.6)}
            report(f"SmolLM2-135M-Instruct, k = {args.smollm2_k}",
                   run_pair(tasks, models, args.smollm2_k, Path(folder) / "smol", "auto", args.smollm2_max_tokens),
                   len(tasks))


if __name__ == "__main__":
    main()
