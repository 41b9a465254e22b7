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
- `last_line`: the last non-empty line.

Each reads only the completion's last `TAIL_CHARS` characters (final answers sit at the end) and
runs in time linear in what it reads: no pattern can backtrack (possessive quantifiers, literal
searches instead of lazy spans), so a hostile completion (thousands of unclosed ``\boxed{`` or
``<answer>``, "final answer" and a sea of newlines) costs milliseconds, like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

VERSION = 2  # part of every verifier's version that uses these: a change here regrades
TAIL_CHARS = 16_384
_BOX = re.compile(r"\\(?:boxed|fbox)\s*+")
_BARE_TOKEN = re.compile(r"[^\s$.,;]++")
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_FINAL = re.compile(r"(?:final\s++answer|the\s++answer|\banswer(?=\**\s*+[:=]))", re.IGNORECASE)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
_SENTENCE_END = re.compile(r"\.(?=\s|$)|[,;]\s*+(?=[A-Za-z]{2,}\b)|\s+(?:because|since|which|as)\s")
_WORD = re.compile(r"(?<!\\)\b[A-Za-z]{4,}\b")
_AFTER_FINAL = re.compile(r"\s*+(?:is)?+\s*+[:=]?+\s*+([^\n]*+)", re.IGNORECASE)
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
    or "=") that has any; the answer may start on a later line."""
    text = tail(text)
    for match in reversed(list(_FINAL.finditer(text))):
        rest = _AFTER_FINAL.match(text, match.end()).group(1).strip()
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


# how an answer was found, as stored in the verdicts' `extraction` column
ROUTES = {"last_boxed": "box", "final_answer_span": "final_answer", "final_answer_line": "final_answer",
          "last_bold": "bold", "last_bold_answer": "bold", "answer_tag": "answer_tag",
          "answer_tag_strict": "answer_tag", "after_think": "after_think", "last_line": "last_line"}
