"""Answer entropy against hand-computed cases; avg@k and entropy from a real graded store."""

import json
import math

import pytest

import tether
from tether.diagnostics import answer_entropy, answer_stats
from tether.errors import InputError


@pytest.mark.parametrize(
    "answers,expected",
    [
        (["4"] * 8, 0.0),
        (["4", "5"], math.log(2)),
        (["4", "4", "5", "6"], -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))),
        (["4", None, None, "4"], math.log(2)),  # no-answer is one outcome of its own
        ([None, None], 0.0),
    ],
)
def test_answer_entropy_hand_computed(answers, expected):
    assert answer_entropy(answers) == pytest.approx(expected)


def test_empty_is_an_error():
    with pytest.raises(InputError):
        answer_entropy([])


def test_stats_from_a_graded_store(tmp_path):
    (tmp_path / "t.jsonl").write_text(json.dumps({"id": "a", "question": "q", "answer": "4"}) + "\n"
                                      + json.dumps({"id": "b", "question": "q", "answer": "7"}) + "\n")
    rows = [{"task_id": "a", "completion": f"\\boxed{{{x}}}"} for x in ("4", "4", "5", "4", "9")]
    rows += [{"task_id": "b", "completion": c} for c in ("\\boxed{7}", "no idea", "\\boxed{7}", "\\boxed{7}", "x")]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tether.import_samples(tmp_path / "s.jsonl", tmp_path / "run", label="base")
    tasks = tether.load_tasks(str(tmp_path / "t.jsonl"), columns=tether.tasks.ColumnMap(id="id"))
    tether.grade(tmp_path / "run", tasks=tasks)
    stats = answer_stats(tether.Store(tmp_path / "run"), "base", k=4)
    # first 4 samples: a -> 4,4,5,4 (acc 3/4); b -> 7, none, 7, 7 (acc 3/4)
    assert stats.avg_at_k == pytest.approx(0.75) and stats.tasks == 2
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert stats.answer_entropy == pytest.approx(h)


def test_stats_per_benchmark(tmp_path):
    from tether.diagnostics import answer_stats_by_benchmark
    from tether.tasks import Task

    tasks = [Task("a", "alpha", "q", {"answer": "4"}, "exact"), Task("b", "alpha", "q", {"answer": "7"}, "exact"),
             Task("c", "beta", "q", {"answer": "1"}, "exact")]
    rows = [{"task_id": t, "completion": c} for t, cs in (("a", "4454"), ("b", "7777"), ("c", "1212")) for c in cs]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tether.import_samples(tmp_path / "s.jsonl", tmp_path / "run", label="base")
    tether.grade(tmp_path / "run", tasks=tasks)
    stats = answer_stats_by_benchmark(tether.Store(tmp_path / "run"), "base", k=4)
    assert set(stats) == {"alpha", "beta", "all"}
    assert stats["alpha"].tasks == 2 and stats["alpha"].avg_at_k == pytest.approx((0.75 + 1.0) / 2)
    h_a = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert stats["alpha"].answer_entropy == pytest.approx(h_a / 2)
    assert stats["beta"].avg_at_k == pytest.approx(0.5) and stats["beta"].answer_entropy == pytest.approx(math.log(2))
    assert stats["all"].tasks == 3 and stats["all"].avg_at_k == pytest.approx((0.75 + 1.0 + 0.5) / 3)
