"""The store: where the stages meet. Parquet shards plus a JSON manifest, on disk or object storage.

- `open_store(location)` opens a store in a folder (`Store`) or at an fsspec URL (`ObjectStore`),
  `create=True` makes it first when absent;
- `tether.store.schema` declares the tables' records and Arrow schemas once;
- `tether.store.manifest` is the manifest's one owner: its typed record, reader and writer;
- `tether.store.integrity` is what proves a shard's bytes (page checksums, a seal, its own record);
- `tether.store.query` is the read side: the only place with SQL (DuckDB over the shards);
- `tether.store.check` and `tether.store.rebuild` are `tether check [--repair]`.

This package knows Parquet, Arrow and paths, not engines, verifiers or metrics.
"""

from __future__ import annotations

import os

from tether.store.local import MANIFEST, Shard, Store, is_local_store, is_remote, new_shard_name
from tether.store.schema import SCHEMA_VERSION, TaskCounts, check_label


def is_store(location: str | os.PathLike) -> bool:
    """True when `location` (a folder or an object-storage URL) holds a tether manifest."""
    if is_remote(location):
        from tether.store.objects import remote_is_store

        return remote_is_store(str(location))
    return is_local_store(location)


def open_store(location: str | os.PathLike | Store, *, create: bool = False, config: dict | None = None) -> Store:
    """The store at `location`: a folder, or an object-storage URL (``s3://bucket/run``, ``gs://…``).

    With `create=True` a missing store is made first (with `config` in its manifest)."""
    if isinstance(location, Store):
        return location
    if is_remote(location):
        from tether.store.objects import ObjectStore as backend
    else:
        backend = Store
    if create and not is_store(location):
        return backend.create(location, config)
    return backend(location)


__all__ = ["MANIFEST", "SCHEMA_VERSION", "Shard", "Store", "TaskCounts", "check_label", "is_remote", "is_store",
           "new_shard_name", "open_store"]
