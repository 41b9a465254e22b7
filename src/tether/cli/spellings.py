"""The old spellings of `tether sample`, `grade` and `import`, read for one release (docs/cli.md, "Old spellings").

Each old spelling still given is said in one `deprecated` line naming the new one and mapped onto it, so it
has the same effect: ``--store DIR`` (now the STORE argument), the engine options once spelled as flags of
`tether sample` (now ``-o KEY=VALUE``), ``--ray-workers`` (now ``--workers``). The hidden typer options that
read them are declared here too, so the commands' signatures list them in one line each.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tether.cli.shell import deprecated
from tether.errors import InputError

OldStore = Annotated[str | None, typer.Option("--store", hidden=True, help="Deprecated: the STORE argument.")]

# `tether sample`'s old engine flags: flag -> the engine option it was
ENGINE_FLAGS = {"--base-url": "base_url", "--api": "api", "--api-key": "api_key", "--concurrency": "concurrency",
                "--n-per-request": "n_per_request", "--tokenizer": "tokenizer", "--request-timeout": "timeout",
                "--batch-size": "batch_size", "--device": "device", "--dtype": "dtype", "--threads": "threads"}


def _hidden(flag: str, reads: type) -> object:
    return Annotated[reads | None, typer.Option(flag, hidden=True, help=f"Deprecated: -o {ENGINE_FLAGS[flag]}=VALUE.")]


OldBaseUrl = _hidden("--base-url", str)
OldApi = _hidden("--api", str)
OldApiKey = _hidden("--api-key", str)
OldConcurrency = _hidden("--concurrency", int)
OldPerRequest = _hidden("--n-per-request", int)
OldTokenizer = _hidden("--tokenizer", str)
OldTimeout = _hidden("--request-timeout", float)
OldBatchSize = _hidden("--batch-size", int)
OldDevice = _hidden("--device", str)
OldDtype = _hidden("--dtype", str)
OldThreads = _hidden("--threads", int)
OldRayWorkers = Annotated[int | None, typer.Option("--ray-workers", hidden=True, help="Deprecated: --workers.")]


def store_argument(positional: str | None, old: str | None, command: str) -> str:
    """The store: the STORE argument, or the old ``--store`` (said, for one release); neither, or both, is one
    error line (exit 2, as for any missing argument)."""
    if old is not None:
        deprecated("--store", "the STORE argument")
        if positional is not None:
            raise InputError(f"the store is given twice ({positional} and --store {old}); give it once, as the "
                             f"STORE argument: tether {command} STORE ...")
        return old
    if positional is None:
        raise InputError(f"missing the STORE argument: tether {command} STORE ...")
    return positional


def said_engine_flags(**given) -> dict:
    """The engine options given as old flags (named by their option: ``base_url=...``), each said once in the
    words of the vocabulary's table of old spellings (`tether.cli.vocabulary.DEPRECATED`)."""
    from tether.cli.vocabulary import DEPRECATED, DEPRECATED_IN

    options = {}
    for flag, option in ENGINE_FLAGS.items():
        value = given.get(option)
        if value is not None:
            deprecated(flag, DEPRECATED.get(flag) or DEPRECATED_IN["sample", flag])  # --batch-size: sample's only
            options[option] = value
    return options


def old_engine_flags(engine: str, **given) -> dict:
    """`said_engine_flags`, leaving out, as before, those engine `engine` does not take."""
    from tether.engines import engine_options

    return engine_options(engine, said_engine_flags(**given))


def old_workers(workers: int, ray_workers: int | None) -> int:
    """``--workers``, or the old ``--ray-workers`` where given (said, for one release)."""
    if ray_workers is None:
        return workers
    deprecated("--ray-workers", "--workers")
    return ray_workers
