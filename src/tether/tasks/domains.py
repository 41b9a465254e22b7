"""Which domain a benchmark belongs to, for the per-domain rows of a study (the paper's Table 1: Math, Non-Math).

A benchmark is a preset's name (a task id's first part, ``math500/...``). By default the math presets are
Math and every other benchmark is Non-Math; a study's ``[domains]`` section or ``--domains`` overrides any
benchmark (`domain_of`), and `parse_domains` reads those overrides from a TOML file or ``name=Domain`` pairs.
Nothing here reads a store: a task's benchmark comes from the caller.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from tether.errors import InputError
from tether.tasks.presets import PRESETS

MATH, NON_MATH = "Math", "Non-Math"
# the paper's math benchmarks are the presets graded by the math verifiers (text, and MathVista/MathVision's
# `vision_math`); every other preset is Non-Math
MATH_VERIFIERS = ("math", "vision_math")
DEFAULT_DOMAINS: dict[str, str] = {name: MATH if preset.verifier in MATH_VERIFIERS else NON_MATH
                                   for name, preset in PRESETS.items()}


def domain_of(benchmark: str, domains: Mapping[str, str] | None = None) -> str:
    """The domain of `benchmark`: an override in `domains` first, then `DEFAULT_DOMAINS`, else Non-Math."""
    if domains and benchmark in domains:
        return domains[benchmark]
    return DEFAULT_DOMAINS.get(benchmark, NON_MATH)


def benchmark_of_task(task_id: str) -> str:
    """A task's benchmark when nothing else says: its id's first part (``math500/12`` -> ``math500``), else
    ``all`` (an id without a '/')."""
    head, sep, _ = str(task_id).partition("/")
    return head if sep and head else "all"


def parse_domains(spec: str | Path | Mapping[str, str] | None) -> dict[str, str]:
    """Domain overrides from a TOML file (``benchmark = "Domain"`` entries, at the top or under ``[domains]``),
    from ``benchmark=Domain,...`` pairs, or from a mapping; {} for None."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return _checked(dict(spec), "domains")
    text = str(spec)
    if text.endswith(".toml") or Path(text).is_file():
        try:
            table = tomllib.loads(Path(text).read_text())
        except OSError as error:
            raise InputError(f"--domains {text}: cannot read it ({error.strerror or error})") from None
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"--domains {text}: not TOML ({error})") from None
        return _checked(table.get("domains", table), text)
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, domain = part.partition("=")
        if not sep or not name.strip() or not domain.strip():
            raise InputError(f"--domains: {part!r} is not benchmark=Domain (e.g. --domains "
                             "'scibench=Science,simpleqa=Knowledge', or a TOML file)")
        pairs[name.strip()] = domain.strip()
    return _checked(pairs, "--domains")


def _checked(table: Mapping, where: str) -> dict[str, str]:
    bad = [name for name, domain in table.items() if not isinstance(domain, str) or not domain.strip()]
    if bad:
        raise InputError(f"{where}: the domain of {bad[0]!r} must be a name (benchmark = \"Domain\")")
    return {str(name): domain.strip() for name, domain in table.items()}
