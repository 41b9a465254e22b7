"""The `vision_math` verifier: MathVista's and MathVision's answers graded by rules first, by a judge only if asked.

Extraction (text only) reads, in order, the last ``\\boxed{}``, the last ``<answer>`` tags, the
answer after "the answer is" / "Answer:", then (multiple choice) a committed letter as the
`choice` verifier finds it ("I'd go with C", ``**C**``, a line holding only the letter), and last,
read out of the text: the last line when it is one option (multiple choice), or the result the
last sentence with a number states (free form). Multiple choice reads an option's letter or its text
(`options.read_option`); free form reads the task's answer type (`values.read_value`). Answers that
name several options or give two values on the box's line ("B or C", ``\\boxed{5} or \\boxed{6}``,
"5 or 6") are read, and are never correct.

An answer the rules cannot read (words where a number or an option is wanted; no answer found) is
no answer, unless a judge is given (``--judge-model`` / ``--judge-base-url``, the options the `judge`
verifier takes): then it goes to the judge, the answer found (route ``judge``) or the completion's
tail (route ``judge_tail``, read out of the text like ``full_text``), with the question and the
gold option or value. Every verdict's route says who decided: `decided_by` counts them as rules,
judge and unreadable. The judge's model, server and template are part of the version, so verdicts
with and without a judge never mix.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from tether.errors import InputError
from tether.grading import extract as extraction
from tether.grading.base import Grade, too_long, version_string
from tether.grading.choice import choice_with_route
from tether.grading.extract import (
    answer_tag,
    final_answer_line,
    final_answer_span,
    last_bold_answer,
    last_boxed,
    last_line,
    last_numeric_sentence,
    stated_result,
    tail,
)
from tether.grading.math import FULL_TEXT, MathVerifier
from tether.grading.restated import question_of
from tether.grading.vision.options import LETTERS, Reading, gold_letter, letters_of, lists_options, read_option
from tether.grading.vision.values import compare_value, kind_of, read_value

RULES_VERSION = 1
JUDGE_ROUTES = ("judge", "judge_tail")
TWO_ANSWERS = " | "  # joins the values an answer gives at once ("\boxed{5} or \boxed{6}" -> "5 | 6")
_TAIL_CHARS = 2000
_OR_NUMBER = re.compile(r"\sor\s++[-+$\\(]?\s*+\d")
_BETWEEN = re.compile(r"\bbetween\s")
_AND = re.compile(r"\band\s")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_DIGIT = re.compile(r"\d")
_CORRECT_IS = re.compile(r"(?:\b(?:correct|right|best)\s++(?:answer|option|choice)\s++is\s*+:?+|答案(?:是|为|：|:))"
                         r"\s*+([^\n]++)", re.IGNORECASE)
_SENTENCE = re.compile(r"\.(?=\s|$)|。|,\s++(?:as|because|since|so)\b")
_DOLLARS = re.compile(r"\$([^$]+)\$")


class VisionMathVerifier:
    name = "vision_math"
    in_process = False  # the rules run in the worker pool; answers for the judge go to `compare_many`

    def __init__(self, judge_model: str | None = None, judge_base_url: str | None = None,
                 judge_api_key: str | None = None, judge_max_retries: int = 5, judge_template: str | None = None,
                 timeout_seconds: int = 5):
        self.math = MathVerifier(timeout_seconds)
        self.judge = None
        if judge_model or judge_base_url:
            from tether.grading.judge import JudgeVerifier

            self.judge = JudgeVerifier(judge_model, judge_base_url, judge_api_key, max_retries=judge_max_retries,
                                       template=judge_template)

    @property
    def extraction(self) -> str:
        """How answers are decided, as `tether grade` says it."""
        if self.judge is None:
            return ("rules only; answers they cannot read are no_answer (--judge-model and --judge-base-url "
                    "send them to a judge)")
        return f"rules first; answers they cannot read go to the judge {self.judge.model}"

    def version(self) -> str:
        config = {"rules": RULES_VERSION, "extract": extraction.VERSION, "statements": extraction.STATEMENT_VERSION,
                  "math": self.math.version(), "judge": self.judge.version() if self.judge else None}
        return version_string(self.name, (), config)

    def warm(self) -> None:
        self.math.warm()

    def check_task(self, task_id: str, reference: dict[str, Any]) -> None:
        """A task the rules cannot grade is refused before anything is graded."""
        if reference.get("answer") is None:
            raise InputError(f"{task_id}: vision_math needs a gold answer (map an answer column)")
        choices = reference.get("choices")
        if choices and gold_letter(reference["answer"], choices) is None:
            raise InputError(f"{task_id}: the gold answer {reference['answer']!r} is neither an option's letter "
                             f"nor an option's text ({len(choices)} options)")

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return self.extract_with_route(completion, reference)[0]

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        text = tail(completion)
        if reference.get("choices"):
            answer, route, unread = _choice_answer(text, list(reference["choices"]))
        else:
            answer, route, unread = _free_answer(text, reference)
        if answer is not None:
            return answer, route
        if self.judge is None:
            return None, None
        if unread:
            return FULL_TEXT + unread, "judge"
        rest = (extraction.after_think(completion) or text).strip()[-_TAIL_CHARS:]
        return (FULL_TEXT + rest, "judge_tail") if rest else (None, None)

    def in_parent(self, answer: str) -> bool:
        """Whether this answer goes to the judge (in the parent, by `compare_many`) rather than a worker."""
        return self.judge is not None and answer.startswith(FULL_TEXT)

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        if answer.startswith(FULL_TEXT):  # for a judge this verifier does not have
            return Grade.no_answer()
        rejected = too_long(answer)
        if rejected:
            return rejected
        if reference.get("choices"):
            return _compare_choice(answer, reference)
        if TWO_ANSWERS in answer:
            return Grade(False, 0.0, "ok", f"gives two answers: {answer}")
        return compare_value(answer, reference, self.math)

    def compare_many(self, items: list[tuple[str, dict[str, Any], str]]) -> list[Grade]:
        """The judge's grades of (answer, reference, question) triples the rules could not read."""
        if self.judge is None:
            raise InputError("vision_math: no judge given (--judge-model and --judge-base-url)")
        shown = [(answer.removeprefix(FULL_TEXT), {"question": question_of(reference) or question,
                                                   "answer": judge_target(reference)}, question)
                 for answer, reference, question in items]
        return self.judge.compare_many(shown)


def judge_target(reference: dict[str, Any]) -> str:
    """The gold as the judge sees it: the option's letter and text, or the value (with its unit)."""
    choices = reference.get("choices")
    if choices:
        letter = gold_letter(reference["answer"], list(choices))
        return f"{letter} ({choices[LETTERS.index(letter)]})" if letter else str(reference["answer"])
    unit = reference.get("unit")
    return f"{reference['answer']} {unit}" if unit else str(reference["answer"])


def decided_by(routes: Counter) -> dict[str, int]:
    """How many answers the rules, the judge and nobody (unreadable: no answer) decided, from verdict routes."""
    judged = sum(n for route, n in routes.items() if route in JUDGE_ROUTES)
    unreadable = routes.get("none", 0) + routes.get(None, 0)
    return {"rules": sum(routes.values()) - judged - unreadable, "judge": judged, "unreadable": unreadable}


def _choice_answer(text: str, options: list) -> tuple[str | None, str | None, str | None]:
    """(answer, route, an explicit answer the rules could not read) for a multiple-choice task."""
    unread = None
    for route, found in (("box", last_boxed(text)), ("answer_tag", answer_tag(text)),
                         ("final_answer", _stated_option(text, options)), ("bold", last_bold_answer(text))):
        if not found:
            continue
        reading = read_option(found, options)
        if route == "box":
            reading = _with_other_box(text, reading, lambda other: read_option(other, options).letter)
        if reading.readable:
            return reading.answer(), route, None
        unread = unread or found
    letter, route = choice_with_route(text)
    if letter is not None:
        return read_option(letter, options).answer(), route, None
    if unread is None and not lists_options(text, options):
        line = last_line(text)
        reading = read_option(line, options) if line else Reading()
        if reading.letter:
            return reading.letter, "last_line", None
    return None, None, unread


def _stated_option(text: str, options: list) -> str | None:
    """What follows "the answer is" (or "the correct option is"): cut at the sentence's end, or the whole line when
    only that names an option (an option's text may hold a comma or "as": "It is 4-times as big.", "I, III and V")."""
    span, line = final_answer_span(text), final_answer_line(text)
    if span is None and line is None:
        line = _stated_line(text)
        span = line and _SENTENCE.split(line)[0].strip()
    if line and line != span and read_option(line, options).letter and not read_option(span or "", options).letter:
        return line
    return span or line


def _stated_line(text: str) -> str | None:
    """The rest of the line after the last "the correct answer is" or "答案是" (MathVista's Chinese questions)."""
    said = list(_CORRECT_IS.finditer(text))
    return said[-1].group(1).strip() if said else None


def _stated(text: str) -> str | None:
    line = _stated_line(text)
    return line and _SENTENCE.split(line)[0].strip().rstrip("。")


def _free_answer(text: str, reference: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(answer, route, an explicit answer the rules could not read) for a free-form task."""
    unread = None
    hedges = kind_of(reference) in ("integer", "float", "expression")
    sentence = last_numeric_sentence(text)
    for route, found in (("box", last_boxed(text)), ("answer_tag", answer_tag(text)),
                         ("final_answer", final_answer_span(text) or _stated(text)), ("bold", last_bold_answer(text)),
                         ("last_result", sentence and (_math_span(sentence) or stated_result(sentence)))):
        said = sentence if route == "last_result" else found
        if not said or (route == "last_result" and unread):
            continue
        if hedges and route != "box" and _hedged(said):  # "999 or 1000", "between 900 and 1000"
            return TWO_ANSWERS.join(_NUMBER.findall(said)), route, None
        if not found:
            continue
        value = read_value(found, reference)
        if route == "box":
            other = _other_box_on_line(text)
            other_value = read_value(other, reference) if other is not None else None
            if value is not None and other_value is not None and other_value != value:
                return f"{other_value}{TWO_ANSWERS}{value}", route, None
        if value is not None:
            return value, route, None
        unread = unread or found
    return None, None, unread


def _hedged(said: str) -> bool:
    """Whether an answer offers two values: a number, then "or" and a number ("999 or 1000"), or "between" a number
    "and" another. Linear: literal searches, no backtracking span."""
    found = _OR_NUMBER.search(said)
    if found and _DIGIT.search(said, 0, found.start()):
        return True
    between = _BETWEEN.search(said)
    joined = _AND.search(said, between.end()) if between else None
    return bool(joined and _DIGIT.search(said, between.end(), joined.start()))


def _math_span(sentence: str) -> str | None:
    """The value of a sentence's one ``$…$`` span ("The diagonal is $2\\sqrt{3}$ cm." -> ``2\\sqrt{3}``; the side
    after its last ``=``), where a stated number alone would be cut short; None without exactly one span."""
    spans = _DOLLARS.findall(sentence)
    if len(spans) != 1 or not re.search(r"\\[A-Za-z]|\^", spans[0]):
        return None
    return re.split(r"=|\\approx", spans[0])[-1].strip() or None


def _with_other_box(text: str, reading: Reading, letter_of) -> Reading:
    """Two boxes on one line naming different options ("\\boxed{B} or \\boxed{C}") name several."""
    other = _other_box_on_line(text)
    other_letter = letter_of(other) if other is not None else None
    if reading.letter and other_letter and other_letter != reading.letter:
        return Reading(several=(other_letter, reading.letter))
    return reading


def _other_box_on_line(text: str) -> str | None:
    """The content of the box before the last one, when both are on the same line; else None."""
    last = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if last < 0:
        return None
    line_start = text.rfind("\n", 0, last) + 1
    return last_boxed(text[line_start:last]) if "\\boxed" in text[line_start:last] or \
        "\\fbox" in text[line_start:last] else None


def _compare_choice(answer: str, reference: dict[str, Any]) -> Grade:
    options = list(reference["choices"])
    gold = gold_letter(reference["answer"], options)
    if gold is None:
        return Grade.error(f"gold answer {reference['answer']!r} is none of the options")
    named = [part.strip() for part in answer.split(",")]
    if len(named) > 1 and all(len(part) == 1 and part in LETTERS for part in named):
        return Grade(False, 0.0, "ok", f"names several options: {answer}")
    if len(answer) == 1 and answer in letters_of(options):
        correct = answer == gold
        return Grade(correct, float(correct))
    return Grade(False, 0.0, "ok", f"not one of the options: {answer}")
