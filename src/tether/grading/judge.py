"""The `judge` verifier: an LLM grader behind any OpenAI-compatible endpoint.

The grader sees the task's question, the gold target and the model's answer, and ends its reply
with a line ``GRADE: A`` (CORRECT), ``GRADE: B`` (INCORRECT) or ``GRADE: C`` (NOT_ATTEMPTED, status
``no_answer``). The default template (`DEFAULT_TEMPLATE`, the file ``templates/judge.txt``) is
tether's own text, written to follow the SimpleQA grader's rules point by point (hedging,
significant figures, extra information, information the question implies, name typos, worked
examples); it is not the published SimpleQA prompt. `template=` (``--judge-template FILE``) takes
another, with ``{question}``, ``{target}`` and ``{answer}`` slots. A reply is read from its last
line of the fixed form (``GRADE: <A|B|C>``, or the grade's name); a reply without one is an
``error`` verdict. A judge may reason first: `max_tokens` (default 1024) is its budget.

The judge model, the server URL, a hash of the template and `max_tokens` make the verifier
version, so verdicts are cached per (task, answer, judge). A request that keeps failing after
the client's retries is a failed attempt (`Grade.failed`): not stored, retried by the next run.
Runs in the parent process: it waits on the network, not the CPU.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.errors import InputError
from tether.grading import extract as extraction
from tether.grading.base import Grade, version_string
from tether.grading.extract import after_think

DEFAULT_TEMPLATE = (Path(__file__).parent / "templates" / "judge.txt").read_text()
CALIBRATION = Path(__file__).parent / "templates" / "judge_calibration.jsonl"
_FINAL_GRADE = re.compile(r"^\W*(?:GRADE|Grade|grade)\s*[:=]\s*\**\s*(A|B|C|CORRECT|INCORRECT|NOT_ATTEMPTED)\b")
_BARE_GRADE = re.compile(r"^\W*(A|B|C|CORRECT|INCORRECT|NOT_ATTEMPTED)\W*$")
_GRADES = {"A": Grade(True, 1.0, "ok", "CORRECT"), "B": Grade(False, 0.0, "ok", "INCORRECT"),
           "C": Grade(False, 0.0, "no_answer", "NOT_ATTEMPTED")}
_GRADES.update({"CORRECT": _GRADES["A"], "INCORRECT": _GRADES["B"], "NOT_ATTEMPTED": _GRADES["C"]})


class JudgeVerifier:
    name = "judge"
    in_process = True

    def __init__(self, model: str, base_url: str, api_key: str | None = None, concurrency: int = 8,
                 max_tokens: int = 1024, max_retries: int = 5, backoff: float = 0.5, template: str | None = None):
        if not model or not base_url:
            raise InputError("the judge needs a model and a server: --judge-model NAME --judge-base-url URL")
        self.model, self.base_url, self.api_key = model, base_url.rstrip("/"), api_key
        self.concurrency, self.max_tokens = concurrency, max_tokens
        self.max_retries, self.backoff = max_retries, backoff
        self.template = load_template(template)

    def version(self) -> str:
        template_hash = hashlib.sha256(self.template.encode()).hexdigest()[:12]
        return version_string(self.name, (), {"model": self.model, "base_url": self.base_url,
                                                 "template": template_hash, "max_tokens": self.max_tokens,
                                                 "extraction": extraction.VERSION})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return self.extract_with_route(completion, reference)[0]

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        thought = after_think(completion)
        answer = (thought or extraction.tail(completion)).strip()[-4000:]
        return (answer, "after_think" if thought else "whole") if answer else (None, None)

    def compare_many(self, items: list[tuple[str, dict[str, Any], str]]) -> list[Grade]:
        """Grades of (answer, reference, question) triples, in order."""
        from tether.http import OpenAIClient

        client = OpenAIClient(self.base_url, self.model, self.api_key, concurrency=self.concurrency,
                              max_retries=self.max_retries, backoff=self.backoff)
        conversations = [[{"role": "user", "content": self.template.format(
            question=ref.get("question") or q, target=ref.get("answer"), answer=a)}] for a, ref, q in items]
        return [_grade(text, error) for text, error in client.chat(conversations, 0.0, self.max_tokens)]

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        return self.compare_many([(answer, reference, reference.get("question", ""))])[0]


def _grade(reply: str | None, error: str | None) -> Grade:
    if error is not None:
        return Grade.failed(f"judge request failed: {error}")
    return parse_reply(reply or "")


def parse_reply(reply: str) -> Grade:
    """The grade on the reply's last line of the form ``GRADE: A`` (or a last line that is only the
    letter or the grade's name); letters are read as written, so "I'd give it a B" is no grade."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        found = _FINAL_GRADE.match(line)
        if found:
            return _GRADES[found.group(1)]
    if lines:
        bare = _BARE_GRADE.match(lines[-1])
        if bare:
            return _GRADES[bare.group(1)]
    return Grade.error(f"judge reply has no final GRADE line: {reply[-80:]!r}")


@dataclass(frozen=True)
class JudgeAgreement:
    """How a judge grades the bundled calibration set (``templates/judge_calibration.jsonl``)."""

    agreed: int
    total: int
    disagreements: list[tuple[str, str, str, str]]  # (question, answer, expected grade, the judge's)
    failed: int

    @property
    def rate(self) -> float:
        return self.agreed / self.total if self.total else float("nan")

    def to_dict(self) -> dict:
        """What `tether grade --judge-check --json` prints."""
        return {"agreed": self.agreed, "total": self.total, "rate": self.rate if self.total else None,
                "failed": self.failed, "disagreements": [
                    {"question": q, "answer": a, "expected": expected, "judged": judged}
                    for q, a, expected, judged in self.disagreements]}


def judge_agreement(judge: JudgeVerifier) -> JudgeAgreement:
    """Grade the bundled calibration cases with `judge`: how often it agrees with the expected grade."""
    cases = [json.loads(line) for line in CALIBRATION.read_text().splitlines() if line.strip()]
    grades = judge.compare_many([(c["answer"], {"answer": c["target"], "question": c["question"]}, c["question"])
                                 for c in cases])
    names = {"CORRECT": "A", "INCORRECT": "B", "NOT_ATTEMPTED": "C"}
    agreed, disagreements, failed = 0, [], 0
    for case, grade in zip(cases, grades):
        got = names.get(grade.detail or "", grade.status)
        failed += not grade.is_verdict
        if got == case["grade"]:
            agreed += 1
        else:
            disagreements.append((case["question"], case["answer"], case["grade"], got))
    return JudgeAgreement(agreed, len(cases), disagreements, failed)


def load_template(template: str | None) -> str:
    """The default template, or the text of the file `template` names; it must have the three slots."""
    if template is None:
        return DEFAULT_TEMPLATE
    path = Path(template)
    if not path.is_file():
        raise InputError(f"judge template {template}: no such file")
    text = path.read_text()
    missing = [slot for slot in ("{question}", "{target}", "{answer}") if slot not in text]
    if missing:
        raise InputError(f"judge template {template}: lacks the slots {', '.join(missing)}")
    try:
        text.format(question="", target="", answer="")
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"judge template {template}: other braces must be doubled ({{{{ }}}}): {exc}") from None
    return text
