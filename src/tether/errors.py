"""Errors tether raises on purpose, each with a message fit for one line of stderr.

`InputError` is the user's input being wrong (a malformed file, a missing task,
k > n); the CLI turns it into exit code 2 and one line, without a traceback.
"""

from __future__ import annotations


class TetherError(Exception):
    """Base of every error tether raises deliberately."""


class InputError(TetherError, ValueError):
    """Bad input: a file, an argument or a store that cannot be used as given."""


class StoreError(TetherError):
    """A store that is missing, of another schema version, or inconsistent."""
