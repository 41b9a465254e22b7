"""Sample files written by other evaluation harnesses, read as tether rows and the tasks' references.

Two formats, each as its harness writes it (the mapping is documented in docs/import.md):

- lm-evaluation-harness ``--log_samples`` JSONL (``samples_<task>_<time>.jsonl``): one line per
  document and filter; every generated response (``resps``, ``repeats`` of them) is one row. The
  task is the file name's (its lines do not hold it; `lm_eval_task`).
- lighteval ``--save-details`` Parquet (``details_<task>|<shots>_<time>.parquet``): one row per
  document; every text of ``model_response.text`` is one row.

A document with one response is graded by the harness's own per-document metric when that metric
is 0/1 (lm-eval scores the filtered response); with several responses the harness scored one
reduction of them (``take_first``, a majority vote, pass@k), not each response, so the rows are
imported ungraded for `tether grade`. Either way the document's gold answer is kept as the task's
reference, so `tether grade` needs no ``--tasks``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tether.errors import InputError
from tether.ingest.jsonl import jsonl_rows

FORMATS = ("auto", "tether", "lm-eval", "lighteval", "verl")


@dataclass(frozen=True)
class HarnessOptions:
    """Which of a harness file's metrics and filters to take, and the verifier its tasks are graded with."""

    metric: str | None = None  # default: exact_match (lm-eval) or the file's only metric
    filter: str | None = None  # lm-eval: default the file's first filter
    verifier: str = "math"
    benchmark: str | None = None  # every document's benchmark: default the task the file names (`lm_eval_task`)
    correct_threshold: float | None = None  # verl: a score at least this is correct (`tether.ingest.verl`)
    id_key: str | None = None  # verl: the field of a line holding its prompt's id (default: a hash of the prompt)


@dataclass(frozen=True)
class HarnessTask:
    """A document as a task: its id, its harness task (benchmark), the prompt the model saw, its gold."""

    task_id: str
    benchmark: str
    prompt: str
    answer: str


@dataclass
class HarnessFile:
    """A harness file converted: tether rows (``(where, row)``), its tasks, and what the conversion chose."""

    format: str
    rows: list[tuple[str, dict]]
    tasks: dict[str, HarnessTask]
    notes: list[str] = field(default_factory=list)
    decoding: dict = field(default_factory=dict)


def detect_format(path: Path) -> str:
    """``lm-eval``, ``lighteval``, ``verl`` or ``tether`` (tether's own row format) from the file's first record; a
    folder is verl's (its validation dumps, one file per step)."""
    from tether.ingest.verl import is_verl_record

    if path.is_dir():
        return "verl"
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return "lighteval" if {"doc", "model_response", "metric"} <= set(pq.read_schema(path).names) else "tether"
        if name.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
            first = next((record for _, record in jsonl_rows(path)), None)
            if is_verl_record(first):
                return "verl"
            return "lm-eval" if isinstance(first, dict) and {"doc_id", "resps"} <= set(first) else "tether"
    except (InputError, pa.ArrowInvalid, OSError):
        pass  # not readable as either harness's file: tether's own reader says precisely what is wrong
    return "tether"


def read_harness(path: Path, fmt: str, options: HarnessOptions) -> HarnessFile:
    if fmt == "lm-eval":
        return _lm_eval(path, options)
    if fmt == "lighteval":
        return _lighteval(path, options)
    raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


# -- lm-evaluation-harness -----------------------------------------------------------------------

_LM_EVAL_NAME = re.compile(r"^samples_(?P<task>.+)_\d{4}-\d{2}-\d{2}T[\d.:-]+\.jsonl(?:\.gz)?$")
UNNAMED_TASK = "lm-eval"  # the benchmark of a renamed lm-eval file's documents


def lm_eval_task(path: Path, options: HarnessOptions) -> tuple[str, str | None]:
    """The lm-eval task (tether's benchmark) of a ``--log_samples`` file, and a note where it was not named.

    lm-eval's lines hold no task name: it is in the file's name, ``samples_<task>_<time>.jsonl``. A file renamed
    for its model (``samples_base.jsonl``) names none, and its name must not become the benchmark, or two models'
    files of one task would share no task id: its documents are ``lm-eval/<doc_id>``, with a note. `--benchmark`
    names the task in either case."""
    if options.benchmark:
        return options.benchmark, None
    match = _LM_EVAL_NAME.match(path.name)
    if match:
        return match.group("task"), None
    return UNNAMED_TASK, (f"{path.name} is not named as lm-eval names its files (samples_<task>_<time>.jsonl), so "
                          f"its task is unknown: its documents are {UNNAMED_TASK}/<doc_id> (--benchmark names "
                          "the task; files of different tasks need it)")


def _lm_eval(path: Path, options: HarnessOptions) -> HarnessFile:
    records = list(jsonl_rows(path))
    task, unnamed = lm_eval_task(path, options)
    filters = list(dict.fromkeys(str(r.get("filter", "none")) for _, r in records))
    chosen = (options.filter or filters[0]) if filters else None
    if options.filter and options.filter not in filters:
        raise InputError(f"{path}: no filter {options.filter!r}; this file has {', '.join(filters)}")
    records = [(w, r) for w, r in records if str(r.get("filter", "none")) == chosen]
    converted = HarnessFile("lm-eval", [], {}, [unnamed] if unnamed else [])
    if len(filters) > 1:
        converted.notes.append(f"filter {chosen!r} of {', '.join(filters)} (--filter to choose another)")
    responses = [(where, record, _lm_eval_responses(where, record)) for where, record in records]
    metric = _per_document_metric(converted, [len(t) for *_, t in responses],
                                  lambda: _lm_eval_metric(path, records, options.metric), "responses",
                                  "lm-eval scored one filtered response per document, not each",
                                  "lm-eval's {!r} of the filtered response")
    for where, record, texts in responses:
        task_id = f"{task}/{_doc_id(where, record)}"
        answers = _lm_eval_answers(record.get("filtered_resps"), len(texts))
        for index, text in enumerate(texts):
            row = {"task_id": task_id, "sample_idx": index, "completion": text, "answer": answers[index]}
            if metric:
                row["correct"] = _zero_one(where, metric, record.get(metric))
            converted.rows.append((where, row))
        converted.tasks[task_id] = HarnessTask(task_id, task, _lm_eval_prompt(record), _gold(record.get("target")))
        converted.decoding = converted.decoding or _lm_eval_decoding(record)
    return converted


def _lm_eval_responses(where: str, record: dict) -> list[str]:
    resps = record.get("resps")
    if not isinstance(resps, list):
        raise InputError(f"{where}: lm-eval 'resps' must be a list")
    texts = [item for request in resps for item in (request if isinstance(request, list) else [request])]
    if not all(isinstance(text, str) for text in texts) or len(resps) != 1:
        raise InputError(f"{where}: these lm-eval responses are log-likelihoods of given choices (a multiple_choice "
                         "or loglikelihood task), not generated samples; tether imports generate_until tasks")
    return texts


def _lm_eval_metric(path: Path, records: list[tuple[str, dict]], wanted: str | None) -> str | None:
    names = list(dict.fromkeys(m for _, r in records for m in r.get("metrics", []) if m in r))
    if wanted is not None:
        if wanted not in names:
            raise InputError(f"{path}: no metric {wanted!r}; this file has {', '.join(names) or 'none'}")
        return wanted
    zero_one = [m for m in names if all(_is_zero_one(r.get(m)) for _, r in records)]
    for preferred in ("exact_match", "acc", "pass@1"):
        if preferred in zero_one:
            return preferred
    return zero_one[0] if zero_one else None


def _lm_eval_answers(filtered: object, n: int) -> list[str | None]:
    """The filtered response of each response where the filters kept one per response, else none."""
    if isinstance(filtered, list) and len(filtered) == 1 and isinstance(filtered[0], list):
        filtered = filtered[0]
    if isinstance(filtered, list) and len(filtered) == n and all(isinstance(a, str) for a in filtered):
        return list(filtered)
    return [None] * n


def _lm_eval_prompt(record: dict) -> str:
    arguments = record.get("arguments")
    if isinstance(arguments, dict) and arguments:
        first = next(iter(arguments.values()))
        if isinstance(first, dict) and isinstance(first.get("arg_0"), str):
            return first["arg_0"]
    doc = record.get("doc")
    return json.dumps(doc, ensure_ascii=False) if doc is not None else ""


def _lm_eval_decoding(record: dict) -> dict:
    arguments = record.get("arguments")
    if isinstance(arguments, dict) and arguments:
        first = next(iter(arguments.values()))
        if isinstance(first, dict) and isinstance(first.get("arg_1"), dict):
            return dict(first["arg_1"])
    return {}


def _doc_id(where: str, record: dict) -> str:
    value = record.get("doc_id")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise InputError(f"{where}: lm-eval 'doc_id' must be an integer or a string, got {value!r}")
    return str(value)


# -- lighteval -------------------------------------------------------------------------------------


def _lighteval(path: Path, options: HarnessOptions) -> HarnessFile:
    try:
        table = pq.read_table(path, columns=["doc", "model_response", "metric"])
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise InputError(f"{path}: not a lighteval details file: {exc}") from None
    records = [(f"{path}:row {i + 1}", r) for i, r in enumerate(table.to_pylist())]
    converted = HarnessFile("lighteval", [], {})
    texts = [(where, record, _lighteval_texts(where, record)) for where, record in records]
    metric = _per_document_metric(converted, [len(t) for *_, t in texts],
                                  lambda: _lighteval_metric(path, records, options.metric), "samples",
                                  "lighteval's metrics score the document, not each sample", "lighteval's {!r}")
    for where, record, samples in texts:
        doc = record["doc"]
        task = options.benchmark or str(doc.get("task_name") or path.stem)
        task_id = f"{task}/{doc.get('id')}"
        tokens = (record["model_response"] or {}).get("output_tokens") or []
        for index, text in enumerate(samples):
            row = {"task_id": task_id, "sample_idx": index, "completion": text,
                   "n_tokens": len(tokens[index]) if index < len(tokens) and tokens[index] is not None else None}
            if metric:
                row["correct"] = _zero_one(where, metric, (record.get("metric") or {}).get(metric))
            converted.rows.append((where, row))
        converted.tasks[task_id] = HarnessTask(task_id, task, str(doc.get("query") or ""), _lighteval_gold(where, doc))
    return converted


def _lighteval_texts(where: str, record: dict) -> list[str]:
    response = record.get("model_response") or {}
    texts = response.get("text") or []
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InputError(f"{where}: this lighteval document has no generated text (a log-likelihood task?); "
                         "tether imports generative tasks")
    return list(texts)


def _lighteval_metric(path: Path, records: list[tuple[str, dict]], wanted: str | None) -> str | None:
    names = list(dict.fromkeys(name for _, r in records for name, v in (r.get("metric") or {}).items()
                               if v is not None))
    if wanted is not None:
        if wanted not in names:
            raise InputError(f"{path}: no metric {wanted!r}; this file has {', '.join(names) or 'none'}")
        return wanted
    zero_one = [m for m in names if all(_is_zero_one((r.get("metric") or {}).get(m)) for _, r in records)]
    return zero_one[0] if zero_one else None


def _lighteval_gold(where: str, doc: dict) -> str:
    choices, gold = doc.get("choices") or [], doc.get("gold_index")
    index = gold[0] if isinstance(gold, list) and gold else gold
    if not isinstance(index, int) or not 0 <= index < len(choices):
        raise InputError(f"{where}: lighteval doc has no gold answer (choices {choices!r}, gold_index {gold!r})")
    return str(choices[index])


# -- shared ----------------------------------------------------------------------------------------


def _per_document_metric(converted: HarnessFile, counts: list[int], choose, plural: str, why: str,
                         source: str) -> str | None:
    """The metric that grades each row where every document has one response (`choose()`), else None:
    several responses per document were scored together by the harness, so they come in ungraded. The
    choice is noted on `converted`."""
    if counts and any(n != 1 for n in counts):
        converted.notes.append(f"{max(counts)} {plural} per document: {why}; imported ungraded (run tether grade)")
        return None
    metric = choose() if counts else None
    if metric:
        converted.notes.append("correct = " + source.format(metric))
    return metric


def _gold(target: object) -> str:
    if isinstance(target, list):
        target = target[0] if target else ""
    return "" if target is None else str(target)


def _is_zero_one(value: object) -> bool:
    return isinstance(value, (bool, int, float)) and value in (0, 1)


def _zero_one(where: str, metric: str, value: object) -> bool:
    if not _is_zero_one(value):
        raise InputError(f"{where}: metric {metric!r} is {value!r}, not 0/1; choose a 0/1 metric with --metric")
    return bool(value)
