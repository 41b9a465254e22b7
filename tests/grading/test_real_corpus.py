"""The verifiers against the labelled corpus of real SmolLM2 completions (tests/grading/real/), and
the false positives and negatives issue 29 found on a real model.

A verifier's claim rests on this corpus: precision >= 0.99 and recall >= 0.95 for `math` and
`reasoning_gym` (benchmarks/grading_accuracy.py prints the confusion matrices)."""

from collections import Counter
from pathlib import Path

import pytest

from tether.grading.accuracy import LABELS, confusion, grade_text, load_corpus
from tether.grading.registry import make_verifier
from tether.tasks import load_tasks

CORPUS = Path(__file__).parent / "real" / "corpus.jsonl"
TARGETS = {"math": (0.99, 0.95), "reasoning_gym": (0.99, 0.95)}


@pytest.fixture(scope="module")
def rows():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def verifiers():
    return {name: make_verifier(name) for name in ("math", "reasoning_gym", "exact")}


def test_the_corpus_is_real_labelled_and_large_enough(rows):
    labels = Counter(r.label for r in rows)
    assert len(rows) >= 300 and len({r.id for r in rows}) == len(rows)
    assert all(labels[label] >= 20 for label in LABELS), labels
    assert all(r.reason.strip() for r in rows)
    by_verifier = Counter((r.verifier, r.label) for r in rows)
    assert by_verifier[("math", "correct")] >= 20 and by_verifier[("reasoning_gym", "correct")] >= 20, by_verifier


def _report(found) -> str:
    return "\n".join(f"{kind} {g.row.id}: answer {g.answer!r} via {g.route} ({g.row.reason}); "
                     f"...{g.row.completion[-100:]!r}"
                     for kind, graded in (("FP", found.false_positives), ("FN", found.false_negatives))
                     for g in graded)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_precision_and_recall_on_the_corpus(rows, verifiers, name):
    chosen = rows if name == "math" else [r for r in rows if r.verifier == name]  # math grades every numeric gold
    found = confusion(verifiers[name], chosen)
    precision, recall = TARGETS[name]
    assert found.precision >= precision and found.recall >= recall, _report(found)


def test_each_tasks_own_verifier_on_the_corpus(rows, verifiers):
    from tether.grading.accuracy import Confusion, Graded

    found = Confusion("default")
    for row in rows:
        grade, answer, route = grade_text(verifiers[row.verifier], row.completion, row.reference, row.finish_reason)
        found.add(Graded(row, grade, answer, route))
    assert found.precision >= 0.99 and found.recall >= 0.95, _report(found)


@pytest.mark.parametrize("name", ["math", "reasoning_gym", "exact"])
def test_no_verifier_credits_a_completion_labelled_without_an_answer(rows, verifiers, name):
    chosen = [r for r in rows if r.label == "no_answer" and (name != "reasoning_gym" or r.verifier == name)]
    assert not confusion(verifiers[name], chosen).false_positives


# -- issue 29's verdicts on SmolLM2 (chain_sum, temperature 1.0 vs 0.6), each a test ----------------------------

def chain_sum(expression: str, gold: str) -> dict:
    """A chain_sum task asking `expression`: the reference of a real one, with this question and gold."""
    reference = dict(load_tasks("reasoning-gym:chain_sum?size=50&seed=42")[10].reference)
    question = f"State the final answer to the following arithmetic problem: {expression} ="
    reference.update(answer=gold, question=question, entry={**reference["entry"], "question": question, "answer": gold})
    return reference


FOUR_PLUS_THREE = chain_sum("4 + 3", "7")


@pytest.mark.parametrize("name", ["math", "reasoning_gym", "exact"])
@pytest.mark.parametrize("completion,reference,answer", [
    # an echoed question is not an answer 7 (Math-Verify's full-text parse read '4 + 3' out of it)
    ("Solving this equation 4 + 3 = requires a proper understanding of number systems and how to add numbers.",
     FOUR_PLUS_THREE, None),
    # the last answer counts: 11, not the 7 on the way
    ("To find the total, we first add 4 and 3 to get 7, then add 3 to get 8, then add 4 to get 10, so in total we "
     "have 11.", FOUR_PLUS_THREE, "11"),
    # the only S task of the issue (chain_sum/42/10, gold 26) rested on this: 19, whatever the question's sum is
    ("Let me add them one by one.\n8 + 7 += 15 + 8 = 19.", chain_sum("8 + 7 + 5 + 6", "26"), "19"),
])
def test_issue_29_false_positives_are_not_credited(verifiers, name, completion, reference, answer):
    grade, found, _ = grade_text(verifiers[name], completion, reference)
    assert not grade.correct
    if name != "exact":
        assert found == answer


@pytest.mark.parametrize("completion", ["So the answer is 8 + 7 + 5 + 6.", "\\boxed{8+7+5+6}",
                                        "The sum is 8 + 7 + 5 + 6"])
def test_an_expression_restated_from_the_question_is_not_credited_though_it_equals_the_gold(verifiers, completion):
    reference = chain_sum("8 + 7 + 5 + 6", "26")
    for name in ("math", "reasoning_gym"):
        grade, _, _ = grade_text(verifiers[name], completion, reference)
        assert not grade.correct, (name, grade)


def test_issue_29_false_negative_the_final_answer_line_is_read_not_scored_whole(verifiers):
    """Reasoning Gym's default grading sent "The final answer to this arithmetic problem is 7." to the
    scorer whole: partial credit 0.02, a working model solving nothing. Now the stated 7 is scored."""
    for name in ("reasoning_gym", "math", "exact"):
        grade, answer, route = grade_text(verifiers[name], "The final answer to this arithmetic problem is 7.",
                                          FOUR_PLUS_THREE)
        assert grade.correct and answer == "7" and route == "final_answer", name
    grade, answer, route = grade_text(verifiers["reasoning_gym"], "<answer>The sum is 7</answer>", FOUR_PLUS_THREE)
    assert grade.correct and (answer, route) == ("7", "answer_tag")
