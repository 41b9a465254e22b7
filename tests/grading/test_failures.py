"""Grading failures are not verdicts: a judge server that fails for a while, workers that die as they
start. Nothing failed is cached or stored; the run exits non-zero; the next run grades the rest."""

import http.server
import json
import subprocess
import sys
import textwrap
import threading

import duckdb
import pytest

import tether
from tether.grading import GradeOptions, grade
from tether.store import query
from tether.tasks import ColumnMap, load_tasks

from ..cli_run import tether as cli


class FlakyJudge:
    """An OpenAI-compatible chat server answering 503 to its first `failures` requests, then grading
    by the gold target (A when the predicted answer names it, else B)."""

    def __init__(self, failures: int):
        self.failures, self.posts = failures, 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.posts += 1
                if owner.posts <= owner.failures:
                    return self._send(503, {"error": {"message": "overloaded"}})
                prompt = body["messages"][-1]["content"]
                target = prompt.rsplit("Gold target: ", 1)[1].split("\n", 1)[0]
                predicted = prompt.rsplit("Predicted answer: ", 1)[1].split("\n", 1)[0]
                letter = "A" if target in predicted else "B"
                self._send(200, {"choices": [{"message": {"content": f"GRADE: {letter}"}}]})

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def judged_store(tmp_path):
    tasks = _write(tmp_path / "t.jsonl", [{"id": "q", "question": "Capital of France?", "answer": "Paris"}])
    rows = [{"task_id": "q", "completion": c} for c in ("Paris", "Lyon", "It is Paris", "Paris")]
    tether.import_samples(_write(tmp_path / "s.jsonl", rows), tmp_path / "run", label="base")
    return tmp_path / "run", tasks


def test_a_judge_that_fails_for_a_while_leaves_nothing_stale(judged_store):
    store, tasks = judged_store
    server = FlakyJudge(failures=6)  # 3 distinct answers x 2 attempts each: every request of the first run fails
    try:
        command = [sys.executable, "-m", "tether", "grade", str(store), "--verifier", "judge",
                   "--judge-model", "m", "--judge-base-url", server.base_url, "--tasks", str(tasks),
                   "--columns", "id=id", "--judge-retries", "1"]
        first = subprocess.run(command, capture_output=True, text=True)
        assert first.returncode == 1, first.stdout + first.stderr
        assert "4 samples could not be graded" in first.stderr and "HTTP 503" in first.stderr
        assert not list(store.glob("verdicts/*/*.parquet")) and not list(store.glob("grades/*/*.parquet"))
        attempt = tether.open_store(store).manifest().history[-1]
        assert attempt.event == "grading-failed" and attempt.detail("samples") == 4
        assert "HTTP 503" in attempt.detail("examples")[0]
        second = subprocess.run(command, capture_output=True, text=True)
        assert second.returncode == 0, second.stdout + second.stderr
        rows = duckdb.sql(f"select answer, correct, status from '{store}/verdicts/*/*.parquet' order by all").fetchall()
        assert rows == [("It is Paris", True, "ok"), ("Lyon", False, "ok"), ("Paris", True, "ok"),
                        ("Paris", True, "ok")]
        counted = query.task_counts(tether.open_store(store), "base")  # every sample counted once, nothing stale
        assert list(counted.n) == [4] and list(counted.c) == [3]
    finally:
        server.close()


def test_workers_that_die_as_they_start_stop_the_pool_with_the_reason(judged_store, tmp_path):
    store, tasks = judged_store
    script = tmp_path / "grade_it.py"
    script.write_text(textwrap.dedent(f"""
        import tether
        from tether.tasks import ColumnMap, load_tasks
        tether.grade({str(store)!r}, tasks=load_tasks({str(tasks)!r}, columns=ColumnMap(id="id"), verifier="exact"))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode != 0
    assert "grading workers die as they start" in out.stderr and "__main__" in out.stderr
    assert not list(store.glob("verdicts/*/*.parquet"))  # nothing stored as a verdict
    guarded = tmp_path / "guarded.py"
    guarded.write_text("if __name__ == '__main__':\n" + textwrap.indent(script.read_text(), "    "))
    ok = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert len(duckdb.sql(f"select * from '{store}/verdicts/*/*.parquet'").fetchall()) == 4


def test_a_timeout_must_happen_twice_to_be_a_verdict(judged_store, monkeypatch):
    """The rule: an answer is a ``timeout`` verdict only when its comparison overran the deadline in
    two attempts; a first overrun is tried again in a fresh worker."""
    store, tasks = judged_store
    from tether.grading import run as grading_run

    calls = []
    real = grading_run.GradingPool.grade

    def first_attempt_times_out(self, jobs):
        jobs = list(jobs)
        calls.append(len(jobs))
        if len(calls) == 1:
            from tether.grading.base import Grade

            return iter([(job.key, Grade.timeout("worker killed after 1 s")) for job in jobs])
        return real(self, jobs)

    monkeypatch.setattr(grading_run.GradingPool, "grade", first_attempt_times_out)
    summary = grade(store, GradeOptions(workers=1), tasks=load_tasks(str(tasks), columns=ColumnMap(id="id"),
                                                                    verifier="exact"))
    assert calls == [3, 3] and summary.ok
    assert summary.tallies[("base", "t")].statuses["timeout"] == 0 and summary.tallies[("base", "t")].correct == 2


def test_regrade_grades_the_chosen_statuses_again_and_keeps_the_rest(judged_store):
    store, tasks = judged_store
    given = load_tasks(str(tasks), columns=ColumnMap(id="id"), verifier="exact")
    grade(store, GradeOptions(workers=1), tasks=given)
    before = tether.open_store(store).manifest().versions("base")["exact"]
    again = grade(store, GradeOptions(workers=1, regrade=("ok",)))
    assert again.verified == 3 and again.cache_hits == 0  # every verdict was "ok": all graded again
    after = tether.open_store(store).manifest().versions("base")["exact"]
    assert after == before + "+regrade1"
    assert grade(store, GradeOptions(workers=1)).distinct_answers == 0  # the regraded version stays current
    kept = grade(store, GradeOptions(workers=1, regrade=("error",)))
    assert kept.verified == 0 and kept.cache_hits == 3  # nothing had that status: carried over, not verified
    assert tether.open_store(store).manifest().versions("base")["exact"] == before + "+regrade2"
    counted = query.task_counts(tether.open_store(store), "base")
    assert list(counted.n) == [4]  # one task, its 4 samples counted once under the newest version


def test_a_changed_gold_answer_is_refused_then_updated_and_regraded(judged_store, tmp_path):
    store, tasks = judged_store
    grade(store, GradeOptions(workers=1), tasks=load_tasks(str(tasks), columns=ColumnMap(id="id"), verifier="exact"))
    fixed = _write(tmp_path / "fixed.jsonl", [{"id": "q", "question": "Capital of France?", "answer": "Lyon"}])
    given = load_tasks(str(fixed), columns=ColumnMap(id="id"), verifier="exact")
    with pytest.raises(tether.errors.InputError, match="change the reference answer of 1 tasks.*--update-tasks"):
        grade(store, GradeOptions(workers=1), tasks=given)
    updated = grade(store, GradeOptions(workers=1, update_tasks=True), tasks=given)
    assert sum(t.correct for t in updated.tallies.values()) == 1  # only "Lyon" matches the corrected gold
    events = [e.event for e in tether.open_store(store).manifest().history]
    assert "update-tasks" in events


def test_a_task_missing_from_the_given_tasks_is_one_error_before_anything_is_written(tmp_path):
    rows = [{"task_id": t, "completion": "x"} for t in ("q", "r")]
    tether.import_samples(_write(tmp_path / "s.jsonl", rows), tmp_path / "run", label="base")
    tasks = _write(tmp_path / "t.jsonl", [{"id": "q", "question": "?", "answer": "x"}])
    out = cli("grade", tmp_path / "run", "--tasks", tasks, "--columns", "id=id", "--verifier", "exact")
    assert out.returncode == 2 and "1 task ids of 'base''s samples are not in the given tasks" in out.stderr
    assert "Traceback" not in out.stderr and not list((tmp_path / "run").glob("tasks/*/*.parquet"))


def test_regrade_can_be_limited_to_some_tasks(tmp_path):
    rows = [{"task_id": t, "completion": c} for t in ("q", "r") for c in ("x", "y")]
    tether.import_samples(_write(tmp_path / "s.jsonl", rows), tmp_path / "run", label="base")
    given = load_tasks(str(_write(tmp_path / "t.jsonl", [{"id": "q", "question": "?", "answer": "x"},
                                                         {"id": "r", "question": "?", "answer": "y"}])),
                       columns=ColumnMap(id="id"), verifier="exact")
    grade(tmp_path / "run", GradeOptions(workers=1), tasks=given)
    only_q = grade(tmp_path / "run", GradeOptions(workers=1, regrade=("ok",), regrade_tasks=("q",)))
    assert only_q.verified == 2 and only_q.cache_hits == 2  # q's two answers verified again, r's carried over
