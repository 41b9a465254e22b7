"""What proves a shard's bytes are the ones written: page checksums, a seal, and the writer's own record.

Every shard tether writes (`write_sealed`, `sealed_bytes`) carries

- **page checksums**: Parquet's CRC-32 of each data and dictionary page (pyarrow's
  ``write_page_checksum``); pyarrow checks them when asked (``page_checksum_verification=True``),
  as `tether check` does. DuckDB 2.0 does not check them: a changed byte in a data page can read
  back as another value there, without an error;
- **a seal**: `SEAL_SIZE` bytes between the last column chunk and the footer: the magic
  ``TETHSEAL``, the SHA-256 of every byte before the seal (the data pages and their headers) and
  the SHA-256 of the footer (with its length and the closing ``PAR1``). Parquet readers find the
  data through the footer's offsets and never read those bytes, so the file is plain Parquet to
  DuckDB, polars and pandas. `inspect` recomputes both digests: any changed byte anywhere in the
  file is found (page headers, statistics and the footer included, which no Parquet checksum
  covers). With ``full=False`` it checks the footer's digest alone: a few kilobytes, what resuming a
  run checks of every shard it counts as done;
- **its own record** in the footer's key-value metadata under ``tether.shard`` (`KEY`): the format,
  table, partition, name and time, and what the manifest said about its label when it was written
  (the run's settings and k for samples and tasks, the current verifier versions for verdicts),
  from which `tether check --repair` rebuilds a lost manifest (`tether.store.rebuild`).

A shard written before seals (no seal, no record) is *legacy*: `inspect` can prove only that its
footer reads and every page decodes (pyarrow reads it all); a changed byte that still decodes (a
value in a page, a statistic in the footer) is not found. A seal whose magic is damaged is not
mistaken for a legacy shard: the record in the footer says the shard was sealed.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

MAGIC = b"TETHSEAL"
SEAL_SIZE = len(MAGIC) + 32 + 32
KEY = b"tether.shard"
FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Inspection:
    """What `inspect` found: `problem` is None when the shard is whole (as far as it can tell)."""

    sealed: bool = False  # written with a seal: every byte is proven, not only the footer and pages
    problem: str | None = None
    unreadable: bool = False  # the footer does not read (the file is not Parquet any more)
    columns: tuple[str, ...] = ()
    record: dict | None = None  # the shard's own record (``tether.shard``); None for legacy shards


def stamped(table: pa.Table, record: dict) -> pa.Table:
    """`table` with the shard's record in its schema's metadata (written into the footer)."""
    return table.replace_schema_metadata({KEY: json.dumps({"format": FORMAT, "seal": "sha256", **record})})


def write_sealed(table: pa.Table, path) -> None:
    """Write `table` to the file `path` with page checksums, then seal it."""
    pq.write_table(table, path, compression="zstd", write_page_checksum=True)
    with open(path, "r+b") as handle:
        size = handle.seek(0, io.SEEK_END)
        start = _footer_start(handle, size)
        if start is None:
            raise OSError(f"{path}: pyarrow wrote no Parquet footer")
        handle.seek(start)
        footer = handle.read()
        data = _digest(handle, 0, start)
        handle.seek(start)
        handle.write(_seal(data, hashlib.sha256(footer).digest()) + footer)


def sealed_bytes(table: pa.Table) -> bytes:
    """`table` as the bytes of a sealed Parquet file with page checksums (for an object put whole)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", write_page_checksum=True)
    data = buffer.getvalue()
    start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    head, footer = data[:start], data[start:]
    return head + _seal(hashlib.sha256(head).digest(), hashlib.sha256(footer).digest()) + footer


def inspect(handle: BinaryIO, size: int, full: bool = True, parse: bool = True) -> Inspection:
    """Whether the Parquet file open in `handle` (`size` bytes) is whole: with `full`, every byte of a
    sealed shard (every page of a legacy one); else its footer only. Without `parse`, a sealed shard whose
    digests match is not parsed (its columns and record are not read): the cheapest proof that it reads."""
    if size < 12:
        return Inspection(problem=f"too short to be Parquet ({size} bytes)", unreadable=True)
    start = _footer_start(handle, size)
    if start is None:
        return Inspection(problem="no Parquet footer at its end (truncated or overwritten)", unreadable=True)
    seal = b""
    if start >= 4 + SEAL_SIZE:
        handle.seek(start - SEAL_SIZE)
        seal = handle.read(SEAL_SIZE)
    sealed = seal[: len(MAGIC)] == MAGIC
    problem = None
    if sealed:
        handle.seek(start)
        if hashlib.sha256(handle.read()).digest() != seal[-32:]:
            problem = "its footer changed since it was written (its SHA-256 differs from the seal's)"
        elif full and _digest(handle, 0, start - SEAL_SIZE) != seal[len(MAGIC) : len(MAGIC) + 32]:
            problem = "its data changed since it was written (its SHA-256 differs from the seal's)"
    if sealed and problem is None and not parse:
        return Inspection(True)
    try:
        handle.seek(0)
        parquet = pq.ParquetFile(handle, page_checksum_verification=True)
        columns = tuple(parquet.schema_arrow.names)
        record = _record(parquet.metadata.metadata)
    except Exception as exc:  # noqa: BLE001 - any unreadable footer is the finding
        return Inspection(sealed, problem or f"its footer does not read ({_short(exc)})", unreadable=True)
    if problem:
        return Inspection(sealed, problem, columns=columns, record=record)
    if not sealed and record is not None and record.get("seal"):
        return Inspection(False, "its seal is missing or damaged (it was written with one)", columns=columns,
                          record=record)
    if not sealed and full:
        try:
            for _ in parquet.iter_batches(batch_size=65_536, use_threads=False):
                pass
        except Exception as exc:  # noqa: BLE001 - a page that does not decode is the finding
            return Inspection(False, f"a page does not read ({_short(exc)})", columns=columns, record=record)
    return Inspection(sealed, None, columns=columns, record=record)


def _record(metadata: dict | None) -> dict | None:
    raw = (metadata or {}).get(KEY)
    if raw is None:
        return None
    try:
        found = json.loads(raw)
    except (ValueError, RecursionError):
        return {"seal": "unknown"}  # a record that no longer reads: the shard was written with one
    return found if isinstance(found, dict) else {"seal": "unknown"}


def _footer_start(handle: BinaryIO, size: int) -> int | None:
    handle.seek(size - 8)
    tail = handle.read(8)
    if len(tail) < 8 or tail[4:] != b"PAR1":
        return None
    start = size - 8 - int.from_bytes(tail[:4], "little")
    return start if start >= 4 else None


def _digest(handle: BinaryIO, begin: int, end: int) -> bytes:
    digest = hashlib.sha256()
    handle.seek(begin)
    left = end - begin
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest.digest()


def _seal(data: bytes, footer: bytes) -> bytes:
    return MAGIC + data + footer


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
