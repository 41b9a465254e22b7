"""A small graded store whose every `tether show` field is known, for tests/compare/test_show.py and
tests/cli/test_show.py.

Four `exact` tasks (gold 26, 15, 9, 3), graded through `tether.grade`:
- chain_sum/42/10: base has 6 samples, correct only at indices 4 and 5, beyond the 4 rl has: with budgets
  matched (as `tether compare` does) base solves 0 of 4 and the task is E; unmatched it would be P.
- chain_sum/42/11: S; chain_sum/42/12: P; chain_sum/42/13: O.
Two reasons come from verdict-cache rows seeded under `exact`'s current version, as a verifier that gives
reasons would have cached them (one carries terminal escapes, which must print escaped). rl's last sample of
chain_sum/42/10 is a long text whose answer is at its end.
"""

from __future__ import annotations

from pathlib import Path

from ..conftest import seed_exact_reasons, write_jsonl

GOLD = {"chain_sum/42/10": "26", "chain_sum/42/11": "15", "chain_sum/42/12": "9", "chain_sum/42/13": "3"}
LONG = "Let me think. " * 300 + "\nFinal answer: 3"
TEXTS = {
    "base": {"chain_sum/42/10": ["Final answer: 25", "8 + 7 += 15 + 8 = 19.\nFinal answer: 19", "\\boxed{24}",
                                 "Final answer: 22", "Final answer: 26", "\\boxed{26}"],
             "chain_sum/42/11": ["\\boxed{14}", "Final answer: 15", "\\boxed{13}", "\\boxed{15}"],
             "chain_sum/42/12": ["\\boxed{9}", "\\boxed{8}", "\\boxed{7}", "\\boxed{6}"],
             "chain_sum/42/13": ["\\boxed{1}", "\\boxed{2}", "\\boxed{4}", "\\boxed{5}"]},
    "rl": {"chain_sum/42/10": ["\\boxed{26}", "Final answer: 20", "\\boxed{26}", LONG],
           "chain_sum/42/11": ["\\boxed{14}", "\\boxed{16}", "\\boxed{14}", "\\boxed{12}"],
           "chain_sum/42/12": ["\\boxed{8}", "\\boxed{9}", "\\boxed{9}", "\\boxed{9}"],
           "chain_sum/42/13": ["\\boxed{0}", "\\boxed{2}", "\\boxed{4}", "\\boxed{6}"]},
}
REGIONS = {"chain_sum/42/10": "E", "chain_sum/42/11": "S", "chain_sum/42/12": "P", "chain_sum/42/13": "O"}
ESCAPED_REASON = "restated: 8 + 7 += 15 + 8 = 19 repeats the question \x1b[2J\x1b[31m[red]boom[/red]"
REASONS = {("chain_sum/42/10", "19"): ESCAPED_REASON, ("chain_sum/42/10", "20"): "off by 6"}


def build_store(folder: Path) -> Path:
    """The store at `folder`/run (see the module's docstring)."""
    import tether
    from tether.grading import GradeOptions
    from tether.tasks import ColumnMap, load_tasks

    for label, per_task in TEXTS.items():
        rows = [{"task_id": task, "sample_idx": i, "completion": text, "finish_reason": "stop"}
                for task, texts in per_task.items() for i, text in enumerate(texts)]
        tether.import_samples(write_jsonl(folder / f"{label}.jsonl", rows), folder / "run", label=label)
    seed_exact_reasons(folder / "run", REASONS)
    tasks = write_jsonl(folder / "tasks.jsonl", [{"id": task, "question": f"Sum for {task}?", "answer": gold}
                                                 for task, gold in GOLD.items()])
    given = load_tasks(str(tasks), columns=ColumnMap(id="id"), verifier="exact")
    tether.grade(folder / "run", GradeOptions(workers=1), tasks=given)
    return folder / "run"
