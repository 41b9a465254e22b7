"""The `reasoning_gym` verifier: the dataset's own `score_answer`, after fair or strict extraction.

``extraction="strict"`` is Reasoning Gym's own pipeline (only the ``<answer>`` tag, as
``reasoning_gym.utils.extract_answer`` reads it), for numbers comparable with published ones.
``"fair"`` (the default, for support accounting) is the paper's cascade below, so a base model that
answers correctly in another format is not counted as unable to solve the task. The mode is part
of the verifier version and shown in `tether grade`'s summary.

Fair extraction, whitespace stripped: the ``<answer>`` tag, then the last ``\\boxed{}``, then the
text after ``</think>``, then the answer a "final answer" sentence states; then, where the gold
answer is a number (chain_sum, basic_arithmetic, leg_counting …), the result the last sentence with
a number states (``last_result``: "…8 + 7 += 15 + 8 = 19." gives 19, "Solving this equation 4 + 3 =
requires …" none), else the final line. Where the gold is a number, an answer found in a format
that is not itself a number ("<answer>The sum is 26</answer>", "The final answer to this arithmetic
problem is 7.") is reduced to the number it states, so the scorer is never handed a whole sentence
to give partial credit to (issue 29: such a line scored 0.02, and a working model solved nothing).

Comparison regenerates the exact entry from (dataset, size, seed, index) kept in
the task's reference and calls the dataset's ``score_answer(answer, entry)``.
Scores are partial credit (gold padded with junk can score 0.67; wrong answers
often 0.01), so ``correct`` means a score of exactly 1.0 and the score is kept
beside it. Datasets without a stored gold answer (in reasoning-gym 0.1.25:
boxnet, graph_color, propositional_logic, rubiks_cube, rush_hour) are graded by
their scorer alone; `NO_GOLD` lists them.
"""

from __future__ import annotations

import re
from typing import Any

from tether.errors import InputError
from tether.grading import extract as extraction_rules
from tether.grading.base import Grade, too_long, version_string
from tether.grading.extract import (after_think, answer_tag, answer_tag_strict, cascade_route, final_answer_line,
                                    final_answer_stated, last_boxed, last_line, last_result)

EXTRACTIONS = ("fair", "strict")
_PLAIN_NUMBER = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?$")
NO_GOLD = ("boxnet", "graph_color", "propositional_logic", "rubiks_cube", "rush_hour")


class ReasoningGymVerifier:
    name = "reasoning_gym"
    in_process = False

    def __init__(self, extraction: str = "fair"):
        if extraction not in EXTRACTIONS:
            raise InputError(f"reasoning_gym extraction {extraction!r}: use one of {', '.join(EXTRACTIONS)}")
        self.extraction = extraction
        self._datasets: dict[tuple, Any] = {}

    def version(self) -> str:
        order = ["answer_tag", "boxed", "think", "final_answer", "last_result or line"] if self.extraction == "fair" \
            else ["answer_tag (strict)"]
        return version_string(self.name, ("reasoning-gym",), {"extract": order, "mode": self.extraction,
                                                                 "extraction": extraction_rules.VERSION,
                                                                 "statements": extraction_rules.STATEMENT_VERSION,
                                                                 "numeric_gold": 1})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        return self.extract_with_route(completion, reference)[0]

    def extract_with_route(self, completion: str, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        if self.extraction == "strict":
            extractors = (answer_tag_strict,)
        elif _numeric_gold(reference):
            extractors = (answer_tag, last_boxed, after_think, final_answer_stated, last_result)
        else:
            extractors = (answer_tag, last_boxed, after_think, final_answer_line, last_line)
        answer, route = cascade_route(completion, extractors)
        if not answer or not answer.strip():
            return None, None
        answer = answer.strip()
        if self.extraction == "fair" and _numeric_gold(reference) and not _PLAIN_NUMBER.match(answer):
            answer = last_result(answer) or answer  # "<answer>The sum is 26</answer>", "-7 * 8 = -56": the number
        return answer, route

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        rejected = too_long(answer) if len(answer) > 20_000 else None  # some answers (grids, proofs) are long
        if rejected:
            return rejected
        dataset, entry = self._entry(reference)
        try:
            score = float(dataset.score_answer(answer, entry))
        except Exception as exc:  # noqa: BLE001 - a scorer crash on one answer is that answer's error
            return Grade.error(f"score_answer: {type(exc).__name__}: {exc}")
        return Grade(score == 1.0, score)

    def _entry(self, reference: dict[str, Any]):
        from tether.tasks.reasoning_gym import create

        options = tuple(sorted((reference.get("options") or {}).items()))  # the dataset's config options, if any
        key = (reference["dataset"], reference["size"], reference["seed"], options)
        if key not in self._datasets:
            self._datasets[key] = create(key[0], key[1], key[2], options)
        dataset = self._datasets[key]
        entry = dataset[reference["index"]]
        stored = reference.get("entry") or {}
        if stored and stored.get("question") != entry.get("question"):
            entry = stored  # another reasoning-gym version generated different data; trust what was asked
        return dataset, entry


def _numeric_gold(reference: dict[str, Any]) -> bool:
    """Whether the task's gold answer is a plain number ("-8", "292", "3.5")."""
    gold = reference.get("answer")
    return isinstance(gold, (int, float)) or (isinstance(gold, str) and bool(_PLAIN_NUMBER.match(gold.strip())))
