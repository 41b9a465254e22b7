"""verl's validation generations read as tether rows: one label per training step, the step recorded.

With ``trainer.validation_data_dir`` set, verl's trainer (``RayPPOTrainer._validate``, verl 0.9) writes every
validation it runs (at step 0 before training when ``trainer.val_before_train``, then every ``trainer.test_freq``
steps) to ``<validation_data_dir>/<global_steps>.jsonl``: one line per response, with ``input`` (the prompt as
decoded), ``output`` (the response), ``gts`` (the ground truth), ``score`` (the reward), ``step``, and the reward
function's extra information (``reward``, ``acc``, ``pred`` …). Each prompt is sampled
``actor_rollout_ref.rollout.val_kwargs.n`` times. The mapping is documented in docs/import.md.

`read_verl(path, run, options)` reads a folder of such files (or one) into rows labelled ``<run>-<step>``:

- one task per distinct prompt, ``<benchmark>/<hash of the input>`` (benchmark ``verl`` unless
  `HarnessOptions.benchmark`), or ``<benchmark>/<value>`` of the field `HarnessOptions.id_key` names;
- a prompt's responses, in file order, are its samples; their number is the budget, the same for every prompt
  of every step (one line names the first that differs);
- correct from ``acc`` where every line's is 0/1 (verl's own accuracy), else from ``score`` where every line's
  is; ``score >= T`` with `HarnessOptions.correct_threshold` T (or the field `HarnessOptions.metric` names);
  otherwise the rows come in ungraded, each task's ``gts`` kept as its reference for `tether grade`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tether.errors import InputError
from tether.ingest.harness import HarnessOptions, HarnessTask, _is_zero_one
from tether.ingest.jsonl import jsonl_rows
from tether.store.schema import check_label

REQUIRED = ("input", "output", "score", "step")  # verl writes these (and gts) on every line
BENCHMARK = "verl"  # the benchmark of a dump's prompts unless one is named: verl's lines hold none
_STEP_FILE = re.compile(r"^(\d+)\.jsonl(?:\.gz)?$")


@dataclass
class VerlDump:
    """A run's validation dumps converted: tether rows (``(where, row)``), the tasks, each label's (run, step)."""

    rows: list[tuple[str, dict]]
    tasks: dict[str, HarnessTask]
    checkpoints: dict[str, tuple[str, int]]
    n: int  # responses per prompt: the budget
    files: list[Path]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Line:
    where: str
    task: str
    record: dict


def is_verl_record(record: object) -> bool:
    """Whether a parsed JSONL line is one of verl's validation dump."""
    return isinstance(record, dict) and set(REQUIRED) <= set(record)


def is_step_file(path: Path) -> bool:
    """Whether a file is named as verl names a step's dump, ``<step>.jsonl``."""
    return _STEP_FILE.match(path.name) is not None


def read_verl(path: Path, run: str | None, options: HarnessOptions) -> VerlDump:
    """A folder of verl's ``<step>.jsonl`` files (or one such file) as rows labelled ``<run>-<step>``; `run`
    defaults to the folder's name."""
    path = Path(path)
    files, others = _step_files(path) if path.is_dir() else ([path], [])
    run = run if run is not None else _run_name(path)
    notes = [f"not verl step files (<step>.jsonl), not read: {', '.join(others)}"] if others else []
    steps: dict[int, tuple[Path, list[_Line]]] = {}
    for file in files:
        step, lines = _read_file(file, options)
        if step in steps:
            raise InputError(f"{file}: step {step} again (also {steps[step][0]}); one file per validation step")
        steps[step] = (file, lines)
    n = _budget(steps)
    _same_prompts(steps)
    grade = _grading([line for _, lines in steps.values() for line in lines], options, notes)
    dump = VerlDump([], {}, {}, n, [steps[s][0] for s in sorted(steps)], notes)
    benchmark = options.benchmark or BENCHMARK
    for step in sorted(steps):
        label = _label(run, step, steps[step][0])
        dump.checkpoints[label] = (run, step)
        seen: Counter[str] = Counter()
        for line in steps[step][1]:
            record = line.record
            pred = record.get("pred")
            row = {"model": label, "task_id": line.task, "sample_idx": seen[line.task], "completion": record["output"],
                   "answer": pred if isinstance(pred, str) else None, "correct": grade(record) if grade else None}
            seen[line.task] += 1
            dump.rows.append((line.where, row))
            if line.task not in dump.tasks:
                dump.tasks[line.task] = HarnessTask(line.task, benchmark, record["input"], _reference(record.get("gts")))
    prompts = len({line.task for _, lines in steps.values() for line in lines})
    named = f"step{'s' * (len(steps) > 1)} {', '.join(map(str, sorted(steps)))}"
    notes.insert(0, f"verl validation of run {run!r}: {named} as labels {run}-<step>; {prompts} prompts x {n} "
                    "responses (the budget)")
    return dump


def _step_files(folder: Path) -> tuple[list[Path], list[str]]:
    """A folder's step files in step order, and the names of its other files (not read)."""
    files = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.name)
    steps = sorted((p for p in files if is_step_file(p)), key=lambda p: int(_STEP_FILE.match(p.name).group(1)))
    if not steps:
        raise InputError(f"{folder}: no verl validation files here (verl names them <step>.jsonl, in "
                         "trainer.validation_data_dir)")
    return steps, [p.name for p in files if not is_step_file(p) and not p.name.startswith(".")]


def _run_name(path: Path) -> str:
    """The training run's default name: the dump folder's (a file's folder's)."""
    name = (path if path.is_dir() else path.parent).resolve().name
    try:
        return check_label(name)
    except InputError:
        raise InputError(f"{path}: the folder's name {name!r} cannot name the run's labels (<run>-<step>); "
                         "name the run with --label RUN") from None


def _label(run: str, step: int, file: Path) -> str:
    label = f"{run}-{step}"
    try:
        return check_label(label)
    except InputError as exc:
        raise InputError(f"{file}: the run's label for step {step}: {exc}; choose a shorter --label") from None


def _read_file(file: Path, options: HarnessOptions) -> tuple[int, list[_Line]]:
    """One step's dump: its step (every line's) and its lines, each checked and given its task."""
    lines: list[_Line] = []
    step = None
    for where, record in jsonl_rows(file):
        _check_line(where, record)
        if step is None:
            step = record["step"]
        elif record["step"] != step:
            raise InputError(f"{where}: step {record['step']} in a file of step {step} (its first line's); verl "
                             "writes each validation step to its own file, <step>.jsonl")
        lines.append(_Line(where, _task_id(where, record, options), record))
    if step is None:
        raise InputError(f"{file}: no lines; not a verl validation dump")
    named = _STEP_FILE.match(file.name)
    if named and int(named.group(1)) != step:
        raise InputError(f"{lines[0].where}: step {step}, but the file is named for step {int(named.group(1))}")
    return step, lines


def _check_line(where: str, record: object) -> None:
    if not isinstance(record, dict):
        raise InputError(f"{where}: not a line of verl's validation dump: expected a JSON object, got "
                         f"{type(record).__name__}")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise InputError(f"{where}: not a line of verl's validation dump: no {', '.join(map(repr, missing))} (verl "
                         "writes input, output, gts, score and step on every line)")
    for key in ("input", "output"):
        if not isinstance(record[key], str):
            raise InputError(f"{where}: verl's {key!r} must be a string, got {type(record[key]).__name__}")
    step = record["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise InputError(f"{where}: verl's 'step' must be a whole number >= 0, got {step!r}")
    if not _is_number(record["score"]):
        raise InputError(f"{where}: verl's 'score' must be a finite number, got {record['score']!r}")


def _task_id(where: str, record: dict, options: HarnessOptions) -> str:
    """``<benchmark>/<id>``: the field `options.id_key` names, else a hash of the prompt's text."""
    benchmark = options.benchmark or BENCHMARK
    if options.id_key is None:
        return f"{benchmark}/{hashlib.sha256(record['input'].encode()).hexdigest()[:16]}"
    value = record.get(options.id_key)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise InputError(f"{where}: no id in {options.id_key!r} (--columns id={options.id_key}): got {value!r}")
    return f"{benchmark}/{value}"


def _budget(steps: dict[int, tuple[Path, list[_Line]]]) -> int:
    """The responses per prompt, the same for every prompt of every step; else one line naming the first that
    differs."""
    budget, first = None, None
    for step in sorted(steps):
        file, lines = steps[step]
        counts = Counter(line.task for line in lines)
        starts = {}
        for line in lines:
            starts.setdefault(line.task, line.where)
        n = counts[lines[0].task]
        odd = next((task for task in counts if counts[task] != n), None)
        if odd is not None:
            raise InputError(f"{starts[odd]}: this prompt has {counts[odd]} responses and the file's first {n}; "
                             "verl samples every prompt val_kwargs.n times, so is this prompt twice in the "
                             "validation set? (--columns id=KEY names a field that tells them apart)")
        if budget is not None and n != budget:
            raise InputError(f"{file}: {n} responses per prompt, but {first} has {budget}; every step of a run "
                             "must sample the validation's n responses per prompt (the budget)")
        budget, first = budget or n, first or file
    return budget or 0


def _same_prompts(steps: dict[int, tuple[Path, list[_Line]]]) -> None:
    """Every step validates the same prompts (verl's validation set is fixed); else one line naming the step with
    the fewest: a file cut at a prompt's end (verl still writing it) would be stored and never read again."""
    prompts = {step: {line.task for line in lines} for step, (_, lines) in steps.items()}
    if len({frozenset(found) for found in prompts.values()}) < 2:
        return
    short = min(sorted(steps), key=lambda step: len(prompts[step]))
    full = max((step for step in sorted(steps) if step != short), key=lambda step: len(prompts[step]))
    raise InputError(f"{steps[short][0]}: {len(prompts[short])} prompts, {len(prompts[short] & prompts[full])} of "
                     f"them among the {len(prompts[full])} of {steps[full][0]}; verl validates the same prompts at "
                     "every step: is this file still being written? (import again once it is complete)")


def _grading(lines: list[_Line], options: HarnessOptions, notes: list[str]) -> Callable[[dict], bool] | None:
    """How a line says correct (None: the rows come in ungraded), noted in `notes`."""
    metric, threshold = options.metric, options.correct_threshold
    if metric is None and threshold is None and all(_is_zero_one(line.record.get("acc")) for line in lines):
        metric = "acc"
    metric = metric or "score"
    for line in lines:
        if metric not in line.record:
            raise InputError(f"{line.where}: no {metric!r} in this line (--metric {metric})")
    if threshold is not None:
        bad = next((line for line in lines if not _is_number(line.record[metric])), None)
        if bad is not None:
            raise InputError(f"{bad.where}: {metric!r} is {bad.record[metric]!r}, not a number to compare with "
                             "--correct-threshold")
        notes.append(f"correct = verl's {metric!r} >= {threshold:g}")
        return lambda record: bool(record[metric] >= threshold)
    off = next((line for line in lines if not _is_zero_one(line.record[metric])), None)
    if off is None:
        notes.append(f"correct = verl's {metric!r}" + (" (its reward function's accuracy)" if metric == "acc" else ""))
        return lambda record: bool(record[metric])
    if options.metric is not None:
        raise InputError(f"{off.where}: {metric!r} is {off.record[metric]!r}, not 0/1; --correct-threshold T "
                         f"counts {metric} >= T as correct")
    notes.append(f"verl's scores are not all 0/1 ({off.record[metric]!r} at {off.where}): imported ungraded; "
                 "--correct-threshold T counts score >= T as correct, or tether grade grades the outputs against gts")
    return None


def _reference(gts: object) -> str:
    """The ground truth as a task's reference answer: text as it is, anything else as JSON."""
    if gts is None:
        return ""
    return gts if isinstance(gts, str) else json.dumps(gts, ensure_ascii=False)


def _is_number(value: object) -> bool:
    return isinstance(value, (bool, int, float)) and math.isfinite(value)
