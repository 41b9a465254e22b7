"""The vision_math rules on tables of answer phrasings, one per kind (issue 35): the option letter, the option
text, a number with its unit (MathVista's integer, float with precision, list), an expression (MathVision's
free form); each with the verdict the rules give: True (correct), False (incorrect), None (not read: no
answer, or the judge's when one is given). Adversarial phrasings are in every table: every option listed,
the question restated, two answers at once."""

from collections import Counter

import pytest

from tether.errors import InputError
from tether.grading import make_verifier
from tether.grading.math import FULL_TEXT
from tether.grading.vision import VisionMathVerifier, decided_by
from tether.grading.vision.options import gold_letter, read_option
from tether.grading.vision.values import kind_of, list_of

RULES = VisionMathVerifier()

# MathVista: the gold is the option's text; its query is the prompt
FRACTIONS = {"question": "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, "
                         "at the end.\nQuestion: What fraction of the shape is blue?\nChoices:\n(A) 3/11\n(B) 8/11\n"
                         "(C) 6/11\n(D) 3/5",
             "answer": "8/11", "choices": ["3/11", "8/11", "6/11", "3/5"], "answer_type": "text"}
ANGLES = {"question": "Hint: ...\nQuestion: ∠BOC = ?\nChoices:\n(A) 135°\n(B) 140°\n(C) 145°\n(D) 150°",
          "answer": "145°", "choices": ["135°", "140°", "145°", "150°"], "answer_type": "text"}
YES_NO = {"question": "Question: Is the number of red cubes less than 3?\nChoices:\n(A) Yes\n(B) No",
          "answer": "No", "choices": ["Yes", "No"], "answer_type": "text"}
WORDS = {"question": "Question: What would happen to the population of stickleback fry?",
         "answer": "The population of predatory insects would decrease.",
         "choices": ["The population of steelheads would decrease.", "The population of stickleback fry would increase.",
                     "The population of predatory insects would increase.",
                     "The population of predatory insects would decrease."], "answer_type": "text"}
# MathVision: the gold is the letter; options may be only the letters (drawn in the picture)
METRES = {"question": "How long is the rope?\n<image1>\n\nChoices:\n(A) $6 \\mathrm{~m}$\n...",
          "answer": "C", "choices": ["$6 \\mathrm{~m}$", "$8 \\mathrm{~m}$", "$10 \\mathrm{~m}$", "$11 \\mathrm{~m}$",
                                     "$12 \\mathrm{~m}$"]}
TIMES = {"question": "How does the area change?", "answer": "D",  # MathVision's options with commas and "as"
         "choices": ["It is 2-times as big.", "It is 3-times as big.", "It is $\\pi$-times as big.",
                     "It is 4-times as big.", "It is 8-times as big."]}
NUMERALS = {"question": "Which statements are true?", "answer": "C",
            "choices": ["I, III, IV and V", "III, IV and V", "I, III and V", "all", "None of these answers"]}
SPELLED = {"question": "Which letter is missing?", "answer": "D", "choices": ["K", "E", "N", "G", "U"]}
PICTURES = {"question": "Which picture shows the kittens?\n<image1>\n\nChoices: A, B, C, D, E",
            "answer": "D", "choices": ["A", "B", "C", "D", "E"]}

LETTERS = [
    # (completion, reference, verdict)
    ("The correct answer is (B) 8/11.", FRACTIONS, True),
    ("Therefore the answer is B.", FRACTIONS, True),
    ("Answer: B", FRACTIONS, True),
    ("**Answer:** (B)", FRACTIONS, True),
    ("\\boxed{B}", FRACTIONS, True),
    ("So the final answer is $\\boxed{\\text{B}}$.", FRACTIONS, True),
    ("\\boxed{(B)}", FRACTIONS, True),
    ("<answer>B</answer>", FRACTIONS, True),
    ("I'd go with B.", FRACTIONS, True),
    ("The blue part is 8 of 11 squares.\nB", FRACTIONS, True),
    ("The blue part is 8 of 11 squares.\n(B)", FRACTIONS, True),
    ("Final answer: **B**", FRACTIONS, True),
    ("The answer is A.", FRACTIONS, False),
    ("\\boxed{C}", FRACTIONS, False),
    ("Answer: D", FRACTIONS, False),
    ("It is not B; the answer is A.", FRACTIONS, False),
    ("First I thought A, but the answer is B.", FRACTIONS, True),
    ("\\boxed{E}", FRACTIONS, False),  # a letter with no option behind it
    ("The answer is C", ANGLES, True),
    ("\\boxed{C}", ANGLES, True),
    ("Answer: (A)", ANGLES, False),
    ("The answer is B", YES_NO, True),
    ("Answer: A", YES_NO, False),
    ("\\boxed{D}", WORDS, True),
    ("The correct option is C.", WORDS, False),
    ("\\boxed{C}", METRES, True),
    ("The rope is 10 m long, so the answer is C.", METRES, True),
    ("\\boxed{B}", METRES, False),
    ("\\boxed{D}", PICTURES, True),
    ("Picture D shows them. \\boxed{D}", PICTURES, True),
    ("Answer: (D)", PICTURES, True),
    ("\\boxed{A}", PICTURES, False),
    # adversarial: every option, several options, two boxes, the question restated, no commitment
    ("Answer: A, B, C or D", FRACTIONS, False),
    ("\\boxed{A, B, C, D}", FRACTIONS, False),
    ("The answer is B or C.", FRACTIONS, False),
    ("\\boxed{B} or \\boxed{C}", FRACTIONS, False),
    ("\\boxed{(B) and (C)}", FRACTIONS, False),
    ("\\boxed{A/B/C/D/E}", PICTURES, False),
    (FRACTIONS["question"], FRACTIONS, None),
    (PICTURES["question"], PICTURES, None),
    ("The options are A, B, C and D.", FRACTIONS, None),
    ("I am not sure which one it is.", FRACTIONS, None),
    ("", FRACTIONS, None),
    ("answer: b", FRACTIONS, None),  # a lower-case letter is a word
]

OPTION_TEXTS = [
    ("The answer is 8/11.", FRACTIONS, True),
    ("\\boxed{8/11}", FRACTIONS, True),
    ("\\boxed{\\frac{8}{11}}", FRACTIONS, True),
    ("\\boxed{\\dfrac{8}{11}}", FRACTIONS, True),
    ("Final answer: $\\frac{8}{11}$", FRACTIONS, True),
    ("8/11", FRACTIONS, True),  # MathVista's quick rule: the response is an option
    ("Counting squares.\n8/11", FRACTIONS, True),
    ("\\boxed{3/11}", FRACTIONS, False),
    ("The answer is 3/5.", FRACTIONS, False),
    ("\\boxed{0.6}", FRACTIONS, False),  # 3/5 as a decimal: option D
    ("\\boxed{1/2}", FRACTIONS, False),  # a number that is no option
    ("\\boxed{145°}", ANGLES, True),
    ("\\boxed{145^\\circ}", ANGLES, True),
    ("\\boxed{145}", ANGLES, True),
    ("The answer is 145 degrees.", ANGLES, True),  # the number of option C, with its unit in words
    ("So ∠BOC = 145°.\n145°", ANGLES, True),
    ("\\boxed{140°}", ANGLES, False),
    ("Answer: 150°", ANGLES, False),
    ("\\boxed{No}", YES_NO, True),
    ("The answer is no.", YES_NO, True),
    ("The answer is \"No\".", YES_NO, True),
    ("There are 4 red cubes.\nNo", YES_NO, True),
    ("\\boxed{Yes}", YES_NO, False),
    ("Answer: yes", YES_NO, False),
    ("\\boxed{\\text{No}}", YES_NO, True),
    ("The answer is The population of predatory insects would decrease.", WORDS, True),
    ("\\boxed{The population of predatory insects would increase.}", WORDS, False),
    ("\\boxed{10 m}", METRES, True),
    ("\\boxed{10}", METRES, True),
    ("The answer is $10 \\mathrm{~m}$.", METRES, True),
    ("\\boxed{10 \\text{ m}}", METRES, True),
    ("\\boxed{8 m}", METRES, False),
    ("\\boxed{9 m}", METRES, False),  # no option is 9 m
    ("\\boxed{(C) 10 m}", METRES, True),
    ("\\boxed{C. 10 m}", METRES, True),
    ("\\boxed{B) 8/11}", FRACTIONS, True),
    ("The answer is It is 4-times as big.", TIMES, True),
    ("The answer is: it is 4-times as big.", TIMES, True),
    ("\\boxed{It is 3-times as big.}", TIMES, False),
    ("The answer is I, III and V.", NUMERALS, True),
    ("\\boxed{I, III, IV and V}", NUMERALS, False),
    ("The answer is G.", SPELLED, True),  # no option G: the option whose text is G
    ("\\boxed{D}", SPELLED, True),  # the letter, not the option whose text is E
    ("\\boxed{E}", SPELLED, False),  # a letter of the options: option E (U), not the option whose text is E
    # adversarial: the question restated, every option's text, two options at once, words
    ("What fraction of the shape is blue?\nChoices:\n(A) 3/11\n(B) 8/11\n(C) 6/11\n(D) 3/5", FRACTIONS, None),
    ("\\boxed{(A) 3/11 (B) 8/11 (C) 6/11 (D) 3/5}", FRACTIONS, False),
    ("\\boxed{8/11} or \\boxed{3/11}", FRACTIONS, False),
    ("\\boxed{the second one}", FRACTIONS, None),
    ("Yes and no.", YES_NO, None),
    ("The population would change.", WORDS, None),
]

TOTAL_VOLUME = {"question": "Hint: Please answer the question requiring an integer answer and provide the final value, "
                            "e.g., 1, 2, 3, at the end.\nQuestion: what is the total volume of the measuring cup? "
                            "(Unit: g)", "answer": "1000", "answer_type": "integer", "unit": "g", "choices": []}
AGE_GAP = {"question": "Hint: ...\nQuestion: What is the age gap between these two people? (Unit: years)",
           "answer": "7", "answer_type": "integer", "unit": "years", "choices": []}
SPRING = {"question": "Hint: ... one decimal place ...\nQuestion: by what distance d is the spring compressed?",
          "answer": "1.2", "answer_type": "float", "precision": 1, "choices": []}
CANDY = {"question": "Hint: ... two decimal places ...\nQuestion: How much money does Luca need? (Unit: $)",
         "answer": "1.45", "answer_type": "float", "precision": 2, "unit": "$", "choices": []}
PEAK = {"question": "Hint: ... a Python list ...\nQuestion: Between which two years does the line graph peak?",
        "answer": "[2014, 2016]", "answer_type": "list", "choices": []}
SUM = {"question": "Hint: ... an integer answer ...\nQuestion: What is 4 + 3?", "answer": "7",
       "answer_type": "integer", "choices": []}

NUMBERS = [
    ("The total volume of the measuring cup is 1000 g.", TOTAL_VOLUME, True),
    ("\\boxed{1000}", TOTAL_VOLUME, True),
    ("\\boxed{1000 g}", TOTAL_VOLUME, True),
    ("\\boxed{1000g}", TOTAL_VOLUME, True),
    ("\\boxed{1000 \\text{ g}}", TOTAL_VOLUME, True),
    ("The answer is 1,000.", TOTAL_VOLUME, True),
    ("1000", TOTAL_VOLUME, True),
    ("Answer: 1000.0", TOTAL_VOLUME, True),
    ("\\boxed{500}", TOTAL_VOLUME, False),
    ("The answer is 1000.5", TOTAL_VOLUME, False),  # not truncated to 1000
    ("The age gap is 7 years.", AGE_GAP, True),
    ("\\boxed{7 years}", AGE_GAP, True),
    ("\\boxed{7years}", AGE_GAP, True),
    ("Answer: 7", AGE_GAP, True),
    ("\\boxed{8 years}", AGE_GAP, False),
    ("The answer is 6.9 years.", AGE_GAP, False),
    ("d = 1.2 m", SPRING, True),
    ("\\boxed{1.2}", SPRING, True),
    ("\\boxed{1.2 \\text{ m}}", SPRING, True),
    ("The compression is 1.23 m.", SPRING, True),  # MathVista rounds to the precision: 1.2
    ("The spring is compressed by 1.23 m.", SPRING, None),  # no verb states the number: the judge's
    ("\\boxed{1.15}", SPRING, False),  # 1.15 is 1.1499… in binary: rounded, 1.1 (MathVista's round too)
    ("\\boxed{1.3}", SPRING, False),
    ("\\boxed{12}", SPRING, False),
    ("Luca needs $1.45 in total, so the total is $1.45.", CANDY, True),
    ("\\boxed{\\$1.45}", CANDY, True),
    ("\\boxed{1.45}", CANDY, True),
    ("The answer is 1.449", CANDY, True),
    ("\\boxed{1.4}", CANDY, False),
    ("\\boxed{145}", CANDY, False),
    ("\\boxed{[2014, 2016]}", PEAK, True),
    ("The answer is [2014,2016].", PEAK, True),
    ("\\boxed{2014, 2016}", PEAK, True),
    ("\\boxed{(2014, 2016)}", PEAK, True),
    ("\\boxed{[2016, 2014]}", PEAK, False),  # order counts
    ("\\boxed{[2014, 2015]}", PEAK, False),
    ("\\boxed{[2014]}", PEAK, False),
    # adversarial: two answers, a hedge, the question restated, words
    ("\\boxed{1000} or \\boxed{500}", TOTAL_VOLUME, False),
    ("The answer is 999 or 1000.", TOTAL_VOLUME, False),
    ("It is between 900 and 1000 g.", TOTAL_VOLUME, False),
    ("\\boxed{4 + 3}", SUM, False),
    (SUM["question"], SUM, None),
    (TOTAL_VOLUME["question"], TOTAL_VOLUME, None),
    ("\\boxed{one thousand}", TOTAL_VOLUME, None),
    ("The cup holds a lot.", TOTAL_VOLUME, None),
]

# MathVision's free-form questions: no answer type; the gold is mathematics (or, rarely, a word)
THREE_HALVES = {"question": "What is the ratio of the areas?\n<image1>", "answer": "\\frac{3}{2}", "choices": []}
ROOT = {"question": "How long is the diagonal?\n<image1>", "answer": "2\\sqrt{3}", "choices": []}
FOUR_EIGHT = {"question": "What is the distance?\n<image1>", "answer": "4.8", "choices": []}
NEGATIVE = {"question": "Which number is at the question mark?\n<image1>", "answer": "-2", "choices": []}
SIXTY_ONE = {"question": "Which number do you have to write in the last daisy?\n<image1>", "answer": "61",
             "choices": []}
LETTER_GOLD = {"question": "Which card is turned over?\n<image1>", "answer": "C", "choices": []}

EXPRESSIONS = [
    ("\\boxed{\\frac{3}{2}}", THREE_HALVES, True),
    ("\\boxed{3/2}", THREE_HALVES, True),
    ("\\boxed{1.5}", THREE_HALVES, True),
    ("\\boxed{\\dfrac{6}{4}}", THREE_HALVES, True),
    ("The final answer is $\\frac{3}{2}$.", THREE_HALVES, True),
    ("So the ratio is 3/2.", THREE_HALVES, True),
    ("\\boxed{\\frac{2}{3}}", THREE_HALVES, False),
    ("\\boxed{2}", THREE_HALVES, False),
    ("\\boxed{2\\sqrt{3}}", ROOT, True),
    ("\\boxed{\\sqrt{12}}", ROOT, True),
    ("\\boxed{2 \\sqrt 3}", ROOT, True),
    ("The diagonal is $2\\sqrt{3}$ cm.", ROOT, True),
    ("\\boxed{3\\sqrt{2}}", ROOT, False),
    ("\\boxed{\\sqrt{3}}", ROOT, False),
    ("\\boxed{4.8}", FOUR_EIGHT, True),
    ("\\boxed{4.80}", FOUR_EIGHT, True),
    ("\\boxed{\\frac{24}{5}}", FOUR_EIGHT, True),
    ("\\boxed{4.8 \\text{ cm}}", FOUR_EIGHT, True),
    ("\\boxed{4.8 cm}", FOUR_EIGHT, True),
    ("The distance is 4.8.", FOUR_EIGHT, True),
    ("\\boxed{4.9}", FOUR_EIGHT, False),
    ("\\boxed{48}", FOUR_EIGHT, False),
    ("\\boxed{-2}", NEGATIVE, True),
    ("\\boxed{- 2}", NEGATIVE, True),
    ("The answer is -2.", NEGATIVE, True),
    ("\\boxed{2}", NEGATIVE, False),
    ("\\boxed{61}", SIXTY_ONE, True),
    ("So we write 61 in the last daisy.\n\\boxed{61}", SIXTY_ONE, True),
    ("The last daisy gets 61.", SIXTY_ONE, True),
    ("\\boxed{x = 61}", SIXTY_ONE, True),
    ("\\boxed{60}", SIXTY_ONE, False),
    ("\\boxed{C}", LETTER_GOLD, True),
    ("\\boxed{B}", LETTER_GOLD, False),
    ("Answer: C", LETTER_GOLD, True),
    # adversarial: two answers, the question restated, words, an unfinished computation
    ("\\boxed{61} or \\boxed{62}", SIXTY_ONE, False),
    ("The answer is 61 or 62.", SIXTY_ONE, False),
    ("\\boxed{\\frac{3}{2}} \\boxed{\\frac{2}{3}}", THREE_HALVES, False),
    (SIXTY_ONE["question"], SIXTY_ONE, None),
    ("\\boxed{sixty-one}", SIXTY_ONE, None),
    ("The ratio is three halves.", THREE_HALVES, None),
    ("\\boxed{}", THREE_HALVES, None),
    ("I cannot tell from the picture.", ROOT, None),
]


def verdict(completion: str, reference: dict) -> bool | None:
    """The rules' verdict: None when they read no answer."""
    answer = RULES.extract(completion, reference)
    return None if answer is None else RULES.compare(answer, reference).correct


def _ids(table):
    return [f"{i}:{case[0][:40]}" for i, case in enumerate(table)]


@pytest.mark.parametrize("kind, table", [("letter", LETTERS), ("option text", OPTION_TEXTS),
                                         ("number with unit", NUMBERS), ("expression", EXPRESSIONS)])
def test_each_kind_has_forty_phrasings_with_adversarial_ones(kind, table):
    assert len(table) >= 40, kind
    verdicts = Counter(expected for _, _, expected in table)
    assert verdicts[True] >= 10 and verdicts[False] >= 10 and verdicts[None] >= 3, (kind, verdicts)


@pytest.mark.parametrize("completion, reference, expected", LETTERS, ids=_ids(LETTERS))
def test_option_letters(completion, reference, expected):
    assert verdict(completion, reference) is expected


@pytest.mark.parametrize("completion, reference, expected", OPTION_TEXTS, ids=_ids(OPTION_TEXTS))
def test_option_texts(completion, reference, expected):
    assert verdict(completion, reference) is expected


@pytest.mark.parametrize("completion, reference, expected", NUMBERS, ids=_ids(NUMBERS))
def test_numbers_with_units_and_precision(completion, reference, expected):
    assert verdict(completion, reference) is expected


@pytest.mark.parametrize("completion, reference, expected", EXPRESSIONS, ids=_ids(EXPRESSIONS))
def test_expressions(completion, reference, expected):
    assert verdict(completion, reference) is expected


def test_the_reasons_a_read_answer_is_wrong():
    assert RULES.compare(RULES.extract("\\boxed{A, B, C, D}", FRACTIONS), FRACTIONS).detail == \
        "names several options: A, B, C, D"
    assert RULES.compare(RULES.extract("\\boxed{1/2}", FRACTIONS), FRACTIONS).detail == "not one of the options: 1/2"
    assert RULES.compare(RULES.extract("\\boxed{61} or \\boxed{62}", SIXTY_ONE), SIXTY_ONE).detail == \
        "gives two answers: 61 | 62"
    assert RULES.compare("4 + 3", SUM).detail == "restates the question: 4 + 3"


def test_gold_letters_kinds_and_readings():
    assert gold_letter("8/11", FRACTIONS["choices"]) == "B" and gold_letter("C", METRES["choices"]) == "C"
    assert gold_letter("E", ["A", "B", "C", "D", "E"]) == "E" and gold_letter("9/11", FRACTIONS["choices"]) is None
    assert [kind_of(r) for r in (FRACTIONS, TOTAL_VOLUME, SPRING, PEAK, ROOT, LETTER_GOLD)] == \
        ["choice", "integer", "float", "list", "expression", "text"]
    assert list_of("[0, 2, 0, 2, 1, 7]") == [0, 2, 0, 2, 1, 7] and list_of("2014 and 2016") == [2014, 2016]
    assert list_of("1000") == [1000] and list_of("in 2014") is None
    assert read_option("(B) 8/11", FRACTIONS["choices"]).letter == "B"
    assert read_option("B or C", FRACTIONS["choices"]).several == ("B", "C")
    assert not read_option("the blue one", FRACTIONS["choices"]).readable


def test_routes_say_how_each_answer_was_found():
    assert RULES.extract_with_route("\\boxed{B}", FRACTIONS) == ("B", "box")
    assert RULES.extract_with_route("blah\n8/11", FRACTIONS) == ("B", "last_line")
    assert RULES.extract_with_route("It is 1000 g.", TOTAL_VOLUME) == ("1000", "last_result")
    assert RULES.extract_with_route("\\boxed{the second one}", FRACTIONS) == (None, None)


def test_unreadable_answers_go_to_the_judge_only_when_one_is_given():
    judged = VisionMathVerifier(judge_model="m", judge_base_url="http://127.0.0.1:1/v1")
    answer, route = judged.extract_with_route("\\boxed{the second one}", FRACTIONS)
    assert (answer, route) == (FULL_TEXT + "the second one", "judge") and judged.in_parent(answer)
    answer, route = judged.extract_with_route("Well, I looked at the picture closely.", FRACTIONS)
    assert route == "judge_tail" and answer.endswith("closely.") and judged.in_parent(answer)
    assert judged.extract_with_route("\\boxed{B}", FRACTIONS) == ("B", "box") and not judged.in_parent("B")
    assert not RULES.in_parent(FULL_TEXT + "x") and RULES.compare(FULL_TEXT + "x", FRACTIONS).status == "no_answer"
    assert judged.version() != RULES.version() != VisionMathVerifier(judge_model="m2", judge_base_url="x").version()
    assert "judge m" in judged.extraction and "rules only" in RULES.extraction


def test_the_judge_sees_the_question_and_the_gold_option(monkeypatch):
    from tether.grading.base import Grade
    from tether.grading.judge import JudgeVerifier

    seen = []
    monkeypatch.setattr(JudgeVerifier, "compare_many", lambda self, items: seen.extend(items) or
                        [Grade(True, 1.0)] * len(items))
    judged = VisionMathVerifier(judge_model="m", judge_base_url="http://127.0.0.1:1/v1")
    grades = judged.compare_many([(FULL_TEXT + "the second one", FRACTIONS, "q"),
                                  (FULL_TEXT + "a thousand", TOTAL_VOLUME, "q")])
    assert [g.correct for g in grades] == [True, True]
    assert seen[0][0] == "the second one" and seen[0][1]["answer"] == "B (8/11)"
    assert seen[0][1]["question"].startswith("Hint:") and seen[1][1]["answer"] == "1000 g"
    with pytest.raises(InputError, match="no judge"):
        RULES.compare_many([("x", FRACTIONS, "q")])


def test_decided_by_counts_rules_judge_and_unreadable():
    routes = Counter({"box": 5, "final_answer": 2, "last_line": 1, "judge": 3, "judge_tail": 1, "none": 4})
    assert decided_by(routes) == {"rules": 8, "judge": 4, "unreadable": 4}


def test_tasks_the_rules_cannot_grade_are_refused():
    verifier = make_verifier("vision_math")
    verifier.check_task("ok", FRACTIONS)
    with pytest.raises(InputError, match="neither an option's letter nor an option's text"):
        verifier.check_task("t1", {**FRACTIONS, "answer": "9/11"})
    with pytest.raises(InputError, match="needs a gold answer"):
        verifier.check_task("t2", {"question": "q", "choices": []})
