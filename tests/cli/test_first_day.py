"""What a researcher meets on the first day (issue 18): each message names the fix, at once."""

import csv

import tether

from ..cli_run import tether as run
from ..conftest import graded_rows, imported_pair, write_jsonl


def test_a_model_path_that_does_not_exist_is_said_before_anything_loads(tmp_path):
    out = run("sample", tmp_path / "s", "--model", "./no-such-checkpoint", "--tasks", "lab-sums:2-3",
              "--label", "base")
    assert out.returncode == 2 and "model ./no-such-checkpoint: no such folder" in out.stderr
    assert "Repo id" not in out.stderr and not (tmp_path / "s" / "samples").exists()


def test_grading_a_graded_store_says_so_and_help_keeps_brackets(tmp_path):
    counts = {f"t{i}": (4, i % 3) for i in range(3)}
    tether.import_samples(write_jsonl(tmp_path / "b.jsonl", graded_rows(counts, 1)), tmp_path / "run", label="base")
    tasks = write_jsonl(tmp_path / "t.jsonl", [{"id": f"t{i}", "question": "?", "answer": "x"} for i in range(3)])
    rows = [{"task_id": f"t{i}", "completion": "x"} for i in range(3)]
    tether.import_samples(write_jsonl(tmp_path / "u.jsonl", rows), tmp_path / "run", label="rl")
    from tether.grading import GradeOptions
    from tether.tasks import load_tasks

    tether.grade(tmp_path / "run", GradeOptions(verifier="exact", workers=1), tasks=load_tasks(str(tasks), columns="id=id"))
    again = run("grade", tmp_path / "run", "--verifier", "exact")
    assert again.returncode == 0 and "nothing to grade: every sample already has a verdict" in again.stdout
    assert "[default: powers of 2 up to the median n]" in " ".join(run("compare", "--help").stdout.split())


def test_tasks_csv_orders_numbered_ids_by_number_and_the_api_has_a_frame(tmp_path):
    counts = {f"1/{i}": (4, i % 3) for i in (1, 2, 10)}
    imported_pair(tmp_path, counts)
    result = tether.compare(store=tmp_path / "run")
    assert repr(result).startswith("Comparison('base' vs 'rl': 3 tasks, P=") and "array" not in repr(result)
    frame = result.tasks_frame()
    assert list(frame.columns[:3]) == ["task_id", "region", "base_n"] and len(frame) == 3
    tether.save_comparison(result, tmp_path / "out")
    with open(tmp_path / "out" / "tasks.csv") as handle:
        assert [row["task_id"] for row in csv.DictReader(handle)] == ["1/1", "1/2", "1/10"]


def test_every_comparison_says_what_produced_it(quick_demo, tmp_path):
    from tether.compare.provenance import describe

    store = quick_demo[0].folder / "store"
    result = tether.compare(store=store)
    base = result.provenance["base"]
    assert base["origin"] == "sampled" and base["engine"] == "transformers" and base["k"] == 64
    assert base["decoding"]["temperature"] == 1.0 and base["seed"] == 0 and 0 <= base["truncation_rate"] <= 1
    assert base["verifier_versions"]["lab_sum"].startswith("lab_sum/")
    line = describe(base)
    assert line.startswith("base: model ") and "temperature 1.0" in line and "cut at max_tokens" in line
    out = run("compare", store, "--out", tmp_path / "c")
    assert out.returncode == 0 and "  base: model " in out.stdout and "  rl: model " in out.stdout
    saved = tether.load_comparison(tmp_path / "c" / "compare.json") if hasattr(tether, "load_comparison") else None
    import json

    assert json.loads((tmp_path / "c" / "compare.json").read_text())["provenance"]["rl"]["k"] == 64
    assert saved is None or saved.provenance["rl"]["k"] == 64


def test_experiment_models_may_have_their_own_decoding():
    import pytest

    from tether.engines import Decoding
    from tether.experiment.schema import ModelSection
    from tether.sampling import SamplingConfig

    shared = SamplingConfig(k=4, decoding=Decoding(0.6, 0.95, 128), seed=0, task_block=8, sample_block=4)
    own = ModelSection(model="m", temperature=1.0, seed=3).sampling(shared)
    assert (own.decoding.temperature, own.decoding.top_p, own.decoding.max_tokens, own.seed) == (1.0, 0.95, 128, 3)
    assert ModelSection(model="m").sampling(shared) == shared
    with pytest.raises(Exception, match="temperature"):
        ModelSection(model="m", temperature="0.7")  # strict types, as everywhere in the file


def test_reset_label_asks_then_sets_the_samples_aside(tmp_path):
    """A label the user wants to start again: --reset-label asks (no answer is no), --yes does not ask; the
    old shards move to quarantine/reset-*/ (never deleted) and the label is sampled anew."""
    store = tmp_path / "s"
    rows = [{"task_id": "sum/002", "completion": "1+1", "correct": True}]
    tether.import_samples(write_jsonl(tmp_path / "old.jsonl", rows), store, label="base")
    command = ["sample", store, "--model", "lab:base", "--tasks", "lab-sums:2-3", "--k", "2", "--max-tokens", "6",
               "--template", "plain", "--label", "base", "--reset-label"]
    declined = run(*command, input="n\n")
    assert declined.returncode == 2 and "set aside label 'base'" in declined.stderr
    assert "--reset-label not confirmed; nothing changed" in declined.stderr
    assert len(list((store / "samples" / "base").glob("*.parquet"))) == 1 and not (store / "quarantine").exists()
    done = run(*command, "--yes")
    assert done.returncode == 0, done.stderr
    assert "reset label 'base'" in done.stderr and "1 samples, with their verdicts" in done.stderr
    assert len(list((store / "quarantine").glob("reset-label-*/samples/base/part-import-*.parquet"))) == 1
    from tether.store.query import sample_counts

    opened = tether.open_store(store)
    assert sample_counts(opened, "base") == {"sum/002": 2, "sum/003": 2}
    assert [e.event for e in opened.manifest().history] == ["import", "reset-label"]


def test_convert_gguf_refuses_at_once_what_it_cannot_do(tmp_path):
    """The conversion itself runs as the suite's SmolLM2 preparation (tests/servers.py); here the refusals,
    said before transformers is imported."""
    missing = run("convert-gguf", tmp_path / "nope.gguf", "--out", tmp_path / "out")
    assert missing.returncode == 2 and "nope.gguf: no such GGUF file" in missing.stderr
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("keep")
    taken = run("convert-gguf", tmp_path / "m.gguf", "--out", tmp_path / "used")
    assert taken.returncode == 2 and "used: already exists and is not an empty folder" in taken.stderr
    assert (tmp_path / "used" / "x").read_text() == "keep"
