"""`tether run`, `tether demo`, `tether check` and `tether convert-gguf`: whole experiments, the offline demo, store checks, checkpoints."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from tether import defaults
from tether.cli.shell import app, bars, deprecated, emit_json, friendly_errors, stderr, stdout, styled
from tether.errors import TetherError


@app.command("run")
def run_cmd(
    experiment: Annotated[Path, typer.Argument(metavar="EXPERIMENT", help="The experiment's TOML file (see docs/experiment.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison (with --check: the plan) as one JSON object on stdout.")] = False,
    check: Annotated[bool, typer.Option(help="Only validate the file and print the plan: tasks, samples, tokens and GPU hours; loads no model.")] = False,
    throughput: Annotated[float, typer.Option(help="With --check: generated tokens per second per GPU, for the GPU-hour estimate.")] = defaults.THROUGHPUT,
    mean_tokens: Annotated[int | None, typer.Option(help="With --check: the mean completion length in tokens [default: max_tokens, the upper bound].", min=1)] = None,
) -> None:
    """Run an experiment file: sample each model, grade, compare (a pair, or a study of several models); each stage resumes or is skipped when done."""
    from tether.cli.render import render_comparison, render_grade_summary
    from tether.experiment import run_experiment

    _old_keys(experiment)
    if check:
        from tether.cli.render import render_plan
        from tether.experiment.plan import plan_experiment

        with friendly_errors():
            plan = plan_experiment(experiment, throughput, mean_tokens)
        if as_json:
            emit_json(plan.to_dict())
        else:
            render_plan(plan, stdout)
        return

    def stage(name: str, status: str, detail: str) -> None:
        stderr.print(styled(name, "bold", f": {status} ({detail})"), highlight=False)

    def graded(summary) -> None:  # on stderr: stdout holds the comparison (one JSON object with --json)
        render_grade_summary(summary, stderr)

    with friendly_errors(resume=f"re-run `tether run {experiment}` to resume (finished stages are skipped)"):
        result, store, _ = run_experiment(experiment, on_stage=stage, progress=bars(), on_graded=graded)
    from tether.compare.study import Study

    if isinstance(result, Study):  # several models compared with their bases (docs/study.md)
        from tether.cli.render_study import render_study

        if as_json:
            emit_json(result.to_dict())
        else:
            render_study(result, stdout)
            stdout.print(f"store: {store}", highlight=False)
        return
    if as_json:
        emit_json(result.to_dict())
    else:
        render_comparison(result, stdout)
        stdout.print(f"store: {store}", highlight=False)
    if not sum(n for region, n in result.counts.as_dict().items() if region != "O"):
        stderr.print(styled("warning:", "bold red", f" every one of the {len(result.task_ids)} tasks is out of "
                                                     "support (O): neither model solved any, so the regions say "
                                                     "nothing about what RL did (the grading summary's format compliance and "
                                                     "examples say why)"),
                     highlight=False)


def _old_keys(path: Path) -> None:
    """One deprecation line for each key the file still spells the old way (a file that does not load says
    so when it is run)."""
    from tether.experiment import load_experiment

    try:
        experiment, _ = load_experiment(path)
    except TetherError:
        return
    for old, new in experiment.deprecations:
        deprecated(f"{path}: {old}", new)


PAIRS = {"shipped": "model pair: the lab pair shipped with tether (the same on every machine, so are the exact "
                     "expectations below)",
         "trained": "model pair: trained on this machine just now (--train); the exact expectations below are this "
                    "pair's, not the shipped one's",
         "cached": "model pair: trained on this machine earlier (cached); the exact expectations below are this pair's"}


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Output folder: the experiment, its store, the report and exact.json.")] = Path("tether-demo"),
    quick: Annotated[bool, typer.Option(help="A smaller pair and setting (about a minute).")] = False,
    seed: Annotated[int | None, typer.Option(
        help="Sampling seed [default: the bundled experiment's]; the run is deterministic given it.")] = None,
    train: Annotated[bool, typer.Option(help="Train the base and RL pair from scratch on this machine instead of using the shipped one.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result (where everything is, the comparison, the exact analysis) as one JSON object on stdout.")] = False,
) -> None:
    """The lab's whole story offline on CPU: a tiny base and RL pair (shipped, or --train), sampled, graded, compared, and every probability computed exactly."""
    from tether.cli.render import render_answer_stats, render_comparison, render_diagnostics, render_lab_analysis
    from tether.experiment.demo import run_demo

    last = [time.perf_counter()]

    def stage(name: str, status: str, detail: str) -> None:  # called as each stage ends: its time since the last
        now = time.perf_counter()
        stderr.print(styled(name, "bold", f": {status} ({detail}; {now - last[0]:.1f} s)"), highlight=False)
        last[0] = now

    with friendly_errors():
        result = run_demo(out, quick=quick, seed=seed, on_stage=stage, progress=bars(), train=train)
    if as_json:
        emit_json(result.to_dict())
        return
    stdout.print(PAIRS[result.pair], highlight=False)
    render_comparison(result.comparison, stdout)
    render_lab_analysis(result.analysis, result.comparison, stdout)
    render_answer_stats(result.answers, result.analysis, stdout)
    render_diagnostics(result.diagnostics, stdout)
    stdout.print(f"done in {result.seconds:.0f} s; outputs in {result.folder.resolve()} "
                 f"(report: {result.report.resolve()})", highlight=False)


@app.command("check")
def check_cmd(
    store: Annotated[str, typer.Argument(metavar="STORE", help="The store to check (a folder or an object-storage URL).")],
    repair: Annotated[bool, typer.Option(help="Quarantine bad, copied and uncommitted shards (moved, never deleted) and remove temporary files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings (problems, warnings, ok) as one JSON object on stdout.")] = False,
) -> None:
    """Check a store: readable shards, every (task, sample) once, no leftovers; --repair fixes what it can."""
    from tether.store.check import check_location

    with friendly_errors():
        report = check_location(store, repair)  # a lost or unreadable manifest is a finding too
    if as_json:
        emit_json(report.to_dict())
        if not report.ok:
            raise typer.Exit(1)
        return
    for problem in report.problems:
        state = "repaired" if problem.repaired else "problem"
        stdout.print(f"{state}: {problem.kind}: {problem.where}: {problem.detail}", highlight=False)
    for warning in report.warnings:  # fixed by `tether grade`; the store is not damaged
        stdout.print(styled("warning:", "yellow", f" {warning.kind}: {warning.where}: {warning.detail}"),
                     highlight=False)
    verdict = "ok" if report.ok else "problems left (see above)"
    if report.warnings:
        verdict += f"; {len(report.warnings)} warning{'s' if len(report.warnings) > 1 else ''} (see above)"
    unproven = f" ({report.unsealed} written before seals: read, not proven byte for byte)" if report.unsealed else ""
    stdout.print(f"{report.root}: {report.shards} shards checked{unproven}; {verdict}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("convert-gguf")
def convert_gguf_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A GGUF checkpoint file (.gguf), quantized or not.")],
    old_out: Annotated[Path | None, typer.Argument(metavar="OUT", hidden=True, help="Deprecated: --out.")] = None,
    out: Annotated[Path | None, typer.Option(help="A new folder for the converted checkpoint.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the folder written as one JSON object on stdout.")] = False,
) -> None:
    """Convert a GGUF checkpoint once into a float32 safetensors folder that every engine loads in about a second."""
    from tether.engines.gguf import check_conversion, convert_gguf

    with friendly_errors():
        if old_out is not None:
            if out is not None:
                raise TetherError("give the folder once, with --out FOLDER")
            deprecated("the OUT argument", "--out FOLDER")
            out = old_out
        if out is None:
            raise TetherError("name a new folder for the converted checkpoint with --out FOLDER")
        check_conversion(file, out)
        started = time.perf_counter()
        folder = convert_gguf(file, out)
    seconds = time.perf_counter() - started
    if as_json:
        emit_json({"folder": str(folder), "source": str(file), "seconds": seconds})
    else:
        stdout.print(f"wrote {folder} (float32 safetensors and tokenizer) in {seconds:.0f} s; "
                     f"sample it with --model {folder}", highlight=False)
