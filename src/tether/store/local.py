"""The run store: a directory of Parquet shards plus a JSON manifest.

Layout (see docs/store.md)::

    run/
      manifest.json                     schema version, config, package versions, history
      tasks/<label>/part-<name>.parquet    the tasks with the exact prompt each label saw
      samples/<label>/part-<name>.parquet
      verdicts/<label>/part-<name>.parquet
      grades/<verifier>/part-<name>.parquet   verdict cache: one row per distinct (task, answer)

Append-only: a shard, once written, is never rewritten, and a shard name is
never reused. Each shard is written to a hidden temp file in its final folder
and then hard-linked to its name, which fails if the name exists; a killed
writer leaves at most a hidden ``.part-*.tmp-*`` file that no reader sees
(readers list ``*.parquet``; pyarrow ignores dot files). A group of shards is committed
all at once through a pending record (`tether.store.commit`); each label has one writer at a
time (`Store.writing`), and the manifest's read-modify-writes run under a lock. Every column a reader
needs, the label (column ``model``) included, is inside each file, so ``select * from
'run/samples/**/*.parquet'`` works in DuckDB, polars and pandas alike.

This module knows Parquet and paths, not engines, verifiers or metrics.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import glob
import json
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tether.errors import StoreError
from tether.store.commit import PENDING, PendingGroup, group_labels, process_alive
from tether.store.schema import (
    DIAGNOSTIC_SCHEMA,
    GRADE_SCHEMA,
    SAMPLE_SCHEMA,
    SCHEMA_VERSION,
    SEQUENCE_SCORE_SCHEMA,
    TASK_SCHEMA,
    VERDICT_SCHEMA,
    check_label,
)
from tether.testing import hold

MANIFEST = "manifest.json"
QUARANTINE = "quarantine"
_HELD: set[tuple[str, str]] = set()  # (store, label) writer locks this process holds
TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "samples": SAMPLE_SCHEMA,
    "verdicts": VERDICT_SCHEMA,
    "tasks": TASK_SCHEMA,
    "grades": GRADE_SCHEMA,
    "diagnostics": DIAGNOSTIC_SCHEMA,
    "likelihood": SEQUENCE_SCORE_SCHEMA,
}
_PACKAGES = ("tether", "numpy", "scipy", "pyarrow", "duckdb")


@dataclass(frozen=True)
class Shard:
    """One table to be written as one Parquet file of a store.

    `partition` is the folder under the table: the model label, or for the
    grade cache the verifier name.
    """

    table: str
    partition: str
    data: pa.Table
    name: str


def is_remote(root) -> bool:
    """True for a URL with a scheme (``s3://bucket/run``, ``gs://...``, ``memory://...``), not ``file://``."""
    return isinstance(root, str) and "://" in root and not root.startswith("file://")


def is_local_store(path: str | os.PathLike) -> bool:
    """True when the folder `path` holds a tether manifest."""
    return (Path(path) / MANIFEST).is_file()


class Store:
    """A tether run store on the local filesystem (`ObjectStore` is the one on object storage;
    `tether.store.open_store` picks between them)."""

    def __init__(self, root: str | os.PathLike):
        if is_remote(root):
            raise StoreError(f"{root} is an object-storage URL: open it with tether.open_store")
        self.root = Path(root)
        if not is_local_store(self.root):
            raise StoreError(f"{self.root} is not a tether store (no {MANIFEST})")
        self._check_version()

    def _check_version(self) -> None:
        version = self.manifest().get("schema_version")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.root} has store schema version {version}; this tether reads version {SCHEMA_VERSION}"
            )

    @classmethod
    def create(cls, root: str | os.PathLike, config: dict | None = None) -> Store:
        """Make a new store (the directory may exist but must not hold a store)."""
        root = Path(root)
        if is_local_store(root):
            raise StoreError(f"{root} already holds a tether store")
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} exists and is not a directory")
        root.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(root / MANIFEST, new_manifest(config))
        return cls(root)

    # -- manifest ---------------------------------------------------------------

    def manifest(self) -> dict:
        try:
            found = json.loads((self.root / MANIFEST).read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{self.root / MANIFEST} is not valid JSON: {exc}") from None
        if not isinstance(found, dict):
            raise StoreError(f"{self.root / MANIFEST} is not a tether manifest (a JSON {type(found).__name__})")
        return found

    def update_manifest(self, key: str, value) -> None:
        """Set one top-level manifest entry (under a lock, atomically)."""
        with self.changing_manifest() as manifest:
            manifest[key] = value

    @contextlib.contextmanager
    def changing_manifest(self) -> Iterator[dict]:
        """The manifest to read and change in place, under the lock for the whole read-modify-write
        (two processes claiming labels at once both keep their entry); written when the block ends
        without an error, atomically."""
        with self._manifest_lock():
            manifest = self.manifest()
            yield manifest
            self._put_manifest(manifest)

    def record_event(self, kind: str, **details) -> None:
        """Append an entry to the manifest's history (under a lock, atomically)."""
        with self._manifest_lock():
            manifest = self.manifest()
            manifest.setdefault("history", []).append({"event": kind, "at": _now(), **details})
            self._put_manifest(manifest)

    def _put_manifest(self, manifest: dict) -> None:
        _write_json_atomic(self.root / MANIFEST, manifest)

    @contextlib.contextmanager
    def writing(self, labels: Sequence[str], what: str) -> Iterator[None]:
        """Hold the writer locks of `labels` for a whole run (`what`: e.g. "tether sample"): one
        writer per label at a time. A label held by another process is refused at once, naming
        the holder; the lock dies with its process (an OS file lock), so a killed run leaves none."""
        folder = self.root / ".locks"
        folder.mkdir(exist_ok=True)
        with contextlib.ExitStack() as stack:
            for label in sorted(set(labels)):
                key = (self._lock_key(), label)
                if key in _HELD:  # this process holds it already (the CLI takes it before loading a model)
                    continue
                _HELD.add(key)
                stack.callback(_HELD.discard, key)
                handle = stack.enter_context(open(folder / f"{label}.lock", "a+"))
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise StoreError(f"{self.root}: label {label!r} is being written by {holder}; "
                                     "wait for it to finish (or stop it) and run again") from None
                handle.seek(0)
                handle.truncate()
                handle.write(f"pid {os.getpid()} ({what}, since {_now()})")
                handle.flush()
            self.roll_back_dead_groups()
            yield

    @contextlib.contextmanager
    def _manifest_lock(self) -> Iterator[None]:
        with open(self.root / ".manifest.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- group commits (tether.store.commit) --------------------------------------

    def pending_groups(self) -> list[PendingGroup]:
        """The groups being committed now, or left uncommitted by a killed writer."""
        groups = []
        for where, read in self._pending_records():
            try:
                groups.append(PendingGroup.from_json(read()))
            except FileNotFoundError:
                continue  # committed meanwhile
            except (ValueError, TypeError, KeyError) as exc:
                raise StoreError(f"{where} is not a pending-group record ({exc}); move it aside and run "
                                 "`tether check`") from None
        return groups

    def _pending_records(self) -> list[tuple[str, Callable[[], str | bytes]]]:
        """(where, how to read it) of each pending record."""
        folder = self.root / PENDING
        return [(str(path), path.read_text) for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def roll_back_dead_groups(self) -> list[PendingGroup]:
        """Clean up after dead writers of the labels this process now holds the writer locks of:
        their pending groups are rolled back (shards to quarantine/, record away) and their
        temporary files removed."""
        held = {label for key, label in _HELD if key == self._lock_key()}
        dead = [g for g in self.pending_groups()
                if set(g.labels) <= held and g.pid != os.getpid() and not g.writer_alive()]
        for group in dead:
            self.roll_back(group)
        self._remove_dead_temps(held)
        return dead

    def _remove_dead_temps(self, labels: set[str]) -> None:
        for label in labels:
            for temp in self.root.glob(f"*/{glob.escape(label)}/.part-*.tmp-*"):
                if _temp_writer_gone(temp.name):
                    temp.unlink(missing_ok=True)

    def _lock_key(self) -> str:
        return str(Path(self.root).resolve())

    def roll_back(self, group: PendingGroup) -> None:
        for shard in group.shards:
            if self._exists(shard):
                self.quarantine(shard)
        self._end_group(group)

    def quarantine(self, relative: str, folder: str = "") -> None:
        """Move a shard (a path relative to the store's root) to quarantine/[folder/], keeping its place."""
        source = self.root / relative
        target = self.root / QUARANTINE / folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def relative(self, path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def reset_label(self, label: str) -> tuple[int, str]:
        """Set aside everything of `label`: its samples, verdicts, tasks and diagnostics move to
        ``quarantine/reset-<time>/`` (never deleted), and its run settings and grading state leave
        the manifest, so the label can be sampled anew with any settings. Holds the label's writer
        lock. Returns (shards moved, the folder they went to)."""
        folder = f"reset-{new_shard_name('label')}"
        with self.writing([label], "tether sample --reset-label"):
            moved = 0
            for table in ("samples", "verdicts", "tasks", "diagnostics", "likelihood"):
                for path in self.shard_paths(table, label):
                    self.quarantine(self.relative(path), folder)
                    moved += 1
            with self.changing_manifest() as manifest:
                for key in ("runs", "grading"):
                    manifest.get(key, {}).pop(label, None)
            self.record_event("reset-label", label=label, shards=moved, moved_to=f"{QUARANTINE}/{folder}")
        return moved, f"{QUARANTINE}/{folder}"

    def _exists(self, relative: str) -> bool:
        return (self.root / relative).exists()

    def _begin_group(self, group: PendingGroup) -> None:
        (self.root / PENDING).mkdir(exist_ok=True)
        _write_text_atomic(self.root / PENDING / group.name, group.to_json())

    def _end_group(self, group: PendingGroup) -> None:
        (self.root / PENDING / group.name).unlink(missing_ok=True)

    def _pending_shards(self) -> set[str]:
        return {shard for group in self.pending_groups() for shard in group.shards}

    def _committed(self, found: list) -> list:
        """`found` (shard paths) without those of groups still pending."""
        hidden = self._pending_shards() if found else set()
        return [path for path in found if self.relative(path) not in hidden] if hidden else found

    # -- shards -----------------------------------------------------------------

    def shard_paths(self, table: str, label: str | None = None) -> list[Path]:
        """Committed shards of a table, of one label (or grade-cache verifier) or of all
        (shards of a group still pending are not committed)."""
        base = self.root / table
        pattern = f"{label}/*.parquet" if label else "*/*.parquet"
        return self._committed(sorted(base.glob(pattern)) if base.is_dir() else [])

    def has_shard(self, table: str, label: str, name: str) -> bool:
        relative = f"{table}/{label}/part-{name}.parquet"
        return self._exists(relative) and relative not in self._pending_shards()

    def check_readable(self, path) -> None:
        """Raise a one-line StoreError unless `path` is a whole Parquet file (its footer reads)."""
        try:
            pq.read_metadata(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the finding
            raise StoreError(f"{self.root}: shard {self.relative(path)} is damaged ({type(exc).__name__}: {exc}); "
                             f"run `tether check {self.root} --repair` to quarantine it, then run again") from None

    def shard_urls(self, table: str, label: str | None = None) -> list[str]:
        """The committed shards of a table as explicit file names for DuckDB (no pattern: a store
        named ``exp[1]`` reads its own shards, not those of ``exp1``)."""
        return [str(path) for path in self.shard_paths(table, label)]

    def models(self, table: str = "samples") -> list[str]:
        """Deprecated name of `labels`."""
        return self.labels(table)

    def labels(self, table: str = "samples") -> list[str]:
        """The labels (models, or verifiers for the grade cache) with at least one shard in `table`."""
        return sorted({Path(path).parent.name for path in self.shard_paths(table)})

    def write(self, shards: Sequence[Shard]) -> list[Path]:
        """Write shards all-or-nothing as far as the filesystem allows.

        Every shard is first written in full to a hidden temp file; only then are
        they linked to their names, with Ctrl-C deferred, so an interrupted or failed
        write leaves no visible shard behind.
        """
        staged: list[tuple[Path, Path]] = []
        try:
            for shard in shards:
                staged.append(self._stage(shard))
            hold_before_commit(shards)
            with _sigint_deferred():
                if len(staged) < 2:
                    return self._commit(staged)
                group = PendingGroup(tuple(self.relative(final) for _, final in staged), group_labels(shards))
                self._begin_group(group)
                try:
                    return self._commit(staged)
                finally:
                    self._end_group(group)  # the commit, or (the links undone) the cleanup
        finally:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)

    def _stage(self, shard: Shard) -> tuple[Path, Path]:
        data = checked_shard(shard)
        folder = self.root / shard.table / shard.partition
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"part-{shard.name}.parquet"
        if final.exists():
            raise StoreError(f"shard {final} exists; stores are append-only")
        temp = folder / f".part-{shard.name}.parquet.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        pq.write_table(data, temp, compression="zstd")
        return temp, final

    @staticmethod
    def _commit(staged: list[tuple[Path, Path]]) -> list[Path]:
        done: list[Path] = []
        try:
            for temp, final in staged:
                os.link(temp, final)  # atomic, and refuses to replace an existing shard
                done.append(final)
                if len(staged) > 1 and len(done) == 1:
                    hold("group:linked-one")
        except BaseException:
            for path in done:
                path.unlink(missing_ok=True)
            raise
        return done


def hold_before_commit(shards: Sequence[Shard]) -> None:
    """The test hold point ``commit:<table>`` (tether.testing): the group staged, nothing visible yet."""
    hold(f"commit:{shards[0].table}" if shards else "commit:")


def new_manifest(config: dict | None) -> dict:
    """The manifest of a new, empty store."""
    return {"schema_version": SCHEMA_VERSION, "created_at": _now(), "packages": package_versions(),
            "config": config or {}, "history": []}


def checked_shard(shard: Shard) -> pa.Table:
    """The shard's data in its table's schema; an unknown table or a bad label is an error."""
    schema = TABLE_SCHEMAS.get(shard.table)
    if schema is None:
        raise StoreError(f"unknown table {shard.table!r}; known: {', '.join(TABLE_SCHEMAS)}")
    check_label(shard.partition)
    return conform(shard.data, schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` in `schema`'s column order and types; absent nullable columns become nulls."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if not field.nullable and column.null_count:
                raise StoreError(f"column {field.name!r} has {column.null_count} nulls but may not be null")
            columns.append(column.cast(field.type))
        elif field.nullable:
            columns.append(pa.nulls(table.num_rows, field.type))
        else:
            raise StoreError(f"column {field.name!r} is required but missing")
    return pa.Table.from_arrays(columns, schema=schema)


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def new_shard_name(prefix: str) -> str:
    """A unique, time-ordered shard name such as 'import-20261126T150000-1a2b3c4d'."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:8]}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, payload: dict) -> None:
    _write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def _write_text_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        temp.write_text(text)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _temp_writer_gone(name: str) -> bool:
    """True when the temp file `name` (``.part-….tmp-<pid>-<hex>``) was staged by a process that is gone."""
    pid = name.rsplit(".tmp-", 1)[1].split("-")[0]
    if not pid.isdigit():
        return True  # an older tether's temp file: its writer held this lock, so it is gone
    return int(pid) != os.getpid() and not process_alive(int(pid))


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block ends (main thread only), then deliver it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[object] = []
    previous = signal.signal(signal.SIGINT, lambda *args: received.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt
