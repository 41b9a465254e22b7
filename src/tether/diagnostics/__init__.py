"""Diagnostics beyond support counts (SPEC section 4): avg@k and answer-level entropy so far."""

from tether.diagnostics.answers import AnswerStats, answer_entropy, answer_stats

__all__ = ["AnswerStats", "answer_entropy", "answer_stats"]
