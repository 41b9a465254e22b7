"""The math verifier: table-driven gold/pred/expected cases, fast paths, traps, pathological inputs."""

import pytest

from tether.errors import InputError
from tether.grading.math import FULL_TEXT, MathVerifier


@pytest.fixture(scope="module")
def verifier():
    return MathVerifier(timeout_seconds=3)


def grade(verifier, completion, gold):
    reference = {"answer": gold}
    answer = verifier.extract(completion, reference)
    return None if answer is None else verifier.compare(answer, reference)


# (source, completion, gold, expected correct)
CASES = [
    ("integer", r"\boxed{204}", "204", True),
    ("integer wrong", r"\boxed{205}", "204", False),
    ("thousands", r"\boxed{1{,}000}", "1000", True),
    ("fraction vs decimal", r"\boxed{0.5}", r"\frac{1}{2}", True),
    ("dfrac without braces", r"\boxed{\dfrac12}", r"\frac{1}{2}", True),
    ("repeated boxes use the last", r"try \boxed{3} ... no, \boxed{4}", "4", True),
    ("repeated boxes, last wrong", r"\boxed{4} hmm \boxed{3}", "4", False),
    ("markdown bold", "The answer is **73**", "73", True),
    ("final answer line", "So...\nFinal answer: 12", "12", True),
    ("fbox", r"\fbox{9}", "9", True),
    ("sqrt forms", r"\boxed{2\sqrt{2}}", r"\sqrt{8}", True),
    ("interval", r"\boxed{(1, 3]}", r"(1,3]", True),
    ("interval open vs closed", r"\boxed{[1, 3]}", r"(1,3]", False),
    ("tuple", r"\boxed{(2, 5)}", r"(2,5)", True),
    ("tuple order", r"\boxed{(5, 2)}", r"(2,5)", False),
    ("set", r"\boxed{\{3, 1, 2\}}", r"\{1,2,3\}", True),
    ("expression", r"\boxed{x^2 + 2x + 1}", r"(x+1)^2", True),
    ("pi", r"\boxed{\frac{\pi}{2}}", r"\frac{\pi}{2}", True),
    ("degrees", r"\boxed{30^\circ}", "30", True),
    ("list gold, any counts", r"\boxed{7}", ["6", "7"], True),
    ("plain-text fallback", "after all that, x equals 12", "12", True),
    # explicit answers before bold labels; the answer span ends with its sentence (issue 16)
    ("bold step label, then the answer", "**Step 1:** add them.\nThe answer is 5.", "5", True),
    ("bold answer label", "**Answer:** 3", "3", True),
    ("answer, then a reason", "The answer is 42, because 6*7=42.", "42", True),
    ("answer in dollars, then a sentence", "So the final answer is $\\frac{1}{2}$. I hope it is correct.", "1/2", True),
    ("decimal answer with a full stop", "The answer is 3.5.", "3.5", True),
    ("answer colon in bold", "Thus **Answer: 17**", "17", True),
    ("bold word is not an answer", "The result follows. **Therefore** x = 9 \\boxed{9}", "9", True),
    # exact values are compared exactly, not at float precision
    ("factorials differ", r"\boxed{\frac{1}{2006!}}", r"\frac{1}{2004!}", False),
    ("factorials agree", r"\boxed{\frac{1}{2004!}}", r"\frac{1}{2004!}", True),
    ("equal fractions", r"\boxed{\frac{2}{4}}", r"\frac{1}{2}", True),
    ("power and integer", r"\boxed{2^{10}}", "1024", True),
    ("tiny rationals differ", r"\boxed{\frac{1}{10^{9}}}", r"\frac{1}{10^{9}+1}", False),
]


@pytest.mark.parametrize("source,completion,gold,expected", CASES, ids=[c[0] for c in CASES])
def test_cases(verifier, source, completion, gold, expected):
    result = grade(verifier, completion, gold)
    assert result is not None and result.correct is expected, result


def test_fast_paths_need_no_sympy(verifier):
    assert verifier.compare("42", {"answer": "42"}).correct
    assert not verifier.compare("-3", {"answer": "3"}).correct
    assert verifier.compare("1,000", {"answer": "1000"}).correct


@pytest.mark.parametrize(
    "completion,statuses",
    [
        (r"\boxed{\frac{1}{0}}", {"ok"}),
        (r"\boxed{" + r"\frac{1}{" * 200 + "2" + "}" * 400 + "}", {"ok", "error", "timeout"}),
        ("x" * 100_000, {"no_answer", "ok"}),
        ("", None),
        ("\udcff\udcfe garbage", {"no_answer", "ok"}),
        (r"\boxed{" + "9" * 5000 + "}", {"error"}),  # over the length cap: rejected before sympy
    ],
)
def test_pathological_inputs_never_crash(verifier, completion, statuses):
    result = grade(verifier, completion, "2")
    if statuses is None:
        assert result is None
    else:
        assert result.status in statuses and not result.correct


def test_huge_power_times_out_in_math_verify():
    result = MathVerifier(timeout_seconds=1).compare("10^{10^8}", {"answer": "2"})
    assert result.status == "timeout" and not result.correct


def test_full_text_fallback_marker(verifier):
    assert verifier.extract("no boxes", {"answer": "1"}) == FULL_TEXT + "no boxes"
    assert verifier.extract("   ", {"answer": "1"}) is None


@pytest.mark.parametrize("completion", [
    "415 * 336 * -940 - 590 + 330 + 846 =",  # echoes the question's expression
    "Let me compute -2 + 6 * 6 ...",
    "First, 12 \\times",
])
def test_a_completion_ending_mid_expression_has_no_answer(verifier, completion):
    assert verifier.extract(completion, {"answer": "1"}) is None


def test_fractional_timeouts_are_refused():
    with pytest.raises(InputError, match="whole seconds"):
        MathVerifier(timeout_seconds=0.5)


def test_version_changes_with_config():
    assert MathVerifier(timeout_seconds=3).version() != MathVerifier(timeout_seconds=4).version()
    assert "math-verify=" in MathVerifier().version()
