"""Benchmark: the analysis of 10^7 sample rows in a store and 2 x 10^7 in files, tether against pandas.

    python benchmarks/analysis.py [--tasks 10000] [--samples 500] [--file-samples 1024] [--dir DIR]
                                  [--before SRC]

Generates a store of verdicts (tasks x 2 models x samples rows; 10^7 by
default) and a Parquet file of graded samples per model (tasks x file-samples
rows each; 10,000 x 1,024 = 10.24 M by default), then measures, each in a
fresh process so peak RSS is its own:

- tether, store: per-task counts of both models (DuckDB over the shards), pass@k
  on a 20-value k grid, regions, rates with 1000 bootstrap reps, per-task tests,
  crossover: the whole `tether.compare` computation;
- tether, files: `tether compare --base base.parquet --rl rl.parquet --json`
  end to end, as a user runs it (the files read column-wise and validated
  vectorised, then everything above with the command's defaults);
- baselines: pandas.read_parquet of the same columns + groupby (n, c) per
  (model, task), i.e. only the counts, of the store and of the files;
- with ``--before SRC``: the same command run from another checkout's ``src``
  (e.g. a release before the Arrow reader), on the same files, in the same run.

Each tether case must produce the counts of its baseline. Targets on 2 cores:
the store < 10 s, the files < 20 s end to end, each < 2 GiB peak RSS. Prints a
table with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
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


def generate_files(folder: Path, tasks: int, samples: int, seed: int = 1) -> tuple[Path, Path]:
    """base.parquet and rl.parquet: `tasks` x `samples` graded samples each (task_id, sample_idx, correct)."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    p_base = rng.beta(0.3, 1.5, size=tasks) * (rng.random(tasks) > 0.2)
    p_rl = np.clip(np.where(rng.random(tasks) < 0.1, 0.0, p_base * 1.8), 0, 1)
    ids = pa.array(np.char.mod("task-%06d", np.arange(tasks)))
    task_index = np.repeat(np.arange(tasks), samples)
    paths = []
    for label, probs in (("base", p_base), ("rl", p_rl)):
        table = pa.table({"task_id": ids.take(pa.array(task_index)), "sample_idx": np.tile(np.arange(samples), tasks),
                          "correct": rng.random(tasks * samples) < probs[task_index]})
        paths.append(folder / f"{label}.parquet")
        pq.write_table(table, paths[-1])
    return paths[0], paths[1]


def measure_files(base: Path, rl: Path, src: str | None = None) -> dict:
    """`tether compare --base B --rl R --json` in a process of its own (`src`: another checkout's package)."""
    env = {**os.environ, "PYTHONPATH": src} if src else None
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "tether", "compare", "--base", str(base), "--rl", str(rl),
                                    "--json"], stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(process.pid, 0)  # the command's own peak RSS
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0), stderr.seek(0)
        if process.returncode:
            raise SystemExit(f"tether compare on files failed: {stderr.read().strip().splitlines()[-1:]}")
        result = json.loads(stdout.read())
    checksum = sum(t[m]["n"] + t[m]["c"] for t in result["tasks"] for m in ("base", "rl"))
    return {"seconds": seconds, "checksum": checksum, "counts": result["counts"],
            "peak_rss_mib": usage.ru_maxrss / 1024}


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


def measure_pandas_files(folder: Path) -> dict:
    import pandas as pd

    start = time.perf_counter()
    checksum = 0
    for name in ("base.parquet", "rl.parquet"):
        frame = pd.read_parquet(folder / name, columns=["task_id", "correct"])
        grouped = frame.groupby("task_id")["correct"].agg(["size", "sum"])
        checksum += int(grouped["size"].sum() + grouped["sum"].sum())
        del frame
    return {"seconds": time.perf_counter() - start, "checksum": checksum}


def run_child(kind: str, root: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--dir", str(root)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(kind: str, root: Path) -> None:
    measure = {"tether": measure_tether, "pandas": measure_pandas, "pandas-files": measure_pandas_files}[kind]
    result = measure(root)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--file-samples", type=int, default=1024, help="samples per task in each model's file")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the store (default: a temp dir)")
    parser.add_argument("--before", default=None, help="also run the files case from this checkout's src folder")
    parser.add_argument("--child", choices=["tether", "pandas", "pandas-files"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir)
        return
    workdir = Path(tempfile.mkdtemp(prefix="tether-bench-")) if args.dir is None else args.dir
    root, files = workdir / "store", workdir / "files"
    try:
        start = time.perf_counter()
        generate(root, args.tasks, args.samples)
        rows = args.tasks * 2 * args.samples
        print(f"generated {rows:,} rows in {time.perf_counter() - start:.1f} s at {root}")
        start = time.perf_counter()
        files.mkdir(parents=True, exist_ok=True)
        base, rl = generate_files(files, args.tasks, args.file_samples)
        file_rows = args.tasks * 2 * args.file_samples
        print(f"generated {file_rows:,} rows in {time.perf_counter() - start:.1f} s at {base} and {rl}")
        tether, pandas = run_child("tether", root), run_child("pandas", root)
        on_files, pandas_files = measure_files(base, rl), run_child("pandas-files", files)
        before = measure_files(base, rl, args.before) if args.before else None
        for name, ours, theirs in (("store", tether, pandas), ("files", on_files, pandas_files),
                                   ("files, before", before, pandas_files)):
            if ours is not None and ours["checksum"] != theirs["checksum"]:
                raise SystemExit(f"counts differ ({name}): tether {ours['checksum']} vs pandas {theirs['checksum']}")
        print_table(rows, tether, pandas, file_rows, on_files, pandas_files, before, args.before)
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def print_table(rows: int, tether: dict, pandas: dict, file_rows: int, files: dict, pandas_files: dict,
                before: dict | None, before_src: str | None) -> None:
    print(f"\nanalysis of {rows:,} sample rows in a store ({len(K_GRID)} k values, 1000 bootstrap reps) and "
          f"{file_rows:,} in two Parquet files (the command's defaults); regions {tether['counts']} and "
          f"{files['counts']}")
    print(f"{'':58} {'seconds':>9} {'peak RSS MiB':>13}")
    lines = [("store: tether compare (counts + all metrics)", tether),
             ("store: pandas read_parquet + groupby (counts only)", pandas),
             ("files: tether compare --base --rl --json (end to end)", files),
             ("files: pandas read_parquet + groupby (counts only)", pandas_files)]
    if before is not None:
        lines.append((f"files: the same command from {before_src}", before))
    for name, found in lines:
        print(f"{name:58} {found['seconds']:9.2f} {found['peak_rss_mib']:13.0f}")
    for name, ours, theirs in (("store: ratio tether / pandas", tether, pandas),
                               ("files: ratio tether / pandas", files, pandas_files)):
        print(f"{name:58} {ours['seconds'] / theirs['seconds']:9.2f} "
              f"{ours['peak_rss_mib'] / theirs['peak_rss_mib']:13.2f}")
    if before is not None:
        print(f"{'files: ratio before / now':58} {before['seconds'] / files['seconds']:9.2f} "
              f"{before['peak_rss_mib'] / files['peak_rss_mib']:13.2f}")
    for name, found, seconds in (("store", tether, 10), ("files", files, 20)):
        ok = found["seconds"] < seconds and found["peak_rss_mib"] < 2048
        print(f"target, {name} (< {seconds} s, < 2048 MiB): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
