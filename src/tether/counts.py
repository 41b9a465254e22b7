"""Per-task counts (n samples, c correct) of one model, from a store or a file.

Stores are scanned by DuckDB over their Parquet shards (one streaming
group-by, never all rows in memory); files of graded samples go through the
importer's validation. Everything downstream (`tether.metrics`) takes the
resulting arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tether.errors import InputError
from tether.importer import read_graded_rows
from tether.store import Store, is_remote, is_store


@dataclass(frozen=True)
class TaskCounts:
    """Samples `n` and correct samples `c` per task, sorted by task id."""

    label: str
    source: str
    task_ids: np.ndarray
    n: np.ndarray
    c: np.ndarray

    @classmethod
    def from_arrays(cls, label: str, source: str, task_ids, n, c) -> TaskCounts:
        ids = np.asarray(task_ids, dtype=object)
        order = np.argsort(ids.astype(str), kind="stable")
        as_int = [np.asarray(v).astype(np.int64)[order] for v in (n, c)]
        return cls(label, source, ids[order], *as_int)

    def __len__(self) -> int:
        return len(self.task_ids)


def connect():
    """A DuckDB connection limited to two threads (the machines this runs on)."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET threads TO 2")
    from tether.object_store import FILESYSTEMS

    for fs in FILESYSTEMS.values():  # stores on object storage, read through their fsspec filesystem
        connection.register_filesystem(fs)
    return connection


def task_counts(store: Store, model: str) -> TaskCounts:
    """(n, c) per task of one model's verdicts in a store.

    When `tether grade` graded the model, only verdicts of the verifier versions it
    recorded as current count (older versions' verdicts stay in the store, unused).
    """
    if not store.shard_paths("verdicts", model):
        samples = len(store.shard_paths("samples", model))
        hint = "its samples are not graded yet (run `tether grade`)" if samples else "it has no samples"
        models = ", ".join(store.models("verdicts")) or "none"
        raise InputError(f"{store.root}: no verdicts for model {model!r}: {hint}; graded models: {models}")
    query = f"""
        SELECT task_id, count(*) AS n, sum(CAST(correct AS BIGINT)) AS c
        FROM read_parquet('{quoted(store.glob("verdicts", model))}') WHERE {current_verdicts(store, model)}
        GROUP BY task_id
    """
    with connect() as connection:
        columns = connection.sql(query).fetchnumpy()
    graded, total = int(columns["n"].sum()), _row_count(store, "samples", model)
    if graded < total:
        raise InputError(
            f"{store.root}: {total - graded} of {total} samples of model {model!r} have no verdict (run `tether grade`)"
        )
    return TaskCounts.from_arrays(model, str(store.root), columns["task_id"], columns["n"], columns["c"])


def versions_clause(versions: dict[str, str] | None) -> str:
    """SQL condition keeping verdicts of these verifier versions (all verdicts when None)."""
    if not versions:
        return "TRUE"
    return "verifier_version IN (" + ", ".join(f"'{quoted(v)}'" for v in versions.values()) + ")"


def current_verdicts(store: Store, model: str) -> str:
    """SQL condition keeping the verdicts of the versions `tether grade` recorded as current for `model`."""
    return versions_clause(store.manifest().get("grading", {}).get(model, {}).get("versions"))


def sample_counts(store: Store, model: str) -> dict[str, int]:
    """Number of stored samples per task of one model (empty when there are none)."""
    if not store.shard_paths("samples", model):
        return {}
    query = f"SELECT task_id, count(*) FROM read_parquet('{quoted(store.glob('samples', model))}') GROUP BY 1"
    with connect() as connection:
        return dict(connection.sql(query).fetchall())


def existing_sample_keys(store: Store, model: str, keys: pa.Table) -> list[tuple[str, int]]:
    """Which (task_id, sample_idx) of `keys` the store already holds for `model`."""
    if not store.shard_paths("samples", model):
        return []
    query = f"""
        SELECT k.task_id, k.sample_idx FROM keys AS k
        JOIN read_parquet('{quoted(store.glob("samples", model))}') AS s USING (task_id, sample_idx)
        ORDER BY 1, 2
    """
    with connect() as connection:
        connection.register("keys", keys)
        return [(str(t), int(i)) for t, i in connection.sql(query).fetchall()]


def _row_count(store: Store, table: str, model: str) -> int:
    if not store.shard_paths(table, model):
        return 0
    with connect() as connection:
        query = f"SELECT count(*) FROM read_parquet('{quoted(store.glob(table, model))}')"
        return int(connection.sql(query).fetchall()[0][0])


def quoted(path: str) -> str:
    """`path` made safe inside a single-quoted SQL string."""
    return path.replace("'", "''")


def load_counts(source: str | Path, label: str | None, role: str) -> TaskCounts:
    """Counts of one model from a store (by label) or a file of graded samples.

    `role` ('base' or 'rl') is the default label when a store or file holds several models.
    """
    path = source if is_remote(source) else Path(source)
    if is_store(path):
        store = Store(path)
        models = store.models("verdicts") or store.models("samples")
        chosen = label or (models[0] if len(models) == 1 else role)
        return task_counts(store, chosen)
    if is_remote(path):
        raise InputError(f"{path}: not a tether store (no manifest.json)")
    if path.is_dir():
        raise InputError(f"{path}: a directory but not a tether store (no manifest.json)")
    rows = read_graded_rows(path, default_model=label or role)
    if not rows.graded:
        raise InputError(f"{path}: rows have no 'correct' field; grade them first (`tether grade`)")
    models = rows.models
    chosen = label or (models[0] if len(models) == 1 else role)
    if chosen not in models:
        raise InputError(f"{path}: no rows of model {chosen!r}; models in the file: {', '.join(models)}")
    return _counts_of_rows(rows.table, chosen, str(path))


def _counts_of_rows(table: pa.Table, label: str, source: str) -> TaskCounts:
    part = table.filter(pc.equal(table.column("model"), label))
    grouped = part.group_by("task_id").aggregate([("task_id", "count"), ("correct", "sum")])
    renamed = {"task_id_count": "n", "correct_sum": "c"}
    grouped = grouped.rename_columns([renamed.get(name, name) for name in grouped.column_names])
    return TaskCounts.from_arrays(
        label, source, grouped.column("task_id").to_pylist(), grouped.column("n"), grouped.column("c")
    )
