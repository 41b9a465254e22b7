"""The one `Task` type every loader produces, and how its fields come from a row.

A task is a prompt plus what its verifier needs: ``reference`` is a JSON-able
dict (``answer`` for most verifiers, the full Reasoning Gym ``entry`` for that
verifier, ``unit`` for numeric ones). ``prompt`` is the user-facing text, or
chat messages; how it is rendered for a given model is `tether.tasks.prompts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tether.errors import InputError
from tether.tasks.images import Image, images_from, vision_prompt

Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class Task:
    """One verifiable task."""

    task_id: str
    benchmark: str
    prompt: str | Messages
    reference: dict[str, Any]
    verifier: str
    # the pictures the prompt's image parts name by digest (the prompt is the identity; these are its bytes)
    images: tuple[Image, ...] = field(default=(), compare=False, repr=False)

    def reference_json(self) -> str:
        return json.dumps(self.reference, sort_keys=True, ensure_ascii=False)

    def prompt_json(self) -> str:
        return json.dumps(self.prompt, ensure_ascii=False)


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of a table hold a task's id, question and answer.

    ``id`` may be None (rows are numbered); a list-valued question (e.g. LiveBench
    ``turns``) uses its first element; ``extra`` columns are copied into the
    reference under their own names. Code tasks (the ``code`` verifier) map ``tests`` (a test
    program or a list of assert lines), ``entry_point`` (the function the tests call) and
    ``prefix`` (code the completion continues, e.g. HumanEval's prompt) into the reference as
    ``tests``, ``entry_point`` and ``prefix``; a code task needs no answer column. ``image`` maps a
    column of one image or a list of them (bytes, a path, a ``datasets`` image): the prompt becomes
    one user message with those images before the text (`tether.tasks.images.vision_prompt`).
    """

    question: str = "question"
    answer: str | None = "answer"
    id: str | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)
    tests: str | None = None
    entry_point: str | None = None
    prefix: str | None = None
    image: str | None = None

    CODE_ROLES = ("tests", "entry_point", "prefix")

    @classmethod
    def parse(cls, text: str | None) -> ColumnMap:
        """From 'question=problem,answer=solution,id=uid,extra=unit+level' (code tasks: tests=, entry_point=,
        prefix=; with tests= and no answer=, there is no answer column; image= for vision tasks)."""
        if not text:
            return cls()
        values: dict[str, Any] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in {"question", "answer", "id", "extra", "image", *cls.CODE_ROLES}:
                raise InputError(f"column mapping {part!r}: expected question=, answer=, id=, extra=, tests=, "
                                 "entry_point=, prefix= or image=")
            values[key] = tuple(v for v in value.split("+") if v) if key == "extra" else (value or None)
        if values.get("tests") and "answer" not in values:
            values["answer"] = None
        return cls(**values)


def task_from_row(
    row: dict[str, Any], index: int, columns: ColumnMap, benchmark: str, verifier: str, template: str
) -> Task:
    """A task from one row of a table; `template` has a ``{question}`` slot."""
    where = f"{benchmark} row {index}"
    _check_columns(row, columns, where)
    question = _field(row, columns.question, where)
    if isinstance(question, list):
        question = question[0] if question else ""
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"{where}: question column {columns.question!r} is empty or not text")
    reference: dict[str, Any] = {"question": question}  # the bare question, for the judge (not the rendered prompt)
    if columns.answer is not None:
        reference["answer"] = _jsonable(_field(row, columns.answer, where))
    for name in columns.extra:
        reference[name] = _jsonable(_field(row, name, where))
    for role in ColumnMap.CODE_ROLES:
        if getattr(columns, role) is not None:
            reference[role] = _jsonable(_field(row, getattr(columns, role), where))
    task_id = str(_field(row, columns.id, where)) if columns.id else f"{benchmark}/{index}"
    text = template.format(question=question)
    if columns.image is None:
        return Task(task_id, benchmark, text, reference, verifier)
    try:
        images = images_from(_field(row, columns.image, where))
    except InputError as error:
        raise InputError(f"{where}: image column {columns.image!r}: {error}") from None
    if not images:  # a row without a picture stays a text task
        return Task(task_id, benchmark, text, reference, verifier)
    return Task(task_id, benchmark, vision_prompt(text, images), reference, verifier, images)


def _check_columns(row: dict[str, Any], columns: ColumnMap, where: str) -> None:
    """Every mapped column must be in the row: all missing ones named at once, with the flag that maps them."""
    wanted = {"question": columns.question, "answer": columns.answer, "id": columns.id, "image": columns.image,
              **{role: getattr(columns, role) for role in ColumnMap.CODE_ROLES}}
    missing = {role: name for role, name in wanted.items() if name is not None and name not in row}
    missing |= {f"extra {name}": name for name in columns.extra if name not in row}
    if missing:
        names = ", ".join(repr(name) for name in missing.values())
        example = ",".join(f"{role}=COLUMN" for role in missing if not role.startswith("extra"))
        raise InputError(f"{where}: no column{'s' if len(missing) > 1 else ''} {names}; columns are {', '.join(sorted(row))}; map yours with "
                         f"--columns {example or 'extra=COLUMN'} (e.g. --columns question=prompt,answer=solution)")


def _field(row: dict[str, Any], name: str, where: str) -> Any:
    if name not in row:
        raise InputError(f"{where}: no column {name!r}; columns are {', '.join(sorted(row))}")
    return row[name]


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
