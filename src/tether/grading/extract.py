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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_BOX = re.compile(r"\\(?:boxed|fbox)\s*")
_BARE_TOKEN = re.compile(r"[^\s$.,;]+")
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_FINAL = re.compile(
    r"(?:final\s+answer|the\s+answer)\s*(?:is)?\s*[:=]?\s*(.+)", re.IGNORECASE
)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)

Extractor = Callable[[str], "str | None"]


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...}, braces balanced; None if absent or unclosed.

    Linear in the text: the braces are matched in one pass, however many boxes are left open."""
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
    matches = _BOLD.findall(text)
    return _strip_answer(matches[-1]) if matches else None


def final_answer_line(text: str) -> str | None:
    matches = list(_FINAL.finditer(text))
    if not matches:
        return None
    answer = _strip_answer(matches[-1].group(1).strip().splitlines()[0])
    return answer or None


def answer_tag(text: str) -> str | None:
    matches = _ANSWER_TAG.findall(text)
    return matches[-1].strip() if matches else None


def after_think(text: str) -> str | None:
    cut = text.rfind("</think>")
    if cut < 0:
        return None
    rest = text[cut + len("</think>") :].strip()
    return rest or None


def last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _strip_answer(answer: str) -> str:
    answer = answer.strip().strip("*").strip()
    answer = re.sub(r"^\$+|\$+$", "", answer).strip()
    return answer.rstrip(".").strip()


def cascade(text: str, extractors: Sequence[Extractor]) -> str | None:
    """The first answer any extractor finds, in order."""
    for extractor in extractors:
        answer = extractor(text)
        if answer:
            return answer
    return None
