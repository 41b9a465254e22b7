"""Where along a correct completion one model departs from the other: the tokens it would rarely write.

Along a completion y scored token by token by the target model (log q) and by the model that
sampled it (log π), the per-token log ratio log q(y_t | y_<t) − log π(y_t | y_<t) sums to the
completion's log weight. Its most negative positions are the "forks": where the sampling model
took a turn the target model would rarely take. A position where log q is −inf is a token
outside the target's nucleus: its sampler can never emit it there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONTEXT_CHARS = 60


@dataclass(frozen=True)
class Fork:
    position: int  # token index within the completion
    token: str
    drop: float  # log q − log π at this token, nats (−inf: outside the target's nucleus)
    context: str  # the completion's text just before the token


def fork_tokens(target: np.ndarray, proposal: np.ndarray, tokens: list[str] | tuple[str, ...], top: int = 3,
                context_chars: int = CONTEXT_CHARS) -> list[Fork]:
    """The `top` positions where `target` − `proposal` log-probability is lowest, most negative first."""
    diff = np.asarray(target, dtype=np.float64) - np.asarray(proposal, dtype=np.float64)
    order = np.argsort(diff, kind="stable")[:top]
    return [Fork(int(i), tokens[i], float(diff[i]), _context(tokens, int(i), context_chars)) for i in order]


def first_outside(target: np.ndarray, tokens: list[str] | tuple[str, ...],
                  context_chars: int = CONTEXT_CHARS) -> Fork | None:
    """The first token the target model's sampler cannot emit (log q = −inf), or None."""
    where = np.flatnonzero(np.isneginf(np.asarray(target, dtype=np.float64)))
    if where.size == 0:
        return None
    i = int(where[0])
    return Fork(i, tokens[i], float("-inf"), _context(tokens, i, context_chars))


def _context(tokens, position: int, chars: int) -> str:
    return "".join(tokens[:position])[-chars:]
