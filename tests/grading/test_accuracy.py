"""A verifier's confusion matrix, precision and recall against labelled completions."""

import json

import pytest

from tether.errors import InputError
from tether.grading.accuracy import confusion, grade_text, load_corpus
from tether.grading.math import MathVerifier


def row(index: int, completion: str, label: str, finish: str = "stop") -> dict:
    return {"id": f"r{index}", "task_id": "t", "verifier": "math", "question": "What is 4 + 3?", "gold": "7",
            "reference": {"answer": "7", "question": "What is 4 + 3?"}, "completion": completion,
            "finish_reason": finish, "label": label, "reason": "written for this test"}


ROWS = [row(0, "\\boxed{7}", "correct"), row(1, "The answer is 7.", "correct"),
        row(2, "4 + 3 = 8", "incorrect"), row(3, "I like turtles.", "no_answer"),
        row(4, "So 4 + 3 = 7", "incorrect"),  # mislabelled on purpose: a false positive
        row(5, "so it is 7", "correct", finish="length")]  # cut at max_tokens: a false negative


def test_confusion_counts_labels_against_verdicts(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    found = confusion(MathVerifier(timeout_seconds=3), load_corpus(path))
    assert [g.row.id for g in found.false_positives] == ["r4"]
    assert [g.row.id for g in found.false_negatives] == ["r5"]
    assert found.true_positives == 2 and found.precision == 2 / 3 and found.recall == 2 / 3
    assert found.cells[("correct", "no_answer")] == 1 and found.cells[("incorrect", "incorrect")] == 1


def test_grade_text_reads_nothing_out_of_a_cut_completion_or_under_strict():
    verifier = MathVerifier(timeout_seconds=3)
    reference = {"answer": "7"}
    assert grade_text(verifier, "so it is 7", reference)[0].correct
    assert grade_text(verifier, "so it is 7", reference, finish_reason="length")[0].status == "no_answer"
    assert grade_text(verifier, "so it is 7", reference, strict=True)[0].status == "no_answer"
    assert grade_text(verifier, "\\boxed{7}", reference, finish_reason="length")[0].correct


def test_an_unknown_label_is_refused(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps({**ROWS[0], "label": "maybe"}) + "\n")
    with pytest.raises(InputError, match="label 'maybe'"):
        load_corpus(path)
