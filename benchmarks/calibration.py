"""Calibration of the chance levels: do two identical models look identical?

    python benchmarks/calibration.py [--tasks 500] [--repeats 200] [--seed 0]

For each budget (k = 64, 256, 1024; equal budgets, and the RL model with a quarter of the base's
samples) it simulates `repeats` comparisons of two models with the *same* per-task success
probabilities (a benchmark-like mix: many tasks rare, 1e-4 to 1e-2), and reports

- false alarms: the share of runs whose S (or E) excess is significant at 0.05 (target <= 6 %);
- KS: the Kolmogorov-Smirnov p-value of the randomised p-values against uniform (target > 0.01;
  the reported p-values are the conservative, non-randomised ones);
- coverage: the share of runs whose observed S lies in its 95 % chance interval (target >= 93 %);
- BH: the share of runs in which any task survives Benjamini-Hochberg at 0.05;
- power: the same with a sharpening pair (RL loses all its probability on 10 % of the tasks):
  the share of runs that flag the S excess.

Then the inference beyond the counts (`tether.compare.calibration.null_rates`: `compare_counts` itself on
identical models, 500 tasks of a benchmark-like mix), each rate beside its target:

- delta band: the simultaneous band of the paired Δpass@k excludes 0 at some k (target <= 5 %), beside the
  nine pointwise intervals it replaces (no target: about a fifth);
- crossover: a crossover is printed (target <= 5 %);
- S or E: either excess beyond chance after Holm over the two (target <= 5 %); any task at q <= 0.05 (<= 5 %);
- NSCR: its interval excludes 0 (target <= 5 %, budgets matched; unmatched it is biased, and warned);
- coverage: the base's mean pass@k interval at the largest k holds the truth it is for (target >= 95 %):
  the population mean with the default intervals (tasks resampled), the task set's own mean with
  `--intervals fixed`.

Prints two tables. The figures are recorded in docs/science.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import kstest

from tether.compare import CompareOptions
from tether.compare.calibration import null_rates
from tether.metrics import chance_levels, classify_tasks, poisson_binomial, region_chances, region_tests

# (budgets, intervals, matched): the inference table's rows
INFERENCE = [((256, 256), "tasks", True), ((256, 256), "fixed", True), ((64, 64), "tasks", True),
             ((256, 64), "tasks", True), ((256, 64), "tasks", False)]
TARGETS = {"delta band": 0.05, "crossover": 0.05, "S or E": 0.05, "task": 0.05, "NSCR": 0.05}


def task_probabilities(rng, tasks: int) -> np.ndarray:
    """A benchmark-like mix: a third easy-to-moderate, a third rare (1e-4..1e-2), a third never solved."""
    kind = rng.integers(0, 3, tasks)
    return np.where(kind == 0, rng.beta(0.6, 2.0, tasks),
                    np.where(kind == 1, 10 ** rng.uniform(-4, -2, tasks), 0.0))


def randomised_p(observed: int, p_task: np.ndarray, rng) -> float:
    """P(X > observed) + U * P(X = observed): exactly uniform under the null, for the KS check."""
    offset, pmf = poisson_binomial(p_task)
    values = offset + np.arange(len(pmf))
    return float(pmf[values > observed].sum() + rng.random() * pmf[values == observed].sum())


def one_setting(rng, tasks: int, repeats: int, n_base: int, n_rl: int) -> dict:
    nb, nr = np.full(tasks, n_base), np.full(tasks, n_rl)
    alarms, covered, bh, uniform, power = 0, 0, 0, [], 0
    for _ in range(repeats):
        p = task_probabilities(rng, tasks)
        cb, cr = rng.binomial(nb, p), rng.binomial(nr, p)
        regions = classify_tasks(nb, cb, nr, cr)
        chance = chance_levels(nb, cb, nr, cr, regions)
        alarms += (chance.s.p_value <= 0.05) + (chance.e.p_value <= 0.05)
        covered += chance.s.interval[0] <= chance.s.observed <= chance.s.interval[1]
        bh += sum(region_tests(regions, nb, cb, nr, cr).significant(regions, 0.05).values()) > 0
        p_s, _ = region_chances(nb, cb, nr, cr)
        uniform.append(randomised_p(chance.s.observed, p_s, rng))
        lost = rng.random(tasks) < 0.1  # the sharpening pair: RL never solves these
        cr = rng.binomial(nr, np.where(lost, 0.0, p))
        regions = classify_tasks(nb, cb, nr, cr)
        power += chance_levels(nb, cb, nr, cr, regions).s.p_value <= 0.05
    return {"false alarms": alarms / (2 * repeats), "KS p": float(kstest(uniform, "uniform").pvalue),
            "coverage": covered / repeats, "BH any": bh / repeats, "power": power / repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inference-repeats", type=int, default=200, help="runs per row of the second table")
    parser.add_argument("--reps", type=int, default=1000, help="bootstrap replicates per comparison")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{args.repeats} simulated comparisons of identical models per row, {args.tasks} tasks each\n")
    print(f"{'budgets (base, RL)':>20} {'false alarms':>13} {'KS p':>7} {'coverage':>9} {'BH any':>7} "
          f"{'power':>6} {'seconds':>8}")
    ok = True
    for k in (64, 256, 1024):
        for n_base, n_rl in ((k, k), (k, k // 4)):
            start = time.perf_counter()
            row = one_setting(rng, args.tasks, args.repeats, n_base, n_rl)
            ok &= row["false alarms"] <= 0.06 and row["KS p"] > 0.01 and row["coverage"] >= 0.93
            print(f"{f'({n_base}, {n_rl})':>20} {row['false alarms']:13.1%} {row['KS p']:7.2f} {row['coverage']:9.1%} "
                  f"{row['BH any']:7.1%} {row['power']:6.0%} {time.perf_counter() - start:8.1f}")
    print(f"\ntargets (false alarms <= 6 %, KS p > 0.01, coverage >= 93 %): {'met' if ok else 'MISSED'}")
    inference(args)


def inference(args) -> None:
    """The second table: what the comparison calls beyond chance on identical models (module docstring)."""
    print(f"\n{args.inference_repeats} comparisons of identical models per row, {args.tasks} tasks, "
          f"{args.reps} bootstrap replicates\n")
    names = ("delta band", "delta pointwise", "crossover", "S or E", "task", "NSCR", "coverage")
    print(f"{'budgets, intervals':>28} " + " ".join(f"{name:>15}" for name in names) + f" {'seconds':>8}")
    targets = {name: "<= 5 %" if name in TARGETS else ">= 95 %" if name == "coverage" else "" for name in names}
    print(f"{'target':>28} " + " ".join(f"{targets[name]:>15}" for name in names))
    missed = []
    for budgets, intervals, matched in INFERENCE:
        start = time.perf_counter()
        options = CompareOptions(bootstrap_reps=args.reps, intervals=intervals, match_budget=matched)
        row = null_rates(args.tasks, budgets, args.inference_repeats, options, seed=args.seed)
        label = f"{budgets}, {intervals}{'' if matched else ', unmatched'}"
        checked = {name: limit for name, limit in TARGETS.items() if matched or name != "NSCR"}
        missed += [f"{label} {name} {row[name]:.1%}" for name, limit in checked.items() if row[name] > limit + 0.02]
        missed += [f"{label} coverage {row['coverage']:.1%}"] if row["coverage"] < 0.93 else []
        print(f"{label:>28} " + " ".join(f"{row[name]:15.1%}" for name in names)
              + f" {time.perf_counter() - start:8.1f}")
    print(f"\ntargets (within 2 points for Monte Carlo noise; NSCR unmatched: biased, warned): "
          f"{'MISSED: ' + '; '.join(missed) if missed else 'met'}")


if __name__ == "__main__":
    main()
