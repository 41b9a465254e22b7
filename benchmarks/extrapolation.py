"""How far to trust the regions beyond the samples: the joint extrapolation where the truth is known.

    python benchmarks/extrapolation.py [--small] [--tasks 500] [--repeats 100] [--reps 200] [--jobs 1] [--seed 0]

Simulates pairs of models whose per-task success probabilities are known, samples n per task and model,
and asks `tether.metrics.extrapolate` for the expected S and E at n (the sampled budget: a check), 2n, 4n
and 16n. Populations:

- identical, beta: both models p ~ Beta(0.3, 3);
- identical, mix: both models the benchmark-like mix of benchmarks/calibration.py (a third
  Beta(0.6, 2), a third rare at 1e-4..1e-2, a third never solved);
- sharpened: the base the mix, RL = 0 on a random 10 % of tasks and 1 − (1 − p)² on the rest;
- mixture: the base Beta(0.3, 3); RL = the base on half the tasks, 1 − (1 − p)⁴ on a quarter, p/10
  on a quarter;
- sparse: both models p = 10^U(−5, −2.5) (few tasks ever solved).

Per row (population, n, budget K): the true expected S and E (Σ g_b(1 − g_r) with g = 1 − (1 − p)^K,
from the known p, averaged over runs), the mean estimate and its relative bias (over the runs where it
is shown), the share of shown runs whose 95 % interval covers the run's own truth, and the share of
runs refused. Each rate is printed beside its target: where shown, bias within 20 % and coverage
>= 90 %; a refusal meets the target. `--small` (CI; < 60 s on one core) runs fewer, smaller runs.
`--all-k` also prints what the estimate would have been where it is refused (bias and coverage over
every run), which is how the refusal threshold was chosen. `--seed` picks another set of simulated
runs: explore on one, report another (the table in docs/science.md is seed 0). The full table is in
docs/science.md.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from tether.metrics.extrapolate import MAX_FACTOR, UNSEEN_LIMIT, extrapolate

POPULATIONS = ("identical, beta", "identical, mix", "sharpened", "mixture", "sparse")
FACTORS = (1, 2, 4, 16)
TARGET_BIAS, TARGET_COVERAGE = 0.20, 0.90


def benchmark_mix(rng, tasks: int) -> np.ndarray:
    kind = rng.integers(0, 3, tasks)
    return np.where(kind == 0, rng.beta(0.6, 2.0, tasks), np.where(kind == 1, 10 ** rng.uniform(-4, -2, tasks), 0.0))


def population(name: str, rng, tasks: int) -> tuple[np.ndarray, np.ndarray]:
    """(p_base, p_rl) per task."""
    if name == "identical, beta":
        p = rng.beta(0.3, 3.0, tasks)
        return p, p
    if name == "identical, mix":
        p = benchmark_mix(rng, tasks)
        return p, p
    if name == "sharpened":
        p = benchmark_mix(rng, tasks)
        return p, np.where(rng.random(tasks) < 0.1, 0.0, 1 - (1 - p) ** 2)
    if name == "mixture":
        p = rng.beta(0.3, 3.0, tasks)
        kind = rng.integers(0, 4, tasks)
        return p, np.where(kind < 2, p, np.where(kind == 2, 1 - (1 - p) ** 4, p / 10))
    if name == "sparse":
        p = 10 ** rng.uniform(-5, -2.5, tasks)
        return p, p
    raise ValueError(name)


def true_regions(p_base: np.ndarray, p_rl: np.ndarray, ks: np.ndarray) -> dict[str, np.ndarray]:
    solved_b = -np.expm1(ks[None, :] * np.log1p(-p_base[:, None]))
    solved_r = -np.expm1(ks[None, :] * np.log1p(-p_rl[:, None]))
    return {"S": (solved_b * (1 - solved_r)).sum(axis=0), "E": ((1 - solved_b) * solved_r).sum(axis=0)}


@dataclass(frozen=True)
class Run:
    truth: dict[str, np.ndarray]  # per K
    estimate: dict[str, np.ndarray]  # NaN where nothing was fitted
    lo: dict[str, np.ndarray]
    hi: dict[str, np.ndarray]
    unseen: np.ndarray  # per K: the share of the expected S + E from tasks neither model solved (inf: refused)
    seconds: float

    def shown(self, limit: float) -> np.ndarray:
        """Per K: shown under the refusal rules with this limit on the unseen share (and the library's
        largest factor)."""
        return (np.isfinite(self.estimate["S"]) & (np.maximum.accumulate(self.unseen) <= limit)
                & (np.array(FACTORS) <= MAX_FACTOR))


def one_run(name: str, tasks: int, n: int, repeat: int, reps: int, seed: int = 0) -> Run:
    rng = np.random.default_rng([POPULATIONS.index(name), n, tasks, repeat, seed])
    p_base, p_rl = population(name, rng, tasks)
    full = np.full(tasks, n)
    c_base, c_rl = rng.binomial(full, p_base), rng.binomial(full, p_rl)
    ks = n * np.array(FACTORS)
    start = time.perf_counter()
    found = extrapolate(full, c_base, full, c_rl, ks, reps=reps, seed=repeat, unseen_limit=1.0, max_factor=np.inf)
    seconds = time.perf_counter() - start
    nan = np.full(ks.size, np.nan)
    estimate, lo, hi = ({r: nan.copy() for r in "SE"} for _ in range(3))
    for i, k in enumerate(found.k_grid):
        j = int(np.flatnonzero(ks == k)[0])
        for r in "SE":
            estimate[r][j], lo[r][j], hi[r][j] = found.regions[r][i], found.region_cis[r][0][i], found.region_cis[r][1][i]
    unseen = np.array([found.unseen_share.get(int(k), np.inf) for k in ks])
    return Run(true_regions(p_base, p_rl, ks.astype(float)), estimate, lo, hi, unseen, seconds)


def summarise(runs: list[Run], limit: float | None) -> list[dict]:
    """Per K: truth, mean estimate, bias and coverage over the runs shown under `limit` (None: every run
    with an estimate), and the share refused."""
    rows = []
    for j, factor in enumerate(FACTORS):
        fitted = np.array([np.isfinite(run.estimate["S"][j]) for run in runs])
        use = fitted if limit is None else np.array([run.shown(limit)[j] for run in runs])
        unseen = np.array([run.unseen[j] for run in runs])
        row = {"factor": factor, "refused": 1 - use.mean(), "unseen": unseen[np.isfinite(unseen)].mean()
               if np.isfinite(unseen).any() else np.nan}
        for r in "SE":
            truth = np.array([run.truth[r][j] for run in runs])
            row[f"true {r}"] = truth.mean()
            if use.any():
                est = np.array([run.estimate[r][j] for run in runs])[use]
                lo, hi = (np.array([getattr(run, side)[r][j] for run in runs])[use] for side in ("lo", "hi"))
                row[f"est {r}"] = est.mean()
                row[f"bias {r}"] = est.mean() / truth[use].mean() - 1 if truth[use].mean() > 0 else np.nan
                row[f"cover {r}"] = np.mean((lo <= truth[use]) & (truth[use] <= hi))
        rows.append(row)
    return rows


def table(results: dict, limit: float | None) -> tuple[list[str], bool]:
    """The printed rows (each rate beside its target: '!' marks a miss) and whether every target is met."""
    lines = [(f"{'population':>16} {'n':>4} {'K':>5} {'true S':>7} {'true E':>7} {'est S':>7} {'est E':>7} "
              f"{'bias S':>7} {'bias E':>7} {'cover S':>8} {'cover E':>8} {'unseen':>7} {'refused':>8}")]
    ok = True
    for (name, n), runs in results.items():
        for row in summarise(runs, limit):
            marks = {}
            for r in "SE":
                if f"est {r}" in row:
                    marks[f"bias {r}"] = abs(row[f"bias {r}"]) <= TARGET_BIAS
                    marks[f"cover {r}"] = row[f"cover {r}"] >= TARGET_COVERAGE
            ok &= all(marks.values())

            lines.append(f"{name:>16} {n:>4} {row['factor'] * n:>5} {row['true S']:7.1f} {row['true E']:7.1f} "
                         f"{_rate(row, marks, 'est S', '6.1f')} {_rate(row, marks, 'est E', '6.1f')} "
                         f"{_rate(row, marks, 'bias S', '+6.0%')} {_rate(row, marks, 'bias E', '+6.0%')} "
                         f"{_rate(row, marks, 'cover S', '7.0%')} {_rate(row, marks, 'cover E', '7.0%')} "
                         f"{row['unseen']:7.0%} {row['refused']:8.0%}")
    return lines, ok


def _rate(row: dict, marks: dict, key: str, fmt: str) -> str:
    """A cell: the value and a '!' where it misses its target, or a dash where nothing was shown."""
    if key not in row:
        return f"{'—':>7}"
    return f"{format(row[key], fmt)}{' ' if marks.get(key, True) else '!'}"


def main() -> bool:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the CI size: 200 tasks, n = 64, 40 runs, 100 reps")
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--n", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--reps", type=int, default=200, help="bootstrap replicates per run")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--all-k", action="store_true", help="also the estimates where they are refused")
    parser.add_argument("--seed", type=int, default=0, help="another set of simulated runs (explore on one, report "
                        "another)")
    parser.add_argument("--limits", type=float, nargs="*", default=[], help="also the table under these limits")
    args = parser.parse_args()
    if args.small:
        args.tasks, args.n, args.repeats, args.reps = 200, [64], 40, 100
    start = time.perf_counter()
    results = run_all(args.tasks, args.n, args.repeats, args.reps, args.jobs, args.seed)
    print(f"{args.repeats} runs of {args.tasks} tasks per row (seed {args.seed}), n samples per task and model, "
          f"{args.reps} bootstrap replicates; unseen: the mean share of the expected S + E at K from tasks neither model solved; a refusal "
          f"where it exceeds {UNSEEN_LIMIT:.0%}, beyond K = {MAX_FACTOR}n, or where the data are too sparse\n")
    lines, ok = table(results, UNSEEN_LIMIT)
    print("\n".join(lines))
    print(f"\ntargets where shown (|bias| <= {TARGET_BIAS:.0%}, coverage >= {TARGET_COVERAGE:.0%}; '!' marks a miss; "
          f"a refusal meets them): {'met' if ok else 'MISSED'}")
    for limit in args.limits:
        print(f"\nthe same runs, refused above {limit:.0%} unseen (choosing the limit):\n")
        print("\n".join(table(results, limit)[0]))
    if args.all_k:
        print("\nthe same runs, every estimate including those refused:\n")
        print("\n".join(table(results, None)[0]))
    seconds = [run.seconds for runs in results.values() for run in runs]
    print(f"\n{len(seconds)} runs, {np.mean(seconds):.2f} s per run on average ({args.reps} replicates), "
          f"{time.perf_counter() - start:.0f} s in all")
    return ok


def run_all(tasks: int, ns: list[int], repeats: int, reps: int, jobs: int = 1, seed: int = 0) -> dict:
    """Every population at every n: {(name, n): [Run, ...]}."""
    keys = [(name, n) for n in ns for name in POPULATIONS]
    jobs_list = [(name, tasks, n, r, reps, seed) for name, n in keys for r in range(repeats)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            runs = list(pool.map(one_run, *zip(*jobs_list), chunksize=4))
    else:
        runs = [one_run(*job) for job in jobs_list]
    return {key: runs[i * repeats:(i + 1) * repeats] for i, key in enumerate(keys)}


if __name__ == "__main__":
    main()
