"""Grading: verifiers behind one protocol, fair extraction, dedup + a process pool, `grade`."""

from tether.grading.base import Grade, Verifier
from tether.grading.registry import VERIFIERS, make_verifier
from tether.grading.run import GradeOptions, GradeSummary, answer_deadline, grade

__all__ = ["VERIFIERS", "Grade", "GradeOptions", "GradeSummary", "Verifier", "answer_deadline", "grade",
           "make_verifier"]
