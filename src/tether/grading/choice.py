"""The `choice` verifier: which option letter (A-J) a multiple-choice answer commits to.

Extraction reads the completion's tail and takes the last *committed* mention of a letter, by the
strength of its marking:

1. a boxed letter: ``\\boxed{C}``, ``\\boxed{\\text{(B)}}``;
2. a statement: "the answer is C", "Answer: Option C", "**Answer**: B", "final: B", "the correct
   choice is C", "(B) is correct", "C is the right answer", "I'd go with C", "it's C";
3. a bold letter: ``**C**``, ``**(C)**``;
4. a line holding only the letter: ``C``, ``(C)``, ``C.``.

Letters are upper-case as written (a lower-case "a" is a word). A mention is not a commitment
when it is negated ("not B", "B is incorrect", "B is wrong", "isn't B"), or when it is the
pronoun "I" or the article "A" followed by a lower-case word ("Answer: I believe it's C", "A
good option is C"). Every pattern is possessive or bounded, so extraction is linear in the text.
"""

from __future__ import annotations

import re
from typing import Any

from tether.grading.base import Grade, version_string
from tether.grading.extract import tail

VERSION = 2
_L = r"\(?((?-i:[A-J]))\)?(?![A-Za-z0-9'])"  # the letter is upper-case even where the words are not
_BOXED = re.compile(r"\\boxed\{\s*+\(?([A-J])\)?\s*+\}|\\boxed\{\s*+\\text(?:bf|rm)?\{\s*+\(?([A-J])\)?\s*+\}\s*+\}")
_STATEMENTS = (
    re.compile(r"(?:answer|choice|option|final)\**\s*+(?:is\s++|[:=]\s*+|\*\*\s*+)*+(?:option\s++|choice\s++)?" + _L,
               re.IGNORECASE),
    re.compile(r"(?:correct|right|best)\s++(?:answer|choice|option)\s++(?:is\s++)?(?:option\s++|choice\s++)?" + _L,
               re.IGNORECASE),
    re.compile(r"(?:go\s++with|choose|pick|select|it\s++is|it's|it’s)\s++(?:option\s++|choice\s++)?" + _L,
               re.IGNORECASE),
    re.compile(r"(?<![A-Za-z])\(?([A-J])\)?\s++is\s++(?:the\s++)?(?:correct|right|best|answer)"),
)
_BOLD = re.compile(r"\*\*\s*+\(?([A-J])\)?[.)]?\s*+\*\*")
_LONE = re.compile(r"^[ \t>*]*+\(?([A-J])\)?[.):]?[ \t*]*+$", re.MULTILINE)
_NEGATED_BEFORE = re.compile(r"(?:\bnot|n't|n’t)\s*+(?:option\s++|choice\s++)?\(?$", re.IGNORECASE)
_NEGATED_AFTER = re.compile(r"^\)?\s*+(?:is|was)\s++(?:not\b|incorrect|wrong|false)|^\)?\s*+isn't", re.IGNORECASE)
_WORD_AFTER = re.compile(r"^\s++(?!is\b|was\b)[a-z]")


def extract_choice(completion: str) -> str | None:
    """The letter the completion commits to (see the module's doc), or None."""
    return choice_with_route(completion)[0]


def choice_with_route(completion: str) -> tuple[str | None, str | None]:
    """(the letter, how it was marked: box, statement, bold or lone_letter), or (None, None)."""
    text = tail(completion)
    for route, tier in (("box", (_BOXED,)), ("statement", _STATEMENTS), ("bold", (_BOLD,)), ("lone_letter", (_LONE,))):
        found = [(m.start(g), m.group(g)) for pattern in tier for m in pattern.finditer(text)
                 for g in [m.lastindex] if _committed(text, m.start(g), m.end(g), pattern)]
        if found:
            return max(found)[1], route
    return None, None


def _committed(text: str, start: int, end: int, pattern: re.Pattern) -> bool:
    letter = text[start:end]
    before, after = text[max(0, start - 16):start], text[end : end + 24]
    if _NEGATED_BEFORE.search(before) or _NEGATED_AFTER.match(after):
        return False
    if letter in "AI" and pattern in _STATEMENTS and _WORD_AFTER.match(after.lstrip(")")):
        return False  # the article "A" or the pronoun "I" starting a sentence
    return True


class ChoiceVerifier:
    """Multiple choice: the chosen letter (A-J) against the gold letter (or a 0-based index)."""

    name = "choice"
    in_process = False

    def version(self) -> str:
        return version_string(self.name, (), {"extractor": VERSION})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return extract_choice(completion)

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        return choice_with_route(completion)

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        gold = reference["answer"]
        gold = "ABCDEFGHIJ"[gold] if isinstance(gold, int) else str(gold).strip().strip("()").upper()
        correct = answer.strip().upper() == gold
        return Grade(correct, float(correct))
