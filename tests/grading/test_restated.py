"""An answer that only restates an expression from the question is not an answer (issue 29)."""

import pytest

from tether.grading.math import MathVerifier
from tether.grading.restated import question_of, restates_question

CHAIN = "State the final answer to the following arithmetic problem: 8 + 7 + 5 + 6 ="


@pytest.mark.parametrize(
    "answer,question,expected",
    [
        ("8 + 7 + 5 + 6", CHAIN, True),
        ("8+7+5+6", CHAIN, True),  # spaces aside
        ("5 + 6", CHAIN, True),  # a part of it
        ("$7 \\times 6 - 5$", "What is $7 \\times 6 - 5$?", True),
        ("2x + 1", "If $f(x) = 2x + 1$, what is $f(3)$?", True),
        ("26", CHAIN, False),  # a number is an answer, even one the question holds
        ("6", "How many sides does a hexagon have? A square has 4 and a pentagon 5; a 6 is ...", False),
        ("1/2", "Which is larger, 1/2 or 1/3?", False),  # a fraction picked from the question is a choice
        ("8 + 7 + 5 + 6 = 26", CHAIN, False),  # a statement with = states a result
        ("8 + 7 + 5 + 7", CHAIN, False),  # not the question's numbers
        ("6 + 5 + 7 + 8", CHAIN, True),  # the question's numbers in another order: nothing computed
        ("6 \\times 7", "What is 6 times 7?", True),
        ("2^{10}", "What is 2 to the 10th power?", True),
        ("x + 2", "If $f(x) = x + 2$, what is $f(x) - 1 + 1$?", True),  # in the question, letters and all
        ("x + 3", "If $f(x) = 2 + x$, what is $f(x) + 1$?", False),  # letters: only the question's own text counts
        ("7 + 0", "What is 4 + 3?", False),
        ("4 + 3", None, False),  # no question to compare with
    ],
)
def test_restatements(answer, question, expected):
    assert restates_question(answer, question) is expected


def test_the_question_of_a_reasoning_gym_task_is_its_entrys():
    assert question_of({"entry": {"question": CHAIN}}) == CHAIN
    assert question_of({"question": "q", "entry": {"question": CHAIN}}) == "q"
    assert question_of({"answer": "1"}) is None


def test_math_does_not_credit_a_restated_expression_that_equals_the_gold():
    verifier = MathVerifier(timeout_seconds=3)
    reference = {"answer": "26", "question": CHAIN}
    for completion in ("So the answer is 8 + 7 + 5 + 6.", "\\boxed{8 + 7 + 5 + 6}", "**8+7+5+6**"):
        grade = verifier.compare(verifier.extract(completion, reference), reference)
        assert not grade.correct and grade.detail.startswith("restates the question"), completion
    assert verifier.compare("8 + 7 + 5 + 6", {"answer": "26"}).correct  # without the question it is a sum
    assert verifier.compare("8 + 7 + 5 + 6 = 26", reference).correct
    chosen = {"answer": "2 + 8", "question": "Which sum is 10: 2 + 8 or 3 + 8?"}
    assert verifier.compare("2 + 8", chosen).correct  # the gold itself, though the question holds it
