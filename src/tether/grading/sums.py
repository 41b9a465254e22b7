"""The ``lab_sum`` verifier: exact grading of the lab's "a+b" completions against the prompt's N."""

from __future__ import annotations

from typing import Any

from tether.grading.base import Grade, version_string
from tether.tasks.sums import PATTERN, parse


class SumVerifier:
    """Extraction is the stripped completion; comparison parses "a+b" and checks the sum."""

    name = "lab_sum"
    in_process = False

    def version(self) -> str:
        return version_string(self.name, (), {"pattern": PATTERN})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return completion.strip() or None

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        answer = self.extract(completion, reference)
        return answer, "whole" if answer else None

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        terms = parse(answer)
        if terms is None:
            return Grade(False, 0.0, "ok", "not of the form a+b")
        correct = sum(terms) == int(reference["answer"])
        return Grade(correct, float(correct))
