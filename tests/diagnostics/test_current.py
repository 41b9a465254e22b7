"""Stored diagnostics follow the verdicts: they record the verdicts and the k they used; readers recompute
avg@k and answer entropy where the verdicts changed since, name stale perplexity by region, and read old stores."""

import json

import pyarrow as pa
import pytest

import tether
from tether.diagnostics import answer_stats, current_diagnostics, diagnose, load_diagnostics
from tether.diagnostics.current import fingerprint, verdicts_of
from tether.grading import GradeOptions
from tether.report.tables import table3
from tether.store import Shard, Store, query
from tether.store.schema import Diagnostic, schema_of, to_table
from tether.tasks import Task


def _tasks(gold_a: str = "4") -> list[Task]:
    return [Task("a", "alpha", "q", {"answer": gold_a}, "exact"), Task("b", "alpha", "q", {"answer": "7"}, "exact")]


@pytest.fixture
def store(tmp_path) -> Store:
    """Label base, 4 samples per task: a -> 4 4 5 4, b -> 7 7 7 1 (each task 3/4 correct)."""
    rows = [{"task_id": t, "completion": c} for t, cs in (("a", "4454"), ("b", "7771")) for c in cs]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tether.import_samples(tmp_path / "s.jsonl", tmp_path / "run", label="base")
    tether.grade(tmp_path / "run", tasks=_tasks())
    return Store(tmp_path / "run")


def _value(rows, metric: str, label: str = "base") -> Diagnostic:
    return next(r for r in rows if (r.model, r.metric, r.benchmark, r.group) == (label, metric, "all", "all"))


def test_rows_record_the_k_used_and_their_verdicts(store):
    run = diagnose(store, ("base",), k=32, token_entropy_on=False)
    avg = _value(run.rows, "avg_at_k")
    assert (avg.k, avg.requested_k, avg.value) == (4, 32, pytest.approx(0.75))  # 4 samples per task, 32 asked
    assert json.loads(avg.verdicts) == {"base": fingerprint(store, "base")}
    assert fingerprint(store, "base")["verdicts"] == 8 and fingerprint(store, "base")["correct"] == 6
    header, _ = table3(load_diagnostics(store))
    assert header[2] == "avg@4"  # not avg@32
    assert answer_stats(store, "base", k=2).k == 2 and answer_stats(store, "base", k=32).k == 4


def test_regrading_recomputes_avg_at_k_and_answer_entropy(store):
    diagnose(store, ("base",), k=32, token_entropy_on=False)
    assert current_diagnostics(store).recomputed == ()  # nothing changed yet
    tether.grade(store.root, GradeOptions(update_tasks=True), tasks=_tasks(gold_a="5"))  # task a: now 1/4
    found = current_diagnostics(store)
    assert found.recomputed == ("base",) and "recomputed from the current verdicts" in found.notes[0]
    assert _value(found.rows, "avg_at_k").value == pytest.approx((0.25 + 0.75) / 2)
    assert _value(found.rows, "avg_at_k").k == 4 and _value(found.rows, "avg_at_k").requested_k == 32
    assert _value(query.diagnostics(store), "avg_at_k").value == pytest.approx(0.75)  # a reader writes nothing
    again = diagnose(store, ("base",), k=32, token_entropy_on=False)
    assert _value(again.rows, "avg_at_k").value == pytest.approx(0.5)
    assert current_diagnostics(store).recomputed == () and current_diagnostics(store).notes == []


def test_perplexity_by_region_of_other_verdicts_is_named_stale(store):
    diagnose(store, ("base",), k=32, token_entropy_on=False)
    old = verdicts_of({"base": {**fingerprint(store, "base"), "correct": 1}})  # verdicts since regraded
    rows = [Diagnostic("base", "20200101T000000Z", "perplexity", "all", "all", 3.0, 10, None, "2 traces"),
            Diagnostic("base", "20200101T000000Z", "perplexity", "all", "P", 2.5, 6, None, "1 traces", None, old),
            Diagnostic("base", "20200101T000000Z", "token_entropy", "all", "all", 0.7, 50, 4, "nats, exact", 32)]
    store.write([Shard("diagnostics", "base", to_table(rows, Diagnostic), "diagnose-old")])
    found = current_diagnostics(store)
    assert [(r.metric, r.group) for r in found.stale] == [("perplexity", "P")]  # kept, and named
    assert _value(found.rows, "perplexity").value == 3.0 and _value(found.rows, "token_entropy").value == 0.7
    assert found.notes == [(f"stale: perplexity by support region (P) of base was computed from other verdicts "
                            f"than the current ones (regraded since, or not recorded); run `tether diagnose "
                            f"{store.root} --traces FILE` to refresh it")]


def test_an_older_store_without_the_new_columns_reads(store, monkeypatch):
    from tether.store import local

    old = pa.schema([f for f in schema_of(Diagnostic) if f.name not in ("requested_k", "verdicts")])
    monkeypatch.setitem(local.TABLE_SCHEMAS, "diagnostics", old)  # written as tether wrote them before
    rows = [Diagnostic("base", "20200101T000000Z", "avg_at_k", "all", "all", 0.1, 2, 32),
            Diagnostic("base", "20200101T000000Z", "answer_entropy", "all", "all", 0.0, 2, 32, "nats")]
    store.write([Shard("diagnostics", "base", to_table(rows, Diagnostic).select(old.names), "diagnose-old")])
    monkeypatch.undo()
    assert {"requested_k", "verdicts"}.isdisjoint(query._columns(store, "diagnostics"))
    found = current_diagnostics(store)  # no record of the verdicts: recomputed with the k they asked for
    assert found.recomputed == ("base",)
    avg = _value(found.rows, "avg_at_k")
    assert (avg.value, avg.k, avg.requested_k) == (pytest.approx(0.75), 4, 32)
    assert table3(found.rows)[0][2] == "avg@4"


def test_table3_names_each_k_where_they_differ():
    rows = [Diagnostic("base", "r", "avg_at_k", "all", "all", 0.5, 3, 16),
            Diagnostic("rl", "r", "avg_at_k", "all", "all", 0.25, 3, 32)]
    header, body = table3(rows)
    assert header[2] == "avg@k" and body[0][2] == "50.0% @16" and body[1][2] == "25.0% @32"


def test_the_terminal_table_says_what_was_recomputed(store):
    from rich.console import Console

    from tether.cli.render import render_diagnostics

    diagnose(store, ("base",), k=32, token_entropy_on=False)
    tether.grade(store.root, GradeOptions(update_tasks=True), tasks=_tasks(gold_a="5"))
    found = current_diagnostics(store)
    console = Console(record=True, width=200)
    render_diagnostics(found.rows, console, found.notes)
    text = console.export_text()
    assert "avg@4" in text and "50.0%" in text and "75.0%" not in text
    assert "avg@k and answer entropy of base recomputed from the current verdicts" in text
