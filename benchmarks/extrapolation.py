"""How far to trust pass@k beyond the samples: the beta-binomial extrapolation where the truth is known.

    python benchmarks/extrapolation.py [--tasks 500] [--n 256] [--repeats 20]

Simulates benchmarks whose per-task success probabilities are known, samples n per task, and
extrapolates mean pass@k to k = 2n ... 32n (up to 8192 from 256). Two populations: one drawn from a
beta distribution (the model is right), and a benchmark-like mix (a third moderate, a third rare
at 1e-4..1e-2, a third never solved; the model is wrong). Prints the mean error (estimate - truth)
and the share of runs whose interval covers the truth, per k. The figures are in docs/science.md.
"""

from __future__ import annotations

import argparse

import numpy as np

from tether.metrics import extrapolate


def population(kind: str, rng, tasks: int) -> np.ndarray:
    if kind == "beta(0.3, 3)":
        return rng.beta(0.3, 3.0, tasks)
    mix = rng.integers(0, 3, tasks)
    return np.where(mix == 0, rng.beta(0.6, 2.0, tasks), np.where(mix == 1, 10 ** rng.uniform(-4, -2, tasks), 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ks = args.n * 2 ** np.arange(1, 6)
    print(f"{args.repeats} runs of {args.tasks} tasks, n = {args.n} samples each; mean error (estimate - truth) "
          "of mean pass@k, and coverage of the 95 % interval\n")
    print(f"{'population':>14} " + " ".join(f"{f'k={k}':>16}" for k in ks))
    for kind in ("beta(0.3, 3)", "benchmark mix"):
        errors, covered = [], []
        for _ in range(args.repeats):
            p = population(kind, rng, args.tasks)
            c = rng.binomial(args.n, p)
            truth = (1 - (1 - p[:, None]) ** ks).mean(axis=0)
            found = extrapolate(np.full(args.tasks, args.n), c, np.full(args.tasks, args.n), c, ks, reps=200)
            errors.append(found.means["base"] - truth)
            lo, hi = found.cis["base"]
            covered.append((lo <= truth) & (truth <= hi))
        error, cover = np.mean(errors, axis=0), np.mean(covered, axis=0)
        print(f"{kind:>14} " + " ".join(f"{e:+.3f} ({c:4.0%})".rjust(16) for e, c in zip(error, cover)))


if __name__ == "__main__":
    main()
