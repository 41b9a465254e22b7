"""The compared pair's labels, `--base LABEL` and `--rl LABEL`, the same in compare, report, likelihood and plan;
their old spellings `--base-label`/`--rl-label` work for one release (hidden, one deprecation line each)."""

from __future__ import annotations

from typing import Annotated

import typer

from tether.cli.shell import deprecated

Base = Annotated[str | None, typer.Option(
    "--base", metavar="LABEL", help="Label of the base model in the store [default: base].")]
Rl = Annotated[str | None, typer.Option(
    "--rl", metavar="LABEL", help="Label of the RL model in the store [default: rl].")]
OldBase = Annotated[str | None, typer.Option("--base-label", hidden=True, help="Deprecated spelling of --base.")]
OldRl = Annotated[str | None, typer.Option("--rl-label", hidden=True, help="Deprecated spelling of --rl.")]


def pair(base: str | None, rl: str | None, old_base: str | None, old_rl: str | None,
         default: tuple[str | None, str | None] = ("base", "rl")) -> tuple[str | None, str | None]:
    """The labels compared: --base/--rl, else their old spellings (said to be deprecated), else `default`."""
    if old_base is not None:
        deprecated("--base-label", "--base")
    if old_rl is not None:
        deprecated("--rl-label", "--rl")
    base = base if base is not None else old_base
    rl = rl if rl is not None else old_rl
    return (base if base is not None else default[0]), (rl if rl is not None else default[1])
