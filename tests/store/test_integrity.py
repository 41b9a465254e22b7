"""Integrity `tether check` can prove (tether.store.integrity): every shard is written with page checksums and a
seal; a flipped byte anywhere in a real shard is found and named, a damaged footer or page met by a command is
one line, and `check --repair` quarantines what it cannot read without failing itself. Shards written before
seals still read and check."""

import hashlib
import io
import json
import shutil

import duckdb
import pyarrow.parquet as pq
import pytest

import tether
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import StoreError
from tether.sampling import sample
from tether.store import Shard, open_store
from tether.store.check import check_store
from tether.store.integrity import MAGIC, SEAL_SIZE, inspect
from tether.store.schema import Sample, to_table
from tether.tasks import load_tasks

from ..cli_run import tether as cli
from ..conftest import write_jsonl
from .test_manifest import CONFIG, sampled  # noqa: F401  (the fixture)

ROWS = [{"task_id": f"t{i}", "sample_idx": j, "completion": f"The sum is {i + j}. Final answer: {i + j}",
         "correct": (i + j) % 3 == 0} for i in range(6) for j in range(8)]
TASKS = [{"id": f"t{i}", "question": f"{i} + ?", "answer": str(i)} for i in range(6)]


@pytest.fixture
def run(tmp_path):
    """Two imported labels with completions and grades, and the tasks to grade them."""
    for label in ("base", "rl"):
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", ROWS), tmp_path / "run", label=label)
    write_jsonl(tmp_path / "tasks.jsonl", TASKS)
    return tmp_path / "run"


def _shard(run, table="samples", label="rl"):
    return next((run / table / label).glob("*.parquet"))


def _flip(path, offset: int, bit: int = 0x01) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= bit
    path.write_bytes(bytes(data))


def _regions(path) -> dict[str, tuple[int, int]]:
    """Byte ranges of a shard: the task_id column chunk, the completion column's data pages, the footer."""
    metadata = pq.read_metadata(path)
    columns = {metadata.row_group(0).column(i).path_in_schema: metadata.row_group(0).column(i)
               for i in range(metadata.num_columns)}

    def chunk(name):
        column = columns[name]
        start = column.dictionary_page_offset or column.data_page_offset
        return start, start + column.total_compressed_size

    size = path.stat().st_size
    footer = size - 8 - int.from_bytes(path.read_bytes()[-8:-4], "little")
    paged = "completion" if "completion" in columns else "answer"  # samples; verdicts
    return {"task_id column": chunk("task_id"), "data page": (columns[paged].data_page_offset, chunk(paged)[1]),
            "footer": (footer, size)}


def _middle(region: tuple[int, int]) -> int:
    return (region[0] + region[1]) // 2


def _offset(path, region: str) -> int:
    """A byte to flip: inside the last data page's values (past its header, whose statistics no page checksum
    covers), or the middle of the task_id column chunk or of the footer."""
    found = _regions(path)[region]
    return found[1] - 3 if region == "data page" else _middle(found)


def test_shards_carry_page_checksums_a_seal_and_their_own_record(run):
    path = _shard(run)
    data = path.read_bytes()
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    assert data[footer - SEAL_SIZE : footer - SEAL_SIZE + len(MAGIC)] == MAGIC
    assert hashlib.sha256(data[: footer - SEAL_SIZE]).digest() == data[footer - 64 : footer - 32]
    record = json.loads(pq.read_metadata(path).metadata[b"tether.shard"])
    assert record["table"] == "samples" and record["partition"] == "rl" and record["seal"] == "sha256"
    assert pq.read_table(path, page_checksum_verification=True).num_rows == len(ROWS)
    # a page whose bytes changed fails pyarrow's own CRC check, without the seal's help
    _flip(path, _offset(path, "data page"))
    with pytest.raises(OSError, match="CRC"):
        pq.read_table(path, page_checksum_verification=True)


def test_every_flipped_byte_of_a_real_shard_is_found(run):
    data = _shard(run).read_bytes()
    assert inspect(io.BytesIO(data), len(data)).problem is None
    missed = []
    for offset in range(len(data)):
        for bit in (0x01, 0x80):
            flipped = bytearray(data)
            flipped[offset] ^= bit
            if inspect(io.BytesIO(bytes(flipped)), len(flipped)).problem is None:
                missed.append((offset, bit))
    assert missed == []


@pytest.mark.parametrize("region", ["data page", "task_id column", "footer"])
def test_check_names_a_shard_flipped_anywhere_and_repair_quarantines_it(run, region):
    path = _shard(run)
    _flip(path, _offset(path, region))
    found = cli("check", run)
    assert found.returncode == 1 and f"{path}:" in found.stdout and "problems left" in found.stdout, found.stdout
    assert "changed since it was written" in found.stdout
    repaired = cli("check", run, "--repair")
    assert repaired.returncode == 0 and "repaired:" in repaired.stdout, repaired.stdout + repaired.stderr
    assert (run / "quarantine" / "samples" / "rl" / path.name).read_bytes() != b""
    again = cli("check", run)
    assert again.returncode == 0 and again.stdout.strip().endswith("shards checked; ok"), again.stdout


def test_a_damaged_footer_or_page_met_by_a_command_is_one_line_naming_the_shard(run, tmp_path):
    """Offsets DuckDB itself cannot read past (a TProtocolException in the footer, a page that does not
    decompress), and a footer byte DuckDB reads past without an error (only the seal shows it): compare, grade
    and report each say one line naming the shard and `tether check --repair`."""
    path = _shard(run)
    original = path.read_bytes()
    expected = duckdb.sql(f"select * from read_parquet(['{path}'])").fetchall()
    hit = {}
    wanted = {"footer": {"footer", "footer DuckDB reads"}, "data page": {"data page"}}
    for region in ("footer", "data page"):
        start, end = _regions(path)[region]
        for offset in range(start, end):
            if wanted[region] <= set(hit):
                break  # the first offset of each kind is the one used below
            _flip(path, offset)
            try:
                rows = duckdb.sql(f"select * from read_parquet(['{path}'])").fetchall()
                if region == "footer" and rows == expected:
                    hit.setdefault("footer DuckDB reads", (offset, "no error"))
            except duckdb.Error as exc:
                hit.setdefault(region, (offset, str(exc).splitlines()[0]))
            finally:
                path.write_bytes(original)
    assert set(hit) == {"footer", "footer DuckDB reads", "data page"}, hit
    for region, (offset, _) in hit.items():
        _flip(path, offset)
        for command in (("compare", run), ("grade", run, "--tasks", tmp_path / "tasks.jsonl",
                                           "--columns", "id=id", "--verifier", "exact", "--workers", "1"),
                        ("report", run, "--out", tmp_path / "report")):
            out = cli(*command)
            assert out.returncode == 2 and "Traceback" not in out.stderr, (region, command, out.stderr)
            assert len(out.stderr.strip().splitlines()) == 1, out.stderr
            assert f"shard samples/rl/{path.name} is damaged" in out.stderr and "--repair" in out.stderr, out.stderr
        path.write_bytes(original)


def test_resume_refuses_a_shard_whose_footer_changed_though_it_still_reads(tmp_path, tiny_model):
    """A footer value that still parses (a statistic, an offset into nothing DuckDB needs yet) is no error to
    pyarrow: only the seal shows it changed. `tether sample` counts no such unit as done."""
    store = tmp_path / "run"
    engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
    tasks = load_tasks("lab-sums:2-3")
    sample(tasks, engine, store, "base", CONFIG)
    path = sorted((store / "samples" / "base").glob("*.parquet"))[0]
    original = path.read_bytes()
    start, end = _regions(path)["footer"]
    for offset in range(start, end):
        _flip(path, offset)
        try:
            pq.read_metadata(path)
            break  # reads: the kind of change only the seal shows
        except Exception:  # noqa: BLE001
            path.write_bytes(original)
    else:
        pytest.fail("no flipped footer byte left the footer readable")
    with pytest.raises(StoreError, match=rf"shard samples/base/{path.name} is damaged: its footer changed.*--repair"):
        sample(tasks, engine, store, "base", CONFIG)
    assert check_store(open_store(store), repair=True).ok
    again = sample(tasks, engine, store, "base", CONFIG)
    assert again.units_total - again.units_skipped == 1  # the set-aside unit, redone


def test_shards_written_before_seals_read_and_check_as_before(run):
    for path in run.glob("*/*/*.parquet"):  # as an older tether wrote them: no record, no seal, no checksums
        pq.write_table(pq.read_table(path).replace_schema_metadata(None), path, compression="zstd")
    counts = tether.compare(store=run).counts
    out = cli("check", run)
    assert out.returncode == 0 and "(4 written before seals: read, not proven byte for byte); ok" in out.stdout
    truncated = _shard(run)
    truncated.write_bytes(truncated.read_bytes()[:200])
    report = check_store(open_store(run))
    assert [p.kind for p in report.problems] == ["unreadable"] and report.problems[0].where == str(truncated)
    assert check_store(open_store(run), repair=True).ok
    assert tether.compare(store=run).counts == counts  # the verdicts still count; the rl samples are set aside


def test_repair_never_fails_on_a_legacy_shard_damaged_in_its_task_id_column(run):
    """Flips in an unsealed shard's task_id column that pyarrow finds, and that only DuckDB trips on: each is
    quarantined by `check --repair`, which exits 0 (it used to fail itself, naming `check --repair`)."""
    path = _shard(run, "verdicts", "rl")
    pq.write_table(pq.read_table(path).replace_schema_metadata(None), path, compression="zstd")
    original = path.read_bytes()
    start, end = _regions(path)["task_id column"]
    kinds = {}
    for offset in range(start, end):
        _flip(path, offset)
        try:
            pq.read_table(path, page_checksum_verification=True)
            pyarrow_reads = True
        except Exception:  # noqa: BLE001
            pyarrow_reads = False
        try:
            duckdb.sql(f"select count(*), sum(hash(columns(*))) from read_parquet(['{path}'])").fetchall()
            duckdb_reads = True
        except duckdb.Error:
            duckdb_reads = False
        path.write_bytes(original)
        kind = "pyarrow fails" if not pyarrow_reads else "only duckdb fails" if not duckdb_reads else None
        if kind and kind not in kinds:
            kinds[kind] = offset
    assert set(kinds) == {"pyarrow fails", "only duckdb fails"}, kinds
    for kind, offset in kinds.items():
        _flip(path, offset)
        out = cli("check", run, "--repair")
        assert out.returncode == 0 and "Traceback" not in out.stderr, (kind, out.stdout, out.stderr)
        assert (run / "quarantine" / "verdicts" / "rl").is_dir() and not path.exists(), (kind, out.stdout)
        found = "repaired: damaged: " if kind == "pyarrow fails" else "repaired: unreadable: verdicts/rl: 1 shards"
        assert found in out.stdout, (kind, out.stdout)
        assert cli("check", run).returncode == 0
        shutil.move(next((run / "quarantine" / "verdicts" / "rl").glob("*.parquet")), path)
        path.write_bytes(original)


def test_a_shard_set_aside_twice_under_one_name_keeps_both(tmp_path):
    store = open_store(tmp_path / "run", create=True)
    for text in ("first", "second"):
        store.write([Shard("samples", "base", to_table([Sample("base", "t", 0, text)], Sample), "u")])
        store.quarantine("samples/base/part-u.parquet")
    kept = sorted(p.name for p in (tmp_path / "run" / "quarantine" / "samples" / "base").iterdir())
    assert kept == ["part-u.2.parquet", "part-u.parquet"]
    texts = {pq.read_table(tmp_path / "run" / "quarantine" / "samples" / "base" / name).column("completion")[0].as_py()
             for name in kept}
    assert texts == {"first", "second"}


def test_what_grading_turns_into_verdicts_is_proven_first(run, tmp_path):
    """A changed value in the samples being graded (a key DuckDB reads silently otherwise: the randomized fault test
    found a verdict of a key no sample has), or in the verdict cache, would spread into stored verdicts; grade refuses
    to read either unless its every byte is as written."""
    grade = ("grade", run, "--tasks", tmp_path / "tasks.jsonl", "--columns", "id=id",
             "--verifier", "exact", "--workers", "1", "--label", "rl")
    samples = _shard(run)
    original = samples.read_bytes()
    _flip(samples, _offset(samples, "data page"))
    refused = cli(*grade)
    assert refused.returncode == 2 and f"shard samples/rl/{samples.name} is damaged" in refused.stderr, refused.stderr
    samples.write_bytes(original)
    first = cli(*grade)
    assert first.returncode == 0, first.stderr
    cache = next((run / "grades" / "exact").glob("*.parquet"))
    _flip(cache, _middle(_regions_of(cache, "correct")))
    tether.import_samples(write_jsonl(tmp_path / "more.jsonl", [{"task_id": "t0", "sample_idx": 99,
                                                                  "completion": "Final answer: 0"}]),
                          run, label="rl")
    out = cli(*grade)
    assert out.returncode == 2 and f"shard grades/exact/{cache.name} is damaged" in out.stderr, out.stderr
    assert cli("check", run, "--repair").returncode == 0
    assert cli(*grade).returncode == 0


def test_grade_refuses_stored_tasks_whose_bytes_changed(sampled, tmp_path):
    shutil.copytree(sampled, tmp_path / "run")
    tasks = next((tmp_path / "run" / "tasks" / "rl").glob("*.parquet"))
    _flip(tasks, _middle(_regions_of(tasks, "reference")))
    with pytest.raises(StoreError, match=rf"shard tasks/rl/{tasks.name} is damaged: its data changed"):
        tether.grade(tmp_path / "run", tether.GradeOptions(workers=1, verifier="exact", regrade=("ok",)))


def _regions_of(path, name: str) -> tuple[int, int]:
    metadata = pq.read_metadata(path)
    column = next(metadata.row_group(0).column(i) for i in range(metadata.num_columns)
                  if metadata.row_group(0).column(i).path_in_schema == name)
    start = column.dictionary_page_offset or column.data_page_offset
    return start, start + column.total_compressed_size
