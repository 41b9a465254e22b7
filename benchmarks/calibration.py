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

Prints one table. The figures are recorded in docs/science.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import kstest

from tether.metrics import chance_levels, classify_tasks, poisson_binomial, region_chances, region_tests


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


if __name__ == "__main__":
    main()
