"""Reading a number from a numeric answer: the whole final expression, never just its first digits.

`parse_number(text)` reads the right-hand side of the last ``=`` (or ``\\approx``) as one numeric
expression — integers and decimals (thousands separators ``5,000``, ``5{,}000``, ``5\\,000``),
fractions (``\\frac{1}{2}``, ``\\dfrac``, ``1/3``), products and scientific notation (``\\cdot``,
``\\times``, ``×``, ``x 10^5``, ``1.5e-3``), powers (``2^{10}``, ``10^{-5}``), signs and
parentheses — followed by an optional unit after a space (``13.6 eV``, ``9.81 m/s^2``, ``\\text{Pa}``,
``%``, ``^\\circ``). An answer that is an expression rather than a number (``3x + 1``) reads as None.
A small recursive-descent parser over a bounded answer (1,000 characters at most), so linear.
"""

from __future__ import annotations

import math
import re

_NOISE = re.compile(r"\$|\\left|\\right|\\!|\\,|\\;|\\ |\\displaystyle")
_WRAPPER = re.compile(r"\\(?:text|mathrm|mbox|textbf)\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\\circ\}?|\\degree")
_HEDGE = re.compile(r"^(?:about|approximately|approx\.?|around|roughly|nearly|~|≈)\s*", re.IGNORECASE)
_RHS = re.compile(r"=|\\approx|≈|\\simeq")
_UNIT = re.compile(r"^(?:\\(?:text|mathrm|mbox)\{[^{}]*\}|[A-Za-zµμΩÅ°%][A-Za-z0-9µμΩÅ°%/^{}\-·.*\s]*|\^\s*\{?\\circ\}?|%)\s*$")
_TOKEN = re.compile(r"\s*(\d+(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\\[dt]?frac|"
                    r"\\sqrt|\\cdot|\\times|×|·|\*\*|[-+*/^(){}]|x(?=\s*10\b))")


class _Parser:
    def __init__(self, text: str):
        self.tokens, self.end = [], 0
        position = 0
        while True:
            match = _TOKEN.match(text, position)
            if not match or not match.group(1):
                break
            self.tokens.append(match.group(1))
            position = match.end()
        self.rest = text[position:]
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> str:
        self.index += 1
        return self.tokens[self.index - 1]

    def expression(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.factor()
        while self.peek() in ("*", "/", "\\cdot", "\\times", "×", "·", "x", "\\sqrt", "\\frac", "("):
            operator = self.take() if self.peek() not in ("\\sqrt", "\\frac", "(") else "*"  # 2\sqrt{2}: a product
            right = self.factor()
            value = value / right if operator == "/" else value * right
        return value

    def factor(self) -> float:
        token = self.peek()
        if token in ("-", "+"):
            self.take()
            return -self.factor() if token == "-" else self.factor()
        base = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            exponent = self.factor()
            if abs(exponent) > 1000 or (base == 0 and exponent < 0):
                raise ValueError("power out of range")
            return base**exponent
        return base

    def atom(self) -> float:
        token = self.take() if self.peek() is not None else None
        if token is None:
            raise ValueError("expected a number")
        if token in ("(", "{"):
            value = self.expression()
            if self.take() != (")" if token == "(" else "}"):
                raise ValueError("unbalanced")
            return value
        if token.endswith("frac"):
            numerator, denominator = self.braced(), self.braced()
            return numerator / denominator
        if token == "\\sqrt":
            radicand = self.braced()
            if radicand < 0:
                raise ValueError("square root of a negative number")
            return math.sqrt(radicand)
        if token[0].isdigit() or token[0] == ".":
            return float(token.replace(",", ""))
        raise ValueError(f"unexpected {token!r}")

    def braced(self) -> float:
        if self.peek() == "{":
            return self.atom()
        token = self.take()  # \frac12: single digits
        if not token.isdigit():
            raise ValueError("bad fraction")
        if len(token) > 1:  # the next digit is the next argument
            self.index -= 1
            self.tokens[self.index] = token[1:]
        return float(token[0])


def parse_number(text: str) -> float | None:
    """The number the answer states (see the module's doc), or None when it states no single number."""
    text = re.sub(r"(?<=\d)(?:\\,|\\ |\\!|\u2009)(?=\d{3}(?!\d))", "", text)  # 5\,000: thin-space thousands
    text = _NOISE.sub(" ", text.replace("−", "-").replace("{,}", "").replace("\\%", "%"))
    text = _DEGREES.sub(" °", _WRAPPER.sub(r" \1", text))
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    text = _HEDGE.sub("", _RHS.split(text)[-1].strip())
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    parser = _Parser(text)
    if not parser.tokens:
        return None
    try:
        value = parser.expression()
    except (ValueError, ZeroDivisionError, OverflowError, IndexError, RecursionError):
        return None
    left = "".join(parser.tokens[parser.index:]) + parser.rest
    if left.strip() and not (_unit_follows(text, left) and _UNIT.match(left.strip())):
        return None
    return value if math.isfinite(value) else None


def _unit_follows(text: str, left: str) -> bool:
    """A unit is set off from the number by a space (``13.6 eV``), or is ``\\text{}``, ``%`` or ``°``."""
    stripped = left.strip()
    return left[:1].isspace() or stripped.startswith(("\\text", "\\mathrm", "\\mbox", "%", "^", "°"))
