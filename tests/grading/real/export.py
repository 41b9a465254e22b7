"""Export a sampled store's completions as unlabelled corpus rows (one JSON object a line).

    python tests/grading/real/export.py STORE > unlabelled.jsonl
    python tests/grading/real/export.py STORE --labels labels.txt > tests/grading/real/corpus.jsonl

Every label of STORE (e.g. ``math-t06``: the prompt set and the temperature) becomes rows with the
task's bare question, gold answer, reference and verifier, the completion and its finish reason;
``label`` and ``reason`` are left empty for whoever reads them (README.md here). With
``--labels``, a file of ``id|C,I or N|reason`` lines written while reading them, only the labelled
rows are written, with their labels (a reason starting with ``?`` marks a reading that could be
argued: ``ambiguous``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb


def rows(store: Path):
    for folder in sorted((store / "samples").iterdir()):
        label = folder.name
        tasks = {task_id: (benchmark, json.loads(reference), verifier) for task_id, benchmark, reference, verifier in
                 duckdb.sql(f"SELECT task_id, benchmark, reference, verifier FROM '{store}/tasks/{label}/*.parquet'")
                 .fetchall()}
        samples = duckdb.sql(f"SELECT task_id, sample_idx, completion, finish_reason, n_tokens "
                             f"FROM '{folder}/*.parquet' ORDER BY task_id, sample_idx").fetchall()
        for task_id, index, completion, finish, tokens in samples:
            benchmark, reference, verifier = tasks[task_id]
            question = reference.get("question") or reference["entry"]["question"]
            yield {"id": f"{label}/{task_id}/{index}", "task_id": task_id, "benchmark": benchmark,
                   "verifier": verifier, "sampled_as": label, "question": question, "gold": reference["answer"],
                   "reference": reference, "completion": completion, "finish_reason": finish, "n_tokens": tokens,
                   "label": None, "reason": None}


CODES = {"C": "correct", "I": "incorrect", "N": "no_answer"}


def read_labels(path: Path) -> dict[str, tuple[str, str, bool]]:
    found = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row_id, code, reason = line.split("|", 2)
            if row_id in found:
                raise SystemExit(f"{path}: {row_id} labelled twice")
            found[row_id] = (CODES[code], reason.removeprefix("?"), reason.startswith("?"))
    return found


if __name__ == "__main__":
    labels = read_labels(Path(sys.argv[3])) if sys.argv[2:3] == ["--labels"] else None
    for row in rows(Path(sys.argv[1])):
        if labels is not None:
            if row["id"] not in labels:
                continue
            row["label"], row["reason"], row["ambiguous"] = labels.pop(row["id"])
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    if labels:
        raise SystemExit(f"labels of rows not in the store: {', '.join(sorted(labels)[:5])}")
