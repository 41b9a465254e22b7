"""The verifier protocol: extraction (completion -> answer) kept apart from comparison (answer -> grade).

A verifier has a ``name``, a ``version()`` that changes whenever its verdicts
could (package versions and its config), ``extract(completion, reference)``
(cheap, text only; may return None) and ``compare(answer, reference)`` (may be
slow: it runs in a worker process with a deadline). A verdict is boolean
``correct`` plus a float ``score`` (partial credit where a scorer gives it) and
a ``status``: ok, no_answer, timeout or error. Those are verdicts on the answer, cached and stored.
A grading attempt that failed for reasons outside the answer (a worker that died, a judge server
that kept failing) is ``Grade.failed``: never cached, never stored as a verdict, so the next
``tether grade`` tries that sample again.

Verifiers that grade by calling a service (the LLM judge) set ``in_process =
True`` and implement ``compare_many`` instead; they run in the parent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

FAILED = "failed"
# routes that read an answer out of the text rather than find it in an answer format (box, tag, "the answer is")
IMPLICIT_ROUTES = frozenset({"full_text", "last_result", "last_line", "judge_tail",
                             "last_word", "yes_no_list"})  # the last two: livebench's fallbacks
MAX_ANSWER_CHARS = 1000  # longer extracted answers are rejected before any sympy work


@dataclass(frozen=True)
class Grade:
    """One verdict on one (task, answer)."""

    correct: bool
    score: float
    status: str = "ok"
    detail: str | None = None

    @classmethod
    def no_answer(cls) -> Grade:
        return cls(False, 0.0, "no_answer")

    @classmethod
    def error(cls, detail: str) -> Grade:
        return cls(False, 0.0, "error", detail[:300])

    @classmethod
    def timeout(cls, detail: str) -> Grade:
        return cls(False, 0.0, "timeout", detail[:300])

    @classmethod
    def failed(cls, detail: str) -> Grade:
        """Grading failed for a reason outside the answer: not a verdict; retried by the next run."""
        return cls(False, 0.0, FAILED, detail[:300])

    @property
    def is_verdict(self) -> bool:
        return self.status != FAILED


class Verifier(Protocol):
    name: str
    in_process: bool

    def version(self) -> str: ...

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None: ...

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade: ...


def extract_with_route(verifier, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
    """(answer, how it was found) from a verifier; one without `extract_with_route` reports "extract"."""
    method = getattr(verifier, "extract_with_route", None)
    if method is not None:
        return method(completion, reference)
    answer = verifier.extract(completion, reference)
    return answer, "extract" if answer is not None else None


def in_parent(verifier, answer: str) -> bool:
    """Whether `answer` is graded in the parent by the verifier's ``compare_many`` (a judge waiting on the
    network) rather than by ``compare`` in a worker: every answer of an ``in_process`` verifier, and those a
    verifier's ``in_parent(answer)`` sends to its judge (`vision_math`'s answers the rules cannot read)."""
    return verifier.in_process or bool(getattr(verifier, "in_parent", lambda _: False)(answer))


def graded_route(route: str | None, finish_reason: str | None, strict: bool) -> bool:
    """Whether an answer found by `route` is graded: one read out of the text (`IMPLICIT_ROUTES`) is
    not under ``--strict`` (explicit answers only), nor when the completion was cut at ``max_tokens``
    (it never reached its answer: what its text last says is a step, not a conclusion)."""
    return not (route in IMPLICIT_ROUTES and (strict or finish_reason == "length"))


def version_string(name: str, packages: tuple[str, ...], config: dict) -> str:
    """'<name>/<pkg>=<version>,.../<hash of config>'; changes when any of them does."""
    parts = []
    for package in packages:
        try:
            parts.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package}=missing")
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return f"{name}/{','.join(parts)}/{digest}"


def printable(text: str) -> str:
    """Text a program or a model wrote (a verdict's detail, an error message) with every character that is not
    printable (ESC and other controls, newlines, bidirectional overrides) written as its escape (``\\x1b``):
    no terminal sequence gets through where it is stored or shown."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def too_long(answer: str) -> Grade | None:
    if len(answer) > MAX_ANSWER_CHARS:
        return Grade.error(f"answer longer than {MAX_ANSWER_CHARS} characters; not parsed")
    return None
