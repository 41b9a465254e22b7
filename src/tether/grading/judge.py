"""The `judge` verifier: an LLM grader behind any OpenAI-compatible endpoint (SimpleQA-style rubric).

The grader sees the question, the gold target and the model's answer and
replies with one letter: A (CORRECT), B (INCORRECT) or C (NOT_ATTEMPTED), under
the SimpleQA rubric: the answer must contain the gold target's facts without
contradicting them; hedging is allowed if the final answer is right; a refusal
or an answer that avoids committing is NOT_ATTEMPTED (status ``no_answer``).
The template below is tether's wording of that rubric; its hash and the
judge model are part of the verifier version, so verdicts are cached per
(task, answer, judge model, template). Requests go through `tether.http`
(concurrency limit, retries with backoff), at temperature 0. Runs in the parent process: it waits on the network, not the CPU.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tether.grading import extract as extraction
from tether.grading.base import Grade, version_string
from tether.grading.extract import after_think

TEMPLATE = """You grade answers to short factual questions. Compare the predicted answer with the gold target.

Grades:
A) CORRECT: the predicted answer contains the gold target's key facts and contradicts none of them. Extra detail, \
small spelling variants, and hedging are fine if the final answer is right. Numbers must match to the precision \
of the gold target.
B) INCORRECT: the predicted answer states something that contradicts the gold target, or gives several candidate \
answers of which some are wrong.
C) NOT_ATTEMPTED: the predicted answer does not commit to an answer (a refusal, "I don't know", or only related \
facts) and contradicts nothing in the gold target.

Question: {question}
Gold target: {target}
Predicted answer: {answer}

Reply with a single letter: A, B or C."""

_LETTER = re.compile(r"\b([ABC])\b")
_GRADES = {"A": Grade(True, 1.0, "ok", "CORRECT"), "B": Grade(False, 0.0, "ok", "INCORRECT"),
           "C": Grade(False, 0.0, "no_answer", "NOT_ATTEMPTED")}


class JudgeVerifier:
    name = "judge"
    in_process = True

    def __init__(self, model: str, base_url: str, api_key: str | None = None, concurrency: int = 8,
                 max_tokens: int = 8):
        self.model, self.base_url, self.api_key = model, base_url, api_key
        self.concurrency, self.max_tokens = concurrency, max_tokens

    def version(self) -> str:
        template_hash = hashlib.sha256(TEMPLATE.encode()).hexdigest()[:12]
        return version_string(self.name, (), {"model": self.model, "template": template_hash,
                                                 "extraction": extraction.VERSION})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        answer = (after_think(completion) or extraction.tail(completion)).strip()
        return answer[-4000:] or None

    def compare_many(self, items: list[tuple[str, dict[str, Any], str]]) -> list[Grade]:
        """Grades of (answer, reference, question) triples, in order."""
        from tether.http import OpenAIClient

        client = OpenAIClient(self.base_url, self.model, self.api_key, concurrency=self.concurrency)
        conversations = [[{"role": "user", "content": TEMPLATE.format(question=q, target=ref.get("answer"), answer=a)}]
                         for a, ref, q in items]
        return [_grade(text, error) for text, error in client.chat(conversations, 0.0, self.max_tokens)]

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        return self.compare_many([(answer, reference, reference.get("question", ""))])[0]


def _grade(reply: str | None, error: str | None) -> Grade:
    if error is not None:
        return Grade.error(f"judge request failed: {error}")
    letter = _LETTER.search(reply.upper())
    return _GRADES[letter.group(1)] if letter else Grade.error(f"judge reply has no grade letter: {reply[:80]!r}")
