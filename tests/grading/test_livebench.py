"""The `livebench` verifier against hand-made LiveBench rows (tests/grading/livebench_rows/, one file per task
type: LiveBench's row format plus a response, the score LiveBench's rules give it and why), loaded through the
`livebench-reasoning` / `livebench-language` presets; then routes, thresholds, refused references, and `grade`."""

import json
import time
from pathlib import Path

import duckdb
import pytest

import tether
from tether.errors import InputError
from tether.grading import GradeOptions, grade, make_verifier
from tether.grading.livebench import TASK_TYPES, LiveBenchVerifier
from tether.grading.livebench.text import boxed, spans, without_thinking
from tether.tasks import load_tasks

ROWS = Path(__file__).resolve().parent / "livebench_rows"
PRESET = {"reasoning": "livebench-reasoning", "language": "livebench-language"}


def table() -> list[dict]:
    return [json.loads(line) for path in sorted(ROWS.glob("*.jsonl")) for line in path.open()]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> list[tuple[dict, object, str | None, str | None]]:
    """Each row as the preset loads it, graded: (row, grade, answer, route)."""
    folder = tmp_path_factory.mktemp("livebench")
    rows = table()
    for category, preset in PRESET.items():
        (folder / f"{preset}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["category"] == category))
    tasks = {t.task_id: t for preset in PRESET.values() for t in load_tasks(preset, data_dir=folder)}
    verifier = LiveBenchVerifier()
    found = []
    for row in rows:
        task = tasks[row["question_id"]]
        assert task.verifier == "livebench" and task.reference["task"] == row["task"]
        verifier.check_task(task.task_id, task.reference)
        answer, route = verifier.extract_with_route(row["response"], task.reference)
        found.append((row, verifier.compare(answer, task.reference) if answer is not None else None, answer, route))
    return found


def test_every_task_type_has_fifteen_hand_made_rows():
    counts = {}
    for row in table():
        counts[row["task"]] = counts.get(row["task"], 0) + 1
    assert set(counts) == set(TASK_TYPES) and min(counts.values()) >= 15, counts


def test_scores_are_livebenchs_on_every_row(graded):
    wrong = [f"{row['task']} {row['question_id']} ({row['why']}): got {found.score if found else 'no answer'}, "
             f"LiveBench gives {row['score']} (answer {answer!r} by {route})"
             for row, found, answer, route in graded
             if abs((found.score if found else 0.0) - row["score"]) > 1e-9]
    assert not wrong, "\n".join(wrong)
    for row, found, _, _ in graded:
        if found is not None:
            assert found.status == "ok" and found.correct == (row["score"] == 1)


def test_partial_credit_and_near_misses_are_in_the_table(graded):
    scores = {row["score"] for row, *_ in graded}
    assert {0.25, 0.375, 0.5, 0.75, 0.6} <= {round(s, 3) for s in scores}
    exact = make_verifier("exact")
    missed = 0
    for row, _, _, _ in graded:
        reference = {"answer": row["ground_truth"]}
        answer = exact.extract(row["response"], reference)
        missed += (exact.compare(answer, reference).correct if answer else False) != (row["score"] == 1)
    assert missed >= 60  # exact match gets these wrong: why the presets use LiveBench's scorers


def test_routes_say_how_each_answer_was_found(graded):
    routes = {(row["task"], row["why"]): route for row, _, _, route in graded}
    assert routes[("web_of_lies_v2", "each word bold, capitalised: bold words are lower-cased")] == "bold"
    assert routes[("web_of_lies_v2", "a plain list, the last one written")] == "yes_no_list"
    assert routes[("zebra_puzzle", "the last line, with the right number of commas")] == "last_line"
    assert routes[("zebra_puzzle", "no bold: the last word")] == "last_word"
    assert routes[("spatial", "the whole response is the answer")] == "whole"
    assert routes[("spatial", "a box")] == "box"
    assert routes[("typos", "between --- delimiters")] == "dashes"
    assert routes[("plot_unscrambling", "the right order")] == "plot_summary_tag"
    assert routes[("theory_of_mind", "no tags: the last line without 'Answer:'")] == "last_line"
    assert routes[("connections", "a tag over lines")] == "solution_tag"
    assert routes[("connections", "an unclosed box: LiveBench's scorer fails")] is None  # no answer: LiveBench's 0


def test_the_threshold_moves_the_cut_and_the_version():
    reference = {"task": "zebra_puzzle", "answer": "2,horse,french,3", "livebench_release_date": "2025-11-25"}
    strict, lenient = LiveBenchVerifier(), LiveBenchVerifier(correct_threshold=0.375)
    assert strict.version() != lenient.version()
    three = strict.compare("2,horse,spanish,3", reference)
    assert (three.correct, three.score) == (False, 0.375) and three.detail == "3 of 4 right"
    assert lenient.compare("2,horse,spanish,3", reference).correct
    assert not lenient.compare("3,horse,french,2", reference).correct
    for bad in (0, 1.5, -1):
        with pytest.raises(InputError, match="correct_threshold"):
            make_verifier("livebench", correct_threshold=bad)


@pytest.mark.parametrize("reference, message", [
    ({"answer": "yes, no, no"}, "names no LiveBench task type"),
    ({"task": "olympiad", "answer": "1"}, "'olympiad' has no scorer here; known: connections"),
    ({"task": "web_of_lies_v2", "answer": ""}, "ground truth is '', not text"),
    ({"task": "zebra_puzzle", "answer": "1,2"}, "no livebench_release_date"),
    ({"task": "connections", "answer": "a,b,c,d", "livebench_release_date": None}, "no livebench_release_date"),
    ({"task": "logic_with_navigation", "answer": "north"}, "not a point"),
    ({"task": "plot_unscrambling", "answer": "..."}, "has no sentence"),
])
def test_a_reference_it_cannot_grade_is_refused_and_never_a_verdict(reference, message):
    verifier = LiveBenchVerifier()
    with pytest.raises(InputError, match=message):
        verifier.check_task("t1", reference)
    assert verifier.extract_with_route("<solution>1,2</solution>", reference) == (None, None)
    found = verifier.compare("1,2", reference)
    assert not found.is_verdict and message.split(";")[0].strip("'") in found.detail


def test_the_task_type_comes_from_subtask_first_and_any_zebra_puzzle_name():
    verifier = LiveBenchVerifier()
    reference = {"task": "reasoning", "subtask": "spatial", "answer": "4"}
    assert verifier.compare(verifier.extract("**four**", reference), reference).correct
    zebra = {"task": "zebra_puzzle_hard", "answer": "cat", "livebench_release_date": "2024-07-26"}
    assert verifier.compare(verifier.extract("***cat***", zebra), zebra).correct


def test_text_rules_read_as_livebenchs_regular_expressions():
    assert spans("**a** **b*c** ****", "**", "**") == ["a", "b*c", ""]
    assert spans("<solution>x\n</solution><solution>y</solution>", "<solution>", "</solution>") == ["y"]
    assert spans("<Solution>x\n</SOLUTION>", "<solution>", "</solution>", True, True) == ["x\n"]
    assert spans("<solution>" * 20_000, "<solution>", "</solution>") == []  # linear: no closing tag to find
    assert without_thinking("a<think>b</think>c<think>d") == "ac<think>d"
    assert boxed("\\boxed{a{b}c} and \\boxed{d}") == "d" and boxed("\\fbox{x}") == "x"
    assert boxed("\\boxed 7$ and more") == "7" and boxed("\\boxed{open") is None and boxed("none") is None


HOSTILE = {"bold markers": "**" * 50_000, "star runs": "***a" * 8_000, "unclosed tags": "<solution>" * 3_000,
           "closing tags": "</solution>" * 3_000, "unclosed thinking": "<think>" * 4_000, "dashes": " --- " * 6_000,
           "open boxes": "\\boxed{" * 4_000, "blank lines": "\n" * 30_000 + "x y", "yes lists": "yes, no, " * 4_000}


def test_hostile_responses_are_read_at_once():
    """Every reading is linear (tag positions, star runs, one pass per line): 30 KB of each hostile text in well
    under a second for every task type (milliseconds each; the bound is loose so no machine is too slow)."""
    verifier = LiveBenchVerifier()
    references = {(row["task"], row["livebench_release_date"] < "2024-11-25"): row for row in table()}
    for row in references.values():
        reference = {"task": row["task"], "answer": row["ground_truth"],
                     "livebench_release_date": row["livebench_release_date"]}
        for what, text in HOSTILE.items():
            text = (text * (30_000 // len(text) + 1))[:30_000]
            started = time.perf_counter()
            verifier.extract(text, reference)
            assert time.perf_counter() - started < 1.0, (row["task"], what)


def test_grade_stores_scores_routes_and_refuses_bad_references(tmp_path):
    """End to end: the preset's tasks, samples imported, `grade` with its cache, dedup and threshold."""
    rows = [r for r in table() if r["task"] == "spatial"][:3] + [r for r in table() if r["task"] == "zebra_puzzle"][3:6]
    (tmp_path / "livebench-reasoning.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tasks = load_tasks("livebench-reasoning", data_dir=tmp_path)
    samples = [{"task_id": r["question_id"], "completion": r["response"]} for r in rows for _ in range(2)]
    (tmp_path / "base.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    store = tmp_path / "run"
    tether.import_samples(tmp_path / "base.jsonl", store, label="base")
    summary = grade(store, GradeOptions(workers=1), tasks=tasks)
    answered = sum(1 for r in rows if LiveBenchVerifier().extract(r["response"], tasks[rows.index(r)].reference))
    assert summary.distinct_answers == answered and summary.verified == answered  # each answer once, not twice
    stored = duckdb.sql(f"select task_id, score, correct, extraction from '{store}/verdicts/*/*.parquet'").fetchall()
    expected = {r["question_id"]: r["score"] for r in rows}
    assert len(stored) == 12 and all(abs(score - expected[task]) < 1e-9 and correct == (score == 1)
                                     for task, score, correct, _ in stored)
    assert {route for *_, route in stored} >= {"solution_tag", "bold"}
    lenient = grade(store, GradeOptions(workers=1, verifier_options={"livebench": {"correct_threshold": 0.25}}))
    assert lenient.verified == answered  # a new version: graded again
    bad = [tether.Task("odd", "x", "q", {"task": "olympiad", "answer": "1"}, "livebench")]
    tether.import_samples(_write(tmp_path / "odd.jsonl", [{"task_id": "odd", "completion": "1"}]), store, label="odd")
    with pytest.raises(InputError, match="livebench task 'odd': LiveBench task type 'olympiad' has no scorer"):
        grade(store, GradeOptions(workers=1), labels=["odd"], tasks=bad)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
