"""Benchmark: adaptive against full sampling, the same seeds: tokens, wall time, the regions, and the floor.

    python benchmarks/adaptive.py [--parts lab,hard,smollm2] [--k 1024] [--hard-k 512] [--smollm2-k 256]
                                  [--smollm2-tasks 32] [--smollm2-max-tokens 256]

- lab: the shipped lab pair (`lab:base`, `lab:rl`) on lab-sums:2-44 (the demo's prompts, and harder ones) at
  k = 1024, temperature 1.
- hard: the same pair on a harder mix, 26 prompts of which four are all but never solved (sums 74, 88, 100,
  120), at k = 512: unsolved tasks go on to k under every rule, so adaptive budgets save less.
- smollm2: SmolLM2-135M-Instruct (both labels the same model at two temperatures, as a stand-in
  pair) on 32 Reasoning Gym `basic_arithmetic` tasks at k = 256 on CPU; reported whatever it is.

Each part samples both labels three times into three stores: in full, under the pass@k rule (`--adaptive`)
and under the regions rule (`--adaptive-rule regions`: stopped at the end of the round with the first
success), graded the way `tether grade` grades (the adaptive runs between their rounds). The floor is
what stopping each (task, model) at its very first success would have drawn: measured on the full run's
own samples (the same seeds: sample j is the same in every run), and expected, E[min(first success, k)]
= (1 − (1 − p)^k)/p, beside the rules' expected costs (`tether.metrics.adaptive`), with p each task's
rate in the full run. Targets: every run's regions identical to the full run's; the regions rule within
1.5x of the floor's tokens.
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

HARD = "lab-sums:2-12,23,29,37,41-48,74,88,100,120"  # 26 prompts, the last four all but never solved at k = 512


def rules() -> dict:
    from tether.metrics.adaptive import AdaptiveRule, regions_rule

    return {"full": None, "rule": AdaptiveRule(), "regions": regions_rule()}


def run_pair(tasks, models: dict[str, tuple[str, float]], k: int, store_root: Path, template: str,
             max_tokens: int) -> dict:
    """Full, pass@k-rule and regions-rule runs of both labels; per run: samples, tokens, seconds, regions; and
    the floor on the full run's samples."""
    import tether
    from tether.engines import Decoding
    from tether.engines.transformers_engine import TransformersEngine
    from tether.experiment.adaptive import sample_adaptive
    from tether.grading import GradeOptions, grade
    from tether.sampling import SamplingConfig, sample

    found = {}
    for mode, rule in rules().items():
        store, samples, tokens, started = store_root / mode, 0, 0, time.perf_counter()
        for label, (model, temperature) in models.items():
            engine = TransformersEngine(model, template=template, batch_size=512)
            config = SamplingConfig(k, Decoding(temperature, 1.0, max_tokens), seed=0, task_block=8, sample_block=256)
            if rule is None:
                done = sample(tasks, engine, store, label, config)
            else:
                done = sample_adaptive(tasks, engine, store, label, config, rule, GradeOptions(workers=2))
                found.setdefault("stopped", {}).setdefault(mode, {})[label] = done.stopped_early
            samples, tokens = samples + done.samples_written, tokens + done.tokens_written
            engine.close()
        grade(store, GradeOptions(workers=2))
        result = tether.compare(store=store)
        found[mode] = {"samples": samples, "tokens": tokens, "seconds": time.perf_counter() - started,
                       "regions": dict(zip(result.task_ids.astype(str), result.regions)),
                       "counts": result.counts.as_dict()}
    found["floor"], found["expected"] = floor(store_root / "full", list(models), k)
    return found


def floor(store_path: Path, labels: list[str], k: int) -> tuple[dict, dict]:
    """The floor measured on the full run's samples (each task up to its first success), and the expected
    samples of each rule and of the floor under each task's rate in the full run."""
    import numpy as np

    from tether.metrics.adaptive import expected_samples, floor_samples
    from tether.store import open_store
    from tether.store.query import first_success_costs, task_counts

    store = open_store(store_path)
    measured = {"samples": 0, "tokens": 0}
    expected = {"rule": 0.0, "regions": 0.0, "floor": 0.0}
    for label in labels:
        costs = first_success_costs(store, label)
        measured["samples"] += sum(n for n, _ in costs.values())
        measured["tokens"] += sum(t or 0 for _, t in costs.values())
        counts = task_counts(store, label)
        p = counts.c / np.maximum(counts.n, 1)
        expected["floor"] += float(floor_samples(p, k).sum())
        for mode in ("rule", "regions"):
            expected[mode] += float(expected_samples(p, k, rules()[mode]).sum())
    return measured, expected


def report(name: str, found: dict, n_tasks: int) -> None:
    full, floored = found["full"], found["floor"]
    same = {mode: found[mode]["regions"] == full["regions"] for mode in ("rule", "regions")}
    print(f"\n{name}: {n_tasks} tasks, both models; regions identical to the full run's: pass@k rule {same['rule']}, "
          f"regions rule {same['regions']}; full {full['counts']}; tasks stopped before k {found['stopped']}")
    print(f"{'run':26} {'samples':>10} {'tokens':>10} {'seconds':>8} {'tokens vs full':>15} {'vs floor':>9}")
    rows = [("full", full), ("pass@k rule (--adaptive)", found["rule"]), ("regions rule", found["regions"]),
            ("floor (first success)", {**floored, "seconds": None})]
    for title, row in rows:
        seconds = "" if row["seconds"] is None else f"{row['seconds']:8.1f}"
        share = row["tokens"] / full["tokens"]
        print(f"{title:26} {row['samples']:10,} {row['tokens']:10,} {seconds:>8} {share:14.1%} "
              f"{row['tokens'] / floored['tokens']:8.2f}x")
    e = found["expected"]
    print(f"expected samples at the full run's rates: pass@k rule {e['rule']:,.0f}, regions rule {e['regions']:,.0f} "
          f"({e['regions'] / e['floor']:.2f}x the floor), floor {e['floor']:,.0f}; regions rule vs the floor's "
          f"tokens {found['regions']['tokens'] / floored['tokens']:.2f}x (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="lab,hard")
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--hard-k", type=int, default=512)
    parser.add_argument("--smollm2-k", type=int, default=256)
    parser.add_argument("--smollm2-tasks", type=int, default=32)
    parser.add_argument("--smollm2-max-tokens", type=int, default=256)
    args = parser.parse_args()
    from tether.experiment.stages import resolve_model
    from tether.tasks import load_tasks

    parts = set(args.parts.split(","))
    lab = {label: (resolve_model(f"lab:{label}"), 1.0) for label in ("base", "rl")} if parts & {"lab", "hard"} else {}
    with tempfile.TemporaryDirectory() as folder:
        for part, spec, k in (("lab", "lab-sums:2-44", args.k), ("hard", HARD, args.hard_k)):
            if part in parts:
                tasks = load_tasks(spec)
                report(f"lab pair on {spec}, k = {k}", run_pair(tasks, lab, k, Path(folder) / part, "plain", 8),
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
