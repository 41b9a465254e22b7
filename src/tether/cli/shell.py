"""What every `tether` command shares: the typer app, the two consoles, progress bars, and the one place
deliberate errors become one line on stderr with exit code 2 (a traceback only with `--debug`)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from tether._version import __version__
from tether.cli.progress import DEFAULT_EVERY, Bars
from tether.errors import TetherError, written_to

app = typer.Typer(
    name="tether",
    help="Did RL expand what your model can solve, or only sharpen what the base model could already sample?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text as written: "[default: base]" is text, not a markup tag
    add_completion=False,
)
_state = {"debug": False, "progress_every": DEFAULT_EVERY}
# markup off: paths, labels and messages print as they are (a "[red]" in a file name stays text)
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, markup=False)
stderr = Console(stderr=True, soft_wrap=True, markup=False)


def styled(prefix: str, style: str, rest: str) -> Text:
    return Text.assemble((prefix, style), rest)


def _version(value: bool) -> None:
    if value:
        print(f"tether {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    progress_every: Annotated[float, typer.Option(
        envvar="TETHER_PROGRESS_EVERY", min=0.01,
        help="Seconds between progress lines when stderr is not a terminal (a log, a SLURM job).")] = DEFAULT_EVERY,
) -> None:
    _state["debug"] = debug
    _state["progress_every"] = progress_every


def bars() -> Bars:
    """Progress on stderr: live bars on a terminal, plain lines every --progress-every seconds in a log."""
    return Bars(stderr, _state["progress_every"])


@contextlib.contextmanager
def friendly_errors(writing: str | Path | None = None, resume: str | None = None) -> Iterator[None]:
    """One line on stderr and exit 2 for bad input; 130 for Ctrl-C. `writing`: where the command writes, named
    when the disk refuses a write whose own message names no file (a full disk); `resume`: how a long command
    goes on after Ctrl-C, said after it."""
    try:
        with written_to(writing):
            yield
    except (TetherError, OSError) as exc:
        if _state["debug"]:
            raise
        stderr.print(styled("error:", "red", f" {exc}"), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        stderr.print("interrupted; everything already written is kept" + (f"; {resume}" if resume else ""),
                     highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None


def int_list(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None


def names(text: str | None) -> tuple[str, ...] | None:
    """A comma list of names (None when not given)."""
    return None if text is None else tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


def engine_registry_name(given: str, engine_name) -> str:
    """The registry name of an engine, saying on stderr when the given one is deprecated."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        name = engine_name(given)
    for warning in caught:
        stderr.print(styled("warning:", "yellow", f" {warning.message}"), highlight=False)
    return name


def warn(message: str) -> None:
    """One ``warning:`` line on stderr (stdout stays the result's)."""
    stderr.print(styled("warning:", "yellow", f" {message}"), highlight=False, soft_wrap=True)


def deprecated(old: str, new: str) -> None:
    """The one line an old spelling gets: it still works for one release (docs/cli.md, "Old spellings")."""
    warn(f"{old} is deprecated and goes in the next release; use {new}")


def emit_json(document: dict) -> None:
    """`--json`: exactly one JSON object on stdout, one line (NaN refused: it is not JSON)."""
    sys.stdout.write(json.dumps(document, allow_nan=False, default=str) + "\n")


EngineOptions = Annotated[list[str] | None, typer.Option(
    "--option", "-o", metavar="KEY=VALUE",
    help="An engine option (repeatable), checked against the engine's own options: `tether engines` lists them, "
         "e.g. -o batch_size=16 -o dtype=bfloat16, or -o base_url=http://127.0.0.1:8000/v1 for openai.")]
