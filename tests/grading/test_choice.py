"""The choice verifier's extractor on real-world phrasings (issue 16): the letter each commits to."""

import pytest

from tether.grading.choice import ChoiceVerifier, extract_choice

PHRASINGS = [
    # (completion, the letter it commits to; None: it commits to none)
    ("Answer: A is incorrect, B is incorrect, so the right option is C.", "C"),
    ("Answer: I believe it's C.", "C"),
    ("Final answer: $\\boxed{\\text{(B)}}$", "B"),
    ("Answer: Option C", "C"),
    ("**Answer**: B", "B"),
    ("(B) is correct.", "B"),
    ("Looking at each option carefully...\nSo the correct choice is C.", "C"),
    ("The answer is not B; it is A.", "A"),
    ("between A and B, final: B", "B"),
    ("I think the answer is (B).", "B"),
    ("Therefore \\boxed{C}", "C"),
    ("\\boxed{(D)}", "D"),
    ("**D**", "D"),
    ("Reasoning...\nB", "B"),
    ("Reasoning...\n(E)", "E"),
    ("Reasoning...\nC.", "C"),
    ("The answer is A", "A"),
    ("The correct answer is (C).", "C"),
    ("The correct answer is option D.", "D"),
    ("Answer: (A)", "A"),
    ("ANSWER: B", "B"),
    ("answer: c", None),  # a lower-case letter is a word, not an option
    ("The best answer is B.", "B"),
    ("I'd go with D.", "D"),
    ("I choose option B.", "B"),
    ("Let's pick C.", "C"),
    ("Option A is wrong. Option B is wrong. The answer is D.", "D"),
    ("It's not A. It's not C. It's B.", "B"),
    ("A is not right, since ... The answer must be E: answer is E", "E"),
    ("The final answer is **C**.", "C"),
    ("Final Answer: The final answer is $\\boxed{B}$. I hope it is correct.", "B"),
    ("After comparing, B is the correct answer.", "B"),
    ("C is the right answer here.", "C"),
    ("My answer: F", "F"),
    ("The answer is J.", "J"),
    ("So the answer is (G)", "G"),
    ("First I thought A, but actually the answer is C.", "C"),
    ("Answer: A good option would be to look at C; the answer is C.", "C"),
    ("A careful reading shows nothing conclusive.", None),
    ("I am not sure.", None),
    ("The options are A, B, C and D.", None),
    ("Answer:\n\n**C**", "C"),
    ("The answer is: \n\nB", "B"),
    ("> **(A)**", "A"),
    ("<think>maybe B</think>\nAnswer: D", "D"),
    ("Answer: B isn't it; the answer is A", "A"),
    ("Answer: it is D", "D"),
]


@pytest.mark.parametrize("completion,letter", PHRASINGS, ids=[p[0][:40] for p in PHRASINGS])
def test_the_letter_each_phrasing_commits_to(completion, letter):
    assert extract_choice(completion) == letter


def test_at_least_forty_phrasings():
    assert len(PHRASINGS) >= 40


@pytest.mark.parametrize("completion,gold,expected", [
    ("I think the answer is (B).", "B", True), ("**D**", 3, True), ("The answer is A", "(b)", False),
    ("The answer is C", "c", True),
])
def test_compare_against_letters_and_indices(completion, gold, expected):
    verifier = ChoiceVerifier()
    answer = verifier.extract(completion, {"answer": gold})
    assert verifier.compare(answer, {"answer": gold}).correct is expected
