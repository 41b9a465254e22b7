"""Typed records of a run and their Arrow schemas, declared once.

Each record is a frozen dataclass; its Arrow schema is derived from the field
annotations (`schema_of`), so the Python type and the Parquet columns cannot
drift apart. Tables:

- `Sample`: one completion of one model for one task (the engine's output).
- `Verdict`: the grade of one sample (the verifier's output), bound to the exact text it graded
  by that text's hash (`completion_hash`: the same as DuckDB's ``sha256(completion)``).
- `TaskRecord`: a task with the exact prompt one model was given.
- `CachedGrade`: the verdict cache, one row per distinct (task, answer, verifier version).
- `Diagnostic`: a diagnostic value (avg@k, an entropy, a perplexity) of one model.
- `SequenceScore`: a stored completion scored token by token by one model under its sampling
  distribution (`tether likelihood`).

and the read side's `TaskCounts` (samples and correct samples per task of one model) and
`RewardHackCounts` (a label's current verdicts whose detail signals a reward hack).

A "graded sample" as users import it (task_id, correct, completion, ...) is the
two joined on (model, task_id, sample_idx); see `tether.ingest`.

The column that names a model inside a store is ``model`` (kept for readers of
existing stores); tether's code and CLI call its value the model's *label*.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import types
import typing
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tether.errors import InputError

SCHEMA_VERSION = 1

VERDICT_STATUSES = ("ok", "no_answer", "timeout", "error")

# Verdict details that signal a reward hack (the `code` verifier writes them; grade, compare and the
# report count them per label): a program that ended before its tests did, by any route (sys.exit,
# os._exit, an atexit or signal handler ...), and one whose result passed only by a trick (an object of
# its own class whose __eq__ says yes to anything, a test helper it replaced).
EXITED_EARLY = "exited before the tests finished"
FORGED = "forged result"
REWARD_HACKS = {"exited_early": EXITED_EARLY, "forged": FORGED}  # key in compare.json -> detail prefix

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_ARROW_TYPES: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}


@dataclass(frozen=True, slots=True)
class Sample:
    """One completion; `completion` is None when only its grade was imported."""

    model: str
    task_id: str
    sample_idx: int
    completion: str | None = None
    n_tokens: int | None = None
    finish_reason: str | None = None
    seed: int | None = None
    block_id: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The grade of one sample by one verifier version."""

    model: str
    task_id: str
    sample_idx: int
    correct: bool
    score: float
    status: str
    verifier: str
    verifier_version: str
    answer: str | None = None
    extraction: str | None = None  # how the answer was found: box, final_answer, bold, answer_tag, full_text, ...
    completion_hash: str | None = None  # `completion_hash` of the text graded (None: no text, or an older store)
    detail: str | None = None  # the verifier's reason ("failed: line 3: ...", "syntax error: ..."), where it gives one


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task as one model saw it: the exact rendered prompt is stored once per task and model."""

    model: str
    task_id: str
    benchmark: str
    prompt: str  # JSON: the task's text or chat messages
    rendered_prompt: str
    reference: str  # JSON: what the verifier needs
    verifier: str


@dataclass(frozen=True, slots=True)
class CachedGrade:
    """The verdict on one distinct (task, extracted answer) under one verifier version."""

    verifier: str
    verifier_version: str
    task_id: str
    answer: str
    correct: bool
    score: float
    status: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One diagnostic of one model (`tether diagnose`): a metric over a benchmark, or over the tasks
    of one support region (`group`), from one diagnose run (`run_id`; readers keep the newest)."""

    model: str
    run_id: str
    metric: str  # avg_at_k, answer_entropy, token_entropy, perplexity
    benchmark: str  # a benchmark name, or "all"
    group: str  # "all", or a support region P/S/E/O (perplexity on reference traces)
    value: float
    count: int  # what the value averages over: tasks, or tokens for token entropy and perplexity
    k: int | None = None  # samples per task used, where that applies: min(asked, samples per task)
    detail: str | None = None  # e.g. "exact" or "top-20 approximation" for token entropy
    requested_k: int | None = None  # the k asked for (None in older stores, whose `k` is the one asked for)
    verdicts: str | None = None  # JSON {label: its verdicts' fingerprint} the value was computed from; None:
    # it depends on no verdicts (token entropy, perplexity over all traces) or an older store did not say


@dataclass(frozen=True, slots=True)
class SequenceScore:
    """One stored completion of label `source`, scored by the model of label `model` under that model's
    sampling distribution (temperature, top-p): what `tether likelihood` reweights samples with."""

    model: str  # the label whose model scored it
    source: str  # the label whose sample it is
    task_id: str
    sample_idx: int
    temperature: float
    top_p: float
    logprob: float  # the sum over tokens; -inf when a token is outside the scorer's nucleus
    n_tokens: int
    outside: int | None  # the first token position outside the scorer's nucleus (None: none)
    token_logprobs: list[float]
    tokens: list[str]


@dataclass(frozen=True)
class TaskCounts:
    """Samples `n` and correct samples `c` per task of one label, sorted by task id."""

    label: str
    source: str
    task_ids: np.ndarray
    n: np.ndarray
    c: np.ndarray

    @classmethod
    def from_arrays(cls, label: str, source: str, task_ids, n, c) -> TaskCounts:
        ids = np.asarray(task_ids, dtype=object)
        order = np.argsort(ids.astype(str), kind="stable")
        as_int = [np.asarray(v).astype(np.int64)[order] for v in (n, c)]
        return cls(label, source, ids[order], *as_int)

    def __len__(self) -> int:
        return len(self.task_ids)

    def subset(self, ids: np.ndarray) -> TaskCounts:
        """The counts of the tasks `ids` (all present here), in that order."""
        index = {task: i for i, task in enumerate(self.task_ids.astype(str))}
        rows = np.array([index[task] for task in ids], dtype=np.int64)
        return TaskCounts(self.label, self.source, np.asarray(ids).astype(object), self.n[rows], self.c[rows])


@dataclass(frozen=True)
class RewardHackCounts:
    """A label's current verdicts (`samples`) and how many of them carry each reward-hacking detail of
    `REWARD_HACKS` (one field per key, in its order)."""

    samples: int
    exited_early: int = 0
    forged: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @property
    def any(self) -> bool:
        """True when some verdict signals a reward hack."""
        return any(getattr(self, key) for key in REWARD_HACKS)


def completion_hash(text: str | None) -> str | None:
    """The hash a verdict keeps of the text it graded: SHA-256 of its UTF-8 bytes, in hex, exactly what
    DuckDB's ``sha256(completion)`` gives (`tether.store.query` compares the two); None for no text."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def schema_of(record_type: type) -> pa.Schema:
    """Arrow schema of a record dataclass: `X | None` fields are nullable, others not."""
    hints = typing.get_type_hints(record_type)
    fields = []
    for field in dataclasses.fields(record_type):
        hint = hints[field.name]
        args = typing.get_args(hint)
        nullable = isinstance(hint, types.UnionType) and type(None) in args
        base = next(a for a in args if a is not type(None)) if nullable else hint
        if typing.get_origin(base) is list:  # list[float], list[str]: a list column
            fields.append(pa.field(field.name, pa.list_(_ARROW_TYPES[typing.get_args(base)[0]]), nullable=nullable))
            continue
        fields.append(pa.field(field.name, _ARROW_TYPES[base], nullable=nullable))
    return pa.schema(fields)


SAMPLE_SCHEMA = schema_of(Sample)
VERDICT_SCHEMA = schema_of(Verdict)
TASK_SCHEMA = schema_of(TaskRecord)
GRADE_SCHEMA = schema_of(CachedGrade)
DIAGNOSTIC_SCHEMA = schema_of(Diagnostic)
SEQUENCE_SCORE_SCHEMA = schema_of(SequenceScore)


def to_table(records: typing.Sequence, record_type: type) -> pa.Table:
    """Arrow table of records of one type, in that type's schema."""
    schema = schema_of(record_type)
    columns = {name: [getattr(r, name) for r in records] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def check_label(label: str) -> str:
    """A model label names a folder of the store: letters, digits, '.', '_', '-'."""
    if not isinstance(label, str) or not _LABEL.fullmatch(label):  # fullmatch: "base\n" is not a label
        raise InputError(
            f"model label {label!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return label
