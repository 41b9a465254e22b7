"""A store's comparison, overall and per benchmark, computed once and kept in the store.

`compare_store` compares two labels of one store on all their tasks and on each benchmark's
tasks (and, where both labels keep two verdict sets or more, the regions under each:
`tether.compare.sensitivity`); `save_store_comparison` writes it to ``<store>/compare/`` (compare.json with a
``benchmarks`` section and both labels' reward-hacking signals, and tasks.csv), stamped with what
it was computed from: the labels and the verdict shards and current verifier versions of both.
`load_store_comparison` returns it only while that stamp still matches (and, when options are
asked for, it was made with them), so the report shows the saved comparison instead of computing
it again, and never a stale one. `compare_and_keep` (`tether compare STORE`) and `keep_study` (`tether compare
STORE --rl a --rl b`) keep what they computed there as `tether run` does; a comparison of files keeps nothing.
Every function here opens the store once, or uses the opened `Store` it is given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tether.compare.counts import adaptive_budgets
from tether.compare.result import CompareOptions, Comparison, save_comparison
from tether.compare.run import compare_counts, compare_labels
from tether.store import Store, is_remote, open_store
from tether.store.query import task_benchmarks

if TYPE_CHECKING:
    from tether.compare.study import Study

FOLDER = "compare"


@dataclass
class StoreComparison:
    """The comparison of a store's two labels on all tasks, and on each benchmark's tasks."""

    overall: Comparison
    benchmarks: dict[str, Comparison]
    benchmark_of: dict[str, str]  # task id -> benchmark ("all" when the store does not say)
    stamp: str

    def to_dict(self) -> dict:
        payload = self.overall.to_dict()
        for task in payload["tasks"]:
            task["benchmark"] = self.benchmark_of.get(task["task_id"], "all")
        payload["benchmarks"] = {name: {k: v for k, v in c.to_dict().items() if k != "tasks"}
                                 for name, c in self.benchmarks.items()}
        payload["stamp"] = self.stamp
        return payload

    @classmethod
    def from_dict(cls, payload: dict) -> StoreComparison:
        overall = Comparison.from_dict(payload)
        benchmark_of = {t["task_id"]: t.get("benchmark", "all") for t in payload["tasks"]}
        benchmarks = {}
        for name, part in payload.get("benchmarks", {}).items():
            tasks = [t for t in payload["tasks"] if benchmark_of[t["task_id"]] == name]
            benchmarks[name] = Comparison.from_dict({**part, "tasks": tasks})
        return cls(overall, benchmarks, benchmark_of, payload.get("stamp", ""))


def compare_store(store: str | Path | Store, base_label: str = "base", rl_label: str = "rl",
                  options: CompareOptions | None = None, self_label: str | None = None,
                  verifiers: Sequence[str] | None = None) -> StoreComparison:
    """Compare two labels of one store, overall and per benchmark (and `self_label` against itself), the store
    opened once (`compare_labels`: the one pair path); the regions under each of `verifiers`, or when none is
    named under every verdict set both labels keep whole, where they keep two or more."""
    store = open_store(store)
    options = options or CompareOptions()
    overall = compare_labels(store, base_label, rl_label, options, self_label=self_label, verifiers=verifiers,
                             every_set=True)
    budgets, _ = adaptive_budgets([(store, base_label), (store, rl_label)])
    benchmark_of = {str(t): "all" for t in overall.task_ids}
    benchmark_of.update({t: b for t, b in task_benchmarks(store, base_label).items() if t in benchmark_of})
    benchmarks = {}
    for name in sorted(set(benchmark_of.values())):  # the overall comparison's counts are aligned already
        ids = np.array([t for t in overall.task_ids.astype(str) if benchmark_of[t] == name], dtype=object)
        benchmarks[name] = compare_counts(overall.base.subset(ids), overall.rl.subset(ids), options, budgets)
    return StoreComparison(overall, benchmarks, benchmark_of, stamp(store, base_label, rl_label))


def stamp(store: Store, base_label: str, rl_label: str) -> str:
    """A digest of what a store comparison is computed from: labels, verdict shards, verifier versions."""
    manifest = store.manifest()
    parts = {label: {"shards": sorted(p.name for p in store.shard_paths("verdicts", label)),
                     "versions": manifest.versions(label)} for label in (base_label, rl_label)}
    for label in (base_label, rl_label):  # verdict sets, where kept (older stamps stay as they were)
        sets = {name: found.versions for name, found in manifest.verdict_sets(label).items()}
        if sets:
            parts[label]["sets"] = sets
    parts["labels"] = [base_label, rl_label]
    others = sorted(set(store.labels("verdicts")) - {base_label, rl_label})  # a self-comparison may use one
    parts["others"] = {label: sorted(p.name for p in store.shard_paths("verdicts", label)) for label in others}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def saved_path(store: Store, name: str) -> Path | None:
    """Where a saved result `name` lives in the store's compare/ folder (None on object storage: not kept)."""
    return None if is_remote(store.root) else store.root / FOLDER / name


def read_saved(store: Store, name: str) -> dict | None:
    """A saved result as JSON, or None when the store has none (or it does not parse)."""
    path = saved_path(store, name)
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def save_store_comparison(result: StoreComparison, store: str | Path | Store) -> None:
    """Write the comparison into the store's compare/ folder (local stores only: a no-op otherwise)."""
    store = open_store(store)
    if is_remote(store.root):
        return
    write_store_comparison(result, store.root / FOLDER)


def write_store_comparison(result: StoreComparison, out: str | Path) -> list[Path]:
    """compare.json (`StoreComparison.to_dict()`, what `tether compare STORE --json` prints) and tasks.csv in the
    folder `out`, each written beside and renamed over the old one (a reader sees the old file or the new)."""
    return save_comparison(result.overall, out, result.to_dict())


def compare_and_keep(store: str | Path | Store, base_label: str = "base", rl_label: str = "rl",
                     options: CompareOptions | None = None, self_label: str | None = None,
                     verifiers: Sequence[str] | None = None) -> tuple[StoreComparison, str | None]:
    """`compare_store`, then kept in the store's compare/ folder as `tether run` keeps it (`tether compare
    STORE`): the comparison and None, or, where the disk refuses the write (a read-only store, a full disk),
    the comparison and the line saying it was not kept (the comparison stands; the store keeps what it had).
    The store is opened once."""
    store = open_store(store)
    found = compare_store(store, base_label, rl_label, options, self_label, verifiers)
    return found, _kept(lambda: save_store_comparison(found, store), store, "comparison")


def keep_study(study: Study, store: str | Path | Store) -> str | None:
    """A study (`tether.compare.study.Study`) kept in the store's compare/ folder as `tether run` keeps it
    (study.json, study.csv, pair.csv and trajectory.csv where it has them; local stores only): None, or the line
    saying why it was not kept, as `compare_and_keep`."""
    store = open_store(store)
    return _kept(lambda: save_store_study(study, store), store, "study")


def save_store_study(study: Study, store: str | Path | Store) -> None:
    """Write the study into the store's compare/ folder (local stores only: a no-op otherwise), as
    `save_store_comparison` writes a comparison."""
    from tether.compare.study import save_study

    store = open_store(store)
    if not is_remote(store.root):
        save_study(study, store.root / FOLDER)


def _kept(save, store: Store, what: str) -> str | None:
    try:
        save()
    except OSError as exc:
        return f"the {what} is not kept in {store.root / FOLDER}: {exc}"
    return None


def load_store_comparison(store: str | Store, base_label: str = "base", rl_label: str = "rl",
                          options: CompareOptions | None = None, self_label: str | None = None
                          ) -> StoreComparison | None:
    """The saved comparison of these labels (made with `options`, when given), or None when absent or
    computed from other data."""
    store = open_store(store)
    payload = read_saved(store, "compare.json")
    if payload is None or payload.get("stamp") != stamp(store, base_label, rl_label) or "reward_hacks" not in payload \
            or "conclusion" not in payload or "delta_pass_at_k_band" not in payload:
        return None  # absent, from other data, or by a tether without reward hacks, conclusion or the Δ band
    try:
        found = StoreComparison.from_dict(payload)
    except (KeyError, TypeError, ValueError):  # written by an older tether: compare again
        return None
    if self_label is not None and (found.overall.self_comparison is None
                                   or found.overall.self_comparison.label != self_label):
        return None
    return found if options is None or found.overall.options == options else None


def stored_comparison(store: str | Store, base_label: str = "base", rl_label: str = "rl",
                      options: CompareOptions | None = None) -> StoreComparison:
    """The saved comparison when it is current, else computed now and saved (the store opened once)."""
    store = open_store(store)
    found = load_store_comparison(store, base_label, rl_label, options)
    if found is None:
        found = compare_store(store, base_label, rl_label, options)
        save_store_comparison(found, store)
    return found
