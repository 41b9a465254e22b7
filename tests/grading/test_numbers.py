"""The numeric verifier reads the whole final expression (issue 16): a table of answers and values."""

import pytest

from tether.grading.numbers import parse_number
from tether.grading.simple import NumericVerifier

VALUES = [
    # (answer text, the number it states; None: it states no single number)
    ("42", 42), ("-3", -3), ("+7", 7), ("3.2 m/s", 3.2), ("about .5", 0.5), ("1/3", 1 / 3),
    ("2^{10}", 1024), ("10^{-5}", 1e-5), ("5{,}000", 5000), ("5,000", 5000), ("1,000,000", 1e6),
    ("5\\,000", 5000), ("-4,200 K", -4200), ("\\frac{1}{2}", 0.5), ("\\dfrac12", 0.5), ("\\tfrac{3}{4}", 0.75),
    ("1.6 \\cdot 10^{-19}", 1.6e-19), ("1.6 \\times 10^{-19} C", 1.6e-19), ("2.0 x 10^5 Pa", 2e5),
    ("6.02 × 10^{23}", 6.02e23), ("1.5e-3 J", 1.5e-3), ("3.0 \\times 10^{8}", 3e8), ("E_2 = 13.6 eV", 13.6),
    ("x = 7", 7), ("\\approx 3.14", 3.14), ("9.81 m/s^2", 9.81), ("45^\\circ", 45), ("30°", 30),
    ("12\\%", 12), ("\\text{5 kg}", 5), ("2\\sqrt{2}", 2 * 2**0.5), ("\\sqrt{16}", 4), ("$-0.25$", -0.25),
    ("(3)", 3), ("1.2 \\times 10^{-3}\\,\\text{m}", 1.2e-3), ("−2", -2), ("\\left(2\\right)", 2),
    ("3x + 1", None), ("3x", None), ("x", None), ("(1, 2)", None), ("none", None), ("", None),
    ("1/0", None), ("2^{100000}", None), ("5 + ", None),
]


@pytest.mark.parametrize("text,value", VALUES, ids=[v[0] or "empty" for v in VALUES])
def test_the_number_each_answer_states(text, value):
    assert parse_number(text) == (pytest.approx(value, rel=1e-12) if value is not None else None)


def test_at_least_forty_cases():
    assert len(VALUES) >= 40


@pytest.mark.parametrize("completion,gold,expected", [
    (r"\boxed{1/3}", "1", False),  # once "first number" read 1
    (r"\boxed{2^{10}}", "2", False),
    (r"\boxed{10^{-5}}", "10", False),
    (r"\boxed{3x + 1}", "3", False),
    (r"\boxed{5{,}000}", "5000", True),
    (r"\boxed{9.81 m/s^2}", "9.8", True),  # within the default 5 %
    (r"\boxed{3.0 \times 10^{8}}", "2.998e8", True),
    (r"\boxed{12}", "10", False),
    ("Final answer: no idea", "1", False),
    (r"The answer is $1.6 \cdot 10^{-19}$ C.", "1.602e-19", True),
])
def test_numeric_verdicts(completion, gold, expected):
    verifier = NumericVerifier()
    answer = verifier.extract(completion, {"answer": gold})
    assert verifier.compare(answer, {"answer": gold}).correct is expected
