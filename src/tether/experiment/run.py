"""`tether run EXPERIMENT.toml`: the stages of one experiment file, run in order.

The file (schema: `tether.experiment.schema`) names the models (a base and the
model compared with it, or a study: any number compared with their bases), the
tasks, k and decoding, the verifier and the output store. The stages run in
order: sample (each base once, then each model compared with one), grade,
compare, diagnose, report; each is resumable and does nothing when already
complete, so re-running a finished experiment only re-prints its tables, and a
model added to the file is the only one sampled. Relative paths are relative to
the file's folder. See docs/experiment.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tether.errors import InputError
from tether.experiment.schema import Experiment, load_experiment
from tether.experiment.stages import maybe_path, ray_executor, resolve_model, sample_model
from tether.progress import ProgressFactory, silent


@dataclass
class StageLog:
    """What each stage did, in order: (stage, 'ran' | 'skipped', detail)."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)
    grading: object | None = None  # the grade stage's `GradeSummary` (its compliance and warnings)

    def add(self, stage: str, status: str, detail: str) -> None:
        self.entries.append((stage, status, detail))


def run_experiment(path: str | Path, on_stage: Callable[[str, str, str], None] | None = None,
                   progress: ProgressFactory = silent, on_graded: Callable[[object], None] | None = None):
    """Run (or resume) every stage of an experiment; returns (comparison, store path, stage log): the pair's
    `Comparison`, or where the file compares several models the `tether.compare.study.Study`.
    `on_graded` is handed the grade stage's `GradeSummary` as soon as grading ends (`tether run` prints it,
    with its format compliance and warnings)."""
    from tether.compare.store import compare_store, save_store_comparison
    from tether.grading import grade
    from tether.sampling.limits import check_run
    from tether.tasks import ColumnMap, load_tasks

    experiment, root = load_experiment(path)
    log = StageLog()

    def note(stage: str, status: str, detail: str) -> None:
        log.add(stage, status, detail)
        if on_stage:
            on_stage(stage, status, detail)

    store = store_location(root, experiment.store)
    spec = experiment.tasks
    tasks = load_tasks(maybe_path(root, spec.spec), data_dir=_resolve(root, spec.data_dir) if spec.data_dir else None,
                       columns=ColumnMap.parse(spec.columns), template=spec.template, verifier=spec.verifier,
                       limit=spec.limit)
    s = experiment.sampling
    config = s.config()
    check_run(config, len(tasks))  # before a model is loaded (the engine's context: once it is)
    executor = ray_executor(s.ray, s.workers, s.ray_gpus) if s.ray else None
    models = {}
    for label in experiment.bases + experiment.children:  # each base once, then the models compared with them
        section = experiment.models[label]
        model = models[label] = resolve_model(section.model, root, _noting(note, f"model {label}"), progress)
        rule = s.rule()
        with progress(f"sample {label}") as bar:
            summary = sample_model(tasks, section.engine, model, section.engine_options(), store, label,
                                   section.sampling(config), executor, _on_samples(bar), bar.start,
                                   getattr(bar, "in_flight", None),
                                   (rule, experiment.grading.options()) if rule else None)
        if summary.failed:
            raise InputError(f"sampling {label}: {len(summary.failed)} units failed, e.g. {summary.failed[0][1]}; "
                             "re-run to retry them")
        mark_checkpoint(store, label, experiment.checkpoint(label))
        status = "skipped" if summary.samples_written == 0 else "ran"
        if rule:
            note(f"sample {label}", status, f"adaptive: {summary.samples_written} samples written; "
                 f"{summary.stopped_early} of {len(summary.samples)} tasks stopped before k")
        else:
            note(f"sample {label}", status, f"{summary.samples_written} samples written, "
                 f"{summary.units_skipped} of {summary.units_total} units already done")
    g = experiment.grading
    with progress("grade") as bar:
        graded = grade(store, g.options(), on_progress=bar.advance, on_start=bar.start)
    if not graded.ok:
        task_id, detail = graded.failure_examples[0]
        raise InputError(f"grading: {graded.failed} samples could not be graded, e.g. {task_id}: {detail}; "
                         "re-run to retry them")
    done = sum(t.samples for t in graded.tallies.values())
    note("grade", "ran" if done else "skipped", f"{done} samples graded, {graded.verified} answers verified")
    log.grading = graded
    if on_graded and done:
        on_graded(graded)
    c = experiment.compare
    options = c.options()
    if experiment.study:
        return _study_stages(experiment, root, store, models, options, note, progress), store, log
    rl = experiment.children[0]
    pair = (experiment.base_of(rl), rl)
    compared = compare_store(store, *pair, options=options, self_label=c.self_label)
    save_store_comparison(compared, store)
    result = compared.overall
    note("compare", "ran", f"written to {store}/compare")
    _likelihood_stage(experiment, store, models, pair, note, progress)
    _diagnose_stage(experiment, root, store, models, pair, note, progress)
    if experiment.report.enabled:
        from tether.report import build_report

        files = build_report(store, _resolve(root, experiment.report.out), base_label=pair[0], rl_label=pair[1],
                             options=options, comparison=compared)
        note("report", "ran", f"written to {files.html}")
    else:
        note("report", "skipped", "disabled in the file")
    return result, store, log


def _study_stages(experiment: Experiment, root: Path, store: str | Path, models: dict[str, str], options, note,
                  progress: ProgressFactory):
    """A file with several models compared with their bases: the study (`tether.compare.study`), kept in
    ``<store>/compare/`` (study.json, study.csv), then each model's diagnostics and the study's report
    (`tether.report.study`); the likelihood is a pair's and says so."""
    from tether.compare.store import save_store_study
    from tether.compare.study import Child, compare_study
    from tether.store import is_remote

    children = [Child(label, experiment.base_of(label), *(experiment.checkpoint(label) or (None, None)))
                for label in experiment.children]
    study = compare_study(store, children, options=options, domains=dict(experiment.domains))
    if is_remote(store):
        note("compare", "ran", f"{len(children)} models against their bases (an object-storage store: not saved)")
    else:
        save_store_study(study, store)
        note("compare", "ran", f"{len(children)} models against their bases; written to {store}/compare/study.json")
    if experiment.compare.self_label is not None:
        note("self", "skipped", "[compare] self is a pair's noise floor; a study's chance levels are in its cells")
    note("likelihood", "skipped", "disabled in the file" if not experiment.likelihood.enabled else
         "a pair's stage: run `tether likelihood` on a base and one of its models")
    _diagnose_stage(experiment, root, store, models, tuple(experiment.bases + experiment.children), note, progress)
    if experiment.report.enabled:
        from tether.report.study import build_study_report

        files = build_study_report(study, _resolve(root, experiment.report.out))
        note("report", "ran", f"written to {files.html}")
    else:
        note("report", "skipped", "disabled in the file")
    return study


def _noting(note, stage: str) -> Callable[[str], None]:
    """`note(stage, "ran", text)` as a one-argument callback (a model's own stage: the lab pair trained or reused)."""
    return lambda text: note(stage, "ran", text)


def mark_checkpoint(store: str | Path, label: str, checkpoint: tuple[str, int] | None) -> None:
    """Record sampled `label` as the training run's checkpoint (run, step) the file (or `tether sample --run
    --step`) names it (`Manifest.checkpoint` reads it)."""
    from tether.store import open_store

    if checkpoint is None:
        return
    opened = open_store(store)
    if opened.manifest().checkpoint(label) == checkpoint:
        return
    with opened.changing_manifest() as manifest:
        manifest.mark_checkpoint(label, *checkpoint)


def _likelihood_stage(experiment: Experiment, store: Path, models: dict[str, str], pair: tuple[str, str], note,
                      progress: ProgressFactory) -> None:
    """Each model's chance on the tasks only the other solved (scores already in the store are reused)."""
    from tether.likelihood import cross_likelihood, load_likelihood, save_likelihood

    lk = experiment.likelihood
    if not lk.enabled:
        note("likelihood", "skipped", "disabled in the file")
        return
    before = load_likelihood(store)
    built: dict[str, object] = {}

    def engine(label: str):  # each model once; closed here after the stage
        if label not in built:
            built[label] = _file_engine(experiment, models, label)
        return built[label]

    try:
        result = cross_likelihood(store, *pair, regions=tuple(lk.regions), p_tasks=lk.p_tasks,
                                  max_completions=lk.max_completions, threshold=lk.threshold, engines=engine,
                                  progress=progress)
    finally:
        for made in built.values():
            made.close()
    save_likelihood(result, store)
    note("likelihood", "ran" if result.scored or before is None else "skipped",
         f"{len(result.tasks)} tasks, {result.scored} completions scored")


def _file_engine(experiment: Experiment, models: dict[str, str], label: str):
    """The engine of `label` as the experiment file gives it (engine, options) on its resolved model."""
    from tether.engines import make_engine

    section = experiment.models[label]
    return make_engine(section.engine, models[label], **section.engine_options())


def _diagnose_stage(experiment: Experiment, root: Path, store: Path, models: dict[str, str], labels: tuple[str, ...],
                    note, progress: ProgressFactory) -> None:
    """avg@k and entropies (and perplexity on traces: a pair's, by support region) of each of `labels`, unless
    disabled or already in the store (avg@k and answer entropy as the current verdicts give them; perplexity by
    region again where the verdicts changed since)."""
    from tether.diagnostics import current_diagnostics, diagnose, read_traces
    from tether.store import open_store

    d = experiment.diagnostics
    if not d.enabled:
        note("diagnose", "skipped", "disabled in the file")
        return
    opened = open_store(store)
    pair = len(labels) == 2
    traced = bool(d.traces) and pair  # perplexity is by support region: a pair's
    wanted = {"avg_at_k"} | ({"token_entropy"} if d.token_entropy else set()) | ({"perplexity"} if traced else set())
    found = current_diagnostics(opened)
    done = {(r.model, r.metric) for r in found.rows if (r.requested_k if r.requested_k is not None else r.k)
            in (d.k, None)} - {(r.model, r.metric) for r in found.stale}
    todo = [label for label in labels if any((label, metric) not in done for metric in wanted)]
    untraced = [] if traced or not d.traces else ["perplexity on traces is by support region, a pair's: not in a study"]
    if not todo:
        note("diagnose", "skipped", "; ".join(["already in the store", *found.notes, *untraced]))
        return
    todo = list(labels) if pair else todo  # a pair's regions need both
    traces = read_traces(_resolve(root, d.traces)) if traced else None
    token_entropy = d.token_entropy and not all((label, "token_entropy") in done for label in todo)
    diagnose(opened, tuple(todo), k=d.k, traces=traces, token_entropy_on=token_entropy, batch=d.batch_size,
             engines=lambda label: _file_engine(experiment, models, label),
             progress=progress)
    which = "both models" if pair else f"{', '.join(todo)}"
    note("diagnose", "ran", "; ".join([f"{', '.join(sorted(wanted))} of {which}", *untraced]))


def _on_samples(bar):
    """Sampling's `on_progress(samples, tokens)` for a progress bar: the bar's own where it counts tokens too (the
    CLI's meters: their tok/s counts every generated token, not only those of a batch in flight), else samples."""
    return getattr(bar, "on_progress", None) or (lambda samples, _tokens: bar.advance(samples))


def store_location(root: Path, store: str) -> str | Path:
    """The experiment's store: an object-storage URL as it is, else a folder relative to the file."""
    from tether.store import is_remote

    return store if is_remote(store) else _resolve(root, store)


def _resolve(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path
