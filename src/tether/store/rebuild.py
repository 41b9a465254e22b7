"""Rebuilding a store's lost or unreadable manifest from its shards' own records (`tether check --repair`).

Each shard tether writes records, in its footer, what the manifest said of its label when it was
written (`tether.store.integrity`): a samples or tasks shard its label's run (settings and k), a
verdicts shard its label's current verifier versions. From them `rebuild_manifest` restores

- each sampled label's run: the settings of its newest shard, with the largest k recorded under
  those settings;
- each graded label's current verifier versions: those of its newest verdicts shard; for verdicts
  written before shards kept records, the versions when each verifier has exactly one among them.

What the shards cannot say is named (`Rebuilt.missing`): the history, the settings of a label whose
samples were all written before shards kept records (sampled or imported: nothing tells), the
versions of a label graded under several. An unreadable manifest is first set aside in
``quarantine/`` (never deleted), and every field of it that still reads is kept as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from pydantic import ValidationError

from tether.store.commit import PENDING, PendingGroup
from tether.store.integrity import inspect
from tether.store.local import QUARANTINE, _write_bytes_atomic, new_shard_name, stray_shards
from tether.store.manifest import MANIFEST, Grading, Run, manifest_bytes, new_manifest, salvage


@dataclass
class Rebuilt:
    """What `rebuild_manifest` did."""

    runs: list[str] = field(default_factory=list)  # labels whose run came from their shards' records
    grading: list[str] = field(default_factory=list)  # labels whose current verifier versions were restored
    kept: list[str] = field(default_factory=list)  # labels and fields kept from the unreadable manifest
    missing: list[str] = field(default_factory=list)  # what could not be rebuilt, one line each
    set_aside: str | None = None  # where the unreadable manifest went (relative to the store)
    shards: int = 0

    def summary(self) -> str:
        parts = [f"rebuilt from the records of {self.shards} shards"]
        if self.set_aside:
            parts.append(f"the unreadable one moved to {self.set_aside}")
        if self.kept:
            parts.append("kept from it: " + ", ".join(self.kept))
        parts.append("runs of " + (", ".join(self.runs) or "no label"))
        parts.append("verifier versions of " + (", ".join(self.grading) or "no label"))
        return "; ".join(parts)


def rebuild_manifest(root: str | os.PathLike, damaged: bytes | None = None) -> Rebuilt:
    """Write a manifest for the store folder `root` from its shards' records (and what still reads of
    `damaged`, the bytes of its unreadable manifest, which are first set aside in quarantine/)."""
    root = Path(root)
    result = Rebuilt()
    manifest, dropped = salvage(damaged) if damaged is not None else (None, [])
    if damaged is not None:
        folder = root / QUARANTINE
        folder.mkdir(parents=True, exist_ok=True)
        aside = folder / f"manifest-{new_shard_name('unreadable')}.json"
        _write_bytes_atomic(aside, damaged)
        result.set_aside = aside.relative_to(root).as_posix()
    if manifest is None:
        manifest = new_manifest()
    else:
        result.kept = [key for key in ("runs", "grading", "history", "config") if getattr(manifest, key)]
        result.missing += [f"manifest field {name} did not read: rebuilt from the shards where they say"
                           for name in dropped]
    pending = _pending_shards(root)
    records: dict[tuple[str, str], list[dict]] = {}
    legacy: dict[tuple[str, str], list[Path]] = {}
    for relative in stray_shards(root):
        if relative in pending:
            continue
        table, label = relative.split("/")[:2]
        path = root / relative
        with open(path, "rb") as handle:
            found = inspect(handle, os.fstat(handle.fileno()).st_size, full=False)
        if found.problem:
            continue  # a damaged shard says nothing trustworthy; `tether check` quarantines it
        result.shards += 1
        if found.record is None:
            legacy.setdefault((table, label), []).append(path)
        else:
            records.setdefault((table, label), []).append(found.record)
    labels = sorted({label for table, label in set(records) | set(legacy) if table == "samples"})
    for label in labels:
        if label in manifest.runs:
            continue
        runs = [r for r in records.get(("samples", label), []) + records.get(("tasks", label), []) if r.get("run")]
        if runs:
            newest = max(runs, key=lambda r: r.get("written_at", ""))["run"]
            try:
                run = Run.model_validate(newest)
            except ValidationError:
                result.missing.append(f"label {label!r}: its newest shard's run record does not read")
                continue
            same = [r["run"] for r in runs if r["run"].get("settings") == newest.get("settings")]
            run.k = max([run.k] + [int(r.get("k", 0)) for r in same if isinstance(r.get("k"), int)])
            manifest.runs[label] = run
            result.runs.append(label)
        elif legacy.get(("samples", label)):
            result.missing.append(
                f"label {label!r}: its samples were written before shards kept their run's settings, so whether it "
                "was sampled (and with what) is unknown; `tether sample` into it would not be checked against them")
    graded = sorted({label for table, label in set(records) | set(legacy) if table == "verdicts"})
    for label in graded:
        if label in manifest.grading:
            continue
        marked = [r for r in records.get(("verdicts", label), []) if r.get("grading")]
        if marked:
            newest = max(marked, key=lambda r: r.get("written_at", ""))["grading"]
            try:
                manifest.grading[label] = Grading.model_validate(newest).without_stamps()
                result.grading.append(label)
            except ValidationError:
                result.missing.append(f"label {label!r}: its newest verdicts shard's grading record does not read")
            continue
        if not legacy.get(("verdicts", label)):
            continue  # imported verdicts only: every verdict counts, as before
        versions = _single_versions(legacy[("verdicts", label)])
        if versions:
            manifest.grading[label] = Grading(versions=versions)
            result.grading.append(label)
        elif versions is None:
            result.missing.append(f"label {label!r}: its verdicts (written before shards kept records) hold several "
                                  "versions of a verifier, and nothing says which is current; `tether grade` "
                                  "regrades what it needs under its own")
    manifest.add_event("rebuilt", shards=result.shards, runs=result.runs, grading=result.grading,
                       missing=result.missing, set_aside=result.set_aside)
    _write_bytes_atomic(root / MANIFEST, manifest_bytes(manifest))
    return result


def _pending_shards(root: Path) -> set[str]:
    found: set[str] = set()
    folder = root / PENDING
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found |= set(PendingGroup.from_json(path.read_text()).shards)
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return found


def _single_versions(paths: list[Path]) -> dict[str, str] | None:
    """verifier -> version when each tether verifier (not ``imported``) has one version among the verdicts
    in `paths`; {} when there are none but imported ones; None when some verifier has several."""
    seen: dict[str, set[str]] = {}
    for path in paths:
        try:
            table = pq.read_table(path, columns=["verifier", "verifier_version"])
        except Exception:  # noqa: BLE001 - a shard that does not read is left to `tether check`
            continue
        pairs = zip(table.column("verifier").to_pylist(), table.column("verifier_version").to_pylist())
        for verifier, version in pairs:
            if verifier != "imported":
                seen.setdefault(verifier, set()).add(version)
    if any(len(versions) > 1 for versions in seen.values()):
        return None
    return {verifier: next(iter(versions)) for verifier, versions in seen.items()}
