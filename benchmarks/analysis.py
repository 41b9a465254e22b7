"""Benchmark: the analysis of 10^7 sample rows in a store and 2 x 10^7 in files, tether against pandas; and a
study of 10 checkpoints x 1,000 tasks x 1,024 samples (--study), tether's study against a loop of comparisons.

    python benchmarks/analysis.py [--tasks 10000] [--samples 500] [--file-samples 1024] [--dir DIR]
                                  [--before SRC]
    python benchmarks/analysis.py --study [--checkpoints 10] [--tasks 1000] [--samples 1024] [--dir DIR]

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

With ``--study``: a store with a base and `checkpoints` labels of one training run (grpo-30, grpo-60, ...;
run and step in the manifest as `tether sample --run/--step` records them, the base as step 0), `tasks` x
`samples` verdicts each, the tasks spread over six benchmarks (four Math, two Non-Math), written by a process
of its own (a child inherits its parent's peak RSS), then measures, each in a fresh process (seconds, CPU
seconds, peak RSS):

- tether's study: `compare_study` over every checkpoint (the cells of every checkpoint per benchmark, domain
  and overall, the run's trajectory on every scope, one Holm family), as the command below computes it;
- the command end to end: `tether compare STORE --rl 'grpo-*' --json`;
- the baseline, the per-pair API a user would loop over: `tether.compare.compare(store, base, child)` for
  each checkpoint in turn in one process (overall only: no scopes, no step-to-step comparisons, no family).

Every checkpoint's overall P/S/E/O must equal the loop's. Target on 2 cores: the study < 60 s. Measured
2026-12-06 on 2 cores (Intel Xeon, otherwise idle), 11.3 M verdicts (90 cells, 90 trajectory steps, Holm
over 342 distinct tests):

                                                          seconds   CPU s  peak RSS MiB
    study: compare_study (cells, trajectory, Holm)           7.36   13.56           234
    study: tether compare STORE --rl 'grpo-*' --json         8.99   15.61           239
    baseline: 10 x tether.compare.compare, overall only      3.53    4.62           225
    ratio compare_study / loop                               2.09    2.94          1.04

The target is met (the study 8 to 19 s in earlier runs on a machine shared with other work; docs/study.md,
"Speed").
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


def run_command(arguments: list[str], what: str, src: str | None = None) -> tuple[dict, float, float, float]:
    """`tether ARGUMENTS` (ending in --json) in a process of its own (`src`: another checkout's package): its
    JSON, seconds, the command's own peak RSS in MiB and its CPU seconds (every thread's, user + system)."""
    env = {**os.environ, "PYTHONPATH": src} if src else None
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "tether", *arguments], stdout=stdout, stderr=stderr,
                                   env=env)
        _, status, usage = os.wait4(process.pid, 0)  # the command's own peak RSS
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0), stderr.seek(0)
        if process.returncode:
            raise SystemExit(f"{what} failed: {stderr.read().strip().splitlines()[-1:]}")
        return json.loads(stdout.read()), seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure_files(base: Path, rl: Path, src: str | None = None) -> dict:
    """`tether compare --base B --rl R --json` in a process of its own (`src`: another checkout's package)."""
    result, seconds, peak, _ = run_command(["compare", "--base", str(base), "--rl", str(rl), "--json"],
                                           "tether compare on files", src)
    checksum = sum(t[m]["n"] + t[m]["c"] for t in result["tasks"] for m in ("base", "rl"))
    return {"seconds": seconds, "checksum": checksum, "counts": result["counts"], "peak_rss_mib": peak}


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


# -- the study mode (--study): a base and the checkpoints of one training run, as issue 33's benchmark asks ------

RUN = "grpo"  # the training run; its checkpoints are labelled grpo-30, grpo-60, ... (the paper's DAPO steps)
STEP = 30
BENCHMARKS = (("math500", 0.40), ("olympiadbench", 0.20), ("minerva", 0.15), ("aime24", 0.05), ("scibench", 0.12),
              ("humaneval", 0.08))  # 4 Math and 2 Non-Math benchmarks: 6 benchmarks, 2 domains, overall


def study_task_ids(tasks: int) -> np.ndarray:
    """`tasks` ids spread over BENCHMARKS by their shares (largest remainder), e.g. ``math500/000012``."""
    shares = np.array([share for _, share in BENCHMARKS]) * tasks
    sizes = np.floor(shares).astype(int)
    sizes[np.argsort(sizes - shares)[: tasks - sizes.sum()]] += 1
    return np.array([f"{name}/{i:06d}" for (name, _), size in zip(BENCHMARKS, sizes) for i in range(size)])


def generate_study(root: Path, checkpoints: int, tasks: int, samples: int, seed: int = 0) -> list[str]:
    """A store with a base and `checkpoints` labels of one training run (grpo-30, grpo-60, ...), `tasks` x
    `samples` verdicts each, the base and every checkpoint recorded in the manifest as `tether sample --run
    --step` records them (the base as step 0). Along the run each checkpoint sharpens what the base solves,
    loses a growing share of the base's tasks and gains a few. Returns the checkpoint labels in step order."""
    from tether.store import Shard, Store

    store = Store.create(root, config={"benchmark": "study", "checkpoints": checkpoints, "tasks": tasks,
                                       "samples": samples})
    rng = np.random.default_rng(seed)
    ids = pa.array(study_task_ids(tasks))
    p_base = rng.beta(0.3, 1.5, size=tasks) * (rng.random(tasks) > 0.2)
    lose, gain = rng.random(tasks), rng.random(tasks)  # one draw per task: a lost task stays lost
    steps = [(0, "base", p_base)]
    for i in range(1, checkpoints + 1):
        along = i / checkpoints
        p = np.clip(p_base * (1 + 0.8 * along), 0, 1)
        p = np.where(lose < 0.08 * along, 0.0, p)
        p = np.where((p_base == 0) & (gain < 0.03 * along), 0.02, p)
        steps.append((i * STEP, f"{RUN}-{i * STEP}", p))
    task_index = np.repeat(np.arange(tasks), samples)
    runs = {}
    for step, label, probs in steps:
        rows = tasks * samples
        correct = rng.random(rows) < probs[task_index]
        table = pa.table({
            "model": pa.array(np.full(rows, label)),
            "task_id": ids.take(pa.array(task_index)),
            "sample_idx": np.tile(np.arange(samples), tasks),
            "correct": correct,
            "score": correct.astype(np.float64),
            "status": pa.array(np.full(rows, "ok")),
            "verifier": pa.array(np.full(rows, "bench")),
            "verifier_version": pa.array(np.full(rows, "1")),
        })
        store.write([Shard("verdicts", label, table, "0000000")])
        runs[label] = {"settings": {"engine": {"engine": "vllm", "model": f"ckpt/{label}"},
                                    "decoding": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 1024, "stop": []},
                                    "seed": 0, "task_block": 8, "sample_block": 64, "n_tasks": tasks,
                                    "prompts_digest": "0" * 16},
                       "k": samples, "checkpoint": {"run": RUN, "step": step}}
    store.update_manifest("runs", runs)
    return [label for _, label, _ in steps[1:]]


def overall_counts(study) -> dict[str, dict[str, int]]:
    """child -> its overall P/S/E/O."""
    return {cell.child: cell.comparison.counts.as_dict() for cell in study.cells if cell.scope == "overall"}


def measure_study(root: Path) -> dict:
    """tether's study: `compare_study` over every checkpoint, as `tether compare STORE --rl 'grpo-*'` runs it."""
    from tether.compare import CompareOptions
    from tether.compare.study import child_labels, compare_study

    start, cpu = time.perf_counter(), time.process_time()
    study = compare_study(root, child_labels(root, [f"{RUN}-*"]), options=CompareOptions())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "counts": overall_counts(study), "cells": len(study.cells),
            "tests": study.family.tests, "steps": sum(len(t.all_steps()) for t in study.trajectories)}


def measure_study_loop(root: Path) -> dict:
    """The baseline: `tether.compare.compare(store, base, child)` for each checkpoint in turn, in one process."""
    from tether.compare import CompareOptions, compare
    from tether.store import open_store

    start, cpu = time.perf_counter(), time.process_time()
    labels = sorted((label for label in open_store(root).labels("verdicts") if label != "base"),
                    key=lambda label: int(label.rsplit("-", 1)[1]))
    options = CompareOptions(extrapolate=0)  # a study never extrapolates: the same work per pair
    counts = {label: compare(store=root, base_label="base", rl_label=label, options=options).counts.as_dict()
              for label in labels}
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "counts": counts}


def measure_study_cli(root: Path) -> dict:
    """`tether compare STORE --rl 'grpo-*' --json` end to end, in a process of its own."""
    result, seconds, peak, cpu = run_command(["compare", str(root), "--rl", f"{RUN}-*", "--json"],
                                             "tether compare STORE")
    counts = {row["child"]: {region: row[region] for region in ("P", "S", "E", "O")}
              for row in result["rows"] if row["scope"] == "overall"}
    return {"seconds": seconds, "cpu": cpu, "counts": counts, "peak_rss_mib": peak}


def study_main(args) -> None:
    checkpoints, tasks, samples = args.checkpoints, args.tasks or 1000, args.samples or 1024
    workdir = Path(tempfile.mkdtemp(prefix="tether-bench-")) if args.dir is None else args.dir
    root = workdir / "study"
    try:
        start = time.perf_counter()
        labels = run_child("generate-study", root, "--checkpoints", str(checkpoints), "--tasks", str(tasks),
                           "--samples", str(samples))["labels"]
        rows = (checkpoints + 1) * tasks * samples
        print(f"generated {rows:,} rows ({checkpoints} checkpoints and the base, {tasks:,} tasks x {samples:,} "
              f"samples each) in {time.perf_counter() - start:.1f} s at {root}")
        study, loop = run_child("study", root), run_child("study-loop", root)
        cli = measure_study_cli(root)
        for name, found in (("compare_study", study), ("tether compare --rl", cli)):
            if found["counts"] != loop["counts"]:
                raise SystemExit(f"overall counts differ ({name} vs the loop): {found['counts']} vs {loop['counts']}")
        if list(loop["counts"]) != labels:
            raise SystemExit(f"the loop compared {list(loop['counts'])}, not the checkpoints {labels}")
        print_study_table(checkpoints, tasks, samples, study, loop, cli)
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def print_study_table(checkpoints: int, tasks: int, samples: int, study: dict, loop: dict, cli: dict) -> None:
    benchmarks = len(BENCHMARKS)
    print(f"\na study of {checkpoints} checkpoints x {tasks:,} tasks x {samples:,} samples (and the base's) over "
          f"{benchmarks} benchmarks in 2 domains (the command's defaults: its k grid, 1000 bootstrap reps): "
          f"{study['cells']} cells, {study['steps']} trajectory steps, Holm over {study['tests']} tests; the "
          "overall counts of every checkpoint equal the loop's")
    print(f"{'':74} {'seconds':>9} {'CPU s':>7} {'peak RSS MiB':>13}")
    lines = [("study: compare_study (cells per benchmark/domain/overall, trajectory, Holm)", study),
             ("study: tether compare STORE --rl 'grpo-*' --json (end to end)", cli),
             (f"baseline: {checkpoints} x tether.compare.compare(store, base, child), overall only", loop)]
    for name, found in lines:
        print(f"{name:74} {found['seconds']:9.2f} {found['cpu']:7.2f} {found['peak_rss_mib']:13.0f}")
    for name, ours in (("ratio compare_study / loop", study), ("ratio tether compare --rl / loop", cli)):
        print(f"{name:74} {ours['seconds'] / loop['seconds']:9.2f} {ours['cpu'] / loop['cpu']:7.2f} "
              f"{ours['peak_rss_mib'] / loop['peak_rss_mib']:13.2f}")
    print("(seconds: wall clock; CPU s: every thread's, user + system; the command's: its whole process, the "
          "interpreter's start and imports included)")
    for name, found in (("compare_study", study), ("tether compare --rl", cli)):
        print(f"target, {name} (< 60 s): {'met' if found['seconds'] < 60 else 'MISSED'}")


def run_child(kind: str, root: Path, *flags: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--dir", str(root), *flags], capture_output=True, text=True,
        check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(kind: str, root: Path, args) -> None:
    if kind == "generate-study":  # in a process of its own: a child forked later inherits the parent's peak RSS
        print(json.dumps({"labels": generate_study(root, args.checkpoints, args.tasks, args.samples)}))
        return
    measure = {"tether": measure_tether, "pandas": measure_pandas, "pandas-files": measure_pandas_files,
               "study": measure_study, "study-loop": measure_study_loop}[kind]
    result = measure(root)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=None, help="default: 10,000; with --study 1,000")
    parser.add_argument("--samples", type=int, default=None, help="samples per task per label (default: 500; with "
                                                                   "--study 1,024)")
    parser.add_argument("--file-samples", type=int, default=1024, help="samples per task in each model's file")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the store (default: a temp dir)")
    parser.add_argument("--before", default=None, help="also run the files case from this checkout's src folder")
    parser.add_argument("--study", action="store_true", help="measure a study of one run's checkpoints instead")
    parser.add_argument("--checkpoints", type=int, default=10, help="with --study: checkpoints of the run")
    parser.add_argument("--child", choices=["tether", "pandas", "pandas-files", "study", "study-loop",
                                            "generate-study"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir, args)
        return
    if args.study:
        study_main(args)
        return
    args.tasks, args.samples = args.tasks or 10_000, args.samples or 500
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
