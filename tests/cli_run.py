"""`tether …` run in this process (click's test runner over the same typer app): the same parsing, output
streams and exit codes as the installed command, without a Python start and the library imports per call,
which cost one to two seconds each on a 2-core machine. An exception the command lets escape (with
`--debug`) is printed on stderr as the interpreter would, exit 1.

Tests of what only a process shows (the imports at startup, Ctrl-C and kill -9, the demo end to end,
engines that configure logging) start `python -m tether` instead."""

import subprocess
import traceback
from contextlib import chdir, nullcontext

from typer.testing import CliRunner


def tether(*args, cwd=None, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    from tether.cli import app

    argv = [str(arg) for arg in args]
    with chdir(cwd) if cwd is not None else nullcontext():
        result = CliRunner().invoke(app, argv, input=input, env=env)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["tether", *argv], result.exit_code, result.stdout, stderr)


