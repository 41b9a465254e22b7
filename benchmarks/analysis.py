"""Benchmark: the analysis of 10^7 sample rows, tether against a plain pandas baseline.

    python benchmarks/analysis.py [--tasks 10000] [--samples 500] [--dir DIR]

Generates a store of verdicts (tasks x 2 models x samples rows; 10^7 by
default), then measures, each in a fresh process so peak RSS is its own:

- tether: per-task counts of both models (DuckDB over the shards), pass@k on a
  20-value k grid, regions, rates with 1000 bootstrap reps, per-task tests,
  crossover: the whole `tether.compare` computation;
- baseline: pandas.read_parquet of the same columns + groupby (n, c) per
  (model, task), i.e. only the counts.

Both must produce identical counts. Target for tether: < 10 s and < 2 GiB
peak RSS on 2 cores. Prints a table with the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

K_GRID = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 32, 50, 64, 100, 128, 200, 256, 400, 500)
TASKS_PER_SHARD = 1000


def generate(root: Path, tasks: int, samples: int, seed: int = 0) -> None:
    """A store with `tasks` x 2 models x `samples` verdict rows."""
    from tether.store import Shard, Store

    store = Store.create(root, config={"benchmark": "analysis", "tasks": tasks, "samples": samples})
    rng = np.random.default_rng(seed)
    p_base = rng.beta(0.3, 1.5, size=tasks) * (rng.random(tasks) > 0.2)
    p_rl = np.clip(np.where(rng.random(tasks) < 0.1, 0.0, p_base * 1.8), 0, 1)
    for label, probs in (("base", p_base), ("rl", p_rl)):
        for start in range(0, tasks, TASKS_PER_SHARD):
            block = np.arange(start, min(start + TASKS_PER_SHARD, tasks))
            rows = len(block) * samples
            task_index = np.repeat(block, samples)
            table = pa.table({
                "model": pa.array(np.full(rows, label)),
                "task_id": pa.array(np.char.mod("task-%06d", task_index)),
                "sample_idx": np.tile(np.arange(samples), len(block)),
                "correct": rng.random(rows) < probs[task_index],
                "score": np.zeros(rows),
                "status": pa.array(np.full(rows, "ok")),
                "verifier": pa.array(np.full(rows, "bench")),
                "verifier_version": pa.array(np.full(rows, "1")),
            })
            table = table.set_column(4, "score", table.column("correct").cast(pa.float64()))
            store.write([Shard("verdicts", label, table, f"{start:07d}")])


def measure_tether(root: Path) -> dict:
    from tether.compare import CompareOptions, compare

    start = time.perf_counter()
    result = compare(store=root, options=CompareOptions(k_grid=K_GRID, bootstrap_reps=1000))
    seconds = time.perf_counter() - start
    checksum = int(result.base.n.sum() + result.base.c.sum() + result.rl.n.sum() + result.rl.c.sum())
    return {"seconds": seconds, "checksum": checksum, "counts": result.counts.as_dict()}


def measure_pandas(root: Path) -> dict:
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_parquet(root / "verdicts", columns=["model", "task_id", "correct"])
    grouped = frame.groupby(["model", "task_id"])["correct"].agg(["size", "sum"])
    seconds = time.perf_counter() - start
    checksum = int(grouped["size"].sum() + grouped["sum"].sum())
    return {"seconds": seconds, "checksum": checksum}


def run_child(kind: str, root: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--dir", str(root)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(kind: str, root: Path) -> None:
    result = measure_tether(root) if kind == "tether" else measure_pandas(root)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the store (default: a temp dir)")
    parser.add_argument("--child", choices=["tether", "pandas"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir)
        return
    workdir = Path(tempfile.mkdtemp(prefix="tether-bench-")) if args.dir is None else args.dir
    root = workdir / "store"
    try:
        start = time.perf_counter()
        generate(root, args.tasks, args.samples)
        rows = args.tasks * 2 * args.samples
        print(f"generated {rows:,} rows in {time.perf_counter() - start:.1f} s at {root}")
        tether, pandas = run_child("tether", root), run_child("pandas", root)
        if tether["checksum"] != pandas["checksum"]:
            raise SystemExit(f"counts differ: tether {tether['checksum']} vs pandas {pandas['checksum']}")
        print_table(rows, tether, pandas)
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def print_table(rows: int, tether: dict, pandas: dict) -> None:
    print(f"\nanalysis of {rows:,} sample rows ({len(K_GRID)} k values, 1000 bootstrap reps); regions {tether['counts']}")
    print(f"{'':44} {'seconds':>9} {'peak RSS MiB':>13}")
    print(f"{'tether compare (counts + all metrics)':44} {tether['seconds']:9.2f} {tether['peak_rss_mib']:13.0f}")
    print(f"{'pandas read_parquet + groupby (counts only)':44} {pandas['seconds']:9.2f} {pandas['peak_rss_mib']:13.0f}")
    print(
        f"{'ratio tether / pandas':44} {tether['seconds'] / pandas['seconds']:9.2f} "
        f"{tether['peak_rss_mib'] / pandas['peak_rss_mib']:13.2f}"
    )
    ok = tether["seconds"] < 10 and tether["peak_rss_mib"] < 2048
    print(f"target (< 10 s, < 2048 MiB): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
