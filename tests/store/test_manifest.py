"""The manifest (tether.store.manifest): one typed reader and writer; a malformed or mistyped manifest is
one line naming the field, everywhere; a lost one is refused by every writer and rebuilt by
`tether check --repair` from the shards' own records."""

import json
import shutil

import pytest

import tether
from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import StoreError
from tether.sampling import SamplingConfig, sample
from tether.store import open_store
from tether.store.check import check_location
from tether.store.manifest import Manifest, ManifestError, manifest_bytes, parse_manifest
from tether.tasks import load_tasks

from ..cli_run import tether as cli
from ..conftest import graded_rows, imported_pair, recorded_run, write_jsonl

CONFIG = SamplingConfig(k=4, decoding=Decoding(1.0, 1.0, 6), seed=1, task_block=2, sample_block=2)


@pytest.fixture
def imported(tmp_path):
    counts = {f"t{i}": (8, i % 4) for i in range(4)}
    return imported_pair(tmp_path, counts)


@pytest.fixture(scope="module")
def sampled(tmp_path_factory, tiny_model):
    """A store with two sampled and graded labels (base, rl), made once; each test works on a copy."""
    root = tmp_path_factory.mktemp("sampled") / "run"
    engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
    tasks = load_tasks("lab-sums:2-3")
    for label, seed in (("base", 1), ("rl", 2)):
        sample(tasks, engine, root, label, SamplingConfig(**{**CONFIG.__dict__, "seed": seed}))
    tether.grade(root, tether.GradeOptions(workers=1, verifier="exact"))
    return root


def _copy(sampled, tmp_path):
    shutil.copytree(sampled, tmp_path / "run")
    return tmp_path / "run"


BAD = {  # manifest bytes -> what the one line says
    b"\xff\xfe{}": r"not UTF-8 text \(byte 0xff at offset 0\)",
    b'{"schema_version": 1, "grading": "oops"}': r'field grading must be an object, found a string \("oops"\)',
    b'{"schema_version": 1, "runs": [1]}': r"field runs must be an object, found a list",
    b'{"schema_version": "1"}': r'field schema_version must be an integer, found a string \("1"\)',
    b'{"schema_version": 1, "runs": {"base": {"settings": {}, "k": "8"}}}':
        r"field runs\.base\.settings\.engine is missing",
    b'{"schema_version": 1, "history": [{"event": 3, "at": "now"}]}': r"field history\.0\.event must be a string",
    b"[" * 100_000: r"JSON nested too deeply",
    b"{": r"not valid JSON",
}


@pytest.mark.parametrize("raw", list(BAD), ids=[f"bad{i}" for i in range(len(BAD))])
def test_a_malformed_manifest_is_one_line_naming_the_field_for_every_command(imported, raw):
    (imported / "manifest.json").write_bytes(raw)
    with pytest.raises(ManifestError, match=BAD[raw]):
        open_store(imported)
    for command in (("compare", imported), ("grade", imported), ("report", imported),
                    ("import", imported, imported.parent / "base.jsonl", "--label", "x")):
        out = cli(*command)
        assert out.returncode == 2 and "Traceback" not in out.stderr, (command, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "manifest.json" in out.stderr, out.stderr
        assert "has version 1; this tether reads version 1" not in out.stderr
    checked = cli("check", imported)
    assert checked.returncode == 1 and "problem: manifest:" in checked.stdout and "--repair" in checked.stdout


def test_a_newer_schema_version_is_refused_not_repaired(imported):
    (imported / "manifest.json").write_text(json.dumps({"schema_version": 2}))
    out = cli("check", imported, "--repair")
    assert out.returncode == 2 and "schema version 2; this tether reads version 1 (a newer tether" in out.stderr
    assert json.loads((imported / "manifest.json").read_text()) == {"schema_version": 2}  # left as it was


def test_repair_sets_a_mistyped_manifest_aside_and_keeps_what_still_reads(imported):
    manifest = json.loads((imported / "manifest.json").read_text())
    runs = {"base": recorded_run(8), "rl": recorded_run(8, seed=3)}
    (imported / "manifest.json").write_text(json.dumps({**manifest, "grading": "oops", "runs": runs}))
    out = cli("check", imported, "--repair")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "repaired: manifest:" in out.stdout and "field grading must be an object" in out.stdout
    aside = list((imported / "quarantine").glob("manifest-*.json"))
    assert len(aside) == 1 and b'"grading": "oops"' in aside[0].read_bytes()  # set aside, never deleted
    repaired = open_store(imported).manifest()
    assert repaired.runs["rl"].settings.seed == 3 and repaired.grading == {}  # kept; imported verdicts all count
    assert [e.event for e in repaired.history] == ["import", "import", "rebuilt"]
    assert tether.compare(store=imported).counts is not None


def test_fields_this_tether_does_not_know_are_written_back(tmp_path):
    store = open_store(tmp_path / "run", create=True)
    raw = json.loads((tmp_path / "run" / "manifest.json").read_text())
    raw["from_a_newer_tether"] = {"x": [1, 2]}
    raw["runs"] = {"base": {**recorded_run(4), "note": "kept"}}
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(raw))
    store.record_event("probe", i=1)
    again = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert again["from_a_newer_tether"] == {"x": [1, 2]} and again["runs"]["base"]["note"] == "kept"
    assert again["runs"]["base"]["settings"] == raw["runs"]["base"]["settings"]
    assert "adaptive" not in again["runs"]["base"]["settings"]  # absent stays absent
    assert parse_manifest(manifest_bytes(store.manifest()), "x") == store.manifest()


def test_update_manifest_refuses_a_value_of_the_wrong_shape(tmp_path):
    store = open_store(tmp_path / "run", create=True)
    with pytest.raises(StoreError, match=r"manifest not changed: field runs\.base\.k must be an integer"):
        store.update_manifest("runs", {"base": {**recorded_run(4), "k": "4"}})
    assert store.manifest().runs == {}


def test_the_budget_has_one_writer_that_only_raises_it():
    manifest = Manifest.model_validate({"schema_version": 1, "runs": {"base": recorded_run(64)}})
    manifest.raise_budget("base", 16)
    assert manifest.runs["base"].k == 64
    manifest.raise_budget("base", 256)
    manifest.raise_budget("absent", 8)  # a label without a run is not claimed by raising its budget
    assert manifest.runs["base"].k == 256 and set(manifest.runs) == {"base"}


def test_a_lost_manifest_is_refused_by_every_writer_then_rebuilt_from_the_shards(sampled, tmp_path, tiny_model):
    run = _copy(sampled, tmp_path)
    before = open_store(run).manifest()
    (run / "manifest.json").unlink()
    engine = TransformersEngine(str(tiny_model), template="plain", batch_size=16)
    with pytest.raises(StoreError, match=r"has no manifest.json but holds \d+ shards .*tether check .* --repair"):
        sample(load_tasks("lab-sums:2-3"), engine, run, "base", CONFIG)
    assert not (run / "manifest.json").exists()  # nothing written: the other label's settings are not lost
    for command in (("grade", run), ("import", run, tmp_path / "x.jsonl", "--label", "x"),
                    ("compare", run), ("sample", run, "--model", tiny_model, "--tasks", "lab-sums:2-3", "--k", "4",
                                       "--label", "rl")):
        write_jsonl(tmp_path / "x.jsonl", graded_rows({"t": (2, 1)}))
        out = cli(*command)
        assert out.returncode == 2 and "Traceback" not in out.stderr, (command, out.stderr)
        assert "no manifest.json" in out.stderr and "--repair" in out.stderr, (command, out.stderr)
    assert not (run / "manifest.json").exists()
    checked = cli("check", run)
    assert checked.returncode == 1 and "problem: manifest:" in checked.stdout and "missing" in checked.stdout
    repaired = cli("check", run, "--repair")
    assert repaired.returncode == 0 and "runs of base, rl; verifier versions of base, rl" in repaired.stdout, \
        repaired.stdout
    rebuilt = open_store(run).manifest()
    assert rebuilt.runs == before.runs and rebuilt.versions("base") == before.versions("base")
    assert rebuilt.versions("rl") == before.versions("rl") and rebuilt.history[-1].event == "rebuilt"
    resumed = sample(load_tasks("lab-sums:2-3"), engine, run, "base", CONFIG)  # the same settings: nothing to redo
    assert resumed.samples_written == 0 and resumed.units_skipped == resumed.units_total
    assert tether.compare(store=run).counts == tether.compare(store=sampled).counts


def test_a_rebuild_says_what_shards_written_before_records_cannot_tell(imported, tmp_path):
    import pyarrow.parquet as pq

    for path in imported.glob("*/*/*.parquet"):  # as an older tether wrote them: no record, no seal
        pq.write_table(pq.read_table(path).replace_schema_metadata(None), path)
    (imported / "manifest.json").unlink()
    report = check_location(imported, repair=True)
    assert report.ok and report.problems[0].kind == "manifest" and report.problems[0].repaired
    unknown = [w.detail for w in report.warnings if w.kind == "unproven"]
    assert any("label 'base': its samples were written before shards kept their run's settings" in w for w in unknown)
    assert report.unsealed == 4
    assert open_store(imported).manifest().grading == {}  # imported verdicts only: every verdict counts
    assert sum(tether.compare(store=imported).counts.as_dict().values()) == 4
