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

Every shard is written with Parquet page checksums and sealed (`tether.store.integrity`): its
footer carries the writer's record (what the manifest said of its label), and a seal the SHA-256 of
every byte, so `tether check` proves each shard whole. The manifest is read and written through
its typed record (`tether.store.manifest`); a folder whose manifest is lost while shards remain is
refused by every reader and writer, with `tether check --repair` to rebuild it.

Hidden temporary files (``.<name>.tmp-<pid>-<id>-<host>``) left by a killed writer, anywhere in
the store, are removed by the next writer once their writer is certainly gone, and by
``tether check --repair``.

This module knows Parquet and paths, not engines, verifiers or metrics.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pydantic import ValidationError

from tether._version import __version__
from tether.errors import StoreError
from tether.store import integrity
from tether.store.commit import PENDING, PendingGroup, group_labels, process_alive
from tether.store.manifest import (
    MANIFEST,
    Manifest,
    ManifestError,
    describe,
    manifest_bytes,
    new_manifest,
    now,
    package_versions,
    parse_manifest,
)
from tether.store.schema import (
    DIAGNOSTIC_SCHEMA,
    GRADE_SCHEMA,
    SAMPLE_SCHEMA,
    SEQUENCE_SCORE_SCHEMA,
    TASK_SCHEMA,
    VERDICT_SCHEMA,
    check_label,
)
from tether.testing import hold

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
__all__ = ["MANIFEST", "QUARANTINE", "TABLE_SCHEMAS", "Manifest", "ManifestError", "Shard", "Store", "checked_shard",
           "conform", "is_local_store", "is_remote", "new_manifest", "new_shard_name", "package_versions",
           "stray_shards"]


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


def stray_shards(path: str | os.PathLike) -> list[str]:
    """The shards (paths relative to `path`) in the table folders of a folder, whether or not it has a manifest."""
    root = Path(path)
    found = []
    for table in TABLE_SCHEMAS:
        if (root / table).is_dir():
            found += sorted(p.relative_to(root).as_posix() for p in (root / table).glob("*/*.parquet"))
    return found


def lost_manifest(where: str, shards: list[str]) -> StoreError:
    """The one refusal of a store whose manifest is missing while its shards remain."""
    shown = ", ".join(shards[:3]) + (", …" if len(shards) > 3 else "")
    return StoreError(f"{where} has no {MANIFEST} but holds {len(shards)} shards ({shown}): its manifest was lost; "
                      f"run `tether check {where} --repair` to rebuild it from the shards, then run again")


class Store:
    """A tether run store on the local filesystem (`ObjectStore` is the one on object storage;
    `tether.store.open_store` picks between them)."""

    def __init__(self, root: str | os.PathLike):
        if is_remote(root):
            raise StoreError(f"{root} is an object-storage URL: open it with tether.open_store")
        self.root = Path(root)
        if not is_local_store(self.root):
            shards = stray_shards(self.root) if self.root.is_dir() else []
            if shards:
                raise lost_manifest(str(self.root), shards)
            raise StoreError(f"{self.root} is not a tether store (no {MANIFEST})")
        self._check_version()

    def _check_version(self) -> None:
        self.manifest()  # the version first, then every field: one line naming what is wrong

    @classmethod
    def create(cls, root: str | os.PathLike, config: dict | None = None) -> Store:
        """Make a new store (the directory may exist but must not hold a store)."""
        root = Path(root)
        if is_local_store(root):
            raise StoreError(f"{root} already holds a tether store")
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} exists and is not a directory")
        shards = stray_shards(root) if root.is_dir() else []
        if shards:  # a store whose manifest was lost: a fresh one would drop every label's settings
            raise lost_manifest(str(root), shards)
        root.mkdir(parents=True, exist_ok=True)
        _write_bytes_atomic(root / MANIFEST, manifest_bytes(new_manifest(config)))
        return cls(root)

    # -- manifest (its shape: tether.store.manifest) ---------------------------------------------

    def manifest(self) -> Manifest:
        """The manifest, read and checked (`ManifestError`, one line naming the field, when it is wrong)."""
        try:
            raw = (self.root / MANIFEST).read_bytes()
        except FileNotFoundError:
            shards = stray_shards(self.root)
            raise (lost_manifest(str(self.root), shards) if shards else
                   StoreError(f"{self.root} is not a tether store any more (its {MANIFEST} is gone)")) from None
        return parse_manifest(raw, str(self.root / MANIFEST))

    def update_manifest(self, key: str, value) -> None:
        """Set one top-level manifest field to a JSON value (under a lock, atomically); a value of the wrong
        shape is a one-line `StoreError` naming the field."""
        with self._manifest_lock():
            try:
                updated = Manifest.model_validate({**self.manifest().model_dump(), key: value})
            except ValidationError as exc:
                raise StoreError(f"{self.root}: manifest not changed: {describe(exc)}") from None
            self._put_manifest(updated)

    @contextlib.contextmanager
    def changing_manifest(self) -> Iterator[Manifest]:
        """The manifest to read and change in place, under the lock for the whole read-modify-write
        (two processes claiming labels at once both keep their entry); written when the block ends
        without an error, atomically."""
        with self._manifest_lock():
            manifest = self.manifest()
            yield manifest
            self._put_manifest(manifest)

    def record_event(self, kind: str, **details) -> None:
        """Append an entry to the manifest's history (under a lock, atomically)."""
        with self.changing_manifest() as manifest:
            manifest.add_event(kind, **details)

    def _put_manifest(self, manifest: Manifest) -> None:
        _write_bytes_atomic(self.root / MANIFEST, manifest_bytes(manifest))

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
                handle.write(f"pid {os.getpid()} ({what}, since {now()})")
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
        """Clean up after dead writers: the pending groups of the labels this process now holds the
        writer locks of are rolled back (shards to quarantine/, record away), and temporary files
        anywhere in the store whose writer is certainly gone are removed."""
        held = self.held_labels()
        dead = [g for g in self.pending_groups()
                if set(g.labels) <= held and g.pid != os.getpid() and not g.writer_alive()]
        for group in dead:
            self.roll_back(group)
        self.remove_dead_temps(held)
        return dead

    def held_labels(self) -> set[str]:
        """The labels whose writer locks this process holds in this store."""
        return {label for key, label in _HELD if key == self._lock_key()}

    def temp_files(self) -> list[Path]:
        """Hidden temporary files where writers stage: shard folders, pending records, the manifest's folder."""
        folders = [self.root, self.root / PENDING]
        for table in TABLE_SCHEMAS:
            if (self.root / table).is_dir():
                folders += [entry for entry in (self.root / table).iterdir() if entry.is_dir()]
        return sorted(path for folder in folders if folder.is_dir()
                      for path in folder.iterdir() if is_temp_name(path.name) and path.is_file())

    def temp_writer_gone(self, temp: Path, held: set[str]) -> bool:
        """True when the writer that staged `temp` is certainly gone: it staged in the folder of a label
        whose writer lock is in `held`, or its pid no longer runs on this host (the one named in it)."""
        relative = Path(self.relative(temp)).parts
        in_held = len(relative) == 3 and relative[0] in TABLE_SCHEMAS and relative[1] in held
        return temp_writer_gone(temp.name, in_held)

    def remove_dead_temps(self, held: set[str]) -> list[Path]:
        """Remove the temporary files whose writer is certainly gone (`temp_writer_gone`); the manifest's are
        removed under its lock (nobody else writes one meanwhile). The removed files."""
        removed = []
        temps = self.temp_files()
        manifest_temps = [t for t in temps if t.parent == self.root and t.name.startswith(f".{MANIFEST}.")]
        for temp in temps:
            if temp not in manifest_temps and self.temp_writer_gone(temp, held):
                temp.unlink(missing_ok=True)
                removed.append(temp)
        if manifest_temps:
            with self._manifest_lock():
                for temp in manifest_temps:
                    temp.unlink(missing_ok=True)
                    removed.append(temp)
        return removed

    def _lock_key(self) -> str:
        return str(Path(self.root).resolve())

    def roll_back(self, group: PendingGroup) -> None:
        for shard in group.shards:
            if self._exists(shard):
                self.quarantine(shard)
        self._end_group(group)

    def quarantine(self, relative: str, folder: str = "") -> str:
        """Move a shard (a path relative to the store's root) to quarantine/[folder/], keeping its place; a
        shard of the same name set aside before keeps its own (this one becomes ``part-<name>.2.parquet``).
        Where it went, relative to the root."""
        source = self.root / relative
        target = self.root / QUARANTINE / folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        number = 1
        while True:
            try:
                os.link(source, target)  # refuses to replace an earlier shard set aside under this name
                break
            except FileExistsError:
                number += 1
                target = target.with_name(f"{Path(relative).stem}.{number}{Path(relative).suffix}")
        source.unlink()
        return self.relative(target)

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
                manifest.runs.pop(label, None)
                manifest.grading.pop(label, None)
                manifest.checkpoints.pop(label, None)
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
        """Raise a one-line StoreError unless `path`'s footer is whole: it reads, and a sealed shard's
        footer is the one written (`tether.store.integrity`; a few kilobytes read)."""
        found = self.inspect(path, full=False, parse=False)
        if found.problem:
            raise self.damaged(path, found.problem)

    def inspect(self, path, full: bool = True, parse: bool = True) -> integrity.Inspection:
        """`tether.store.integrity.inspect` of one shard (with `full`, every byte)."""
        try:
            with open(path, "rb") as handle:
                return integrity.inspect(handle, os.fstat(handle.fileno()).st_size, full, parse)
        except OSError as exc:
            return integrity.Inspection(problem=f"cannot be read ({exc.strerror or exc})", unreadable=True)

    def damaged(self, path, problem: str) -> StoreError:
        """The one-line error of a damaged shard met by a command."""
        return StoreError(f"{self.root}: shard {self.relative(path)} is damaged: {problem}; "
                          f"run `tether check {self.root} --repair` to quarantine it, then run again")

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
        manifest = self.manifest()  # what each shard records of its label; a store without one is refused
        try:
            for shard in shards:
                staged.append(self._stage(shard, manifest))
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

    def _stage(self, shard: Shard, manifest: Manifest) -> tuple[Path, Path]:
        data = integrity.stamped(checked_shard(shard), shard_record(shard, manifest))
        folder = self.root / shard.table / shard.partition
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"part-{shard.name}.parquet"
        if final.exists():
            raise StoreError(f"shard {final} exists; stores are append-only")
        temp = folder / temp_name(final.name)
        try:
            integrity.write_sealed(data, temp)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
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


def shard_record(shard: Shard, manifest: Manifest) -> dict:
    """What a shard records of itself in its footer (`tether.store.integrity`): table, partition, name, time,
    and what the manifest says of its label now (a run's settings and k; the current verifier versions),
    from which a lost manifest is rebuilt (`tether.store.rebuild`)."""
    written = dt.datetime.now(dt.timezone.utc).isoformat()  # to the microsecond: the newest record wins a rebuild
    record = {"table": shard.table, "partition": shard.partition, "name": shard.name, "written_at": written,
              "tether": __version__}
    run = manifest.runs.get(shard.partition) if shard.table in ("samples", "tasks") else None
    grading = manifest.grading.get(shard.partition) if shard.table == "verdicts" else None
    if run is not None:
        record["run"] = run.model_dump()
    if grading is not None:
        record["grading"] = grading.model_dump()
    return record


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


def new_shard_name(prefix: str) -> str:
    """A unique, time-ordered shard name such as 'import-20261126T150000-1a2b3c4d'."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:8]}"


_now = now  # the name objects.py and older callers use


def temp_name(name: str) -> str:
    """The hidden temporary name a file `name` is staged under: ``.<name>.tmp-<pid>-<id>-<host>``."""
    return f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{socket.gethostname()}"


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and ".tmp-" in name


def _write_text_atomic(path: Path, text: str) -> None:
    _write_bytes_atomic(path, text.encode())


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(temp_name(path.name))
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def temp_writer_gone(name: str, in_held_folder: bool = False) -> bool:
    """True when the temp file `name` (``.<name>.tmp-<pid>-<id>[-<host>]``) was staged by a process that is
    certainly gone: in a folder whose label lock this process holds, any writer but this one (older tethers
    named no host, or no pid); elsewhere, a writer on this host (or on an unnamed host) whose pid no longer
    runs. A writer on another host is never taken for gone outside its label's folder."""
    parts = name.rsplit(".tmp-", 1)[1].split("-", 2)
    if not parts[0].isdigit():
        return in_held_folder
    pid = int(parts[0])
    if pid == os.getpid():
        return False
    host = parts[2] if len(parts) == 3 else None
    if host is not None and host != socket.gethostname():
        return in_held_folder
    return not process_alive(pid)


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
