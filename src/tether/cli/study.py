"""`tether compare STORE --rl a --rl b`: the study path of `tether compare` (several children of one base,
``--domains`` or ``--pair``), a few lines over `tether.compare.study`; one `--rl` stays today's comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tether.errors import TetherError

Domains = Annotated[str | None, typer.Option(
    "--domains", metavar="FILE.toml|BENCHMARK=DOMAIN,...",
    help="Group benchmarks into domains other than the default (math presets: Math; the others: Non-Math): a "
         "TOML file of benchmark = \"Domain\" entries, or benchmark=Domain pairs. Makes the comparison a study.")]
Pair = Annotated[list[str] | None, typer.Option(
    "--pair", metavar="A,B",
    help="Two children of one base (among --rl) side by side, with a paired test of their difference (the "
         "study's pair table; by default a base's two children where it has two). Repeatable: one table per "
         "pair, every test in the study's one family. Makes the comparison a study.")]


def is_study(rl: list[str] | None, domains: str | None, pair: list[str] | None = None) -> bool:
    """Whether `tether compare` is a study: several --rl, a pattern among them, --domains or --pair."""
    return domains is not None or bool(pair) or (
        rl is not None and (len(rl) > 1 or any(c in p for p in rl for c in "*?[")))


def run_study(store: str | None, rl: list[str] | None, base: str | None, options, domains: str | None, *,
              rl_source: str | None, self_label: str | None, verifiers: str | None, out: Path | None,
              pair: list[str] | None = None):
    """The study of the children `rl` names (patterns such as 'grpo-*' expanded over the store's graded labels,
    natural order; default: rl) against `base` in `store` (opened once), each of `pair` ("a,b") side by side, kept
    in the store's compare/ folder as `tether run` keeps it and written to `out`."""
    from tether.compare.store import keep_study
    from tether.compare.study import Child, child_labels, compare_study, save_study
    from tether.store import open_store
    from tether.tasks.domains import parse_domains

    if store is None or rl_source is not None:
        raise TetherError("several --rl labels are a study of one STORE; RL_SOURCE compares two sources only")
    if self_label is not None or verifiers is not None:
        raise TetherError("--self and --verifiers compare one pair: give one --rl (a study compares every child "
                          "with its base)")
    opened = open_store(store)  # once, for the labels and the study
    children = child_labels(opened, rl or ["rl"], base or "base")
    study = compare_study(opened, [Child(label, base or "base") for label in children], options=options,
                          domains=parse_domains(domains), pairs=pair or None)
    not_kept = keep_study(study, opened)  # in the store, as `tether run` keeps it
    if not_kept:
        study.warnings.append(not_kept)
    if out is not None:
        save_study(study, out)
    return study
