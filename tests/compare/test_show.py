"""`tether.show_task` / `show_region`: a task's region, counts and graded completions, exactly as stored and
as `tether compare` counts them (issue 29: defend every region count)."""

import json

import pytest

import tether
from tether.compare import CompareOptions
from tether.errors import InputError

from ..conftest import graded_rows, write_jsonl
from .show_store import ESCAPED_REASON, LONG, REGIONS, build_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("show"))


def _fields(completion) -> tuple:
    return (completion.sample_idx, completion.correct, completion.answer, completion.extraction, completion.counted)


def test_a_task_shows_its_region_counts_reasons_and_routes(store):
    view = tether.show_task(store, "chain_sum/42/10")
    assert (view.task_id, view.region, view.benchmark, view.verifier) == ("chain_sum/42/10", "E", "tasks", "exact")
    assert view.reference == {"answer": "26", "question": "Sum for chain_sum/42/10?"}
    assert view.prompt.startswith("Sum for chain_sum/42/10?")
    base, rl = view.labels
    # base: 2 of 6 correct, but both beyond rl's 4 samples: the region compares 0 of 4 (E, not P)
    assert (base.label, base.n, base.c, base.compared_n, base.compared_c, base.left_out) == ("base", 6, 2, 4, 0, 2)
    assert [_fields(c) for c in base.completions] == [
        (4, True, "26", "final_answer", False), (5, True, "26", "box", False),
        (0, False, "25", "final_answer", True), (1, False, "19", "final_answer", True)]
    assert [c.detail for c in base.completions] == [None, None, None, ESCAPED_REASON]
    assert base.completions[3].completion == "8 + 7 += 15 + 8 = 19.\nFinal answer: 19"  # as stored, not escaped
    assert {(c.status, c.score, c.finish_reason) for c in base.completions} == {("ok", 1.0, "stop"), ("ok", 0.0, "stop")}
    assert (rl.label, rl.n, rl.c, rl.compared_n, rl.compared_c, rl.left_out) == ("rl", 4, 2, 4, 2, 0)
    assert [_fields(c) for c in rl.completions] == [
        (0, True, "26", "box", True), (2, True, "26", "box", True),
        (1, False, "20", "final_answer", True), (3, False, "3", "final_answer", True)]
    assert rl.completions[2].detail == "off by 6" and rl.completions[3].completion == LONG


def test_every_region_is_the_one_compare_gives(store):
    compared = tether.compare(store=store, options=CompareOptions(bootstrap_reps=10, extrapolate=0))
    regions = dict(zip(compared.task_ids.astype(str), compared.regions))
    assert regions == REGIONS
    assert {task: tether.show_task(store, task).region for task in REGIONS} == REGIONS


def test_limit_and_filter_keep_the_order_and_count_what_is_left_out(store):
    everything = tether.show_task(store, "chain_sum/42/10", limit=None).labels[0]
    assert [c.sample_idx for c in everything.completions] == [4, 5, 0, 1, 2, 3] and everything.left_out == 0
    wrong = tether.show_task(store, "chain_sum/42/10", limit=3, which="incorrect")
    assert wrong.which == "incorrect"
    assert [c.sample_idx for c in wrong.labels[0].completions] == [0, 1, 2] and wrong.labels[0].left_out == 1
    assert [c.sample_idx for c in wrong.labels[1].completions] == [1, 3] and wrong.labels[1].left_out == 0
    right = tether.show_task(store, "chain_sum/42/10", limit=1, which="correct").labels
    assert [(c.sample_idx, c.correct) for c in right[0].completions] == [(4, True)] and right[0].left_out == 1
    for bad, match in (({"limit": 0}, "limit must be >= 1"), ({"which": "wrong"}, "expected one of all, correct")):
        with pytest.raises(InputError, match=match):
            tether.show_task(store, "chain_sum/42/10", **bad)


def test_an_unknown_task_names_the_closest_ones(store):
    with pytest.raises(InputError, match=r"no task 'chain_sum/42/1' among the graded samples of base, rl; "
                                         r"did you mean chain_sum/42/1\d"):
        tether.show_task(store, "chain_sum/42/1")
    with pytest.raises(InputError, match=r"no task 'zzz'.*; they hold 4 tasks, e\.g\. chain_sum/42/10,"):
        tether.show_task(store, "zzz")


def test_a_region_lists_its_tasks(store):
    shrunk = tether.show_region(store, "s")
    assert (shrunk.region, shrunk.base_label, shrunk.rl_label, shrunk.total) == ("S", "base", "rl", 1)
    assert [t.task_id for t in shrunk.tasks] == ["chain_sum/42/11"]
    base, rl = shrunk.tasks[0].labels
    assert (base.c, rl.c) == (2, 0) and [c.sample_idx for c in base.completions] == [1, 3, 0, 2]
    assert tether.show_region(store, "E", limit=1).tasks[0].labels[1].left_out == 3
    assert [t.task_id for t in tether.show_region(store, "O").tasks] == ["chain_sum/42/13"]
    swapped = tether.show_region(store, "S", labels=["rl", "base"])  # the first label is the base
    assert [t.task_id for t in swapped.tasks] == ["chain_sum/42/10"]
    with pytest.raises(InputError, match="region 'X': expected one of P, S, E, O"):
        tether.show_region(store, "X")
    with pytest.raises(InputError, match="a region needs two labels"):
        tether.show_region(store, "E", labels=["rl"])


def test_one_label_has_no_region_and_labels_are_checked(store):
    alone = tether.show_task(store, "chain_sum/42/10", labels=["rl"])
    assert alone.region is None and [v.label for v in alone.labels] == ["rl"]
    assert alone.labels[0].compared_n is None and {c.counted for c in alone.labels[0].completions} == {None}
    with pytest.raises(InputError, match="label 'rl' given twice"):
        tether.show_task(store, "chain_sum/42/10", labels=["rl", "rl"])
    with pytest.raises(InputError, match="no verdicts for label 'nope'; graded labels: base, rl"):
        tether.show_task(store, "chain_sum/42/10", labels=["nope"])


def test_the_dict_has_every_field_and_is_json(store):
    payload = json.loads(json.dumps(tether.show_region(store, "E").to_dict()))
    assert (payload["region"], payload["total"], payload["shown"]) == ("E", 1, 1)
    task = payload["tasks"][0]
    assert set(task) == {"task_id", "region", "benchmark", "verifier", "prompt", "reference", "labels", "which"}
    assert set(task["labels"][0]) == {"label", "n", "c", "compared_n", "compared_c", "completions", "left_out"}
    assert set(task["labels"][0]["completions"][0]) == {"sample_idx", "correct", "status", "score", "answer",
                                                        "extraction", "detail", "completion", "finish_reason",
                                                        "counted"}


def test_other_labels_are_the_default_and_imported_grades_have_no_text(tmp_path):
    """Without base and rl, the store's graded labels (sorted); samples imported as grades only show no text,
    and a store without tasks shows no prompt or reference."""
    counts = {"t1": (3, 1), "t2": (3, 0)}
    for label, seed in (("after", 1), ("before", 2)):
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", graded_rows(counts, seed)), tmp_path / "run",
                              label=label)
    view = tether.show_task(tmp_path / "run", "t1")
    assert [v.label for v in view.labels] == ["after", "before"] and view.region == "P"
    assert (view.prompt, view.reference, view.benchmark) == (None, None, None)
    assert {c.completion for v in view.labels for c in v.completions} == {None}
    assert [c.correct for c in view.labels[0].completions] == [True, False, False]
