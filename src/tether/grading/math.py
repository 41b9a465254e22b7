"""The `math` verifier: Math-Verify behind tether's extraction, fast paths and timeouts.

Extraction (parent, text only), explicit answers first: the last ``\\boxed{}``/``\\fbox{}``, else
the answer after the last "final answer" / "the answer is" / "Answer:" (a leading ``$…$`` span, or
the text up to the sentence's end), else the last short bold that looks like an answer
(``**73**``, not ``**Step 1:**``); when none is found, the completion's tail goes to
Math-Verify's own full-text parse.

Comparison (worker process): exact fast paths first (identical normalised
strings; two plain integers), then Math-Verify ``parse`` + ``verify`` against
every gold answer (any may match; gold answers are parsed once per worker).
Math-Verify's timeouts are ``signal.alarm`` based, so they are whole seconds
and only work in a process's main thread: hence worker processes, which the
pool also kills when a computation ignores the alarm (huge integers in C).
A timeout is its own status.
"""

from __future__ import annotations

import re
from typing import Any

from tether.errors import InputError
from tether.grading import extract as extraction
from tether.grading.base import Grade, too_long, version_string
from tether.grading.extract import (cascade_route, final_answer_stated, last_bold_answer, last_boxed,
                                    last_numeric_sentence, stated_result)
from tether.grading.restated import question_of, restates_question

FULL_TEXT = "\x00fulltext\x00"  # marks an "answer" that is the completion's tail, for Math-Verify to parse
_TAIL_CHARS = 2000
_SPACES = re.compile(r"\s+|\\[,!;: ]|\\left|\\right|\$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_UNFINISHED = re.compile(r"(?:[=+\-*/×÷^(,]|\\times|\\cdot|\.\.\.|…)\s*$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:(?:,|\{,\})\d{3})+$")


class MathVerifier:
    name = "math"
    in_process = False

    def __init__(self, timeout_seconds: int = 5, float_rounding: int = 6):
        if int(timeout_seconds) != timeout_seconds or timeout_seconds < 1:
            raise InputError("math-verify timeouts are whole seconds >= 1 (a fractional one silently returns False)")
        self.timeout_seconds, self.float_rounding = int(timeout_seconds), float_rounding
        self._gold_cache: dict[str, list] = {}

    def version(self) -> str:
        config = {"timeout": self.timeout_seconds, "float_rounding": self.float_rounding,
                  "extract": extraction.VERSION,
                  "statements": extraction.STATEMENT_VERSION, "restated": 2}
        return version_string(self.name, ("math-verify", "latex2sympy2_extended", "sympy"), config)

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return self.extract_with_route(completion, reference)[0]

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        answer, route = cascade_route(completion, (last_boxed, final_answer_stated, last_bold_answer))
        if answer is not None:
            return answer, route
        sentence = last_numeric_sentence(completion)
        if sentence is not None:  # the last sentence with a number decides: its stated result, or no answer
            result = stated_result(sentence)
            return (result, "last_result") if result else (None, None)
        tail = completion[-_TAIL_CHARS:].strip()
        if not tail or _UNFINISHED.search(tail):
            return None, None  # ends mid-expression (an echoed question, a cut-off computation): no answer
        return FULL_TEXT + tail, "full_text"

    def warm(self) -> None:
        """Do Math-Verify's first-use imports (LaTeX parser, sympy) now: a worker calls this while
        building the verifier, so they never count against an answer's deadline."""
        from math_verify import parse, verify

        verify(parse("$\\frac{1}{2}$"), parse("$0.5$"))

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        golds = _golds(reference)
        full_text = answer.startswith(FULL_TEXT)
        text = answer[len(FULL_TEXT) :] if full_text else answer
        question = question_of(reference)
        if not full_text:
            rejected = too_long(text)
            if rejected:
                return rejected
            if restates_question(text, question) and normalise(text) not in {normalise(g) for g in golds}:
                return _restated(text)
            fast = _fast_path(text, golds)
            if fast is not None:
                return Grade(fast, float(fast))
        return self._math_verify(text, golds, full_text, question)

    def _math_verify(self, text: str, golds: list[str], full_text: bool, question: str | None = None) -> Grade:
        from math_verify import parse, verify
        from math_verify.errors import TimeoutException

        try:
            predicted = parse(text if full_text else f"\\boxed{{{text}}}", parsing_timeout=self.timeout_seconds,
                              raise_on_error=True)
        except TimeoutException:
            return Grade.timeout("parsing the answer timed out")
        except Exception as exc:  # noqa: BLE001 - any parser failure is this answer's error
            return Grade.error(f"parse: {type(exc).__name__}: {exc}")
        if not predicted:
            return Grade.no_answer() if full_text else Grade(False, 0.0, "ok", "answer did not parse")
        if full_text and len(predicted) > 1 and restates_question(str(predicted[-1]), question):
            return _restated(str(predicted[-1]))  # the tail's last expression is the question's, echoed
        timed_out = False
        for gold in golds:
            for g in self._parsed_gold(gold):
                for p in predicted:
                    exact = exact_equal(g, p)
                    if exact is not None:
                        if exact:
                            return Grade(True, 1.0)
                        continue
                    try:
                        if verify(g, p, float_rounding=self.float_rounding, timeout_seconds=self.timeout_seconds,
                                  raise_on_error=True):
                            return Grade(True, 1.0)
                    except TimeoutException:
                        timed_out = True
                    except Exception:  # noqa: BLE001 - a failed comparison is not a match
                        continue
        return Grade.timeout("comparison timed out") if timed_out else Grade(False, 0.0)

    def _parsed_gold(self, gold: str) -> list:
        if gold not in self._gold_cache:
            from math_verify import parse

            self._gold_cache[gold] = parse(f"\\boxed{{{gold}}}", parsing_timeout=self.timeout_seconds)
            if len(self._gold_cache) > 10_000:
                self._gold_cache.pop(next(iter(self._gold_cache)))
        return self._gold_cache[gold]


def _restated(text: str) -> Grade:
    return Grade(False, 0.0, "ok", f"restates the question: {text}")


def _golds(reference: dict[str, Any]) -> list[str]:
    gold = reference.get("answer")
    if gold is None:
        raise InputError("math verifier: the task's reference has no 'answer'")
    values = gold if isinstance(gold, list) else [gold]
    return [str(v).strip().removeprefix("$").removesuffix("$") for v in values]


def normalise(text: str) -> str:
    return _SPACES.sub("", text).rstrip(".")


def _fast_path(answer: str, golds: list[str]) -> bool | None:
    """True/False when cheap exact rules decide; None to go to sympy."""
    norm = normalise(answer)
    gold_norms = [normalise(g) for g in golds]
    if norm in gold_norms:
        return True
    as_int = _as_integer(norm)
    gold_ints = [_as_integer(g) for g in gold_norms]
    if as_int is not None and all(g is not None for g in gold_ints):
        return as_int in gold_ints
    return None


def _as_integer(text: str) -> int | None:
    if _THOUSANDS.match(text):
        text = text.replace("{,}", "").replace(",", "")
    if _INTEGER.match(text) and len(text) < 400:
        return int(text)
    return None


_EXACT_LIMIT = 10_000  # largest factorial argument, power exponent or integer digits decided exactly


def exact_equal(gold, predicted) -> bool | None:
    """True/False when both are exact numbers (integers, fractions, factorials, integer powers: no
    floats, no symbols) small enough to evaluate, decided without rounding (``1/2006!`` is not
    ``1/2004!``, which Math-Verify's float comparison cannot tell apart); None otherwise."""
    import sympy

    if not all(isinstance(x, sympy.Basic) and x.is_number for x in (gold, predicted)):
        return None
    for expr in (gold, predicted):
        if expr.atoms(sympy.Float) or expr.has(sympy.I) or not _small(expr, sympy):
            return None
    values = [expr.doit() for expr in (gold, predicted)]
    if not all(v.is_Rational for v in values):
        return None
    return bool(values[0] == values[1])


def _small(expr, sympy) -> bool:
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.factorial) and not (node.args[0].is_Integer and abs(node.args[0]) <= _EXACT_LIMIT):
            return False
        if isinstance(node, sympy.Pow) and not (node.exp.is_Integer and abs(node.exp) <= _EXACT_LIMIT):
            return False
        if node.is_Integer and abs(node) > 10**_EXACT_LIMIT:
            return False
    return True
