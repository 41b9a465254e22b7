"""MathVista and MathVision rows as vision tasks: each benchmark's prompt, its image, what its grader needs.

``AI4Math/MathVista`` (testmini: 1,000 rows) has ``pid``, ``question``, ``image`` (the file's path in
the benchmark's images folder), ``decoded_image``, ``choices`` (None for free-form questions),
``unit``, ``precision``, ``answer`` (for multiple choice, the option's text), ``question_type``
(``multi_choice`` / ``free_form``), ``answer_type`` (``text``, ``integer``, ``float``, ``list``),
``metadata`` and ``query``: the prompt MathVista is run with ("Hint: Please answer the question and
provide the correct option letter, e.g., A, B, C, D, at the end.\\nQuestion: …\\nChoices:\\n(A) …"),
used as it is (built the same way when a copy lacks it, as the benchmark's own ``testmini.json`` does).

``MathLLMs/MathVision`` (testmini: 304 rows) has ``id``, ``question`` (with its ``<image1>`` mark),
``options`` (five, or none for free form), ``image``, ``decoded_image``, ``answer`` (the option's
letter, or the value), ``solution``, ``level`` and ``subject``. Its prompt is the common harnesses'
(lmms-eval's): the question, the options ``(A) …`` (MATH-V's own scripts leave them out when they are
only the letters A-E, drawn in the picture), and "Please solve the problem step by step and put your
final answer in one \\boxed{}", which for multiple choice asks for the option's letter.

`mathvista_row` and `mathvision_row` add the columns the presets map: ``tether_prompt`` (the text),
``tether_image`` (``decoded_image``, else the ``image`` path) and the reference fields the
``vision_math`` verifier reads (``choices``, ``answer_type``, ``precision``, ``unit``).
"""

from __future__ import annotations

import math
from typing import Any

from tether.tasks.task import ColumnMap

LETTERS = "ABCDEFGHIJ"
MATHVISION_INSTRUCTION = "Please solve the problem step by step and put your final answer in one \\boxed{}."
MATHVISION_CHOICE = ("Please solve the problem step by step and put the letter of the correct option (A, B, C, D "
                     "or E) in one \\boxed{}.")
_MATHVISTA_HINTS = {
    "multi_choice": "Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.",
    "integer": "Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, 3, "
               "at the end.",
    1: "Please answer the question requiring a floating-point number with one decimal place and provide the final "
       "value, e.g., 1.2, 1.3, 1.4, at the end.",
    2: "Please answer the question requiring a floating-point number with two decimal places and provide the final "
       "value, e.g., 1.23, 1.34, 1.45, at the end.",
    "list": "Please answer the question requiring a Python list as an answer and provide the final list, e.g., "
            "[1, 2, 3], [1.2, 1.3, 1.4], at the end.",
}


def vision_columns(id_column: str) -> ColumnMap:
    """The columns both presets map, after `mathvista_row` or `mathvision_row` has added its own."""
    return ColumnMap("tether_prompt", "answer", id_column, extra=("choices", "answer_type", "precision", "unit"),
                     image="tether_image")


def mathvista_row(row: dict[str, Any]) -> dict[str, Any]:
    """A MathVista row with the columns its preset maps (see the module's doc)."""
    choices = list(row.get("choices") or [])
    precision = _number_or_none(row.get("precision"))
    return {**row, "tether_prompt": row.get("query") or mathvista_query(row), "tether_image": _image(row),
            "choices": choices, "precision": int(precision) if precision is not None else None,
            "unit": row.get("unit") or None, "answer_type": row.get("answer_type") or None}


def mathvista_query(row: dict[str, Any]) -> str:
    """MathVista's zero-shot query for a row that lacks one: the hint for its answer type, the question (with its
    unit), the choices."""
    kind = "multi_choice" if row.get("question_type") == "multi_choice" else row.get("answer_type")
    if kind == "float":
        kind = int(_number_or_none(row.get("precision")) or 1)
    lines = [f"Hint: {_MATHVISTA_HINTS[kind]}"] if kind in _MATHVISTA_HINTS else []
    lines.append(f"Question: {row['question']}" + (f" (Unit: {row['unit']})" if row.get("unit") else ""))
    if row.get("choices"):
        lines += ["Choices:", *(f"({LETTERS[i]}) {choice}" for i, choice in enumerate(row["choices"]))]
    return "\n".join(lines).strip()


def mathvision_row(row: dict[str, Any]) -> dict[str, Any]:
    """A MathVision row with the columns its preset maps (see the module's doc)."""
    options = list(row.get("options") or [])
    text = str(row["question"]).strip()
    if options and "".join(str(o).strip() for o in options) != LETTERS[: len(options)]:
        text += "\n\nChoices:\n" + "\n".join(f"({LETTERS[i]}) {option}" for i, option in enumerate(options))
    elif options:
        text += f"\n\nChoices: {', '.join(LETTERS[: len(options)])}"
    text += "\n\n" + (MATHVISION_CHOICE if options else MATHVISION_INSTRUCTION)
    return {**row, "tether_prompt": text, "tether_image": _image(row), "choices": options,
            "answer_type": None, "precision": None, "unit": None}


def _image(row: dict[str, Any]) -> Any:
    image = row.get("decoded_image")
    return image if image is not None else row.get("image")


def _number_or_none(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
