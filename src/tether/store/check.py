"""`tether check STORE [--repair]`: is every shard readable, and is every (task, sample) counted once?

Checks the manifest, every committed shard's Parquet footer and columns, duplicate (task_id,
sample_idx) keys per label (samples; verdicts under the current verifier versions), and hidden
temporary files left by killed writers. `repair=True` (local stores) moves unreadable shards and
shards whose every key another shard already holds into ``<store>/quarantine/`` (never deleting
them), and removes the temporary files. Duplicates spread over shards that also hold unique keys
are reported, not guessed at.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from tether.errors import StoreError
from tether.store.local import TABLE_SCHEMAS, Store, is_remote
from tether.store.query import duplicate_keys

QUARANTINE = "quarantine"


@dataclass
class Problem:
    kind: str  # unreadable, columns, duplicates, temp
    where: str
    detail: str
    repaired: bool = False


@dataclass
class CheckReport:
    root: str
    shards: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is left to fix."""
        return all(p.repaired for p in self.problems)


def check_store(store: Store, repair: bool = False) -> CheckReport:
    """Check a store (its manifest must be readable: `open_store` checked it); repair what can be."""
    if repair and is_remote(store.root):
        raise StoreError(f"{store.root}: --repair works on local stores only (object storage: copy the store first)")
    report = CheckReport(str(store.root))
    damaged: set[tuple[str, str]] = set()  # (table, label) with a bad shard left in place
    for table, schema in TABLE_SCHEMAS.items():
        for path in store.shard_paths(table):
            report.shards += 1
            problem = _shard_problem(store, path, schema.names)
            if problem:
                report.problems.append(problem)
                if repair:
                    _quarantine(store, Path(path))
                    problem.repaired = True
                else:
                    damaged.add((table, Path(path).parent.name))
    for table in ("samples", "verdicts"):
        for label in store.labels(table):
            if (table, label) in damaged:  # keys cannot be counted until the bad shard is out of the way
                continue
            extra = duplicate_keys(store, table, label)
            if extra:
                report.problems.append(_duplicates(store, table, label, extra, repair))
    if not is_remote(store.root):
        for temp in sorted(Path(store.root).rglob(".part-*.tmp-*")):
            report.problems.append(Problem("temp", str(temp), "left by a killed writer", repaired=repair))
            if repair:
                temp.unlink(missing_ok=True)
    return report


def _shard_problem(store: Store, path, wanted: list[str]) -> Problem | None:
    try:
        if is_remote(store.root):
            with store.fs.open(str(path), "rb") as handle:
                names = pq.ParquetFile(handle).schema_arrow.names
        else:
            names = pq.ParquetFile(path).schema_arrow.names
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the finding
        return Problem("unreadable", str(path), f"not a readable Parquet file ({type(exc).__name__}: {exc})")
    missing = [name for name in wanted if name not in names]
    if missing:
        return Problem("columns", str(path), f"lacks columns {', '.join(missing)}")
    return None


def _duplicates(store: Store, table: str, label: str, extra: int, repair: bool) -> Problem:
    """Shards whose every key an earlier shard (by name) already holds are the copies."""
    where = f"{table}/{label}"
    if is_remote(store.root):
        return Problem("duplicates", where, f"{extra} duplicate keys; remove the extra run's shards")
    seen: set[tuple[str, int]] = set()
    copies = []
    for path in store.shard_paths(table, label):
        keys = set(zip(*(pq.read_table(path, columns=["task_id", "sample_idx"]).column(c).to_pylist()
                         for c in ("task_id", "sample_idx"))))
        if keys and keys <= seen:
            copies.append(Path(path))
        seen |= keys
    if repair and copies:
        for path in copies:
            _quarantine(store, path)
        left = duplicate_keys(store, table, label)
        return Problem("duplicates", where, f"{extra} duplicate keys; quarantined {len(copies)} copied shards"
                       + (f"; {left} remain in shards that also hold unique keys" if left else ""), repaired=not left)
    hint = f"{len(copies)} shards are whole copies (--repair quarantines them)" if copies else \
        "no shard is a whole copy: remove the extra run's shards by hand"
    return Problem("duplicates", where, f"{extra} duplicate keys; {hint}")


def _quarantine(store: Store, path: Path) -> None:
    target = Path(store.root) / QUARANTINE / path.relative_to(store.root)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(target))
