"""`sample`: k completions per task from one engine into a store, resumable and deterministic.

The work is cut into units of (task block x sample range): ``task_block``
consecutive tasks and up to ``sample_block`` consecutive sample indices. A unit
is generated in one go and written as one shard named after it
(``b<task block>-s<first>-<end>``), atomically, or not at all. Resuming lists
the shard names, so it costs nothing however large the store, and generates
only the missing ranges; `kill -9` loses at most the units in flight, and no
sample can be written twice (a shard name is never reused).

Sample ``j`` of task ``t`` always gets seed ``derive_seed(run seed, t, j)``,
whichever unit, batch or run it lands in, so an interrupted and resumed run
yields the same samples as an uninterrupted one on the same engine.

Each label's run settings (engine, model, decoding, seed, block sizes, and a
digest of the rendered prompts) are kept in the manifest; resuming with any of
them changed is refused with the differences named. Only ``k`` may change
(growing it samples more).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from tether.engines.base import BatchProgress, Request, Result, Sampler, derive_seed
from tether.errors import StoreError
from tether.sampling.config import SamplingConfig
from tether.sampling.limits import check_run
from tether.sampling.units import Unit, done_units, missing_units
from tether.store import Shard, Store, new_shard_name, open_store
from tether.store.images import put_images
from tether.store.manifest import Run, RunSettings, checked
from tether.store.schema import Sample, TaskRecord, check_label, to_table
from tether.tasks.task import Task


@dataclass
class SampleSummary:
    """What a `sample` call did."""

    label: str
    units_total: int
    units_skipped: int
    samples_written: int = 0
    tokens_written: int = 0
    seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tasks: int = 0  # tasks of the run (those of the call's `active`, where given)
    samples_skipped: int = 0  # samples of the run already in the store (not sampled again)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        """What `tether sample --json` prints (with the store)."""
        return {"label": self.label, "tasks": self.tasks, "samples_written": self.samples_written,
                "samples_skipped": self.samples_skipped, "tokens_written": self.tokens_written,
                "units_total": self.units_total, "units_skipped": self.units_skipped,
                "seconds": round(self.seconds, 3), "ok": self.ok,
                "failed": [{"unit": unit, "error": error} for unit, error in self.failed],
                "warnings": list(self.warnings), "adaptive": None}


Progress = Callable[[int, int], None]  # (samples, tokens) just written


def sample(
    tasks: Sequence[Task],
    engine: Sampler,
    store: str | Store,
    label: str,
    config: SamplingConfig,
    on_progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_in_flight: BatchProgress | None = None,
    active: Collection[str] | None = None,
) -> SampleSummary:
    """Generate the missing samples of `label` for `tasks`; returns what was done.

    `active` (task ids), when given, limits this call to those tasks: a unit samples only its
    active tasks, and a unit with none is skipped (the adaptive rounds use it).

    `on_start(total_samples, samples_already_done)` is called once before work
    starts, `on_progress(samples, tokens)` as each request's samples are generated
    (they are written with their unit), and `on_in_flight(samples' worth, tokens)`
    from inside an engine's batch where the engine reports it (see
    `tether.engines.base`).
    """
    check_label(label)
    if on_in_flight is not None and hasattr(engine, "on_batch"):
        engine.on_batch = on_in_flight
    target = open_store(store, create=True)
    with target.writing([label], "tether sample"):
        rendered = [engine.render(task.prompt) for task in tasks]
        todo, summary = prepare_run(target, label, tasks, rendered, engine.describe(), config, on_start, active,
                                    getattr(engine, "max_context", None))
        started = time.perf_counter()
        window = max(1, int(getattr(engine, "units_in_flight", 1)))
        for first in range(0, len(todo), window):
            _run_units(todo[first : first + window], tasks, engine, target, label, config, summary, on_progress,
                       active)
    summary.seconds = time.perf_counter() - started
    summary.warnings += list(getattr(engine, "warnings", []))
    return summary


def prepare_run(store: Store, label: str, tasks: Sequence[Task], rendered: Sequence[str], engine: dict,
                config: SamplingConfig, on_start: Callable[[int, int], None] | None = None,
                active: Collection[str] | None = None,
                context: int | None = None) -> tuple[list[Unit], SampleSummary]:
    """Claim (or check) the label's run settings, store its prompts once, and list the units to do
    (with `active`: only units holding an active task).

    `engine` is the engine's `describe()`; `rendered` its rendering of each task's prompt; `context` the tokens
    its model holds (`max_context`), where it knows them. A run too big for them, the store's names or this
    machine's memory is refused before anything is written (`tether.sampling.limits`)."""
    check_label(label)
    check_run(config, len(tasks), context)
    reclaimed = _claim_run(store, label, tasks, rendered, engine, config)
    _write_tasks(store, label, tasks, rendered, replace=reclaimed is not None)
    done = done_units(store, label)
    todo = missing_units(len(tasks), config, done)
    if active is not None:
        todo = [u for u in todo if unit_tasks(u, tasks, config, active)]
    remaining = sum(len(unit_tasks(u, tasks, config, active)) * (u.stop - u.start) for u in todo)
    planned = len(tasks) if active is None else sum(t.task_id in active for t in tasks)
    held = 0 if active is not None else len(tasks) * config.k - remaining  # an adaptive round: its own samples
    if on_start:
        on_start(remaining + held, held)
    summary = SampleSummary(label, len(done) + len(todo), len(done), tasks=planned, samples_skipped=held)
    summary.warnings += [reclaimed] if reclaimed else []
    return todo, summary


def run_unit(unit: Unit, tasks: Sequence[Task], engine: Sampler, store: Store, label: str,
             config: SamplingConfig, active: Collection[str] | None = None) -> SampleSummary:
    """Generate and write one unit (a worker's whole job), for its `active` tasks only where given; a unit
    whose shard exists is not redone."""
    summary = SampleSummary(label, 1, 0)
    if store.has_shard("samples", label, unit.name):
        summary.units_skipped = 1
        return summary
    _run_units([unit], tasks, engine, store, label, config, summary, None, active)
    return summary



def unit_tasks(unit: Unit, tasks: Sequence[Task], config: SamplingConfig,
               active: Collection[str] | None = None) -> list[Task]:
    """The tasks of `unit`'s block (those in `active`, where given)."""
    first = unit.block * config.task_block
    return [t for t in tasks[first : first + config.task_block] if active is None or t.task_id in active]


def _unit_requests(unit: Unit, tasks: Sequence[Task], config: SamplingConfig,
                   active: Collection[str] | None = None) -> list[Request]:
    return [
        Request(
            key=f"{unit.name}|{task.task_id}",
            prompt=task.prompt,
            seeds=tuple(derive_seed(config.seed, task.task_id, j) for j in range(unit.start, unit.stop)),
            decoding=config.decoding,
            images=task.images,
        )
        for task in unit_tasks(unit, tasks, config, active)
    ]


def _run_units(units, tasks, engine, store, label, config, summary, on_progress, active=None) -> None:
    """Generate a window of units together; write each unit's shard when all its requests are done."""
    requests = {u: _unit_requests(u, tasks, config, active) for u in units}
    pending = {u: len(reqs) for u, reqs in requests.items()}
    results: dict[Unit, list[Result]] = {u: [] for u in units}
    owner = {r.key: u for u, reqs in requests.items() for r in reqs}
    for result in engine.generate([r for reqs in requests.values() for r in reqs]):
        unit = owner[result.request.key]
        results[unit].append(result)
        if on_progress and result.ok:
            on_progress(len(result.completions), sum(c.n_tokens or 0 for c in result.completions))
        pending[unit] -= 1
        if pending[unit] == 0:
            _finish_unit(unit, results.pop(unit), store, label, summary)


def _finish_unit(unit: Unit, results: list[Result], store: Store, label: str, summary) -> None:
    errors = [r.error for r in results if not r.ok]
    if errors:
        summary.failed.append((unit.name, errors[0]))
        return
    rows = []
    for result in results:
        task_id = result.request.key.split("|", 1)[1]
        for offset, completion in enumerate(result.completions):
            rows.append(Sample(label, task_id, unit.start + offset, completion.text, completion.n_tokens,
                               completion.finish_reason, completion.seed, unit.name))
    store.write([Shard("samples", label, to_table(rows, Sample), unit.name)])
    tokens = sum(row.n_tokens or 0 for row in rows)
    summary.samples_written += len(rows)
    summary.tokens_written += tokens


def _claim_run(store: Store, label: str, tasks, rendered, engine: dict, config: SamplingConfig) -> str | None:
    """Record this label's settings, or refuse if they differ from the run being resumed; a note
    when the label was claimed with other settings by a run that wrote no samples (claimed anew)."""
    digest = hashlib.sha256()
    for task, text in zip(tasks, rendered):
        digest.update(f"{task.task_id}\x1f{text}\x1e".encode())
        digest.update("".join(image.ref for image in task.images).encode())  # a changed picture, same text
    settings = checked(RunSettings, {
        "engine": engine,
        "decoding": config.decoding.as_dict(),
        "seed": config.seed,
        "task_block": config.task_block,
        "sample_block": config.sample_block,
        "n_tasks": len(tasks),
        "prompts_digest": digest.hexdigest()[:16],
        "adaptive": dict(config.adaptive) if config.adaptive else None,
    }, f"{store.root}: label {label!r}: the run's settings cannot be recorded")
    with store.changing_manifest() as manifest:  # read, compare and claim under one lock
        previous = manifest.runs.get(label)
        if previous is not None:
            differences = settings_differences(previous.settings.as_dict(), settings.as_dict())
            if differences and store.shard_paths("samples", label):
                refuse_other_settings(store, label, differences)
            if differences:  # claimed by a run that wrote nothing: nothing to keep consistent with
                manifest.runs[label] = Run(settings=settings, k=config.k)
                return (f"label {label!r} was claimed with other settings by a run that wrote no samples; "
                        "it now has this run's settings")
            manifest.raise_budget(label, config.k)
        else:
            manifest.runs[label] = Run(settings=settings, k=config.k)
    return None


def refuse_other_settings(store: Store, label: str, differences: list[str]) -> None:
    """The one refusal of a label whose samples were made with other run settings, naming each difference."""
    raise StoreError(f"{store.root}: label {label!r} was sampled with other settings; refusing to resume: "
                     + "; ".join(differences)
                     + " (use another label, or --reset-label to set its samples aside and start again)")


def settings_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Each setting that differs, as "path: old -> new" (nested settings by dotted path)."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += settings_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            what = "the prompts (task set, order, or rendered text)" if key == "prompts_digest" else f"{prefix}{key}"
            found.append(f"{what}: {a!r} -> {b!r}")
    return found


def _write_tasks(store: Store, label: str, tasks: Sequence[Task], rendered: Sequence[str],
                 replace: bool = False) -> None:
    """The label's prompts, once; `replace` (a re-claimed label) stores this run's as the latest rows. Their
    images first, once per digest in the whole store (`tether.store.images`)."""
    put_images(store, {image.digest: image.data for task in tasks for image in task.images})
    existing = store.shard_paths("tasks", label)
    if existing and not replace:
        return  # the prompts digest in the manifest guarantees they are the same
    records = [
        TaskRecord(label, t.task_id, t.benchmark, t.prompt_json(), text, t.reference_json(), t.verifier)
        for t, text in zip(tasks, rendered)
    ]
    store.write([Shard("tasks", label, to_table(records, TaskRecord), new_shard_name("update") if existing else "prompts")])

