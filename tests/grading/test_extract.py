"""Answer extraction, table-driven."""

import pytest

from tether.grading.extract import after_think, answer_tag, final_answer_line, last_bold, last_boxed, last_line


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"so \boxed{42}", "42"),
        (r"first \boxed{1} then \boxed{2}", "2"),  # repeated boxes: the last one
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),  # nested braces
        (r"\boxed{\dfrac12}", r"\dfrac12"),
        (r"\fbox{7}", "7"),
        (r"\boxed 5.", "5"),
        (r"\boxed{(1, 2]}", "(1, 2]"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),
        (r"\boxed{unclosed", None),
        ("no box here", None),
        ("", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    "fn,text,expected",
    [
        (last_bold, "The answer is **73**.", "73"),
        (last_bold, "**Step 1** ... **$12$**", "12"),
        (final_answer_line, "blah\nFinal answer: 17.\nthanks", "17"),
        (final_answer_line, "The answer is $x = 3$", "x = 3"),
        (answer_tag, "<answer> a b </answer> and <answer>c</answer>", "c"),
        (after_think, "<think>hmm</think>  yes", "yes"),
        (after_think, "no think tags", None),
        (last_line, "a\n\n b \n", "b"),
        (last_line, "   ", None),
    ],
)
def test_other_extractors(fn, text, expected):
    assert fn(text) == expected


def test_pathological_texts_are_fast_and_safe():
    huge = "x" * 100_000 + r" \boxed{3}"
    assert last_boxed(huge) == "3"
    assert last_boxed("\\boxed{" * 5000) is None
    assert last_line("\udcff\udcfe") == "\udcff\udcfe"  # undecodable bytes kept as surrogates do not crash
