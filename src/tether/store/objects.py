"""A store on object storage (``s3://bucket/run``, ``gs://…``, any fsspec URL): same layout, same tables.

Shards are whole objects: each is written in full in memory, then put with one request, which
object stores make visible all at once or not at all (there is no rename to commit with, and no
partial object is ever listed). A put refuses a name that exists (checked first: a store has one
writer per shard name by construction, the unit or import that owns it). A group of shards is
put after all are staged, with Ctrl-C held, and removed again if a put fails. The manifest is one
object replaced by a single put; it is not locked, so only one process at a time may update it
(the driver of `tether sample`/`grade`; Ray workers write shards only).

tether reads the same explicit shard lists as for a local store: the store's fsspec filesystem is registered
with DuckDB (`tether.store.query.connect`), so no DuckDB extension is needed. Credentials and
endpoints come from the usual places (AWS_* variables, ~/.aws, ``FSSPEC_S3_ENDPOINT_URL`` for an
S3-compatible server such as MinIO).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import PurePosixPath

import pyarrow.parquet as pq

from tether.errors import StoreError
from tether.store.local import MANIFEST, Shard, Store, _sigint_deferred, checked_shard, hold_before_commit, new_manifest

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
        fs.pipe_file(f"{path}/{MANIFEST}", _json_bytes(new_manifest(config)))
        return cls(root)

    # -- manifest (one object, replaced whole; `Store` updates it through these) ---------------

    def manifest(self) -> dict:
        try:
            return json.loads(self.fs.cat_file(f"{self._path}/{MANIFEST}"))
        except json.JSONDecodeError as exc:
            raise StoreError(f"{self.url}/{MANIFEST} is not valid JSON: {exc}") from None

    def _put_manifest(self, manifest: dict) -> None:
        self.fs.pipe_file(f"{self._path}/{MANIFEST}", _json_bytes(manifest))

    def writing(self, labels, what: str):
        return contextlib.nullcontext()  # no lock on object storage: one driver per store (documented)

    def _manifest_lock(self):
        return contextlib.nullcontext()  # no lock on object storage: one driver per store

    # -- shards ----------------------------------------------------------------------------

    def shard_paths(self, table: str, label: str | None = None) -> list[PurePosixPath]:
        """Listed, not globbed: the store's own path may hold pattern characters."""
        self.fs.invalidate_cache()
        base = f"{self._path}/{table}" + (f"/{label}" if label else "")
        if not self.fs.exists(base):
            return []
        found = [PurePosixPath(p) for p in self.fs.find(base)]
        depth = 1 if label else 2  # files directly under the label folder
        return sorted(p for p in found if p.suffix == ".parquet" and not p.name.startswith(".")
                      and len(p.relative_to(PurePosixPath(base)).parts) == depth)

    def shard_urls(self, table: str, label: str | None = None) -> list[str]:
        return [f"{self.protocol}://{path}" for path in self.shard_paths(table, label)]

    def has_shard(self, table: str, label: str, name: str) -> bool:
        self.fs.invalidate_cache()
        return self.fs.exists(f"{self._path}/{table}/{label}/part-{name}.parquet")

    def labels(self, table: str = "samples") -> list[str]:
        return sorted({p.parent.name for p in self.shard_paths(table)})

    def write(self, shards) -> list[PurePosixPath]:
        staged = [self._stage_bytes(shard) for shard in shards]
        hold_before_commit(shards)
        done: list[str] = []
        with _sigint_deferred():
            try:
                for key, data in staged:
                    self.fs.invalidate_cache()
                    if self.fs.exists(key):
                        raise StoreError(f"shard {self.protocol}://{key} exists; stores are append-only")
                    self.fs.pipe_file(key, data)
                    done.append(key)
            except BaseException:
                for key in done:
                    self.fs.rm_file(key)
                raise
        return [PurePosixPath(key) for key in done]

    def _stage_bytes(self, shard: Shard) -> tuple[str, bytes]:
        data = checked_shard(shard)
        buffer = io.BytesIO()
        pq.write_table(data, buffer, compression="zstd")
        return f"{self._path}/{shard.table}/{shard.partition}/part-{shard.name}.parquet", buffer.getvalue()


def _json_bytes(payload: dict) -> bytes:
    return (json.dumps(payload, indent=2) + "\n").encode()
