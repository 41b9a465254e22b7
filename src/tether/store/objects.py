"""A store on object storage (``s3://bucket/run``, ``gs://…``, any fsspec URL): same layout, same tables.

Shards are whole objects: each is written in full in memory, then put with one request, which
object stores make visible all at once or not at all (there is no rename to commit with, and no
partial object is ever listed). A put refuses a name that exists (checked first: a store has one
writer per shard name by construction, the unit or import that owns it). A group of shards is
put after all are staged, with Ctrl-C held, and removed again if a put fails; a pending record
makes it visible all at once (`tether.store.commit`). Writer locks and the manifest's lock are lock
objects with leases, taken by create-only puts (`tether.store.lease`): one writer per label, and
every read-modify-write of the manifest under its lock, as on a local disk.

tether reads the same explicit shard lists as for a local store: the store's fsspec filesystem is registered
with DuckDB (`tether.store.query.connect`), so no DuckDB extension is needed. Credentials and
endpoints come from the usual places (AWS_* variables, ~/.aws, ``FSSPEC_S3_ENDPOINT_URL`` for an
S3-compatible server such as MinIO).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import PurePosixPath

from tether.errors import StoreError
from tether.store import integrity, lease
from tether.store.commit import PENDING, PendingGroup, group_labels
from tether.store.local import (
    _HELD,
    MANIFEST,
    QUARANTINE,
    Manifest,
    Shard,
    Store,
    _now,
    _sigint_deferred,
    checked_shard,
    hold_before_commit,
    new_manifest,
    shard_record,
)
from tether.store.manifest import manifest_bytes, parse_manifest
from tether.testing import hold

FILESYSTEMS: dict[str, object] = {}  # protocol -> fsspec filesystem, registered with every DuckDB connection


def filesystem(url: str):
    """(fsspec filesystem, path without the scheme) for a store URL."""
    try:
        import fsspec
    except ImportError:
        raise StoreError("stores on object storage need fsspec (pip install 'tether[cloud]')") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise StoreError(f"{url}: cannot open this filesystem ({exc})") from None
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    FILESYSTEMS[protocol] = fs
    return fs, path.rstrip("/")


def remote_is_store(url: str) -> bool:
    fs, path = filesystem(url)
    return fs.exists(f"{path}/{MANIFEST}")


class ObjectStore(Store):
    """`Store` with its files as objects of an fsspec filesystem."""

    def __init__(self, root: str):
        self.fs, self._path = filesystem(root)
        self.url = root.rstrip("/")
        self.protocol = root.split("://", 1)[0]
        self.root = self.url
        if not self.fs.exists(f"{self._path}/{MANIFEST}"):
            raise StoreError(f"{self.url} is not a tether store (no {MANIFEST})")
        self._check_version()

    @classmethod
    def create(cls, root: str, config: dict | None = None) -> ObjectStore:
        fs, path = filesystem(root)
        if fs.exists(f"{path}/{MANIFEST}"):
            raise StoreError(f"{root} already holds a tether store")
        found = [key for key in fs.find(path) if key.endswith(".parquet")] if fs.exists(path) else []
        if found:  # a store whose manifest was lost: a fresh one would drop every label's settings
            raise StoreError(f"{root} has no {MANIFEST} but holds {len(found)} objects ending in .parquet: its "
                             "manifest was lost; copy the store to a folder and run `tether check FOLDER --repair` "
                             "to rebuild it from the shards")
        fs.pipe_file(f"{path}/{MANIFEST}", manifest_bytes(new_manifest(config)))
        return cls(root)

    # -- manifest (one object, replaced whole; `Store` updates it through these) ---------------

    def manifest(self) -> Manifest:
        try:
            raw = self.fs.cat_file(f"{self._path}/{MANIFEST}")
        except FileNotFoundError:
            raise StoreError(f"{self.url}: its {MANIFEST} is gone") from None
        return parse_manifest(raw, f"{self.url}/{MANIFEST}")

    def _put_manifest(self, manifest: Manifest) -> None:
        self.fs.pipe_file(f"{self._path}/{MANIFEST}", manifest_bytes(manifest))

    @contextlib.contextmanager
    def writing(self, labels, what: str) -> Iterator[None]:
        """`Store.writing` with lock objects under leases (`tether.store.lease`) instead of OS locks."""
        with contextlib.ExitStack() as stack:
            for label in sorted(set(labels)):
                key = (self._lock_key(), label)
                if key in _HELD:
                    continue
                holder = f"pid {os.getpid()} on {socket.gethostname()} ({what}, since {_now()})"
                try:
                    stack.enter_context(lease.take(self.fs, f"{self._path}/.locks/{label}.json", holder))
                except StoreError as exc:
                    raise StoreError(f"{self.url}: label {label!r} is being written: {exc}; wait for it to "
                                     "finish (or stop it; a killed writer's lock expires within "
                                     f"{lease.LEASE_SECONDS:.0f} s) and run again") from None
                _HELD.add(key)
                stack.callback(_HELD.discard, key)
            self.roll_back_dead_groups()
            yield

    @contextlib.contextmanager
    def _manifest_lock(self) -> Iterator[None]:
        holder = f"pid {os.getpid()} on {socket.gethostname()} (manifest update)"
        try:
            taken = lease.take(self.fs, f"{self._path}/.locks/manifest.json", holder, seconds=30.0, wait=60.0)
        except StoreError as exc:
            raise StoreError(f"{self.url}: the manifest stayed locked for 60 s: {exc}") from None
        with taken:
            yield

    def _lock_key(self) -> str:
        return self.url

    def temp_files(self) -> list:
        return []  # objects are put whole: there are no temp files

    # -- group commits (tether.store.commit) ----------------------------------------------

    def _pending_records(self) -> list:
        self.fs.invalidate_cache()
        folder = f"{self._path}/{PENDING}"
        keys = sorted(self.fs.find(folder)) if self.fs.exists(folder) else []
        return [(f"{self.protocol}://{key}", lambda key=key: self.fs.cat_file(key)) for key in keys]

    def quarantine(self, relative: str, folder: str = "") -> str:
        target = f"{QUARANTINE}/{folder}/{relative}" if folder else f"{QUARANTINE}/{relative}"
        stem, number = target.removesuffix(".parquet"), 1
        while self._exists(target):  # a shard of the same name set aside before keeps its own
            number += 1
            target = f"{stem}.{number}.parquet"
        self.fs.mv(f"{self._path}/{relative}", f"{self._path}/{target}")
        return target

    def relative(self, path) -> str:
        return PurePosixPath(path).relative_to(PurePosixPath(self._path)).as_posix()

    def _exists(self, relative: str) -> bool:
        self.fs.invalidate_cache()
        return self.fs.exists(f"{self._path}/{relative}")

    def _begin_group(self, group: PendingGroup) -> None:
        self.fs.pipe_file(f"{self._path}/{PENDING}/{group.name}", group.to_json().encode())

    def _end_group(self, group: PendingGroup) -> None:
        key = f"{self._path}/{PENDING}/{group.name}"
        self.fs.invalidate_cache()
        if self.fs.exists(key):
            self.fs.rm_file(key)

    def inspect(self, path, full: bool = True, parse: bool = True) -> integrity.Inspection:
        try:
            size = self.fs.size(str(path))
            with self.fs.open(str(path), "rb") as handle:
                return integrity.inspect(handle, size, full, parse)
        except OSError as exc:
            return integrity.Inspection(problem=f"cannot be read ({exc})", unreadable=True)

    def damaged(self, path, problem: str) -> StoreError:
        return StoreError(f"{self.url}: shard {self.relative(path)} is damaged: {problem}; `tether check {self.url}` "
                          "names every damaged shard: remove them (or copy the store to a folder and run "
                          "`tether check FOLDER --repair`), then run again")

    # -- shards ----------------------------------------------------------------------------

    def shard_paths(self, table: str, label: str | None = None) -> list[PurePosixPath]:
        """Listed, not globbed: the store's own path may hold pattern characters. Shards of a group
        still pending are not committed."""
        self.fs.invalidate_cache()
        base = f"{self._path}/{table}" + (f"/{label}" if label else "")
        if not self.fs.exists(base):
            return []
        found = [PurePosixPath(p) for p in self.fs.find(base)]
        depth = 1 if label else 2  # files directly under the label folder
        return self._committed(sorted(p for p in found if p.suffix == ".parquet" and not p.name.startswith(".")
                                      and len(p.relative_to(PurePosixPath(base)).parts) == depth))

    def shard_urls(self, table: str, label: str | None = None) -> list[str]:
        return [f"{self.protocol}://{path}" for path in self.shard_paths(table, label)]

    def labels(self, table: str = "samples") -> list[str]:
        return sorted({p.parent.name for p in self.shard_paths(table)})

    def write(self, shards) -> list[PurePosixPath]:
        manifest = self.manifest()  # what each shard records of its label; a store without one is refused
        staged = [self._stage_bytes(shard, manifest) for shard in shards]
        hold_before_commit(shards)
        group = None
        if len(staged) > 1:
            group = PendingGroup(tuple(self.relative(key) for key, _ in staged), group_labels(shards))
        with _sigint_deferred():
            if group:
                self._begin_group(group)
            try:
                return self._put_all(staged)
            finally:
                if group:
                    self._end_group(group)

    def _put_all(self, staged: list[tuple[str, bytes]]) -> list[PurePosixPath]:
        done: list[str] = []
        try:
            for key, data in staged:
                self._put_new(key, data)
                done.append(key)
                if len(staged) > 1 and len(done) == 1:
                    hold("group:linked-one")
        except BaseException:
            for key in done:
                self.fs.rm_file(key)
            raise
        return [PurePosixPath(key) for key in done]

    def _put_new(self, key: str, data: bytes) -> None:
        """Put an object that must not exist yet: a conditional put where the filesystem has one
        (S3's If-None-Match), else a check first (one writer per label makes that race-free)."""
        self.fs.invalidate_cache()
        if self.fs.exists(key):
            raise StoreError(f"shard {self.protocol}://{key} exists; stores are append-only")
        try:
            self.fs.pipe_file(key, data, mode="create")
        except FileExistsError:
            raise StoreError(f"shard {self.protocol}://{key} exists; stores are append-only") from None

    def _stage_bytes(self, shard: Shard, manifest: Manifest) -> tuple[str, bytes]:
        data = integrity.stamped(checked_shard(shard), shard_record(shard, manifest))
        return (f"{self._path}/{shard.table}/{shard.partition}/part-{shard.name}.parquet",
                integrity.sealed_bytes(data))
