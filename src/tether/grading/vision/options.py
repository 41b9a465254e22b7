"""Multiple choice with options: which option an answer names, by its letter or by its text.

`read_option(text, options)` reads one explicit answer (a box's content, what follows "the answer
is"): a letter (``B``, ``(B)``, ``B.``, ``\\text{B}``), a letter with its text (``(B) 8/11``; when the text is
another option's, the text decides, as MathVista's extraction does), an
option's text (``8/11``, ``145°``, ``Yes``; case, spaces, ``$``, ``\\text{}`` and degree marks
aside) or a number equal to exactly one option's number (``\\frac{8}{11}`` for ``8/11``, ``145``
for ``145°``, ``6`` for ``$6 \\mathrm{~m}$``). It tells apart an answer naming several options
(``B or C``, ``A, B, C, D``: never correct), an answer the rules read that is no option (``E`` of
four, the number ``12`` of 10, 11, 13: incorrect), and an answer they cannot read (words that are
no option's text: for the judge, or no answer).

`gold_letter(answer, options)` is the gold option as a letter: MathVision's gold is the letter,
MathVista's the option's text.

`lists_options(text, options)` says whether a text lists the options itself (two or more lines
``(A) …``/``A. …``): an echoed question, from which no implicit answer is read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tether.grading.numbers import parse_number

LETTERS = "ABCDEFGHIJ"
_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|textit)\s*\{([^{}]*)\}")
_LETTER = re.compile(r"^\(?([A-J])\)?[.):]?$")
_LETTER_AND_TEXT = re.compile(r"^(?:\(([A-J])\)|([A-J])[.):])\s*(\S.*)$", re.DOTALL)
_OPTION_WORD = re.compile(r"^(?:option|choice)\s++", re.IGNORECASE)
_SEVERAL = re.compile(r"^(?:\(?[A-J]\)?(?:\s*(?:,|/|&|;|\bor\b|\band\b)\s*|\s+))+\(?[A-J]\)?$")
_KEY_NOISE = re.compile(r"\s+|\$|~|\\[,;:! ]|\\left|\\right|\^\s*\{?\\circ\}?|°|\\degree|\\%")
_PAREN_LETTER = re.compile(r"\(([A-J])\)")
_LISTED = re.compile(r"^[ \t>*]*\(?([A-J])[.)]\s+\S", re.MULTILINE)


@dataclass(frozen=True)
class Reading:
    """What an answer names: `letter` (one option), `several` (letters), `other` (read, but no option)."""

    letter: str | None = None
    several: tuple[str, ...] = ()
    other: str | None = None

    @property
    def readable(self) -> bool:
        return bool(self.letter or self.several or self.other)

    def answer(self) -> str:
        """The answer as stored in a verdict: the letter, the letters joined, or the text that is no option."""
        return self.letter or ", ".join(self.several) or (self.other or "")


UNREADABLE = Reading()


def letters_of(options: list) -> str:
    return LETTERS[: len(options)]


def option_key(text: str) -> str:
    """An option's or an answer's text compared loosely: wrappers, spaces, ``$``, degree marks, case and
    a final full stop aside."""
    text = _WRAPPER.sub(r"\1", str(text))
    return _KEY_NOISE.sub("", text).strip("*\"'`").rstrip(".").casefold()


def option_number(text: str) -> float | None:
    """An option's or an answer's number (``$6 \\mathrm{~m}$`` -> 6), or None."""
    text = _WRAPPER.sub(r" \1", str(text)).replace("~", " ")
    return parse_number(text)


def read_option(text: str, options: list) -> Reading:
    """Which option `text` names (see the module's doc)."""
    text = _WRAPPER.sub(r"\1", text).strip().strip("*$\"'`").strip()
    text = _OPTION_WORD.sub("", text).rstrip(".。").strip()
    letters = letters_of(options)
    if not text:
        return UNREADABLE
    found = _LETTER.match(text)
    named = _by_text(text, options)
    if found:  # a letter; one beyond the options may be an option's text (MathVision's options K, E, N, G, U)
        letter = found.group(1)
        if letter in letters:
            return Reading(letter=letter)
        return Reading(letter=letters[named]) if named is not None else Reading(other=letter)
    if named is not None:
        return Reading(letter=letters[named])
    if _SEVERAL.match(text):
        several = tuple(dict.fromkeys(re.findall(r"[A-J]", text)))
        return Reading(several=several) if len(several) > 1 else Reading(letter=several[0])
    found = _LETTER_AND_TEXT.match(text)
    if found:
        letter, rest = found.group(1) or found.group(2), found.group(3)
        named = _by_text(rest, options)
        named = named if named is not None else _by_number(rest, options)
        if named is not None:  # the option's text decides ("(C) 64°" where 64° is D), as MathVista's extraction
            return Reading(letter=letters[named])
        several = tuple(dict.fromkeys([letter, *_PAREN_LETTER.findall(rest)]))
        if len(several) > 1:  # "(A) 3/11 (B) 8/11": two options
            return Reading(several=several)
        return Reading(letter=letter) if letter in letters else Reading(other=text)
    if option_number(text) is not None:
        named = _by_number(text, options)
        return Reading(letter=letters[named]) if named is not None else Reading(other=text)
    return UNREADABLE


def _by_number(text: str, options: list) -> int | None:
    """The one option whose number is the text's number (``\\frac{8}{11}`` for ``8/11``), or None."""
    value = option_number(text)
    if value is None:
        return None
    matches = [i for i, option in enumerate(options) if _same_number(value, option_number(option))]
    return matches[0] if len(matches) == 1 else None


def _by_text(text: str, options: list) -> int | None:
    key = option_key(text)
    matches = [i for i, option in enumerate(options) if key and option_key(option) == key]
    return matches[0] if matches else None


def _same_number(value: float, other: float | None) -> bool:
    return other is not None and math.isclose(value, other, rel_tol=1e-6, abs_tol=1e-9)


def gold_letter(answer, options: list) -> str | None:
    """The gold option's letter: the answer when it is a letter of the options (MathVision), else the letter
    of the option whose text it is (MathVista); None when it is neither."""
    letters = letters_of(options)
    text = str(answer).strip()
    if len(text) == 1 and text in letters and not (text in [str(o).strip() for o in options]
                                                   and options.index(text) != letters.index(text)):
        return text
    exact = [i for i, option in enumerate(options) if str(option).strip() == text]
    if exact:
        return letters[exact[0]]
    named = _by_text(text, options)
    return letters[named] if named is not None else None


def lists_options(text: str, options: list) -> bool:
    """Whether `text` lists two or more of the options on lines of their own (``(A) 3/11``, ``B. 8/11``)."""
    letters = letters_of(options)
    return len({letter for letter in _LISTED.findall(text) if letter in letters}) >= 2
