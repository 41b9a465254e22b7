"""Diagnostics beyond support counts (SPEC section 4): avg@k, answer and token entropy, perplexity
on reference traces; `diagnose` computes them all for a store and keeps them in it;
`current_diagnostics` reads them back as they hold for the current verdicts."""

from tether.diagnostics.answers import AnswerStats, answer_entropy, answer_stats, answer_stats_by_benchmark
from tether.diagnostics.current import CurrentDiagnostics, current_diagnostics
from tether.diagnostics.run import Diagnosis, diagnose, load_diagnostics, sampling_engine
from tether.diagnostics.tokens import (
    Perplexity,
    TokenEntropy,
    Trace,
    perplexity,
    read_traces,
    token_entropy,
    trace_perplexity,
)

__all__ = ["AnswerStats", "CurrentDiagnostics", "Diagnosis", "Perplexity", "TokenEntropy", "Trace", "answer_entropy",
           "answer_stats", "answer_stats_by_benchmark", "current_diagnostics", "diagnose", "load_diagnostics",
           "perplexity", "read_traces", "sampling_engine", "token_entropy", "trace_perplexity"]
