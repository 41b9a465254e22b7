"""Errors tether raises on purpose, each with a message fit for one line of stderr.

`InputError` is the user's input being wrong (a malformed file, a missing task,
k > n); the CLI turns it into exit code 2 and one line, without a traceback.
`written_to` names the place a full disk (or a read-only one) stopped a write,
which the system's own message does not say.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path

DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}  # the disk refused a write


class TetherError(Exception):
    """Base of every error tether raises deliberately."""


class InputError(TetherError, ValueError):
    """Bad input: a file, an argument or a store that cannot be used as given."""


class StoreError(TetherError):
    """A store that is missing, of another schema version, or inconsistent."""


@contextlib.contextmanager
def written_to(path: str | Path | None) -> Iterator[None]:
    """Inside, a write the disk refuses ("[Errno 28] No space left on device", as the system or pyarrow says it,
    without the file) is raised again as an OSError naming `path`: the one line it becomes says where."""
    try:
        yield
    except OSError as exc:
        if path is None or exc.filename is not None or not _refused_by_disk(exc):
            raise
        if exc.errno is None:  # pyarrow: "Error writing bytes to file. Detail: [errno 28] No space left on device"
            raise OSError(f"{path}: {exc}") from exc
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _refused_by_disk(exc: OSError) -> bool:
    return exc.errno in DISK_ERRORS or (exc.errno is None and "[errno 28]" in str(exc).lower())
