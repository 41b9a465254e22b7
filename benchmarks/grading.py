"""Benchmark: `tether.grade` against two Math-Verify loops, with identical verdicts.

    python benchmarks/grading.py [--completions 100000] [--problems 100] [--workers 2]

10^5 completions over 100 problems, ~50 distinct final answers per problem (equivalent forms of
the gold and wrong answers), ~1,200 characters each, a mix of integers, fractions, sets and
intervals, 2 % without a \\boxed answer. Three ways to grade them, all in the same run:

- the naive loop: Math-Verify parses every completion and verifies it against the gold (parsed
  once per problem);
- the cached loop, the obvious good method: one process, the last ``\\boxed{}`` taken by a brace
  scan, each distinct (problem, answer) parsed and verified once (a completion without a box is
  parsed whole, uncached);
- tether, with 1 worker and with `--workers` workers: extraction, deduplication, the verdict
  cache, fast paths and a process pool.

So the printed ratios separate what deduplication gives (naive -> cached loop) from what tether
adds on top (cached loop -> tether, 1 worker) and what the pool gives (1 worker -> N workers,
at best N on N free cores). The verdicts must agree on every completion. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

FILLER = (
    "We start by restating the problem and listing what is known. Let $x$ denote the unknown quantity. "
    "Substituting the given values, we find $2x + 3 = 11$ in one branch, which we check against the constraints. "
    "Next we consider the boundary cases separately, since the expression changes sign at $x = 0$. "
    "Combining the cases and simplifying the algebra carefully gives the candidate below. "
)


def problem(rng: random.Random, index: int) -> tuple[str, list[str], list[str]]:
    """(gold, equivalent forms, wrong answers) for one problem of one of four kinds."""
    kind = index % 4
    if kind == 0:
        n = rng.randint(10, 999)
        return str(n), [str(n), f"{n}.0", f"{n}"], [str(n + d) for d in range(1, 60)]
    if kind == 1:
        a, b = rng.randint(1, 9), rng.randint(11, 19)
        f = Fraction(a, b)
        return (rf"\frac{{{f.numerator}}}{{{f.denominator}}}",
                [rf"\frac{{{f.numerator}}}{{{f.denominator}}}", rf"\dfrac{{{f.numerator}}}{{{f.denominator}}}",
                 rf"\frac{{{2 * f.numerator}}}{{{2 * f.denominator}}}"],
                [rf"\frac{{{f.numerator + d}}}{{{f.denominator}}}" for d in range(1, 60)])
    if kind == 2:
        s = sorted(rng.sample(range(1, 20), 3))
        return (r"\{" + ", ".join(map(str, s)) + r"\}",
                [r"\{" + ", ".join(map(str, p)) + r"\}" for p in (s, s[::-1], [s[1], s[0], s[2]])],
                [r"\{" + ", ".join(map(str, (s[0], s[1], s[2] + d))) + r"\}" for d in range(1, 60)])
    lo, hi = rng.randint(-9, 0), rng.randint(1, 9)
    return (f"({lo}, {hi}]", [f"({lo}, {hi}]", f"({lo},{hi}]", f"\\left({lo}, {hi}\\right]"],
            [f"({lo}, {hi + d}]" for d in range(1, 60)])


def make_data(n_completions: int, n_problems: int, seed: int = 0):
    rng = random.Random(seed)
    tasks, rows = [], []
    per_problem = n_completions // n_problems
    for p in range(n_problems):
        gold, right, wrong = problem(rng, p)
        tasks.append({"id": f"p{p}", "question": f"Problem {p}", "answer": gold})
        answers = right + wrong[: 50 - len(right)]
        for i in range(per_problem):
            answer = rng.choice(answers)
            body = (FILLER * 4)[: 1100 + rng.randint(0, 100)]
            if rng.random() < 0.02:
                text = f"{body}\nSo the result equals ${answer}$ in the end."
            else:
                text = f"{body}\nTherefore the answer is $\\boxed{{{answer}}}$."
            rows.append({"task_id": f"p{p}", "sample_idx": i, "completion": text})
    return tasks, rows


def naive(tasks: list[dict], rows: list[dict]) -> dict[tuple[str, int], bool]:
    from math_verify import parse, verify

    golds = {t["id"]: parse(f"${t['answer']}$") for t in tasks}
    return {(r["task_id"], r["sample_idx"]): bool(verify(golds[r["task_id"]], parse(r["completion"])))
            for r in rows}


def cached_loop(tasks: list[dict], rows: list[dict]) -> dict[tuple[str, int], bool]:
    """The naive loop with its own answer cache: each distinct (problem, boxed answer) verified once."""
    from math_verify import parse, verify

    golds = {t["id"]: parse(f"${t['answer']}$") for t in tasks}
    cache: dict[tuple[str, str], bool] = {}
    verdicts = {}
    for r in rows:
        boxed = _last_boxed(r["completion"])
        if boxed is None:
            correct = bool(verify(golds[r["task_id"]], parse(r["completion"])))
        else:
            key = (r["task_id"], boxed)
            if key not in cache:
                cache[key] = bool(verify(golds[r["task_id"]], parse(f"$\\boxed{{{boxed}}}$")))
            correct = cache[key]
        verdicts[(r["task_id"], r["sample_idx"])] = correct
    return verdicts


def _last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, begin = 0, start + len("\\boxed{")
    for index in range(begin - 1, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[begin:index]
    return None


def with_tether(tasks: list[dict], rows: list[dict], workers: int, root: Path) -> tuple[dict, float, object]:
    import duckdb

    import tether
    from tether.grading import GradeOptions, grade
    from tether.tasks import ColumnMap, load_tasks

    (root / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    (root / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if not (root / "run").exists():
        tether.import_samples(root / "samples.jsonl", root / "run", label="base")
    given = load_tasks(str(root / "tasks.jsonl"), columns=ColumnMap(id="id"))
    start = time.perf_counter()
    regrade = ("ok", "no_answer", "timeout", "error") if (root / "run" / "verdicts").exists() else ()
    # a second measurement regrades under a new version with nothing carried over: the same work again
    summary = grade(root / "run", GradeOptions(workers=workers, regrade=regrade), tasks=given)
    seconds = time.perf_counter() - start
    version = tether.open_store(root / "run").manifest().versions("base")["math"]
    found = duckdb.sql(f"select task_id, sample_idx, correct from '{root}/run/verdicts/base/*.parquet' "
                       f"where verifier_version = '{version}'").fetchall()
    return {(t, i): bool(c) for t, i, c in found}, seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=100_000)
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tasks, rows = make_data(args.completions, args.problems)
    root = Path(tempfile.mkdtemp(prefix="tether-grading-"))
    try:
        one, one_seconds, _ = with_tether(tasks, rows, 1, root)
        ours, tether_seconds, summary = with_tether(tasks, rows, args.workers, root)
        start = time.perf_counter()
        cached = cached_loop(tasks, rows)
        cached_seconds = time.perf_counter() - start
        start = time.perf_counter()
        reference = naive(tasks, rows)
        naive_seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    differ = [key for key in reference if not reference[key] == ours[key] == one[key] == cached[key]]
    print(f"\ngrading {len(rows):,} completions of {len(tasks)} problems "
          f"({summary.distinct_answers:,} distinct answers, {summary.verified:,} verified)")
    print(f"{'':40} {'seconds':>9} {'vs naive':>9} {'vs cached':>10}")
    for name, seconds in (("naive math-verify loop", naive_seconds), ("cached loop (1 process)", cached_seconds),
                          ("tether grade (1 worker)", one_seconds),
                          (f"tether grade ({args.workers} workers)", tether_seconds)):
        print(f"{name:40} {seconds:9.1f} {naive_seconds / seconds:8.1f}x {cached_seconds / seconds:9.1f}x")
    print(f"pool speed-up, {args.workers} workers over 1: {one_seconds / tether_seconds:.2f}x")
    print(f"verdicts identical: {not differ} ({len(differ)} differ{'; e.g. ' + str(differ[:3]) if differ else ''})")
    print(f"correct: naive {sum(reference.values()):,}, cached {sum(cached.values()):,}, tether {sum(ours.values()):,}")


if __name__ == "__main__":
    main()
