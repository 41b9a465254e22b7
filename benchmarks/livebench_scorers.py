"""LiveBench's scorers against exact match on the hand-made LiveBench rows (tests/grading/livebench_rows/).

    python benchmarks/livebench_scorers.py [--rows tests/grading/livebench_rows] [--show]

Each row is a LiveBench question in its own row format with a hand-made response and the score LiveBench's
rules give it (checked against LiveBench's own ``process_results``). The rows are loaded through the
``livebench-reasoning`` / ``livebench-language`` presets, as `tether sample` would load them, and graded by the
`livebench` verifier and by `exact` (the presets' verifier before issue 36). Per task type: the responses, how
many get partial credit, how many `exact` gets wrong (its correct/incorrect against "LiveBench's score is 1"),
and how many the `livebench` scorers get wrong (their score against LiveBench's). ``--show`` lists each of
exact's errors with why the row is there. Under a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROWS = Path(__file__).resolve().parent.parent / "tests" / "grading" / "livebench_rows"
PRESETS = {"reasoning": "livebench-reasoning", "language": "livebench-language"}


def measure(folder: Path) -> list[dict]:
    """One record per row: task type, LiveBench's score, the livebench verifier's score, exact's verdict, route."""
    from tether.grading.registry import make_verifier
    from tether.tasks import load_tasks

    rows = [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.open()]
    with tempfile.TemporaryDirectory() as data:
        for category, preset in PRESETS.items():
            Path(data, f"{preset}.jsonl").write_text(
                "".join(json.dumps(row) + "\n" for row in rows if row["category"] == category))
        tasks = {task.task_id: task for preset in PRESETS.values() for task in load_tasks(preset, data_dir=data)}
    livebench, exact = make_verifier("livebench"), make_verifier("exact")
    found = []
    for row in rows:
        reference = tasks[row["question_id"]].reference
        answer, route = livebench.extract_with_route(row["response"], reference)
        score = livebench.compare(answer, reference).score if answer is not None else 0.0
        plain = exact.extract(row["response"], reference)
        found.append({"task": row["task"], "expected": row["score"], "score": score, "route": route or "none",
                      "exact": bool(plain) and exact.compare(plain, reference).correct, "why": row["why"],
                      "exact_answer": plain})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=ROWS)
    parser.add_argument("--show", action="store_true", help="list every row exact match gets wrong")
    args = parser.parse_args(argv)
    by_task = defaultdict(list)
    for record in measure(args.rows):
        by_task[record["task"]].append(record)
    print(f"{'task type':<24}{'responses':>10}{'partial':>9}{'exact wrong':>13}{'livebench wrong':>17}")
    totals = [0, 0, 0, 0]
    for task, records in sorted(by_task.items()):
        counts = [len(records), sum(0 < r["expected"] < 1 for r in records),
                  sum(r["exact"] != (r["expected"] == 1) for r in records),
                  sum(abs(r["score"] - r["expected"]) > 1e-9 for r in records)]
        totals = [t + c for t, c in zip(totals, counts)]
        print(f"{task:<24}{counts[0]:>10}{counts[1]:>9}{counts[2]:>13}{counts[3]:>17}")
    print(f"{'all':<24}{totals[0]:>10}{totals[1]:>9}{totals[2]:>13}{totals[3]:>17}")
    if args.show:
        for task, records in sorted(by_task.items()):
            for r in records:
                if r["exact"] != (r["expected"] == 1):
                    verdict = "correct" if r["exact"] else "incorrect"
                    print(f"  {task}: exact says {verdict} (read {r['exact_answer']!r}), LiveBench scores "
                          f"{r['expected']:.3g}: {r['why']}")
    return 1 if totals[3] else 0


if __name__ == "__main__":
    sys.exit(main())
