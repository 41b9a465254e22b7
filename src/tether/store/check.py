"""`tether check STORE [--repair]`: is every shard readable, and is every (task, sample) counted once?

Checks the manifest, every committed shard's Parquet footer and columns, duplicate (task_id,
sample_idx) keys per label (samples; verdicts under the current verifier versions), groups left
uncommitted by a killed writer (`tether.store.commit`), and hidden temporary files left by killed
writers. `repair=True` (local stores) moves unreadable shards, the shards of uncommitted groups
and shards whose every key another shard already holds into ``<store>/quarantine/`` (never
deleting them), and removes the temporary files. Duplicates spread over shards that also hold
unique keys are reported, not guessed at; a group whose writer still runs is left alone.

Verdicts whose sample's text changed since they graded it (a samples shard quarantined, then
refilled with other text) are a warning, not damage: nothing is unreadable or counted twice, and
the next `tether grade` regrades them. They are reported per label and leave the check ok.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from tether.errors import StoreError
from tether.store.commit import PendingGroup
from tether.store.local import QUARANTINE, TABLE_SCHEMAS, Store, is_remote
from tether.store.query import changed_completions, duplicate_keys

__all__ = ["QUARANTINE", "CheckReport", "Problem", "check_store"]


@dataclass
class Problem:
    kind: str  # unreadable, columns, duplicates, uncommitted, temp; warnings: changed
    where: str
    detail: str
    repaired: bool = False


@dataclass
class CheckReport:
    root: str
    shards: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # findings `tether grade` fixes; they leave the check ok

    @property
    def ok(self) -> bool:
        """True when nothing is left to fix."""
        return all(p.repaired for p in self.problems)


def check_store(store: Store, repair: bool = False) -> CheckReport:
    """Check a store (its manifest must be readable: `open_store` checked it); repair what can be."""
    if repair and is_remote(store.root):
        raise StoreError(f"{store.root}: --repair works on local stores only (object storage: copy the store first)")
    report = CheckReport(str(store.root))
    report.problems += [_uncommitted(store, group, repair) for group in store.pending_groups()]
    damaged: set[tuple[str, str]] = set()  # (table, label) with a bad shard left in place
    for table, schema in TABLE_SCHEMAS.items():
        for path in store.shard_paths(table):
            report.shards += 1
            problem = _shard_problem(store, path, [f.name for f in schema if not f.nullable])
            if problem:
                report.problems.append(problem)
                if repair:
                    store.quarantine(store.relative(path))
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
    for label in store.labels("verdicts"):
        if not {("samples", label), ("verdicts", label)} & damaged:
            changed, _ = changed_completions(store, label)
            if changed:
                report.warnings.append(Problem("changed", f"verdicts/{label}",
                                               f"{changed} verdicts graded a completion whose text has changed since "
                                               "(refilled or replaced); `tether grade` regrades them"))
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
            store.quarantine(store.relative(path))
        left = duplicate_keys(store, table, label)
        return Problem("duplicates", where, f"{extra} duplicate keys; quarantined {len(copies)} copied shards"
                       + (f"; {left} remain in shards that also hold unique keys" if left else ""), repaired=not left)
    hint = f"{len(copies)} shards are whole copies (--repair quarantines them)" if copies else \
        "no shard is a whole copy: remove the extra run's shards by hand"
    return Problem("duplicates", where, f"{extra} duplicate keys; {hint}")


def _uncommitted(store: Store, group: PendingGroup, repair: bool) -> Problem:
    """A pending group: rolled back on repair when its labels' locks can be taken (its writer is gone)."""
    where = f"{store.root}/.pending/{group.name}"
    detail = f"{len(group.shards)} shards of labels {', '.join(group.labels) or '-'} not committed " \
             f"(pid {group.pid} on {group.host}, since {group.since})"
    if not repair:
        return Problem("uncommitted", where, detail + ("; its writer still runs" if group.writer_alive() else
                                                       "; its writer is gone (--repair quarantines them)"))
    try:
        with store.writing(group.labels, "tether check --repair"):  # rolls back groups of dead writers
            pass
    except StoreError as exc:
        return Problem("uncommitted", where, f"{detail}; left alone: {exc}")
    gone = group.name not in {g.name for g in store.pending_groups()}
    return Problem("uncommitted", where, detail + ("; quarantined" if gone else "; its writer still runs"),
                   repaired=gone)
