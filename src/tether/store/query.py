"""The store's read side: every SQL query tether runs, in one place.

DuckDB scans a store's Parquet shards (locally, or on object storage through
the store's fsspec filesystem) with streaming group-bys and joins, never
loading a table whole. Only verdicts of the verifier versions that `tether
grade` recorded as current count (`current_verdicts`); older ones stay in the
store, unused. A named verdict set (`tether grade --verifier auto,exact`) is
counted the same way under its own versions (`task_counts(..., versions=)`).
Each function takes a `Store` and returns plain Python or NumPy values; callers
never see SQL.

A verdict keeps the hash of the text it graded (`completion_hash`); `changed_completions` finds
the verdicts whose sample's text has changed since (a shard quarantined and refilled), which
`tether grade` regrades and `tether check` reports. Columns added to a table after stores were
written (the verdicts' `completion_hash` and `detail`) are read where present and taken as null
where no shard has them (`_column_or_null`), so every query works on older stores.

DuckDB does not verify Parquet page checksums: a changed byte in a data page may read as another
value without an error; `tether check` proves every shard whole (`tether.store.integrity`). Every
scan first checks each local shard's footer against its seal (`_footers_proven`, once per process
and shard), and a shard DuckDB cannot read (a damaged page) is one line naming it and `tether check
--repair` (`connect`), never a DuckDB traceback. What grading turns into new verdicts is proven
byte for byte before it is read (`_proven`): the samples it grades, their tasks (reference
answers) and the verdict cache. A value changed there would spread into stored verdicts that no
later check could trace (a verdict of a key no sample has, or of a wrong reference); a verdict
keeps its sample's text hash, but not the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from tether.errors import InputError, StoreError
from tether.store.local import Store, is_remote
from tether.store.schema import REWARD_HACKS, Diagnostic, RewardHackCounts, TaskCounts


@contextlib.contextmanager
def connect(store: Store | None = None) -> Iterator:
    """A DuckDB connection limited to two threads, with the object-storage filesystems in use.

    A shard DuckDB cannot read inside the block (truncated, zero bytes, a damaged footer or page:
    DuckDB's IO, invalid-input and plain errors, such as ``TProtocolException``) is a one-line
    `StoreError` pointing at `tether check --repair`, naming the shard where `store`'s shards show
    which (`damaged_shard`); errors in tether's own SQL (parser, binder, catalog) stay errors."""
    import duckdb

    from tether.store.objects import FILESYSTEMS

    with duckdb.connect() as connection:
        connection.execute("SET threads TO 2")
        for fs in FILESYSTEMS.values():  # stores on object storage, read through their fsspec filesystem
            connection.register_filesystem(fs)
        try:
            yield connection
        except duckdb.Error as exc:
            if isinstance(exc, _sql_errors()):
                raise
            raise damage_error(store, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) \
                from None


def _sql_errors() -> tuple:
    import duckdb

    return tuple(getattr(duckdb, name) for name in ("ParserException", "BinderException", "CatalogException",
                                                    "SyntaxException", "NotImplementedException",
                                                    "InterruptException", "TransactionException",
                                                    "ConstraintException", "DependencyException")
                 if hasattr(duckdb, name))


def damage_error(store: Store | None, message: str) -> StoreError:
    """The one-line error of a read that failed on the store's shards: naming the damaged shard when
    inspecting them finds it (`damaged_shard`), else DuckDB's own line."""
    if store is not None:
        found = damaged_shard(store)
        if found is not None:
            path, problem = found
            return store.damaged(path, problem)
        return StoreError(f"{store.root}: a shard does not read ({message}); run `tether check {store.root} --repair` "
                          "to find and quarantine it, then run again")
    return StoreError(f"a shard is damaged ({message}); run `tether check STORE --repair` to quarantine it, "
                      "then run again")


def damaged_shard(store: Store) -> tuple[object, str] | None:
    """(path, problem) of the first damaged shard of `store`: footers first (a few kilobytes each), then every
    byte of each shard. None when every shard is whole as far as `inspect` can tell."""
    from tether.store.local import TABLE_SCHEMAS

    paths = [path for table in TABLE_SCHEMAS for path in store.shard_paths(table)]
    for full in (False, True):
        for path in paths:
            found = store.inspect(path, full=full)
            if found.problem:
                return path, found.problem
    return None


def quoted(text: str) -> str:
    """`text` made safe inside a single-quoted SQL string."""
    return text.replace("'", "''")


def _table(store: Store, table: str, label: str | None = None, extra: str = "") -> str:
    """The SQL scan of one table's shards (of one label or partition), as an explicit list of files:
    no path is ever read as a pattern, and no folder name as a hive partition. Each local shard's footer
    is first checked against its seal (`_footers_proven`)."""
    _footers_proven(store, table, label)
    files = ", ".join(f"'{quoted(url)}'" for url in store.shard_urls(table, label))
    return f"read_parquet([{files}], hive_partitioning = false, union_by_name = true{extra})"


def _columns(store: Store, table: str, label: str | None = None) -> set[str]:
    """The columns a scan of the table's shards (of `label`) has: the union over its shards."""
    with connect(store) as connection:
        return set(connection.sql(f"SELECT * FROM {_table(store, table, label)}").columns)


def _column_or_null(store: Store, table: str, label: str, column: str) -> str:
    """A select-list item: the string column `column`, or null under its name where no shard has it yet."""
    return column if column in _columns(store, table, label) else f"NULL::VARCHAR AS {column}"


def _hash_of(column: str) -> str:
    """SQL for `tether.store.schema.completion_hash` of a text column (hex SHA-256 of its UTF-8 bytes)."""
    return f"sha256({column})"


def _tasks(store: Store, label: str) -> str:
    """The tasks of `label`, one row per task: a task updated by `tether grade --update-tasks`
    (a later shard, ``part-update-<time>``) has its latest row."""
    return (f"(SELECT * EXCLUDE (filename) FROM {_table(store, 'tasks', label, ', filename = true')} "
            "QUALIFY row_number() OVER (PARTITION BY task_id ORDER BY filename DESC) = 1)")


_PROVEN: set[tuple[str, int, int]] = set()  # (shard, size, mtime) proven whole in this process
_FOOTERS: set[tuple[str, int, int]] = set()  # (shard, size, mtime) whose footer is proven in this process


def _stat_key(path) -> tuple[str, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None  # gone or unreadable: the read that follows says so, in one line
    return str(path), stat.st_size, stat.st_mtime_ns


def _footers_proven(store: Store, table: str, label: str | None) -> None:
    """Every local shard's footer of `table` (of `label`) checked against its seal, once per process while its
    size and time stay (a few kilobytes each): a changed footer (a statistic DuckDB would skip row groups by, an
    offset) is the one-line error naming the shard, even where DuckDB would read it without one. Stores on
    object storage are not checked here (a request per shard): `tether check` proves them."""
    if is_remote(store.root):
        return
    for path in store.shard_paths(table, label):
        key = _stat_key(path)
        if key is None or key in _FOOTERS or key in _PROVEN:
            continue
        found = store.inspect(path, full=False, parse=False)
        if found.problem:
            raise store.damaged(path, found.problem)
        _FOOTERS.add(key)


def _proven(store: Store, table: str, label: str | None = None) -> None:
    """Every shard of `table` (of `label`) checked against its seal (`tether.store.integrity`), once per
    process while its size and time stay; a damaged one is the one-line error naming it."""
    for path in store.shard_paths(table, label):
        key = _stat_key(path) if not is_remote(store.root) else None
        if key is not None and key in _PROVEN:
            continue
        found = store.inspect(path, full=True)
        if found.problem:
            raise store.damaged(path, found.problem)
        if key is not None:
            _PROVEN.add(key)


def _rows(store: Store, query: str, register: dict | None = None) -> list[tuple]:
    with connect(store) as connection:
        for name, value in (register or {}).items():
            connection.register(name, value)
        return connection.sql(query).fetchall()


def versions_clause(versions: dict[str, str] | None) -> str:
    """SQL condition keeping verdicts of these verifier versions (all verdicts when None)."""
    if not versions:
        return "TRUE"
    return "verifier_version IN (" + ", ".join(f"'{quoted(v)}'" for v in versions.values()) + ")"


def current_verdicts(store: Store, label: str) -> str:
    """SQL condition keeping the verdicts of the versions `tether grade` recorded as current for `label`."""
    return versions_clause(store.manifest().versions(label))


def first_samples_agreement(store: Store, a: str, b: str, first: int = 2) -> tuple[int, int]:
    """(pairs, identical): each task's first `first` samples of labels `a` and `b`, paired by
    (task, sample index), and how many pairs have the same completion text (a cheap look: one
    filtered scan of each label's samples)."""
    if not store.shard_paths("samples", a) or not store.shard_paths("samples", b):
        return 0, 0
    pick = f"SELECT task_id, sample_idx, completion FROM {{}} WHERE sample_idx < {int(first)} AND completion IS NOT NULL"
    query = f"""SELECT count(*), count(*) FILTER (WHERE x.completion = y.completion)
        FROM ({pick.format(_table(store, "samples", a))}) x JOIN ({pick.format(_table(store, "samples", b))}) y
        USING (task_id, sample_idx)"""
    pairs, identical = _rows(store, query)[0]
    return int(pairs), int(identical or 0)


# -- counts ---------------------------------------------------------------------------------------

def task_counts(store: Store, label: str, limits: dict[str, int] | None = None,
                versions: dict[str, str] | None = None) -> TaskCounts:
    """(n, c) per task of one label's current verdicts; every sample must have one.

    With `limits` (task id -> m), only each task's first m samples by sample index count. With `versions`
    (verifier -> version: a named verdict set, `tether.store.manifest.VerdictSet`), its verdicts count instead
    of the current ones."""
    if not store.shard_paths("verdicts", label):
        samples = len(store.shard_paths("samples", label))
        hint = "its samples are not graded yet (run `tether grade`)" if samples else "it has no samples"
        labels = ", ".join(store.labels("verdicts")) or "none"
        raise InputError(f"{store.root}: no verdicts for label {label!r}: {hint}; graded labels: {labels}")
    where = current_verdicts(store, label) if versions is None else versions_clause(versions)
    query = f"""
        SELECT task_id, count(*) AS n, sum(CAST(correct AS BIGINT)) AS c,
               max(sample_idx) - min(sample_idx) + 1 AS span
        FROM {_table(store, "verdicts", label)} WHERE {where}
        GROUP BY task_id
    """
    with connect(store) as connection:
        columns = connection.sql(query).fetchnumpy()
    _refuse_duplicates(store, "verdicts", label, bool(np.any(columns["n"] > columns["span"])))
    rows, doubled = _sample_rows(store, label)
    _refuse_duplicates(store, "samples", label, doubled)
    graded, total = int(columns["n"].sum()), rows
    if limits is not None and graded >= total:
        columns = _first_samples(store, label, limits, where)
    if graded < total:
        raise InputError(
            f"{store.root}: {total - graded} of {total} samples of label {label!r} have no verdict (run `tether grade`)"
        )
    return TaskCounts.from_arrays(label, str(store.root), columns["task_id"], columns["n"], columns["c"])


def _first_samples(store: Store, label: str, limits: dict[str, int], where: str) -> dict:
    """(task_id, n, c) columns over each task's first `limits[task]` verdicts (those `where` keeps) by sample
    index."""
    wanted = pa.table({"task_id": list(limits), "m": pa.array(list(limits.values()), pa.int64())})
    query = f"""
        SELECT task_id, count(*) AS n, sum(CAST(correct AS BIGINT)) AS c FROM (
            SELECT v.task_id, v.correct, l.m,
                   row_number() OVER (PARTITION BY v.task_id ORDER BY v.sample_idx) AS rank
            FROM {_table(store, "verdicts", label)} v JOIN wanted l USING (task_id)
            WHERE {where}
        ) WHERE rank <= m GROUP BY task_id
    """
    with connect(store) as connection:
        connection.register("wanted", wanted)
        return connection.sql(query).fetchnumpy()


def half_task_counts(store: Store, label: str,
                     limits: dict[str, int] | None = None) -> tuple[TaskCounts, TaskCounts]:
    """(n, c) per task of one label's even-indexed and odd-indexed samples (current verdicts). With `limits`
    (task id -> m): only those tasks, each's first m samples by sample index, split by their rank among them."""
    task_counts(store, label)  # the same checks: graded, every sample with a verdict
    query = f"""
        SELECT task_id, sample_idx % 2 AS half, count(*) AS n, sum(CAST(correct AS BIGINT)) AS c
        FROM {_table(store, "verdicts", label)} WHERE {current_verdicts(store, label)}
        GROUP BY task_id, half
    """
    if limits is None:
        rows = _rows(store, query)
    else:
        wanted = pa.table({"task_id": list(limits), "m": pa.array(list(limits.values()), pa.int64())})
        query = f"""
            SELECT task_id, (rank - 1) % 2 AS half, count(*) AS n, sum(CAST(correct AS BIGINT)) AS c FROM (
                SELECT v.task_id, v.correct, l.m,
                       row_number() OVER (PARTITION BY v.task_id ORDER BY v.sample_idx) AS rank
                FROM {_table(store, "verdicts", label)} v JOIN wanted l USING (task_id)
                WHERE {current_verdicts(store, label)}
            ) WHERE rank <= m GROUP BY task_id, half
        """
        rows = _rows(store, query, {"wanted": wanted})
    halves = []
    for half, name in ((0, "even"), (1, "odd")):
        part = [(t, n, c) for t, h, n, c in rows if h == half]
        halves.append(TaskCounts.from_arrays(f"{label}[{name}]", str(store.root), [t for t, _, _ in part],
                                             [n for _, n, _ in part], [c for _, _, c in part]))
    return halves[0], halves[1]


def _sample_rows(store: Store, label: str) -> tuple[int, bool]:
    """(rows, whether some task surely holds a duplicate key) of one label's samples, in one scan."""
    if not store.shard_paths("samples", label):
        return 0, False
    query = (f"SELECT coalesce(sum(n), 0), coalesce(bool_or(n > span), false) FROM (SELECT task_id, count(*) AS n, "
             f"max(sample_idx) - min(sample_idx) + 1 AS span FROM {_table(store, 'samples', label)} GROUP BY task_id)")
    rows, doubled = _rows(store, query)[0]
    return int(rows), bool(doubled)


def _refuse_duplicates(store: Store, table: str, label: str, suspected: bool) -> None:
    """A task with more rows than the span of its sample indices holds a key twice (pigeonhole):
    count the duplicates exactly and refuse, since counting them would be wrong."""
    count = duplicate_keys(store, table, label) if suspected else 0
    if count:
        raise InputError(f"{store.root}: label {label!r} has {count} duplicate {table} of the same (task, sample) "
                         f"(two runs at once, or a copied shard); counting them would be wrong: run "
                         f"`tether check {store.root} --repair`")


def duplicate_keys(store: Store, table: str, label: str) -> int:
    """Rows beyond the first of each (task_id, sample_idx) of one label: in `samples`, all rows; in
    `verdicts`, those of the current verifier versions. 0 in a healthy store."""
    if not store.shard_paths(table, label):
        return 0
    where = current_verdicts(store, label) if table == "verdicts" else "TRUE"
    query = (f"SELECT count(*) - count(DISTINCT (task_id, sample_idx)) FROM {_table(store, table, label)} "
             f"WHERE {where}")
    return int(_rows(store, query)[0][0])


def sample_totals(store: Store, label: str) -> dict:
    """`label`'s samples in one scan: how many, over how many tasks, their tokens (where recorded) and the
    share cut at max_tokens (finish reason "length"; None when the samples do not say why they ended)."""
    if not store.shard_paths("samples", label):
        return {"samples": 0, "tasks": 0, "tokens": None, "truncation_rate": None}
    rows, tasks, tokens, cut, known = _rows(
        store,
        f"SELECT count(*), count(DISTINCT task_id), sum(n_tokens), count(*) FILTER (WHERE finish_reason = 'length'), "
        f"count(finish_reason) FROM {_table(store, 'samples', label)}")[0]
    return {"samples": int(rows), "tasks": int(tasks), "tokens": None if tokens is None else int(tokens),
            "truncation_rate": cut / known if known else None}


def mean_tokens(store: Store, label: str) -> float | None:
    """The mean completion length in tokens of `label`'s samples (None when none records it)."""
    if not store.shard_paths("samples", label):
        return None
    query = f"SELECT avg(n_tokens) FROM {_table(store, 'samples', label)} WHERE n_tokens IS NOT NULL"
    value = _rows(store, query)[0][0]
    return None if value is None else float(value)


def sample_counts(store: Store, label: str) -> dict[str, int]:
    """Number of stored samples per task of one label (empty when there are none)."""
    if not store.shard_paths("samples", label):
        return {}
    return dict(_rows(store, f"SELECT task_id, count(*) FROM {_table(store, 'samples', label)} GROUP BY 1"))


def existing_sample_keys(store: Store, label: str, keys: pa.Table) -> list[tuple[str, int]]:
    """Which (task_id, sample_idx) of `keys` the store already holds for `label`."""
    if not store.shard_paths("samples", label):
        return []
    query = f"""
        SELECT k.task_id, k.sample_idx FROM keys AS k
        JOIN {_table(store, "samples", label)} AS s USING (task_id, sample_idx)
        ORDER BY 1, 2
    """
    return [(str(t), int(i)) for t, i in _rows(store, query, {"keys": keys})]


# -- tasks ----------------------------------------------------------------------------------------

def stored_tasks(store: Store, label: str) -> list[tuple[str, str, str, str, str]]:
    """(task_id, benchmark, prompt JSON, reference JSON, verifier) of each task stored for `label`."""
    if not store.shard_paths("tasks", label):
        return []
    _proven(store, "tasks", label)
    return _rows(store, f"SELECT task_id, benchmark, prompt, reference, verifier FROM {_tasks(store, label)}")


def task_benchmarks(store: Store, label: str) -> dict[str, str]:
    """task id -> benchmark, from the store's tasks table (empty when it has none)."""
    if not store.shard_paths("tasks", label):
        return {}
    return dict(_rows(store, f"SELECT DISTINCT task_id, benchmark FROM {_tasks(store, label)}"))


def task_verifiers(store: Store, label: str) -> set[str]:
    """The verifiers `label`'s stored tasks name (empty when the store holds no tasks for it)."""
    if not store.shard_paths("tasks", label):
        return set()
    return {verifier for (verifier,) in _rows(store, f"SELECT DISTINCT verifier FROM {_tasks(store, label)}")}


def stored_prompts(store: Store, label: str) -> dict[str, str | list]:
    """task id -> the task's prompt (text or chat messages) as `label` was given it."""
    if not store.shard_paths("tasks", label):
        raise InputError(f"{store.root}: no prompts stored for {label!r} (samples made by `tether sample` have them)")
    query = f"SELECT DISTINCT task_id, prompt FROM {_tasks(store, label)}"
    return {task_id: json.loads(prompt) for task_id, prompt in _rows(store, query)}


def prompt_image_digests(store: Store) -> set[str]:
    """The sha256 digests of the images the stored prompts name (image parts ``"image": "sha256:…"``), every
    label's (`tether check`: each must be in the store's images/)."""
    if not store.shard_paths("tasks"):
        return set()
    pattern = '"image": "sha256:([0-9a-f]{64})"'
    query = (f"SELECT DISTINCT unnest(regexp_extract_all(prompt, '{quoted(pattern)}', 1)) "
             f"FROM {_table(store, 'tasks')} WHERE contains(prompt, 'sha256:')")
    return {digest for (digest,) in _rows(store, query) if digest}


def rendered_prompts(store: Store, label: str) -> dict[str, str]:
    """task id -> the exact text `label`'s model was given (as its engine rendered the prompt)."""
    if not store.shard_paths("tasks", label):
        return {}
    return dict(_rows(store, f"SELECT task_id, rendered_prompt FROM {_tasks(store, label)}"))


# -- samples and verdicts -------------------------------------------------------------------------

def _graded_filter(store: Store, label: str, versions: dict[str, str]) -> str:
    if not store.shard_paths("verdicts", label):
        return ""
    return (f"ANTI JOIN (SELECT task_id, sample_idx FROM {_table(store, 'verdicts', label)} "
            f"WHERE {versions_clause(versions)}) AS v USING (task_id, sample_idx)")


def ungraded_count(store: Store, label: str, versions: dict[str, str]) -> int:
    """Samples of `label` without a verdict under these verifier versions."""
    if not store.shard_paths("samples", label):
        return 0
    query = f"SELECT count(*) FROM {_table(store, 'samples', label)} AS s {_graded_filter(store, label, versions)}"
    return int(_rows(store, query)[0][0])


def ungraded_samples(store: Store, label: str, versions: dict[str, str], chunk_size: int
                     ) -> Iterator[pa.RecordBatch]:
    """(task_id, sample_idx, completion, finish_reason, completion_hash) batches of the samples without a
    verdict under `versions`, in order."""
    if not store.shard_paths("samples", label):
        return
    _proven(store, "samples", label)
    query = (f"SELECT s.task_id, s.sample_idx, s.completion, s.finish_reason, "
             f"{_hash_of('s.completion')} AS completion_hash FROM {_table(store, 'samples', label)} AS s "
             f"{_graded_filter(store, label, versions)} ORDER BY s.task_id, s.sample_idx")
    with connect(store) as connection:
        relation = connection.sql(query)
        # duckdb >= 2 names it to_arrow_reader; 1.x only has fetch_record_batch
        reader = (relation.to_arrow_reader(chunk_size) if hasattr(relation, "to_arrow_reader")
                  else relation.fetch_record_batch(chunk_size))
        for batch in reader:
            if batch.num_rows:
                yield batch


def shards_stamp(store: Store, table: str, label: str) -> str | None:
    """A digest of `label`'s shards of `table` as files: each one's name, size and modification time. It
    changes whenever a shard is added, set aside, or replaced by another file of the same name (a sampling
    unit redone after its shard was quarantined); None where the filesystem does not say (then nothing can
    be assumed unchanged)."""
    import duckdb

    files = ", ".join(f"'{quoted(url)}'" for url in store.shard_urls(table, label))
    try:
        with connect() as connection:  # only the files' listing: not a read of their data
            found = connection.sql(f"SELECT filename, size, last_modified FROM read_blob([{files}])").fetchall() \
                if files else []
    except (duckdb.Error, StoreError):
        return None
    if any(modified is None for *_, modified in found):
        return None
    listed = sorted(f"{name.rsplit('/', 1)[-1]} {size} {modified.isoformat()}" for name, size, modified in found)
    return hashlib.sha256("\n".join(listed).encode()).hexdigest()[:16]


def changed_completions(store: Store, label: str, versions: dict[str, str] | None = None) -> tuple[int, int]:
    """(changed, unbound): `label`'s verdicts under `versions` (default: the current ones) whose sample's
    text is no longer the text they graded (a shard quarantined and refilled, a completion replaced),
    and those that do not say what they graded (written before verdicts kept the hash) of a sample
    with text. One join of the verdicts' keys with the samples, hashing each joined completion."""
    if not store.shard_paths("verdicts", label) or not store.shard_paths("samples", label):
        return 0, 0
    where = current_verdicts(store, label) if versions is None else versions_clause(versions)
    hashed = _column_or_null(store, "verdicts", label, "completion_hash")
    query = f"""
        SELECT count(*) FILTER (WHERE v.completion_hash IS NOT NULL
                                AND v.completion_hash IS DISTINCT FROM {_hash_of("s.completion")}),
               count(*) FILTER (WHERE v.completion_hash IS NULL AND s.completion IS NOT NULL)
        FROM (SELECT task_id, sample_idx, {hashed} FROM {_table(store, "verdicts", label)} WHERE {where}) v
        JOIN (SELECT task_id, sample_idx, completion FROM {_table(store, "samples", label)}) s
        USING (task_id, sample_idx)
    """
    changed, unbound = _rows(store, query)[0]
    return int(changed or 0), int(unbound or 0)


def reward_hack_counts(store: Store, label: str) -> RewardHackCounts:
    """`label`'s current verdicts, and how many carry each reward-hacking detail (`REWARD_HACKS`: the
    detail starts with its text); zeros where the verdicts have no detail column (older stores)."""
    if not store.shard_paths("verdicts", label):
        return RewardHackCounts(0)
    detail = "detail" if "detail" in _columns(store, "verdicts", label) else "NULL::VARCHAR"
    signals = ", ".join(f"count(*) FILTER (WHERE starts_with({detail}, '{quoted(prefix)}'))"
                        for prefix in REWARD_HACKS.values())
    total, *found = _rows(store, f"SELECT count(*), {signals} FROM {_table(store, 'verdicts', label)} "
                          f"WHERE {current_verdicts(store, label)}")[0]
    return RewardHackCounts(int(total), **{key: int(n) for key, n in zip(REWARD_HACKS, found)})


def compliance_counts(store: Store, label: str) -> list[tuple[str | None, str | None, str, bool, bool, int, int]]:
    """(route, asked, status, cut, imported, samples, correct) of `label`'s current verdicts, grouped: how the
    answer was found (the verdict's `extraction`; null: no answer), the format its task's prompt asks for
    (`tether.store.compliance.FORMAT_MARKERS` in the prompt's JSON; null: none, or no prompt stored), its
    status, whether its completion was cut at max_tokens, and whether it was imported already graded (its
    route is then not known). One scan of the verdicts, joined with the tasks and the samples' finish reasons."""
    from tether.store.compliance import FORMAT_MARKERS

    if not store.shard_paths("verdicts", label):
        return []
    extraction = _column_or_null(store, "verdicts", label, "extraction")
    asked = "CASE " + " ".join(f"WHEN contains(prompt, '{quoted(json.dumps(marker)[1:-1])}') THEN '{quoted(route)}'"
                               for route, marker in FORMAT_MARKERS) + " END"
    tasks = (f"LEFT JOIN (SELECT task_id, {asked} AS asked FROM {_tasks(store, label)}) t USING (task_id)"
             if store.shard_paths("tasks", label) else "CROSS JOIN (SELECT NULL::VARCHAR AS asked) t")
    samples = (f"LEFT JOIN (SELECT task_id, sample_idx, finish_reason FROM {_table(store, 'samples', label)}) s "
               "USING (task_id, sample_idx)" if store.shard_paths("samples", label)
               else "CROSS JOIN (SELECT NULL::VARCHAR AS finish_reason) s")
    query = f"""
        SELECT v.extraction, t.asked, v.status, coalesce(s.finish_reason = 'length', false) AS cut,
               v.verifier = 'imported' AS imported, count(*), sum(CAST(v.correct AS BIGINT))
        FROM (SELECT task_id, sample_idx, correct, status, verifier, {extraction}
              FROM {_table(store, "verdicts", label)} WHERE {current_verdicts(store, label)}) v
        {tasks} {samples}
        GROUP BY ALL ORDER BY ALL
    """
    return [(route, asked, status, bool(cut), bool(imported), int(n), int(correct or 0))
            for route, asked, status, cut, imported, n, correct in _rows(store, query)]


def cached_grades(store: Store, verifier: str, version: str) -> list[tuple]:
    """(verifier_version, task_id, answer, correct, score, status, detail) of the verdict cache of one version."""
    if not store.shard_paths("grades", verifier):
        return []
    _proven(store, "grades", verifier)
    return _rows(store, f"SELECT verifier_version, task_id, answer, correct, score, status, detail "
                 f"FROM {_table(store, 'grades', verifier)} WHERE verifier_version = '{quoted(version)}'")


def verdict_totals(store: Store, label: str) -> tuple[int, int]:
    """(verdicts, correct ones) of `label`'s current verdicts: with the current versions, what says whether
    values computed from the verdicts (avg@k, answer entropy) still hold. (0, 0) with no verdicts."""
    if not store.shard_paths("verdicts", label):
        return 0, 0
    total, correct = _rows(store, f"SELECT count(*), count(*) FILTER (WHERE correct) "
                                  f"FROM {_table(store, 'verdicts', label)} WHERE {current_verdicts(store, label)}")[0]
    return int(total), int(correct or 0)


def graded_answers(store: Store, label: str, k: int) -> list[tuple[str, bool, str | None]]:
    """(task_id, correct, answer) of the first k current verdicts per task, by task and sample index."""
    if not store.shard_paths("verdicts", label):
        raise InputError(f"{store.root}: no verdicts for {label!r}; run `tether grade` first")
    return _rows(store, f"SELECT task_id, correct, answer FROM {_table(store, 'verdicts', label)} "
                 f"WHERE sample_idx < {int(k)} AND {current_verdicts(store, label)} ORDER BY task_id, sample_idx")


def completions_with_benchmark(store: Store, label: str, k: int) -> list[tuple[str, str, str]]:
    """(task_id, benchmark, completion) of the first k samples per task that have a non-empty completion."""
    if not store.shard_paths("samples", label):
        raise InputError(f"{store.root}: no samples of {label!r}")
    return _rows(store, f"SELECT s.task_id, t.benchmark, s.completion FROM {_table(store, 'samples', label)} s "
                 f"JOIN (SELECT DISTINCT task_id, benchmark FROM {_tasks(store, label)}) t "
                 f"USING (task_id) WHERE s.sample_idx < {int(k)} AND s.completion IS NOT NULL "
                 "AND s.completion <> '' ORDER BY s.task_id, s.sample_idx")


def first_correct_completions(store: Store, label: str, task_ids: list[str]
                              ) -> dict[str, tuple[str, str | None, str | None]]:
    """(completion, extracted answer, how it was found) of the first correct sample (by sample index)
    of each of `task_ids`, where samples have text."""
    if not task_ids or not store.shard_paths("samples", label):
        return {}
    wanted = ", ".join(f"'{quoted(t)}'" for t in task_ids)
    query = (f"SELECT v.task_id, s.completion, v.answer, v.extraction FROM {_table(store, 'verdicts', label)} v "
             f"JOIN {_table(store, 'samples', label)} s USING (task_id, sample_idx) "
             f"WHERE v.correct AND v.task_id IN ({wanted}) AND s.completion IS NOT NULL "
             f"AND {current_verdicts(store, label)} "
             "QUALIFY row_number() OVER (PARTITION BY v.task_id ORDER BY v.sample_idx) = 1")
    return {task: (completion, answer, route) for task, completion, answer, route in _rows(store, query)}


def task_samples(store: Store, label: str, task_ids: list[str]) -> dict[str, list[tuple[int, bool, str | None, str | None]]]:
    """(sample_idx, correct, completion where correct, finish_reason) of every graded sample of each of
    `task_ids`, by sample index (the current verdicts)."""
    if not task_ids:
        return {}
    wanted = ", ".join(f"'{quoted(t)}'" for t in task_ids)
    query = (f"SELECT v.task_id, v.sample_idx, v.correct, CASE WHEN v.correct THEN s.completion END, s.finish_reason "
             f"FROM {_table(store, 'verdicts', label)} v JOIN {_table(store, 'samples', label)} s "
             f"USING (task_id, sample_idx) WHERE v.task_id IN ({wanted}) AND {current_verdicts(store, label)} "
             "ORDER BY v.task_id, v.sample_idx")
    found: dict[str, list] = {}
    for task_id, index, correct, completion, finish in _rows(store, query):
        found.setdefault(task_id, []).append((int(index), bool(correct), completion, finish))
    return found


def first_success_costs(store: Store, label: str) -> dict[str, tuple[int, int | None]]:
    """Per task of `label` (current verdicts): the samples up to and including its first correct one by sample
    index (all of them where none is correct), and their tokens (None where not recorded): what stopping each
    task at its first success would have drawn of these samples (the floor, docs/adaptive.md)."""
    query = f"""
        SELECT task_id, count(*), sum(n_tokens), count(n_tokens) FROM (
            SELECT v.task_id, s.n_tokens, coalesce(max(CAST(v.correct AS INT)) OVER (PARTITION BY v.task_id
                   ORDER BY v.sample_idx ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS solved_before
            FROM {_table(store, 'verdicts', label)} v JOIN {_table(store, 'samples', label)} s USING (task_id, sample_idx)
            WHERE {current_verdicts(store, label)}
        ) WHERE solved_before = 0 GROUP BY task_id
    """
    return {task_id: (int(n), int(tokens) if known == n else None) for task_id, n, tokens, known in _rows(store, query)}


def graded_completions(store: Store, label: str, task_ids: list[str], limit: int | None = None,
                       correct: bool | None = None) -> list[tuple]:
    """(task_id, sample_idx, position, correct, status, score, answer, extraction, detail, completion,
    finish_reason) of the samples of `task_ids` with a current verdict of `label` (`tether show`): of each
    task, the correct ones first, then the rest, each by sample index, at most `limit` (None: all); only the
    correct or the incorrect ones where `correct` says. `position` is the sample's place among the task's
    graded samples by sample index (0 first), whatever the filter; only the rows kept are joined with their
    text. detail is null in stores written before verdicts kept it."""
    if not task_ids or not store.shard_paths("verdicts", label) or not store.shard_paths("samples", label):
        return []
    wanted = pa.table({"task_id": pa.array(task_ids, pa.string())})
    detail = _column_or_null(store, "verdicts", label, "detail")
    kept = "TRUE" if correct is None else ("correct" if correct else "NOT correct")
    first = "" if limit is None else \
        f"QUALIFY row_number() OVER (PARTITION BY task_id ORDER BY NOT correct, sample_idx) <= {int(limit)}"
    query = f"""
        SELECT v.task_id, v.sample_idx, v.position, v.correct, v.status, v.score, v.answer, v.extraction, v.detail,
               s.completion, s.finish_reason
        FROM (SELECT * FROM (SELECT task_id, sample_idx, correct, status, score, answer, extraction, {detail},
                                    row_number() OVER (PARTITION BY task_id ORDER BY sample_idx) - 1 AS position
                             FROM {_table(store, "verdicts", label)} x SEMI JOIN wanted w ON x.task_id = w.task_id
                             WHERE {current_verdicts(store, label)})
              WHERE {kept} {first}) v
        LEFT JOIN (SELECT task_id, sample_idx, completion, finish_reason FROM {_table(store, "samples", label)}) s
        ON v.task_id = s.task_id AND v.sample_idx = s.sample_idx
        ORDER BY v.task_id, NOT v.correct, v.sample_idx
    """
    return _rows(store, query, {"wanted": wanted})


def task_records(store: Store, label: str, task_ids: list[str]) -> dict[str, tuple[str, str, str, str]]:
    """task id -> (benchmark, prompt JSON, reference JSON, verifier) of those of `task_ids` stored for `label`
    (each task's latest row; empty when the store holds no tasks for it)."""
    if not task_ids or not store.shard_paths("tasks", label):
        return {}
    wanted = pa.table({"task_id": pa.array(task_ids, pa.string())})
    query = (f"SELECT t.task_id, t.benchmark, t.prompt, t.reference, t.verifier FROM {_tasks(store, label)} t "
             "SEMI JOIN wanted w ON t.task_id = w.task_id")
    return {task_id: tuple(rest) for task_id, *rest in _rows(store, query, {"wanted": wanted})}


def stored_sequence_scores(store: Store, scorer: str, source: str) -> dict[tuple[str, int], tuple]:
    """(task_id, sample_idx) -> (temperature, top_p, logprob, outside, token_logprobs, tokens) of `source`'s
    samples scored by `scorer`'s model (`tether likelihood`), the newest row of each."""
    if not store.shard_paths("likelihood", scorer):
        return {}
    query = (f"SELECT task_id, sample_idx, temperature, top_p, logprob, outside, token_logprobs, tokens "
             f"FROM {_table(store, 'likelihood', scorer, ', filename = true')} WHERE source = '{quoted(source)}' "
             "QUALIFY row_number() OVER (PARTITION BY task_id, sample_idx, temperature, top_p "
             "ORDER BY filename DESC) = 1")
    return {(task, int(index)): tuple(rest) for task, index, *rest in _rows(store, query)}


# -- diagnostics ----------------------------------------------------------------------------------

def diagnostics(store: Store) -> list[Diagnostic]:
    """The newest value of each (label, metric, benchmark, group) in the store's diagnostics table."""
    if not store.shard_paths("diagnostics"):
        return []
    query = (f"SELECT * FROM {_table(store, 'diagnostics')} "
             "QUALIFY row_number() OVER (PARTITION BY model, metric, benchmark, \"group\" ORDER BY run_id DESC) = 1 "
             "ORDER BY model, metric, benchmark, \"group\"")
    with connect(store) as connection:
        relation = connection.sql(query)
        names = relation.columns
        return [Diagnostic(**dict(zip(names, row))) for row in relation.fetchall()]


# -- integrity (tether check) ---------------------------------------------------------------------

def scan_error(url: str) -> str | None:
    """What DuckDB says when it reads every value of one shard (None when it reads): `tether check`'s
    last look at a shard written before seals, when a scan of its label fails and no seal tells why."""
    import duckdb

    try:
        with duckdb.connect() as connection:
            connection.execute("SET threads TO 1")
            from tether.store.objects import FILESYSTEMS

            for fs in FILESYSTEMS.values():
                connection.register_filesystem(fs)
            connection.sql(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM read_parquet(['{quoted(url)}'], "
                           "hive_partitioning = false)").fetchall()
    except duckdb.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None
