"""Answer extraction: finding the final answer in a completion, fairly across answer formats.

Every function takes the completion text and returns the answer text, or None
when it finds none. They only read text (no sympy), so they are cheap and safe
in the parent process; `cascade` tries several in order.

- `last_boxed`: the last ``\\boxed{...}`` or ``\\fbox{...}`` (nested braces;
  also ``\\boxed 5`` without braces);
- `last_bold`: the last markdown bold ``**...**`` that is short;
- `final_answer_line`: the text after the last "final answer:" / "the answer is";
- `answer_tag`: the last ``<answer>...</answer>``;
- `after_think`: the text after the last ``</think>``;
- `last_line`: the last non-empty line;
- `last_result`: the result the completion's last sentence with a number states (`stated_result`:
  the value after its last ``=``, or after "is", "gives", "have" …, or the sentence when it is a
  bare expression); none when that sentence states no result ("Solving this equation 4 + 3 =
  requires …", "The result is 6 times 6 (…)");
- `leading_math`: an answer's leading expression without the words after it ("60 pages" -> "60");
  `final_answer_stated` is `final_answer_span` cut so, or None when it states only words.

Each reads only the completion's last `TAIL_CHARS` characters (final answers sit at the end) and
runs in time linear in what it reads: no pattern can backtrack (possessive quantifiers, literal
searches instead of lazy spans), so a hostile completion (thousands of unclosed ``\boxed{`` or
``<answer>``, "final answer" and a sea of newlines) costs milliseconds, like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

VERSION = 2  # part of every verifier's version that uses these: a change here regrades
# the version of what reads a stated answer (final_answer_line's "answer to … is", leading_math, last_result):
# part of the versions of math, reasoning_gym, exact and numeric, so a change regrades those (not the judge)
STATEMENT_VERSION = 1
TAIL_CHARS = 16_384
_BOX = re.compile(r"\\(?:boxed|fbox)\s*+")
_BARE_TOKEN = re.compile(r"[^\s$.,;]++")
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_FINAL = re.compile(r"(?:final\s++answer|the\s++answer|\banswer(?=\**\s*+[:=]))", re.IGNORECASE)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
_SENTENCE_END = re.compile(r"\.(?=\s|$)|[,;]\s*+(?=[A-Za-z]{2,}\b)|\s+(?:because|since|which|as)\s")
_WORD = re.compile(r"(?<!\\)\b[A-Za-z]{4,}\b")
_AFTER_FINAL = re.compile(r"\s*+(?:is)?+\s*+[:=]?+\s*+([^\n]*+)", re.IGNORECASE)
# "the final answer to this arithmetic problem is 7": what the answer is of, before the "is"
_QUALIFIER = re.compile(r"\s++(?:to|for|of|in)\b[^\n:=.]{0,80}?\s(?:is|was|will\s+be|would\s+be)\b|"
                        r"\s++(?:to|for|of|in)\b[^\n:=.]{0,80}?(?=\s*+[:=])", re.IGNORECASE)
_ANSWER_TAGS = re.compile(r"<(/?)answer>", re.IGNORECASE)
_STRICT_TAGS = re.compile(r"<(/?)answer>")

Extractor = Callable[[str], "str | None"]


def tail(text: str) -> str:
    """The part of a completion extraction reads: its last `TAIL_CHARS` characters."""
    return text[-TAIL_CHARS:]


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...}, braces balanced; None if absent or unclosed.

    Linear in the text: the braces are matched in one pass, however many boxes are left open."""
    text = tail(text)
    closing: dict[int, int] | None = None
    for match in reversed(list(_BOX.finditer(text))):
        start = match.end()
        if start < len(text) and text[start] == "{":
            closing = _matching_braces(text) if closing is None else closing
            if start in closing:
                return text[start + 1 : closing[start]].strip()
        elif start < len(text):  # \boxed 5
            token = _BARE_TOKEN.match(text, start)
            if token:
                return token.group(0)
    return None


def _matching_braces(text: str) -> dict[int, int]:
    """Position of each unescaped '{' that is closed -> position of its '}'."""
    pairs, open_at = {}, []
    for index, char in enumerate(text):
        if char in "{}" and (index == 0 or text[index - 1] != "\\"):
            if char == "{":
                open_at.append(index)
            elif open_at:
                pairs[open_at.pop()] = index
    return pairs


def last_bold(text: str) -> str | None:
    matches = _BOLD.findall(tail(text))
    return _strip_answer(matches[-1]) if matches else None


def last_bold_answer(text: str) -> str | None:
    """The last short bold that looks like an answer: not a label ending in ":" (``**Step 1:**``,
    ``**Answer:**``), and no word of four or more letters outside LaTeX commands."""
    for match in reversed(_BOLD.findall(tail(text))):
        candidate = match.strip()
        if candidate.endswith(":") or _WORD.search(candidate.replace("$", " ")):
            continue
        answer = _strip_answer(candidate)
        if answer:
            return answer
    return None


def final_answer_line(text: str) -> str | None:
    """The rest of the line after the last "final answer" / "the answer" (and an optional "is", ":"
    or "=") that has any; the answer may start on a later line. What the answer is of may come
    between: "The final answer to this arithmetic problem is 7." gives "7."."""
    text = tail(text)
    for match in reversed(list(_FINAL.finditer(text))):
        qualified = _QUALIFIER.match(text, match.end())
        rest = _AFTER_FINAL.match(text, qualified.end() if qualified else match.end()).group(1).strip()
        if rest:
            return _strip_answer(rest.splitlines()[0]) or None
    return None


def final_answer_span(text: str) -> str | None:
    """`final_answer_line` cut to the answer itself: a leading ``$…$``/``\\(…\\)`` span whole, else up
    to the sentence's end (". ", "; ", ", because …", ", so …"): "The answer is 42, because 6*7=42."
    gives "42"."""
    line = final_answer_line(text)
    if line is None:
        return None
    math = _MATH_SPAN.match(line.lstrip("*").strip())
    if math:
        return next(group for group in math.groups() if group is not None).strip() or None
    cut = _SENTENCE_END.search(line)
    return _strip_answer(line[: cut.start()] if cut else line) or None


def answer_tag(text: str) -> str | None:
    """The content of the last closed ``<answer>…</answer>`` (the nearest opening tag before it)."""
    text = tail(text)
    opened = None
    found = None
    for match in _ANSWER_TAGS.finditer(text):
        if not match.group(1):
            opened = match.end()
        elif opened is not None:
            found, opened = (opened, match.start()), None
    return text[found[0] : found[1]].strip() if found else None


def after_think(text: str) -> str | None:
    text = tail(text)
    cut = text.rfind("</think>")
    if cut < 0:
        return None
    rest = text[cut + len("</think>") :].strip()
    return rest or None


def last_line(text: str) -> str | None:
    for line in reversed(tail(text).splitlines()):
        if line.strip():
            return line.strip()
    return None


def _strip_answer(answer: str) -> str:
    """Without surrounding bold markers, dollar signs and a final full stop (``**$7$.**`` -> ``7``)."""
    answer = answer.strip().strip("*").strip().rstrip(".").strip()
    return answer.strip("$").strip().rstrip(".").strip()


def cascade(text: str, extractors: Sequence[Extractor]) -> str | None:
    """The first answer any extractor finds, in order."""
    return cascade_route(text, extractors)[0]


def cascade_route(text: str, extractors: Sequence[Extractor]) -> tuple[str | None, str | None]:
    """(the first answer any extractor finds, in order; the route that found it: `ROUTES`)."""
    for extractor in extractors:
        answer = extractor(text)
        if answer:
            return answer, ROUTES.get(extractor.__name__, extractor.__name__)
    return None, None


def answer_tag_strict(text: str) -> str | None:
    """Reasoning Gym's own extraction (``reasoning_gym.utils.extract_answer``): the last match of
    ``<answer>(.*?)</answer>`` (case as written), read left to right; linear, unlike that regex."""
    text = tail(text)
    opened, found = None, None
    for match in _STRICT_TAGS.finditer(text):
        if not match.group(1) and opened is None:
            opened = match.end()
        elif match.group(1) and opened is not None:
            found, opened = (opened, match.start()), None
    return text[found[0] : found[1]].strip() if found else None


_LIST_MARKER = re.compile(r"^\s*+(?:\d{1,3}[.)]|[-*•]|step\s*+\d{1,3}\s*+[:.)]|#++)\s++", re.IGNORECASE)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s++")
_DIGIT = re.compile(r"\d")
_STEP_REFERENCE = re.compile(r"\bsteps?+\s*+\d++", re.IGNORECASE)
_NUMBER = r"[-+]?+\$?+\s*+\d++(?:,\d{3}(?!\d))*+(?:\.\d++)?+(?:/\d++)?+"  # "1,000", not the comma of "is 1, and"
_EQUALS = re.compile(r"(?<![<>!=])=(?!=)|\\approx|≈")
_STATED = re.compile(  # a verb that states a value, then the value: "is 42", "gives us 12", "have 11"
    r"\b(?:is|are|was|were|be|becomes?|equals?|equal\s++to|gives?|gave|get|gets|got|results?\s++in|have|has|"
    r"had|makes?|totals?|total\s++of|leaves?|left\s++with)\b(?:\s++(?:us|you|me|now|actually|exactly|just|only|"
    r"simply|then|still|a\s++total\s++of|left))*+\s*+:?+\s*+(" + _NUMBER + r"|\$?+\s*+\\(?:[dt]?frac|sqrt|pi)\b)",
    re.IGNORECASE)
# a stated number that begins a LaTeX expression ("is 2\sqrt{3}", "is 3\pi"): the value is the whole expression
_LATEX_NEXT = re.compile(r"\\[A-Za-z]|\{")
_IS_THE_ANSWER = re.compile(r"(?<![\w.])(" + _NUMBER + r")\s++is\s++(?:the|our|my)\s++(?:final\s++)?answer", re.I)
_OPERATOR_NEXT = re.compile(r"\s*+(?:[-+*/^×÷·]|x\b|\\times|\\cdot|\\div|times\b|plus\b|minus\b|"
                            r"divided\b|multiplied\b|over\b|to\s++the\s++power)", re.IGNORECASE)
_UNIT_TEXT = re.compile(r"(?<=[\d}])\s*+\\(?:text|mathrm|mbox)\{[^{}]*+\}")
_FIRST_WORD = re.compile(r"(?:^|(?<=\s))[A-Za-z]{2,}+\b")
_HEDGE = re.compile(r"(?:or|and|to|through|plus\s+or\s+minus)\s++[-+$\\(]?+\d", re.IGNORECASE)
_MATHLIKE = re.compile(r"\d|\\[A-Za-z]")
# a bare expression: a number alone, or with an operator or a LaTeX command ("15", "\\frac{4}{6}", "x^2 + 1"; not "a 0")
_BARE_MATH = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?$|\\[A-Za-z]|\S\s*[-+*/^=×÷]\s*\S")


def leading_math(answer: str) -> str | None:
    """The answer's leading expression, cut before the first word (two or more letters, not a LaTeX
    command) and a unit in ``\\text{}``: "60 pages" -> "60", "x = 13" stays; None when what is left
    holds neither a digit nor a LaTeX command ("within \\boxed{}" is a word first, so None), or when
    the word offers another value ("5 or 6", "between 3 and 4": a hedge is not an answer)."""
    answer = _UNIT_TEXT.sub("", answer)
    word = _FIRST_WORD.search(answer)
    if word and _HEDGE.match(answer, word.start()):
        return None
    kept = _strip_answer((answer[: word.start()] if word else answer).rstrip(" ,;:"))
    kept = kept.removesuffix("\\boxed{}").strip()
    return kept if kept and _MATHLIKE.search(kept) else None


def final_answer_stated(text: str) -> str | None:
    """`final_answer_span` when it states mathematics (`leading_math`: "the answer is 60 pages" gives "60");
    None when it states words ("the answer is the result of …", "the answer is within \\boxed{}")."""
    span = final_answer_span(text)
    return leading_math(span) if span else None


def last_numeric_sentence(text: str) -> str | None:
    """The completion's last sentence (or line) holding a digit, without a list marker ("3. ",
    "Step 2:"); a step's number ("see step 1") is not a digit it holds. None when no sentence of the
    tail holds one."""
    for line in reversed(tail(text).splitlines()):
        for sentence in reversed(_SENTENCE_BREAK.split(_LIST_MARKER.sub("", line))):
            sentence = sentence.strip()
            if _DIGIT.search(_STEP_REFERENCE.sub("", sentence)):  # "Analyze step 1 and Step 3:" holds no value
                return sentence
    return None


def stated_result(sentence: str) -> str | None:
    """The result one sentence states: the expression after its last ``=``, a number after a stating
    verb ("is 42", "gives us 12", "we have 11") or before "is the answer" ("540 is the final answer"),
    or the sentence itself when it is a bare expression ("$15$"). A number that starts a computation
    ("is 180 + 213 = 255") is not stated by the verb. None when the sentence states no result
    (nothing after its last ``=``, as in an echoed question "4 + 3 = requires …"; "is 6 times 6")
    or two different ones ("Lisa has 32 dollars after spending 18 + 12 = 20 dollars")."""
    stated = set()
    equals = list(_EQUALS.finditer(sentence))
    if equals:
        rest = sentence[equals[-1].end():]
        cut = _SENTENCE_END.search(rest)
        value = leading_math(rest[: cut.start()] if cut else rest)
        if value:
            stated.add(value)
    for pattern in (_STATED, _IS_THE_ANSWER):
        found = list(pattern.finditer(sentence))
        if found and not _OPERATOR_NEXT.match(sentence, found[-1].end(1)):
            value = _stated_value(sentence, found[-1])
            if value:
                stated.add(value)
    if stated:
        return stated.pop() if len(stated) == 1 else None
    if equals:
        return None
    bare = _strip_answer(sentence.rstrip(" ,;:"))
    return bare if not _FIRST_WORD.search(bare) and _BARE_MATH.search(bare) else None


def _stated_value(sentence: str, found: re.Match) -> str | None:
    """The value a stating verb's match names: its number, or the LaTeX expression that number or a
    LaTeX command begins ("is 2\\sqrt{3} cm" gives "2\\sqrt{3}", not "2"; a hedge gives None)."""
    value = found.group(1)
    if "\\" in value or _LATEX_NEXT.match(sentence, found.end(1)):
        rest = sentence[found.start(1):]
        cut = _SENTENCE_END.search(rest)
        value = leading_math(rest[: cut.start()] if cut else rest)
        return value.replace(" ", "").replace("$", "") if value else None
    return _strip_answer(value).replace(" ", "").replace("$", "")


def last_result(text: str) -> str | None:
    """`stated_result` of `last_numeric_sentence`: what the completion's last sentence with a number states."""
    sentence = last_numeric_sentence(text)
    return stated_result(sentence) if sentence is not None else None


# how an answer was found, as stored in the verdicts' `extraction` column
ROUTES = {"last_boxed": "box", "final_answer_span": "final_answer", "final_answer_line": "final_answer",
          "final_answer_stated": "final_answer",
          "last_bold": "bold", "last_bold_answer": "bold", "answer_tag": "answer_tag",
          "answer_tag_strict": "answer_tag", "after_think": "after_think", "last_line": "last_line",
          "last_result": "last_result"}
