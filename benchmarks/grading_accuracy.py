"""Each verifier's accuracy on the labelled corpus of real completions (tests/grading/real/).

    python benchmarks/grading_accuracy.py [--corpus tests/grading/real/corpus.jsonl] [--tail 160]

For math, reasoning_gym (fair and strict extraction), exact and the default (each task's own
verifier), on the rows each can grade (reasoning_gym needs a Reasoning Gym task): the confusion
matrix of the labels (rows) against the verifier's outcomes (columns), precision and
recall of "correct", the routes the answers were found by, and every false positive and false
negative with its extracted answer, route, label reason and the completion's tail. Grades in this
process, the way `tether grade` does (tether.grading.accuracy); a few seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "grading" / "real" / "corpus.jsonl"


class Default:
    """Each row's own verifier (the task's, as `--verifier auto` grades it)."""

    name = "default"

    def __init__(self, verifiers: dict):
        self.verifiers = verifiers

    def __call__(self, row):
        return self.verifiers[row.verifier]


def measure(corpus: Path):
    """(title, Confusion) for each verifier on the rows it can grade."""
    from tether.grading.accuracy import Confusion, Graded, grade_text, load_corpus
    from tether.grading.registry import make_verifier

    rows = load_corpus(corpus)
    rg_rows = [r for r in rows if r.verifier == "reasoning_gym"]
    made = {"math": make_verifier("math"), "reasoning_gym": make_verifier("reasoning_gym"),
            "exact": make_verifier("exact")}
    plans = [("math", lambda r: made["math"], rows),
             ("reasoning_gym (fair)", lambda r: made["reasoning_gym"], rg_rows),
             ("reasoning_gym (strict)", lambda r, v=make_verifier("reasoning_gym", extraction="strict"): v, rg_rows),
             ("exact", lambda r: made["exact"], rows),
             ("default (each task's own)", lambda r: made[r.verifier], rows)]
    results = []
    for title, pick, chosen in plans:
        found = Confusion(title)
        for row in chosen:
            grade, answer, route = grade_text(pick(row), row.completion, row.reference, row.finish_reason)
            found.add(Graded(row, grade, answer, route))
        results.append((title, found))
    return rows, results


def _share(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def render(rows, results, tail: int, out=sys.stdout) -> None:
    from tether.grading.accuracy import LABELS, OUTCOMES

    labels = Counter(r.label for r in rows)
    print(f"corpus: {len(rows)} completions ({', '.join(f'{labels[x]} {x}' for x in LABELS)}; "
          f"{sum(r.ambiguous for r in rows)} marked ambiguous)", file=out)
    header = f"{'verifier':28s} {'rows':>5s} {'TP':>4s} {'FP':>4s} {'FN':>4s} {'precision':>9s} {'recall':>7s}"
    print(f"\n{header}", file=out)
    for title, found in results:
        print(f"{title:28s} {len(found.graded):5d} {found.true_positives:4d} {len(found.false_positives):4d} "
              f"{len(found.false_negatives):4d} {_share(found.precision):>9s} {_share(found.recall):>7s}", file=out)
    for title, found in results:
        print(f"\n== {title}: labels (rows) against verdicts (columns)", file=out)
        print(f"{'':12s}" + "".join(f"{o:>11s}" for o in OUTCOMES), file=out)
        for label in LABELS:
            print(f"{label:12s}" + "".join(f"{found.cells[(label, o)]:11d}" for o in OUTCOMES), file=out)
        routes = Counter(g.route or "none" for g in found.graded)
        print("routes: " + ", ".join(f"{route} {n}" for route, n in routes.most_common()), file=out)
        for kind, graded in (("false positive", found.false_positives), ("false negative", found.false_negatives)):
            for g in graded:
                text = g.row.completion[-tail:].replace("\n", "\\n")
                print(f"  {kind}: {g.row.id} gold {g.row.gold!r} answer {(g.answer or '')[:60]!r} via {g.route}; "
                      f"label {g.row.label} ({g.row.reason}); status {g.grade.status} {g.grade.detail or ''}\n"
                      f"      ...{text}", file=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--tail", type=int, default=160, help="characters of each listed completion's end")
    args = parser.parse_args()
    rows, results = measure(args.corpus)
    render(rows, results, args.tail)


if __name__ == "__main__":
    main()
