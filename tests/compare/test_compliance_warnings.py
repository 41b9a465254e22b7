"""Format compliance where results are read: `tether compare`, compare.json and the report warn from the store.

The store is graded from the labelled corpus (tests/grading/real/), as in tests/grading/test_compliance.py:
`rl` holds SmolLM2-135M-Instruct's real completions on Reasoning Gym tasks whose prompt asks for <answer>
tags it never writes (0 correct), `base` answers every task in the tags (a compliant control)."""

import json
from pathlib import Path

import pytest

import tether
from tether.compare import compare
from tether.compare.store import stored_comparison
from tether.grading import GradeOptions, grade
from tether.grading.accuracy import load_corpus
from tether.grading.compliance import compliance
from tether.report import build_report
from tether.store import open_store
from tether.store.compliance import compliance_warnings, requested_route, stored_compliance

from ..cli_run import tether as cli
from ..conftest import imported_pair, write_jsonl

CORPUS = Path(__file__).parents[1] / "grading" / "real" / "corpus.jsonl"
SPEC = "reasoning-gym:chain_sum?size=10&seed=29+reasoning-gym:basic_arithmetic?size=10&seed=29"
RL_WARNING = "rl: 0 of 60 completions correct, so every task is out of rl's support; likely cause: no completion " \
             "of rl followed the requested <answer> tags"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from tether.tasks import load_tasks

    rows = [r for r in load_corpus(CORPUS) if r.id.startswith("rg-t06/") and "leg_counting" not in r.task_id]
    folder = tmp_path_factory.mktemp("compliance")
    tasks = load_tasks(SPEC)
    write_jsonl(folder / "rl.jsonl", [{"task_id": r.task_id, "completion": r.completion,
                                       "finish_reason": r.finish_reason} for r in rows])
    write_jsonl(folder / "base.jsonl", [{"task_id": t.task_id, "finish_reason": "stop",
                                         "completion": f"<answer>{t.reference['answer']}</answer>"} for t in tasks])
    tether.import_samples(folder / "rl.jsonl", folder / "run", label="rl")
    tether.import_samples(folder / "base.jsonl", folder / "run", label="base")
    return folder / "run", grade(folder / "run", GradeOptions(workers=1), tasks=tasks)


def test_the_store_gives_the_grading_runs_compliance(graded):
    store, summary = graded
    for label, found in compliance(summary).items():
        assert stored_compliance(open_store(store), label) == found  # routes, formats, cut, no answer: all of it
    assert compliance_warnings(stored_compliance(open_store(store), label) for label in ("base", "rl"))[0] \
        .startswith(RL_WARNING)


def test_requested_route_reads_the_prompt():
    assert requested_route("Put the final answer in \\boxed{}.") == "box"
    assert requested_route("Answer inside <answer></answer> tags") == "answer_tag"
    assert requested_route("What is 2 + 2?") is None


def test_compare_warns_and_says_the_regions_rest_on_a_grading_failure(graded):
    store, _ = graded
    result = compare(store=store)
    assert [w for w in result.warnings if w.startswith("rl: ")] == [w for w in result.warnings if RL_WARNING in w]
    assert any(w.startswith(RL_WARNING) for w in result.warnings)
    assert not any(w.startswith("base: ") for w in result.warnings)  # the compliant control raises none
    assert "Caution: rl has no correct sample on any task" in result.conclusion.text
    assert result.to_dict()["warnings"] == result.warnings


def test_tether_compare_prints_the_warning_and_the_conclusion(graded):
    store, _ = graded
    out = cli("compare", store, "--bootstrap-reps", "20", "--extrapolate", "0")
    assert out.returncode == 0, out.stderr
    assert "warning: " + RL_WARNING in " ".join(out.stderr.split())
    shown = " ".join(out.stdout.split())
    assert "conclusion: No expansion beyond chance: E 0 vs 10.0 expected for identical models (p 1)" in shown
    assert "RL shrank support beyond chance: S 20 vs 10.0 expected (p < 0.001)" in shown


def test_the_report_shows_the_answer_and_a_warning_box(graded, tmp_path):
    store, _ = graded
    files = build_report(store, tmp_path / "report", comparison=stored_comparison(store))
    page = files.html.read_text()
    heading = page.index("<h1>Did RL expand")
    answer, box = page.index("<p class='conclusion'>No expansion beyond chance"), page.index("class='warning'")
    assert heading < answer < box < page.index("<h2>What produced these numbers")
    assert "rl: 0 of 60 completions correct, so every task is out of rl&#x27;s support" in page
    markdown = files.markdown.read_text()
    assert "**Did RL expand what the model can solve, or only sharpen it?** No expansion beyond chance" in markdown
    assert "> **Warning:** " + RL_WARNING in markdown
    summary = json.loads(files.summary.read_text())
    assert "RL shrank support beyond chance" in summary["conclusion"]["text"]
    assert summary["conclusion"]["claims"][1]["region"] == "S" and summary["conclusion"]["claims"][1]["beyond_chance"]
    assert any(w.startswith(RL_WARNING) for w in summary["warnings"])


def test_imported_verdicts_have_no_route_to_judge(tmp_path):
    store = imported_pair(tmp_path, {"a": (4, 2), "b": (4, 0)})
    assert compare(store=store).warnings == []  # graded elsewhere: no format to hold them to
    found = stored_compliance(open_store(store), "base")
    assert (found.samples, found.imported, found.asked, sum(found.routes.values())) == (8, 8, 0, 0)
    (tmp_path / "zero").mkdir()
    nothing = imported_pair(tmp_path / "zero", {"a": (4, 0), "b": (4, 0)})
    (line, _) = compare(store=nothing).warnings
    assert line.startswith("base: 0 of 8 completions correct") and "the grader that made these imported verdicts" in line
