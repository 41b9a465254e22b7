"""One command line (issue 32): every command's parameters read against `tether.cli.vocabulary`, the checker
checked on a rogue command, and docs/cli.md naming every flag, old spelling and command."""

from pathlib import Path
from typing import Annotated

import typer

from tether.cli import app
from tether.cli.vocabulary import DEPRECATED, DEPRECATED_IN, FLAGS, vocabulary_problems

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(application: typer.Typer):
    return typer.main.get_command(application)


def test_every_command_keeps_the_vocabulary():
    problems = vocabulary_problems(_commands(app))
    assert not problems, "\n".join(map(str, problems))


def test_the_check_sees_a_rogue_command():
    rogue = typer.Typer()

    @rogue.command("compare")  # a store command taking the store as a flag, without --json
    def compare(store: Annotated[str, typer.Option()], out: Annotated[str, typer.Argument()],
                base_label: Annotated[str, typer.Option()] = "base", reps: Annotated[int, typer.Option("--reps", "-r")] = 1,
                colour: Annotated[bool, typer.Option()] = False):
        pass

    @rogue.command("bound")  # --k read as text where the vocabulary has it as a number
    def bound(k: Annotated[str, typer.Option()] = "1", json: Annotated[bool, typer.Option("--json")] = False):
        pass

    @rogue.command("plan")
    def plan(store: Annotated[str, typer.Argument()], k: Annotated[int, typer.Option()] = 1,
             json: Annotated[bool, typer.Option("--json")] = False,
             tol: Annotated[float, typer.Option(hidden=True)] = 0.1, secret: Annotated[int, typer.Option(hidden=True)] = 0):
        pass

    found = {str(problem) for problem in vocabulary_problems(_commands(rogue))}
    assert found == {
        "tether compare: the store must be the first argument, STORE",
        "tether compare: has no --json",
        "tether compare: OUT is an argument; --out is an option naming a folder",
        "tether compare: argument out shows as None, not 'OUT'",
        "tether plan: argument store shows as None, not 'STORE'",
        "tether compare: --store is an old spelling: hide it (its replacement: the STORE argument)",
        "tether compare: --base-label is an old spelling: hide it (its replacement: --base)",
        "tether compare: --reps is an old spelling: hide it (its replacement: --bootstrap-reps)",
        "tether compare: -r: short options are -o, -y only",
        "tether compare: --colour is not in the vocabulary (tether.cli.vocabulary.FLAGS)",
        "tether plan: --secret is hidden but not an old spelling in DEPRECATED",
        "tether plan: --k is int here but str in `tether bound`",
    }


def test_docs_name_every_command_flag_and_old_spelling():
    text = DOCS.read_text()
    for name in _commands(app).commands:
        assert f"`tether {name}" in text, name
    for flag in [*FLAGS, *DEPRECATED, *(flag for _, flag in DEPRECATED_IN)]:
        assert f"`{flag}" in text, flag
