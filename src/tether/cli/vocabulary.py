"""The command line's one vocabulary: each flag names one concept, the same in every command (docs/cli.md).

`FLAGS` maps every visible flag to what it means; `DEPRECATED` every old spelling (hidden, still working
for one release with a one-line warning) to its replacement. `vocabulary_problems` reads every command's
parameters and lists each place that breaks the rules, so a new flag is a deliberate entry here:

- a command that reads or writes a store takes it as its first argument, STORE;
- every command has ``--json`` (exactly one JSON object on stdout);
- ``--out`` is always an option naming a folder of outputs;
- a flag reads one type everywhere (repeatable or not); only old spellings are hidden; short options are ``-o`` and ``-y`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

FLAGS: dict[str, str] = {
    # where and what
    "--model": "the checkpoint a command loads: a path, a hub id, lab:NAME, or a server's model name",
    "--tasks": "a task spec: a preset, reasoning-gym:NAME, hf:ID, lab-sums:…, or a file",
    "--label": "the model label(s) a command writes or acts on",
    "--base": "the label of the base model of the pair compared",
    "--rl": "the label of the RL model of the pair compared (compare: repeatable, or a pattern, for a study)",
    "--engine": "the engine's registry name: transformers, vllm or openai",
    "--option": "an engine option, KEY=VALUE (repeatable; `tether engines` lists them)",
    "--out": "a folder of outputs",
    "--json": "print the result as exactly one JSON object on stdout",
    # tasks
    "--data-dir": "local copies of preset datasets",
    "--columns": "the column mapping of task files and datasets",
    "--template": "prompt rendering: auto, chat or plain",
    "--verifier": "the verifier that grades the tasks (a comma list in grade: one verdict set each)",
    "--limit": "only the first N tasks",
    # sampling
    "--k": "samples per task",
    "--temperature": "sampling temperature",
    "--top-p": "nucleus sampling's probability mass",
    "--max-tokens": "tokens per completion at most",
    "--stop": "a stop string (repeatable)",
    "--seed": "the seed of the command's randomness",
    "--task-block": "tasks per unit of sampling work",
    "--sample-block": "samples per task per unit of sampling work",
    "--ray": "run the work on Ray: local, auto or a cluster address",
    "--workers": "worker processes, or Ray actors with --ray, doing the stage's work",
    "--ray-gpus": "GPUs per Ray worker",
    "--adaptive": "sample in rounds and stop a task once settled",
    "--adaptive-rule": "the adaptive stopping rule: passk or regions",
    "--adaptive-first": "the adaptive rule's first round",
    "--adaptive-growth": "the adaptive rule's growth between rounds",
    "--adaptive-tol": "the adaptive rule's tolerance on pass@k",
    "--reset-label": "set a label's samples aside and sample it anew",
    "--run": "with --step: the training run a sampled label is a checkpoint of",
    "--step": "with --run: the training step of that checkpoint",
    "--yes": "do not ask",
    # grading
    "--timeout": "the math verifier's timeout in seconds",
    "--strict": "explicit answers only",
    "--extraction": "reasoning_gym's answer extraction: fair or strict",
    "--unsafe-local-exec": "code: run programs with resource limits only where bubblewrap cannot isolate them",
    "--judge-model": "the judge's model name",
    "--judge-base-url": "the judge server's URL",
    "--judge-api-key": "the judge server's API key",
    "--judge-template": "the judge's grading template file",
    "--judge-retries": "retries of a failed judge request",
    "--judge-check": "grade the judge's calibration set and stop",
    "--regrade": "grade stored verdicts again",
    "--status": "the verdict statuses --regrade grades again",
    "--update-tasks": "accept changed reference answers",
    "--format": "the format of an imported file",
    "--metric": "a harness file's 0/1 metric",
    "--filter": "an lm-eval file's filter",
    "--benchmark": "a harness file's or verl dump's benchmark name",
    "--correct-threshold": "the score from which a sample is correct (import: verl's scores; grade: livebench's partial credit)",
    # comparing
    "--k-grid": "the k values of pass@k",
    "--allow-missing": "drop tasks present in only one model, with a warning",
    "--bootstrap-reps": "bootstrap replicates",
    "--confidence": "the intervals' confidence level",
    "--alpha": "the false discovery rate of the per-task tests",
    "--match-budget": "compare both models at each task's smaller budget",
    "--extrapolate": "doublings of k past the grid to estimate",
    "--self": "also compare a label against itself (the noise floor)",
    "--intervals": "what the intervals cover: tasks or fixed",
    "--verifiers": "the verdict sets whose regions to show side by side",
    "--domains": "a study's grouping of benchmarks into domains",
    "--pair": "two children of a study side by side, with a paired test of their difference",
    "--region": "a support region: P, S, E or O",
    "--completions": "completions shown per label and task",
    "--correct": "only the correct completions (--incorrect: only the others)",
    "--full": "whole texts, not cut",
    # estimates and planning
    "--regions": "the regions whose tasks to estimate",
    "--p-tasks": "P tasks estimated as a check",
    "--max-completions": "samples used per task, up to the N-th correct one",
    "--threshold": "the chance above which a task is 'rare but reachable'",
    "--scorer": "LABEL=MODEL: the model that scores a label's text",
    "--traces": "reference traces for perplexity",
    "--token-entropy": "teacher-force the samples for token entropy",
    "--batch-size": "completions per scoring call",
    "--throughput": "generated tokens per second per GPU",
    "--mean-tokens": "the mean completion length in tokens",
    "--epsilon": "the detectable probability",
    "--delta": "the allowed chance of missing it",
    # whole runs and tools
    "--check": "validate and plan only",
    "--repair": "quarantine what is damaged",
    "--quick": "the smaller demo",
    "--train": "train the demo's pair here",
    "--version": "print the version",
    "--debug": "show tracebacks",
    "--progress-every": "seconds between progress lines in a log",
    "--help": "help",
}

DEPRECATED: dict[str, str] = {
    "--store": "the STORE argument",
    "--base-label": "--base",
    "--rl-label": "--rl",
    "--reps": "--bootstrap-reps",
    "--ray-workers": "--workers",
    "--first": "--adaptive-first",
    "--growth": "--adaptive-growth",
    "--tol": "--adaptive-tol",
    "--max-tasks": "--limit",
    "--base-url": "-o base_url=…",
    "--api": "-o api=…",
    "--api-key": "-o api_key=…",
    "--concurrency": "-o concurrency=…",
    "--n-per-request": "-o n_per_request=…",
    "--tokenizer": "-o tokenizer=…",
    "--request-timeout": "-o timeout=…",
    "--device": "-o device=…",
    "--dtype": "-o dtype=…",
    "--threads": "-o threads=…",
}
# flags that are old spellings in one command and the current word in another
DEPRECATED_IN: dict[tuple[str, str], str] = {
    ("sample", "--batch-size"): "-o batch_size=…",
    ("likelihood", "--tasks"): "--regions",
    ("diagnose", "--model"): "--scorer",
    ("import", "--model"): "--label",
}

STORE_COMMANDS = frozenset({"sample", "import", "grade", "compare", "show", "report", "likelihood", "diagnose",
                            "plan", "check"})
SHORT_OPTIONS = frozenset({"-o", "-y"})


@dataclass(frozen=True)
class Problem:
    command: str
    detail: str

    def __str__(self) -> str:
        return f"tether {self.command}: {self.detail}"


def vocabulary_problems(group) -> list[Problem]:
    """Every place where a command of `group` (a click group: ``typer.main.get_command(app)``) breaks the rules."""
    problems: list[Problem] = []
    types: dict[str, tuple[str, str]] = {}
    for name, command in sorted(group.commands.items()):
        problems += [Problem(name, detail) for detail in _command_problems(name, command)]
        for param in command.params:
            if param.param_type_name != "option" or param.hidden:
                continue
            flag, kind = _long(param), _type_name(param).removeprefix("list[").removesuffix("]")  # repeatable: same
            seen = types.setdefault(flag, (name, kind))
            if seen[1] != kind:
                problems.append(Problem(name, f"{flag} is {kind} here but {seen[1]} in `tether {seen[0]}`"))
    return problems


def _command_problems(name: str, command) -> list[str]:
    found = []
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option"]
    if name in STORE_COMMANDS and (not arguments or arguments[0].name != "store"):
        found.append("the store must be the first argument, STORE")
    for param in arguments:
        if not param.hidden and param.metavar != param.name.upper():
            found.append(f"argument {param.name} shows as {param.metavar!r}, not {param.name.upper()!r}")
    if name not in STORE_COMMANDS and any(p.name == "store" for p in command.params):
        found.append("takes a store but is not listed in STORE_COMMANDS")
    if not any("--json" in p.opts for p in options):
        found.append("has no --json")
    for param in arguments:
        if param.name == "out" and not param.hidden:
            found.append("OUT is an argument; --out is an option naming a folder")
    for param in options:
        flag = _long(param)
        if flag == "--out" and _type_name(param) != "Path":
            found.append("--out must name a folder (a path)")
        if param.hidden:
            if flag not in DEPRECATED and (name, flag) not in DEPRECATED_IN:
                found.append(f"{flag} is hidden but not an old spelling in DEPRECATED")
        elif flag in DEPRECATED or (name, flag) in DEPRECATED_IN:
            found.append(f"{flag} is an old spelling: hide it (its replacement: "
                         f"{DEPRECATED.get(flag) or DEPRECATED_IN[name, flag]})")
        elif flag not in FLAGS:
            found.append(f"{flag} is not in the vocabulary (tether.cli.vocabulary.FLAGS)")
        short = [opt for opt in param.opts + param.secondary_opts if not opt.startswith("--")]
        for opt in short:
            if opt not in SHORT_OPTIONS:
                found.append(f"{opt}: short options are {', '.join(sorted(SHORT_OPTIONS))} only")
    return found


def _long(param) -> str:
    return next(opt for opt in param.opts if opt.startswith("--"))


def _type_name(param) -> str:
    """The Python type a parameter reads (`str`, `int`, `Path`, `list[str]`…), None left out."""
    import types
    import typing

    annotation = param.type_descriptor.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    origin = typing.get_origin(annotation)
    if origin is list:
        return f"list[{typing.get_args(annotation)[0].__name__}]"
    return getattr(annotation, "__name__", str(annotation))
