"""exact, choice and numeric verifiers, table-driven."""

import pytest

from tether.grading.simple import ChoiceVerifier, ExactVerifier, NumericVerifier, parse_number


@pytest.mark.parametrize(
    "completion,gold,expected",
    [
        ("The capital is Paris.\nFinal answer: Paris", "Paris", True),
        (r"\boxed{\text{Paris}}", "paris", True),
        ("<answer> New   York </answer>", "new york", True),
        ("Final answer: London", "Paris", False),
        ("Paris", ["Paris, France", "Paris"], True),
    ],
)
def test_exact(completion, gold, expected):
    verifier = ExactVerifier()
    answer = verifier.extract(completion, {"answer": gold})
    assert verifier.compare(answer, {"answer": gold}).correct is expected


@pytest.mark.parametrize(
    "completion,gold,expected",
    [
        ("I think the answer is (B).", "B", True),
        (r"Therefore \boxed{C}", "C", True),
        ("**D**", 3, True),
        ("The answer is A", "(b)", False),
        ("Reasoning...\nB", "B", True),
    ],
)
def test_choice(completion, gold, expected):
    verifier = ChoiceVerifier()
    answer = verifier.extract(completion, {"answer": gold})
    assert verifier.compare(answer, {"answer": gold}).correct is expected


@pytest.mark.parametrize(
    "text,value",
    [("3.2 m/s", 3.2), (r"6.02 \times 10^{23} mol", 6.02e23), ("1.5e-3 J", 1.5e-3), ("-4,200 K", -4200.0),
     ("about .5", 0.5), ("none", None)],
)
def test_parse_number(text, value):
    assert parse_number(text) == (pytest.approx(value) if value is not None else None)


@pytest.mark.parametrize(
    "completion,gold,expected",
    [(r"\boxed{9.81 m/s^2}", "9.8", True), (r"\boxed{3.0 \times 10^{8}}", "2.998e8", True),
     (r"\boxed{12}", "10", False), ("Final answer: no idea", "1", False)],
)
def test_numeric(completion, gold, expected):
    verifier = NumericVerifier()
    answer = verifier.extract(completion, {"answer": gold})
    assert verifier.compare(answer, {"answer": gold}).correct is expected
