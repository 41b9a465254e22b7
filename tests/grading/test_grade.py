"""`grade` end to end on real stores: dedup, cache, resume, version changes, compare, CLI, judge."""

import json
import re
import signal
import sys

import duckdb
import pytest

import tether
from tether.errors import InputError
from tether.grading import VERIFIERS, GradeOptions, grade, make_verifier
from tether.store import Store
from tether.tasks import ColumnMap, load_tasks

from ..cli_run import tether as cli
from ..servers import VLLM_API_KEY


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def store_with_samples(tmp_path):
    tasks = write(tmp_path / "tasks.jsonl", [{"id": "a", "question": "6*7?", "answer": "42"},
                                            {"id": "b", "question": "half?", "answer": r"\frac{1}{2}"}])
    completions = {"a": [r"\boxed{42}", "**42**", r"\boxed{41}", "no idea", r"\boxed{42}"] * 4,
                   "b": [r"\boxed{0.5}", r"\boxed{\dfrac12}", r"\boxed{2}"] * 4}
    rows = [{"task_id": t, "completion": c} for t, cs in completions.items() for c in cs]
    for label in ("base", "rl"):
        tether.import_samples(write(tmp_path / f"{label}.jsonl", rows), tmp_path / "run", label=label)
    return tmp_path / "run", load_tasks(str(tasks), columns=ColumnMap(id="id"))


def verdicts(store):
    return duckdb.sql(f"select model, task_id, sample_idx, answer, correct, status, verifier_version "
                      f"from '{store}/verdicts/*/*.parquet' order by all").fetchall()


def test_grades_each_distinct_answer_once_and_resumes(store_with_samples):
    store, tasks = store_with_samples
    summary = grade(store, GradeOptions(workers=2), tasks=tasks)
    # base and rl share the same 6 distinct (task, answer) pairs (+ 'no idea', which has none): verified once
    assert summary.distinct_answers == 12 and summary.verified == 6 and summary.cache_hits == 6
    tally = summary.tallies[("base", "tasks")]
    assert (tally.samples, tally.correct, tally.incorrect, tally.statuses["no_answer"]) == (32, 20, 8, 4)
    rows = verdicts(store)
    assert len(rows) == 64 and len({r[:3] for r in rows}) == 64
    again = grade(store, GradeOptions(workers=2))  # tasks are stored now; nothing left to grade
    assert again.distinct_answers == 0 and len(verdicts(store)) == 64
    result = tether.compare(store=store)
    assert result.counts.as_dict() == {"P": 2, "S": 0, "E": 0, "O": 0}
    assert list(result.base.c) == [12, 8] and list(result.base.n) == [20, 12]


def test_new_verifier_config_regrades_and_counts_use_only_the_current_version(store_with_samples):
    store, tasks = store_with_samples
    grade(store, GradeOptions(), tasks=tasks)
    regraded = grade(store, GradeOptions(verifier_options={"math": {"timeout_seconds": 4}}))
    assert regraded.verified == 6 and regraded.cache_hits == 6  # old cache not used: new version
    rows = verdicts(store)
    assert len(rows) == 128 and len({r[-1] for r in rows}) == 2
    assert list(tether.compare(store=store).base.n) == [20, 12]  # not doubled


def test_an_interrupted_run_resumes_where_it_stopped(store_with_samples):
    store, tasks = store_with_samples
    seen = []

    def interrupt_after_first_chunk(done):
        seen.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade(store, GradeOptions(chunk_size=10), tasks=tasks, on_progress=interrupt_after_first_chunk)
    assert seen == [10] and len(verdicts(store)) == 10
    resumed = grade(store, GradeOptions(chunk_size=10))
    assert sum(t.samples for t in resumed.tallies.values()) == 54
    rows = verdicts(store)
    assert len(rows) == 64 and len({r[:3] for r in rows}) == 64


def test_imported_samples_without_tasks_need_them(tmp_path):
    tether.import_samples(write(tmp_path / "s.jsonl", [{"task_id": "a", "completion": "x"}]), tmp_path / "run", "base")
    with pytest.raises(InputError, match="pass --tasks"):
        grade(tmp_path / "run")


def test_registry_is_complete_and_every_verifier_grades_its_own_gold():
    assert set(VERIFIERS) == {"math", "reasoning_gym", "exact", "choice", "numeric", "judge", "lab_sum", "code",
                              "vision_math", "livebench"}
    cases = {
        "math": ({"answer": "3/4"}, r"so \boxed{\frac{3}{4}}"),
        "reasoning_gym": (load_tasks("reasoning-gym:gcd?size=1&seed=2")[0].reference, None),
        "exact": ({"answer": "Paris"}, "Final answer: Paris"),
        "choice": ({"answer": "C"}, "The answer is (C)"),
        "numeric": ({"answer": "2.5"}, r"\boxed{2.5 m}"),
        "lab_sum": ({"answer": 17}, "9+8"),
        "code": ({"tests": "assert add(9, 8) == 17", "answer": None}, "```python\ndef add(a, b):\n    return a + b\n```"),
        "vision_math": ({"answer": "8/11", "choices": ["3/11", "8/11"]}, "The correct answer is (B) 8/11."),
        "livebench": ({"task": "spatial", "answer": "4"}, "The diagonals make **four** triangles, so **4**."),
    }
    for name, (reference, completion) in cases.items():
        verifier = make_verifier(name)
        assert verifier.version().startswith(name + "/")
        completion = completion or f"<answer>{reference['answer']}</answer>"
        assert verifier.compare(verifier.extract(completion, reference), reference).correct, name
    judge = make_verifier("judge", model="m", base_url="http://127.0.0.1:1/v1")
    assert judge.in_process and judge.version() != make_verifier("judge", model="m2", base_url="x").version()
    with pytest.raises(InputError, match="unknown verifier"):
        make_verifier("nope")


def test_cli_grade_then_compare(store_with_samples, tmp_path):
    store, _ = store_with_samples
    out = cli("grade", store, "--tasks", tmp_path / "tasks.jsonl", "--columns", "id=id", "--workers", "2")
    assert out.returncode == 0, out.stderr
    assert "Grading" in out.stdout and "12 distinct (task, answer) pairs" in out.stdout
    assert "no answer extracted" in out.stdout
    payload = json.loads(cli("compare", str(store), "--json").stdout)
    assert payload["counts"]["P"] == 2


def test_judge_through_a_real_server(tmp_path, vllm_server, smollm2):
    """The judge's plumbing against vLLM: every answer graded or flagged, verdicts cached per judge + template."""
    tasks = write(tmp_path / "t.jsonl", [{"id": "q", "question": "Capital of France?", "answer": "Paris"}])
    rows = [{"task_id": "q", "completion": c} for c in ("Paris", "Lyon", "I don't know", "Paris")]
    tether.import_samples(write(tmp_path / "s.jsonl", rows), tmp_path / "run", label="base")
    judge = {"model": str(smollm2), "base_url": vllm_server.base_url, "api_key": VLLM_API_KEY}
    options = GradeOptions(verifier="judge", verifier_options={"judge": judge})
    given = load_tasks(str(tasks), columns=ColumnMap(id="id"), verifier="judge", template="{question}")
    summary = grade(tmp_path / "run", options, tasks=given)
    assert summary.verified == 3 and summary.distinct_answers == 3
    rows = verdicts(tmp_path / "run")
    assert len(rows) == 4 and all(r[5] in ("ok", "no_answer", "error") for r in rows)
    cached = duckdb.sql(f"select count(*) from '{tmp_path}/run/grades/judge/*.parquet'").fetchall()
    assert cached == [(3,)]
    assert Store(tmp_path / "run").manifest().versions("base")["judge"].startswith("judge/")


def test_ctrl_c_keeps_the_verdicts_written_and_the_next_run_grades_the_rest(store_with_samples, holds):
    store, _ = store_with_samples
    command = [sys.executable, "-m", "tether", "grade", str(store), "--workers", "1",
               "--tasks", str(store.parent / "tasks.jsonl"), "--columns", "id=id"]
    hold = holds("commit:verdicts", 1)  # one label graded, the other's verdicts staged
    process = hold.start(command)
    hold.reached(process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == ("interrupted; everything already written is kept; re-run the same "
                                               "command to resume (samples with a verdict are not graded again)")
    kept = verdicts(store)
    assert len(kept) == 32 and len({r[0] for r in kept}) == 1
    assert not [p for p in store.rglob("*") if ".tmp-" in p.name]
    again = cli(*command[3:5])  # the tasks are in the store now
    assert again.returncode == 0, again.stderr
    rows = verdicts(store)
    assert len(rows) == 64 and len({r[:3] for r in rows}) == 64 and kept in (rows[:32], rows[32:])


def test_hostile_completions_are_graded_and_a_slow_extractor_times_out(tmp_path, monkeypatch):
    from tether.grading.math import MathVerifier

    from .test_extract import HOSTILE

    tasks = load_tasks(str(write(tmp_path / "tasks.jsonl", [{"id": "a", "question": "6*7?", "answer": "42"}])),
                       columns=ColumnMap(id="id"))
    completions = [(text * (30_000 // len(text) + 1))[:30_000] for text in HOSTILE.values()] + [r"\boxed{42}"]
    rows = [{"task_id": "a", "completion": text} for text in completions]
    tether.import_samples(write(tmp_path / "rows.jsonl", rows), tmp_path / "run", label="base")
    summary = grade(tmp_path / "run", GradeOptions(workers=1, deadline=5), tasks=tasks)
    tally = summary.tallies[("base", "tasks")]
    assert tally.samples == len(completions) and tally.correct == 1 and tally.statuses["timeout"] == 0

    def catastrophic(self, completion, reference):  # a custom extractor with an exponential pattern
        return ("42", "custom") if re.match(r"(a+)+$", "a" * 40 + "b") else (None, None)

    monkeypatch.setattr(MathVerifier, "extract_with_route", catastrophic)
    slow = grade(tmp_path / "run", GradeOptions(workers=1, deadline=0.25, verifier_options={"math": {"timeout_seconds": 2}}),
                 tasks=tasks)  # a new config: a new version, so everything is graded again
    assert slow.tallies[("base", "tasks")].statuses["timeout"] == len(completions)


def test_no_full_text_answer_from_a_cut_off_completion_or_under_strict(tmp_path):
    tasks = load_tasks(str(write(tmp_path / "tasks.jsonl", [{"id": "a", "question": "6*7?", "answer": "42"}])),
                       columns=ColumnMap(id="id"))
    rows = [{"task_id": "a", "completion": "so it is 42", "finish_reason": "length"},  # cut at max_tokens
            {"task_id": "a", "completion": "so it is 42", "finish_reason": "stop"},
            {"task_id": "a", "completion": r"\boxed{42}", "finish_reason": "length"}]  # explicit: graded
    tether.import_samples(write(tmp_path / "rows.jsonl", rows), tmp_path / "run", label="base")
    tally = grade(tmp_path / "run", GradeOptions(workers=1), tasks=tasks).tallies[("base", "tasks")]
    assert (tally.correct, tally.statuses["no_answer"]) == (2, 1)
    strict = grade(tmp_path / "run", GradeOptions(workers=1, strict=True)).tallies[("base", "tasks")]
    assert (strict.correct, strict.statuses["no_answer"]) == (1, 2)  # a new version: all graded again


def test_every_verdict_says_how_its_answer_was_found(store_with_samples):
    store, tasks = store_with_samples
    summary = grade(store, GradeOptions(workers=1), tasks=tasks)
    found = duckdb.sql(f"select answer, extraction, count(*) from '{store}/verdicts/base/*.parquet' "
                       "group by all order by all").fetchall()
    assert (r"\dfrac12", "box", 4) in found and ("42", "bold", 4) in found
    assert ("no idea", "full_text", 4) in found  # the tail Math-Verify parsed is stored, so it can be audited
    tally = summary.tallies[("base", "tasks")]
    assert tally.routes == {"box": 24, "bold": 4, "full_text": 4} and tally.format_asked == 32
    assert tally.format_followed == 24  # the prompt asked for \boxed{}
