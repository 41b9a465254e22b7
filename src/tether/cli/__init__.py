"""The `tether` command line: thin typer commands over the public library functions.

Every command does its work through a function importable from `tether`; the command modules only parse
flags and print (`tether.cli.shell` holds what they share). Importing this package registers them all.
"""

from tether.cli import sample, grade, compare, estimate, run, engines  # noqa: F401, I001  (each registers its commands, in this order)
from tether.cli.shell import app

__all__ = ["app", "main"]


def main() -> None:
    app()
