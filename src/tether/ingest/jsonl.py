"""Reading JSONL files (optionally gzipped): line by line in Python, or their line layout for Arrow.

`jsonl_rows` parses one line at a time, every error naming FILE:LINE (`LineError`). `json_layout`
scans a file's bytes without parsing them, for reading it column-wise with Arrow (`tether.ingest.columnar`):
which lines are blank (so an Arrow row can be named by its line), and whether the bytes are UTF-8, every
other line is one object's text and none is nested deeper than `MAX_DEPTH` (Arrow's parser recurses, and
a line nested 100,000 deep would overflow its stack); a file where that is not so is read line by line
instead, which names the line at fault. Blank lines (whitespace only) are skipped either way.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.errors import InputError

MAX_DEPTH = 512  # JSON nesting read at most: rows are flat objects; deeper only in fields tether ignores
CHUNK = 1 << 24  # bytes scanned at a time
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # strings skipped whole: a bracket inside one is text
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")
_SPACE = b" \t\r"


class LineError(InputError):
    """A line that cannot be read as a JSON object: where it is and what is wrong."""

    def __init__(self, where: str, text: str):
        super().__init__(f"{where}: {text}")
        self.where, self.text = where, text


def opener(path: Path):
    """`open`, or `gzip.open` for a gzipped file."""
    return gzip.open if path.name.lower().endswith(".gz") else open


def nesting_depth(line: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep a line's JSON nests (brackets inside strings do not count); counting stops past `limit`."""
    depth = deepest = 0
    for token in _TOKENS.finditer(line):
        byte = token.group()[0]
        if byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif byte in _CLOSE:
            depth -= 1
    return deepest


def _too_deep(line: bytes) -> bool:
    return line.count(b"[") + line.count(b"{") > MAX_DEPTH and nesting_depth(line) > MAX_DEPTH


def jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    """(FILE:LINE, object) of each non-blank line of a JSONL file (optionally gzipped); errors name the line."""
    try:
        with opener(path)(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                where = f"{path}:{number}"
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise LineError(where, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
                if not text.strip():
                    continue
                if _too_deep(raw):
                    raise LineError(where, f"JSON nested deeper than {MAX_DEPTH} levels; tether reads at most "
                                           f"{MAX_DEPTH}")
                try:
                    yield where, json.loads(text)
                except json.JSONDecodeError as exc:
                    raise LineError(where, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
                except RecursionError:  # not expected below MAX_DEPTH: a deep call stack around us
                    raise LineError(where, "JSON nested too deeply to read") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


@dataclass
class Layout:
    """The lines of a JSONL file that Arrow may read: how many hold a row, and which are blank."""

    rows: int = 0
    lines: int = 0
    blank: list[int] = field(default_factory=list)  # line numbers (from 1), ascending
    longest: int = 0  # bytes of the longest line

    def line(self, row: int) -> int:
        """The line number of row `row` (from 0): the (row + 1)-th non-blank line."""
        line = row + 1
        for blank in self.blank:
            if blank > line:
                break
            line += 1
        return line


def json_layout(path: Path) -> Layout | None:
    """The file's layout when each non-blank line is one object's text (``{`` ... ``}``) nested at most
    `MAX_DEPTH` deep, else None (read it line by line). Reads the bytes once, without parsing JSON."""
    layout = Layout()
    rest = b""
    with opener(path)(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            if not _scan(data[:cut], layout):
                return None
            rest = data[cut:]
    if rest and not _scan(rest + b"\n", layout):
        return None
    return layout


def _scan(body: bytes, layout: Layout) -> bool:
    """Account for `body`'s lines (each ending with a newline) in `layout`; False if one is not a lone object
    or nests too deep, or the bytes are not UTF-8 (Arrow would keep them)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    data = np.frombuffer(body, np.uint8)
    ends = np.flatnonzero(data == 10)
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    last = ends - 1
    last -= (data[np.maximum(last, 0)] == 13) & (last > starts)  # a line ending in \r\n
    regular = (ends > starts) & (data[np.minimum(starts, len(data) - 1)] == 123) & (data[np.maximum(last, 0)] == 125)
    blank = 0
    for index in np.flatnonzero(~regular):  # blank lines, lines with spaces around, and lines that are no object
        line = body[starts[index]:ends[index]].strip(_SPACE)
        if not line:
            layout.blank.append(layout.lines + int(index) + 1)
            blank += 1
        elif not (line.startswith(b"{") and line.endswith(b"}")):
            return False
    opens = body.count(b"{") + body.count(b"[")
    if opens - len(ends) > MAX_DEPTH:  # some line may nest deeper than MAX_DEPTH: look at those that could
        brackets = np.flatnonzero((data == 123) | (data == 91))
        per_line = np.diff(np.searchsorted(brackets, ends), prepend=0)
        if any(_too_deep(body[starts[i]:ends[i]]) for i in np.flatnonzero(per_line > MAX_DEPTH)):
            return False
    layout.lines += len(ends)
    layout.rows += len(ends) - blank
    layout.longest = max(layout.longest, int((ends - starts).max()))
    return True
