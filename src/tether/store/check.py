"""`tether check STORE [--repair]`: is every shard whole, and is every (task, sample) counted once?

Checks the manifest (`check_location`: a lost or unreadable one is a finding, rebuilt from the
shards' own records on repair, `tether.store.rebuild`), every committed shard's bytes
(`tether.store.integrity`: a sealed shard's every byte against its seal's SHA-256; a shard written
before seals by reading its every page with pyarrow, checksums verified) and columns, duplicate
(task_id, sample_idx) keys per label (samples; verdicts under the current verifier versions),
groups left uncommitted by a killed writer (`tether.store.commit`), and hidden temporary files
left by killed writers anywhere in the store. `repair=True` (local stores) moves damaged shards,
the shards of uncommitted groups and shards whose every key another shard already holds into
``<store>/quarantine/`` (never deleting them), and removes the temporary files whose writer is
certainly gone. Duplicates spread over shards that also hold unique keys are reported, not
guessed at; a group or temporary file whose writer still runs is left alone.

Repair never fails on the damage it exists to repair: a count that cannot be made because a shard
does not read (one written before seals, whose damage nothing else showed) finds that shard by
reading each on its own, and quarantines it.

Verdicts whose sample's text changed since they graded it (a samples shard quarantined, then
refilled with other text) are a warning, not damage: nothing is unreadable or counted twice, and
the next `tether grade` regrades them. They are reported per label and leave the check ok.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from tether.errors import StoreError
from tether.store.commit import PendingGroup, process_alive
from tether.store.images import image_key, read_image, stored_images
from tether.store.local import MANIFEST, QUARANTINE, TABLE_SCHEMAS, ManifestError, Store, is_remote, stray_shards
from tether.store.query import changed_completions, duplicate_keys, prompt_image_digests, scan_error

__all__ = ["QUARANTINE", "CheckReport", "Problem", "check_location", "check_store"]


@dataclass
class Problem:
    kind: str  # manifest, unreadable, damaged, columns, duplicates, uncommitted, temp, missing (images); warnings:
    # changed, unproven
    where: str
    detail: str
    repaired: bool = False


@dataclass
class CheckReport:
    root: str
    shards: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # findings `tether grade` fixes; they leave the check ok
    unsealed: int = 0  # shards written before seals: their footers and pages read, their bytes are not proven

    @property
    def ok(self) -> bool:
        """True when nothing is left to fix."""
        return all(p.repaired for p in self.problems)

    def to_dict(self) -> dict:
        """`tether check --json`: the findings and the verdict."""
        return {"store": self.root, "shards": self.shards, "unsealed": self.unsealed, "ok": self.ok,
                "problems": [asdict(p) for p in self.problems], "warnings": [asdict(w) for w in self.warnings]}


def check_location(location, repair: bool = False) -> CheckReport:
    """`check_store` of the store at `location`, where a manifest that is missing (while shards remain) or
    does not read is itself a finding: on repair, the unreadable one is set aside and a manifest rebuilt
    from the shards' records, then the store is checked. A manifest of another schema version is an error."""
    from tether.store import open_store

    if is_remote(location) or not Path(location).is_dir():
        return check_store(open_store(location), repair)
    root = Path(location)
    path = root / MANIFEST
    damaged: bytes | None = None
    if not path.is_file():
        shards = stray_shards(root)
        if not shards:
            raise StoreError(f"{root} is not a tether store (no {MANIFEST})")
        problem = f"missing, while {len(shards)} shards remain"
        way_out = "--repair rebuilds it from the shards' own records"
    else:
        try:
            return check_store(Store(root), repair)
        except ManifestError as exc:
            damaged, problem = path.read_bytes(), exc.problem
            way_out = "--repair sets it aside and rebuilds it from what still reads and the shards' records"
    if not repair:
        report = CheckReport(str(root))
        report.problems.append(Problem("manifest", str(path), f"{problem}; {way_out}"))
        return report
    from tether.store.rebuild import rebuild_manifest

    rebuilt = rebuild_manifest(root, damaged)
    report = check_store(Store(root), repair)
    report.problems.insert(0, Problem("manifest", str(path), f"{problem}; {rebuilt.summary()}", repaired=True))
    report.warnings += [Problem("unproven", str(path), line) for line in rebuilt.missing]
    return report


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
            problem, sealed = _shard_problem(store, path, [f.name for f in schema if not f.nullable])
            report.unsealed += not sealed and problem is None
            if problem:
                report.problems.append(problem)
                if repair:
                    problem.detail += f"; moved to {store.quarantine(store.relative(path))}"
                    problem.repaired = True
                else:
                    damaged.add((table, Path(path).parent.name))
    for table in ("samples", "verdicts"):
        for label in store.labels(table):
            if (table, label) in damaged:  # keys cannot be counted until the bad shard is out of the way
                continue
            try:
                extra = duplicate_keys(store, table, label)
            except StoreError as exc:  # a shard no inspection faulted does not read: find it on its own
                report.problems.append(_scan_failed(store, table, label, exc, repair))
                damaged.add((table, label))
                continue
            if extra:
                report.problems.append(_duplicates(store, table, label, extra, repair))
    for label in store.labels("verdicts"):
        if not {("samples", label), ("verdicts", label)} & damaged:
            try:
                changed, _ = changed_completions(store, label)
            except StoreError as exc:
                report.problems.append(_scan_failed(store, "samples", label, exc, repair))
                continue
            if changed:
                report.warnings.append(Problem("changed", f"verdicts/{label}",
                                               f"{changed} verdicts graded a completion whose text has changed since "
                                               "(refilled or replaced); `tether grade` regrades them"))
    report.problems += _images(store, repair)
    if not is_remote(store.root):
        report.problems += _temps(store, repair)
    return report


def _images(store: Store, repair: bool) -> list[Problem]:
    """Every stored image whole (its bytes hash to its name; a damaged one is quarantined on repair), and every
    image a stored prompt names present (`tether sample` with the tasks writes the missing ones again)."""
    problems = []
    for digest in stored_images(store):
        try:
            read_image(store, digest)
        except StoreError:
            problem = Problem("damaged", image_key(digest), "its bytes do not hash to its name")
            if repair and not is_remote(store.root):
                problem.detail += f"; moved to {store.quarantine(image_key(digest))}"
                problem.repaired = True
            problems.append(problem)
    missing = prompt_image_digests(store) - set(stored_images(store))
    if missing:
        problems.append(Problem("missing", "images", f"{len(missing)} images the stored prompts name are not in "
                                f"the store (e.g. sha256:{min(missing)}); run `tether sample` again with the "
                                "tasks: it writes them"))
    return problems


def _shard_problem(store: Store, path, wanted: list[str]) -> tuple[Problem | None, bool]:
    """(the problem of one shard or None, whether it is sealed)."""
    found = store.inspect(path, full=True)
    if found.problem:
        kind = "unreadable" if found.unreadable else "damaged"
        return Problem(kind, str(path), found.problem), found.sealed
    missing = [name for name in wanted if name not in found.columns]
    if missing:
        return Problem("columns", str(path), f"lacks columns {', '.join(missing)}"), found.sealed
    return None, found.sealed


def _scan_failed(store: Store, table: str, label: str, exc: StoreError, repair: bool) -> Problem:
    """A label whose scan fails though every shard passed `inspect` (shards written before seals, whose
    damaged values still decode in pyarrow but not in DuckDB): each shard scanned on its own, the failing
    ones quarantined on repair."""
    where = f"{table}/{label}"
    bad = [(path, error) for path, url in zip(store.shard_paths(table, label), store.shard_urls(table, label))
           if (error := scan_error(url))]
    if not bad:
        return Problem("unreadable", where, f"its shards do not read together ({exc}), though each reads alone")
    named = ", ".join(f"{Path(path).name} ({error})" for path, error in bad[:3])
    if not repair:
        return Problem("unreadable", where, f"{len(bad)} shards do not read: {named}")
    moved = [store.quarantine(store.relative(path)) for path, _ in bad]
    return Problem("unreadable", where, f"{len(bad)} shards did not read: {named}; moved to {', '.join(moved)}",
                   repaired=True)


def _duplicates(store: Store, table: str, label: str, extra: int, repair: bool) -> Problem:
    """Shards whose every key an earlier shard (by name) already holds are the copies."""
    where = f"{table}/{label}"
    if is_remote(store.root):
        return Problem("duplicates", where, f"{extra} duplicate keys; remove the extra run's shards")
    seen: set[tuple[str, int]] = set()
    copies = []
    for path in store.shard_paths(table, label):
        keys = pq.read_table(path, columns=["task_id", "sample_idx"], page_checksum_verification=True)
        found = set(zip(keys.column("task_id").to_pylist(), keys.column("sample_idx").to_pylist()))
        if found and found <= seen:
            copies.append(Path(path))
        seen |= found
    if repair and copies:
        for path in copies:
            store.quarantine(store.relative(path))
        left = duplicate_keys(store, table, label)
        return Problem("duplicates", where, f"{extra} duplicate keys; quarantined {len(copies)} copied shards"
                       + (f"; {left} remain in shards that also hold unique keys" if left else ""), repaired=not left)
    hint = f"{len(copies)} shards are whole copies (--repair quarantines them)" if copies else \
        "no shard is a whole copy: remove the extra run's shards by hand"
    return Problem("duplicates", where, f"{extra} duplicate keys; {hint}")


def _temps(store: Store, repair: bool) -> list[Problem]:
    """Hidden temporary files anywhere in the store. Those whose writer is certainly gone are problems
    (removed on repair, with the labels' locks taken to prove a writer in a label's folder gone); those of
    a writer still running are its work in progress, not a finding."""
    root = Path(store.root)
    temps = [path for path in sorted(root.rglob(".*.tmp-*"))
             if path.is_file() and not _writer_runs_here(path.name)]  # a running writer's are its work in progress
    if not temps:
        return []
    if not repair:
        unsure = ("left by a killed writer unless its writer, which this host cannot see, still runs (--repair "
                  "removes it when its label's lock is free)")
        return [Problem("temp", str(t), "left by a killed writer (--repair removes it)"
                        if store.temp_writer_gone(t, set()) else unsure) for t in temps]
    store.remove_dead_temps(set())
    for label in sorted({Path(store.relative(t)).parts[1] for t in temps if _label_folder(store, t) and t.exists()}):
        try:
            with store.writing([label], "tether check --repair"):  # held: its folder's writer is gone
                store.remove_dead_temps({label})
        except StoreError:
            continue
    for temp in temps:  # elsewhere in the store (inside quarantine/, a stray folder): by pid and host alone
        if temp.exists() and store.temp_writer_gone(temp, set()):
            temp.unlink(missing_ok=True)
    return [Problem("temp", str(t), _left_because(t)) if t.exists() else
            Problem("temp", str(t), "left by a killed writer; removed", repaired=True) for t in temps]


def _label_folder(store: Store, temp: Path) -> bool:
    parts = Path(store.relative(temp)).parts
    return len(parts) == 3 and parts[0] in TABLE_SCHEMAS


def _writer_runs_here(name: str) -> bool:
    """True when a temp file's name says it is being staged by a process running on this host (its work in
    progress, not a finding)."""
    parts = name.rsplit(".tmp-", 1)[1].split("-", 2)
    if not parts[0].isdigit() or (len(parts) == 3 and parts[2] != socket.gethostname()):
        return False
    return int(parts[0]) == os.getpid() or process_alive(int(parts[0]))


def _left_because(temp: Path) -> str:
    parts = temp.name.rsplit(".tmp-", 1)[1].split("-", 2)
    if parts[0].isdigit() and len(parts) == 3 and parts[2] != socket.gethostname():
        return f"staged by pid {parts[0]} on {parts[2]}, which this host cannot see, and its label is being written; " \
               "left alone"
    return "its writer cannot be told (an older tether's name) and its label is being written; left alone"


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
