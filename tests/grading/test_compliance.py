"""Format compliance per model and the loud warnings of `tether grade`, on real SmolLM2 completions.

The store is graded from the labelled corpus (tests/grading/real/): SmolLM2-135M-Instruct's
completions on Reasoning Gym's default tasks, whose prompt asks for <answer> tags that the model
never writes (issue 29's scenario: 0 correct, every task out of support, nothing said)."""

import json
from pathlib import Path

import pytest

import tether
from tether.grading import GradeOptions, grade
from tether.grading.accuracy import load_corpus
from tether.grading.compliance import LOW_COMPLIANCE, compliance, warnings
from tether.grading.run import BenchmarkTally, GradeSummary
from tether.tasks import load_tasks

from ..cli_run import tether as cli

CORPUS = Path(__file__).parent / "real" / "corpus.jsonl"
SPEC = "reasoning-gym:chain_sum?size=10&seed=29+reasoning-gym:basic_arithmetic?size=10&seed=29"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A store: `rl` holds SmolLM2's real completions at temperature 0.6 on 20 default chain_sum and
    basic_arithmetic tasks; `base` answers every task in the requested <answer> tags (a compliant control)."""
    rows = [r for r in load_corpus(CORPUS) if r.id.startswith("rg-t06/") and "leg_counting" not in r.task_id]
    assert len(rows) == 60 and not any(r.label == "correct" for r in rows)  # the premise: no completion correct
    folder = tmp_path_factory.mktemp("compliance")
    tasks = load_tasks(SPEC)
    samples = folder / "rl.jsonl"
    samples.write_text("".join(json.dumps({"task_id": r.task_id, "completion": r.completion,
                                           "finish_reason": r.finish_reason}) + "\n" for r in rows))
    control = folder / "base.jsonl"
    control.write_text("".join(json.dumps({"task_id": t.task_id, "finish_reason": "stop",
                                           "completion": f"<answer>{t.reference['answer']}</answer>"}) + "\n"
                               for t in tasks))
    tether.import_samples(samples, folder / "run", label="rl")
    tether.import_samples(control, folder / "run", label="base")
    return folder / "run", tasks, grade(folder / "run", GradeOptions(workers=1), tasks=tasks)


def test_compliance_is_counted_per_model_and_route(graded):
    _, _, summary = graded
    found = compliance(summary)
    rl, base = found["rl"], found["base"]
    assert (rl.samples, rl.asked, rl.followed, rl.correct) == (60, 60, 0, 0)
    assert rl.formats == {"answer_tag"} and rl.low and "answer_tag" not in rl.routes
    assert set(rl.routes) <= {"final_answer", "last_result", "none"}  # read out of the text, never a whole line
    assert (base.samples, base.followed, base.correct) == (20, 20, 20) and base.share == 1.0 and not base.low


def test_a_model_that_never_follows_the_format_and_solves_nothing_is_named(graded):
    _, _, summary = graded
    lines = warnings(summary)
    assert len(lines) == 1, lines  # the compliant control raises none
    assert lines[0].startswith("rl: 0 of 60 completions correct, so every task is out of rl's support")
    assert "no completion of rl followed the requested <answer> tags" in lines[0]


def test_low_compliance_alone_is_a_warning():
    tally = BenchmarkTally(samples=10, correct=5, format_asked=10, format_followed=4, formats={"answer_tag"})
    tally.routes.update({"answer_tag": 4, "last_result": 6})
    (line,) = warnings(GradeSummary(tallies={("m", "b"): tally}))
    assert 0.4 < LOW_COMPLIANCE
    assert line.startswith("m: only 4 of 10 completions (40%) gave their answer in the requested <answer> tags")
    assert "(last_result 6)" in line
    tally.format_followed = 6  # above the threshold: no warning
    assert warnings(GradeSummary(tallies={("m", "b"): tally})) == []


def test_tether_grade_prints_compliance_and_the_warning(graded):
    store, _, _ = graded
    out = cli("grade", store, "--regrade", "--workers", "1")
    assert out.returncode == 0, out.stderr
    assert "rl: 0% of completions in the requested <answer> tags (0 of 60)" in out.stdout
    assert "base: 100% of completions in the requested <answer> tags (20 of 20)" in out.stdout
    assert "warning: rl: 0 of 60 completions correct" in out.stdout
