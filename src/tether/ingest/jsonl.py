"""Reading JSONL files (optionally gzipped) one located object at a time: every error names FILE:LINE."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from tether.errors import InputError


def jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    """(FILE:LINE, object) of each non-blank line of a JSONL file (optionally gzipped); errors name the line."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                where = f"{path}:{number}"
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
                if not text.strip():
                    continue
                try:
                    yield where, json.loads(text)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
