"""Named verdict sets (`tether grade --verifier auto,numeric`): graded beside the set that counts, never
changing what counts; brought up to date like it when the samples' text changes; refused where two sets
would share verdicts of different tasks."""

import json

import pytest

import tether
from tether.errors import InputError
from tether.grading import GradeOptions, grade
from tether.grading.sets import parse_set_names
from tether.store import open_store, query
from tether.store.manifest import Grading, Manifest
from tether.tasks import ColumnMap, load_tasks

from ..cli_run import tether as cli

GOLDS = {"a": "2", "b": "5"}
# `exact` (the tasks' own verifier, so `auto`) reads "2.0" as wrong; `numeric` as right
TEXTS = {"a": ["Final answer: 2", "Final answer: 2.0", "Final answer: 3"], "b": ["Final answer: 5.0", "Final answer: 6"]}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(texts):
    return [{"task_id": t, "sample_idx": i, "completion": c} for t, cs in texts.items() for i, c in enumerate(cs)]


def _tasks(tmp_path, golds=GOLDS, verifier="exact", name="tasks"):
    return load_tasks(str(_write(tmp_path / f"{name}.jsonl", [{"id": t, "question": "?", "answer": g}
                                                              for t, g in golds.items()])),
                      columns=ColumnMap(id="id"), verifier=verifier)


@pytest.fixture
def store(tmp_path):
    for label in ("base", "rl"):
        tether.import_samples(_write(tmp_path / f"{label}.jsonl", _rows(TEXTS)), tmp_path / "run", label=label)
    return tmp_path / "run"


def _counts(store, label, versions=None):
    found = query.task_counts(open_store(store), label, versions=versions)
    return dict(zip(found.task_ids.astype(str), found.c.tolist()))


def test_a_set_beside_the_counting_one_leaves_counts_unchanged(store, tmp_path):
    grade(store, GradeOptions(workers=1), tasks=_tasks(tmp_path))
    before, versions = _counts(store, "rl"), open_store(store).manifest().versions("rl")
    assert before == {"a": 1, "b": 0}
    summary = grade(store, GradeOptions(workers=1, also=("numeric",)))
    assert summary.tallies == {} and summary.ok  # the counting set had nothing left to grade
    numeric = summary.sets["numeric"].tallies[("rl", "tasks")]
    assert (numeric.samples, numeric.correct) == (5, 3)
    manifest = open_store(store).manifest()
    assert _counts(store, "rl") == before and manifest.versions("rl") == versions
    entry = manifest.grading["rl"]
    assert entry.verifier == "auto" and set(entry.sets) == {"auto", "numeric"}
    assert entry.sets["auto"].versions == versions
    assert _counts(store, "rl", entry.sets["numeric"].versions) == {"a": 2, "b": 1}
    assert tether.compare(store=store).counts.as_dict() == {"P": 1, "S": 0, "E": 0, "O": 1}
    again = grade(store, GradeOptions(workers=1, also=("numeric",)))  # every set whole: nothing to grade
    assert again.tallies == {} and again.sets["numeric"].tallies == {} and again.verified == 0


def test_a_set_graded_again_follows_text_that_changed(store, tmp_path):
    grade(store, GradeOptions(workers=1, also=("numeric",)), tasks=_tasks(tmp_path))
    shard = next((store / "samples" / "rl").glob("*.parquet"))  # damaged, quarantined, refilled with other text
    shard.write_bytes(shard.read_bytes()[:100])
    assert cli("check", str(store), "--repair").returncode == 0
    refilled = {"a": ["Final answer: 18", *TEXTS["a"][1:]], "b": TEXTS["b"]}
    tether.import_samples(_write(tmp_path / "refill.jsonl", _rows(refilled)), store, label="rl")
    grade(store, GradeOptions(workers=1))  # only the counting set: numeric now graded other text
    with pytest.raises(InputError, match=r"1 samples of 'rl' hold other text than set 'numeric' graded .*"
                                         r"`tether grade \S+ --verifier auto,numeric`"):
        tether.compare(store=store, verifiers=("auto", "numeric"))
    summary = grade(store, GradeOptions(workers=1, also=("numeric",)))
    assert summary.sets["numeric"].changed == {"rl": 1}
    numeric = open_store(store).manifest().grading["rl"].sets["numeric"].versions["numeric"]
    assert numeric.endswith("+regrade1")
    assert _counts(store, "rl", {"numeric": numeric}) == {"a": 1, "b": 1}  # 18 is wrong against gold 2
    assert tether.compare(store=store, verifiers=("auto", "numeric")).sensitivity is not None


def test_sets_that_would_share_verdicts_of_different_tasks_are_refused(store, tmp_path):
    # a is graded by exact, b by numeric: auto = {exact, numeric}; the numeric set would grade a with numeric too
    tasks = _tasks(tmp_path, {"a": "2"}) + _tasks(tmp_path, {"b": "5"}, verifier="numeric", name="more")
    with pytest.raises(InputError, match="'auto' and 'numeric' would share the verdicts of numeric on different"):
        grade(store, GradeOptions(workers=1, also=("numeric",)), tasks=tasks)
    assert not list(store.glob("verdicts/*/*.parquet"))  # refused before anything was graded


def test_set_names_are_checked_before_anything_is_graded(store, tmp_path):
    assert parse_set_names("auto, exact,auto") == ("auto", "exact")
    with pytest.raises(InputError, match="unknown verifier 'nope'; known: auto, math"):
        grade(store, GradeOptions(workers=1, also=("nope",)), tasks=_tasks(tmp_path))
    out = cli("grade", store, "--verifier", "exact,,nope")
    assert out.returncode != 0 and "unknown verifier 'nope'" in out.stderr
    assert not list(store.glob("verdicts/*/*.parquet"))


def test_the_cli_grades_each_set_and_says_how_to_compare_them(store, tmp_path):
    _write(tmp_path / "tasks.jsonl", [{"id": t, "question": "?", "answer": g} for t, g in GOLDS.items()])
    out = cli("grade", store, "--tasks", tmp_path / "tasks.jsonl", "--columns", "id=id",
              "--verifier", "exact,numeric", "--workers", "1")
    assert out.returncode == 0, out.stderr
    assert "verdict set numeric (kept beside exact, which counts): base 3 of 5 correct, rl 3 of 5 correct" in out.stdout
    assert "tether compare STORE --verifiers exact,numeric" in out.stdout
    assert open_store(store).manifest().grading["base"].verifier == "exact"


def test_manifests_before_verdict_sets_read_and_write_as_they_were():
    entry = Grading.model_validate({"versions": {"exact": "exact//1"}, "samples": None})
    assert entry.sets == {} and entry.verifier is None
    assert entry.model_dump() == {"versions": {"exact": "exact//1"}, "samples": None}
    manifest = Manifest(schema_version=1, grading={"base": entry})
    assert manifest.verdict_sets("base") == {} and manifest.verdict_sets("rl") == {}
