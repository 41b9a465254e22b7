"""Importing what lm-eval and lighteval wrote: files written by the real harnesses (harness_files/README.md)."""

import json
from pathlib import Path

import duckdb
import pytest

from tether.errors import InputError
from tether.ingest import HarnessOptions, detect_format, import_samples
from tether.store import open_store

from ..cli_run import tether as cli

FILES = Path(__file__).parent / "harness_files"
LM_EVAL = FILES / "lm-eval"
GREEDY = next(LM_EVAL.glob("samples_lab_sums_greedy_*.jsonl"))
K4 = next(LM_EVAL.glob("samples_lab_sums_k4_*.jsonl"))
CHOICE = next(LM_EVAL.glob("samples_lab_sums_choice_*.jsonl"))
LIGHTEVAL_N4 = next((FILES / "lighteval").glob("details_lab_sums_0_*.parquet"))
LIGHTEVAL_EXACT = next((FILES / "lighteval").glob("details_lab_sums_exact_0_*.parquet"))


def lm_eval_lines(path, filter_name):
    return [json.loads(line) for line in path.read_text().splitlines() if json.loads(line)["filter"] == filter_name]


def table(store, kind, columns):
    return duckdb.sql(f"SELECT {columns} FROM read_parquet('{store}/{kind}/base/*.parquet') ORDER BY ALL").fetchall()


def test_formats_are_told_from_the_files():
    assert [detect_format(p) for p in (GREEDY, K4, LIGHTEVAL_N4)] == ["lm-eval", "lm-eval", "lighteval"]
    assert detect_format(Path(__file__).parents[2] / "examples" / "toy" / "base.jsonl.gz") == "tether"


def test_lm_eval_one_response_per_document_is_graded_by_its_metric(tmp_path):
    """doc_id -> task id, the filtered response as the answer, correct from exact_match; the file's first
    filter unless --filter names another."""
    summary = import_samples(GREEDY, tmp_path / "s", "base")
    assert summary.format == "lm-eval" and summary.graded and summary.rows == 6
    assert "filter 'strict-match' of strict-match, flexible-extract" in summary.notes[0]
    expected = [(f"lab_sums_greedy/{d['doc_id']}", 0, d["resps"][0][0], d["filtered_resps"][0], d["exact_match"] == 1)
                for d in lm_eval_lines(GREEDY, "strict-match")]
    rows = duckdb.sql(f"""SELECT s.task_id, s.sample_idx, s.completion, v.answer, v.correct
        FROM read_parquet('{tmp_path}/s/samples/base/*.parquet') s
        JOIN read_parquet('{tmp_path}/s/verdicts/base/*.parquet') v USING (task_id, sample_idx) ORDER BY ALL""").fetchall()
    assert rows == sorted(expected) and sum(r[4] for r in rows) == 3
    flexible = import_samples(GREEDY, tmp_path / "f", "base", harness=HarnessOptions(filter="flexible-extract"))
    assert flexible.graded and table(tmp_path / "f", "verdicts", "answer, correct")[0] == ("1", False)


def test_lm_eval_repeats_are_imported_ungraded_with_their_references(tmp_path):
    """`repeats: 4`: lm-eval scored one filtered response per document, so the 4 responses come in ungraded,
    each with its own filtered answer, and the documents' targets are stored so `tether grade` needs no --tasks."""
    summary = import_samples(K4, tmp_path / "s", "base")
    assert not summary.graded and summary.rows == 24 and summary.tasks == 6
    assert any("lm-eval scored one filtered response per document" in note for note in summary.notes)
    first = lm_eval_lines(K4, "last-number")[0]
    samples = table(tmp_path / "s", "samples", "task_id, sample_idx, completion")
    assert samples[:4] == [("lab_sums_k4/0", i, text) for i, text in enumerate(first["resps"][0])]
    tasks = table(tmp_path / "s", "tasks", "task_id, benchmark, prompt, reference, verifier")
    assert tasks[0] == ("lab_sums_k4/0", "lab_sums_k4", json.dumps("3:"), json.dumps({"answer": "3"}), "math")
    event = open_store(tmp_path / "s").manifest().history[-1]
    assert event.detail("format") == "lm-eval" and event.detail("decoding")["temperature"] == 1.0


def test_harness_files_on_the_command_line_then_graded_without_tasks(tmp_path):
    store = tmp_path / "s"
    out = cli("import", str(store), str(K4), "--label", "base")
    assert out.returncode == 0, out.stderr
    assert "imported 24 ungraded samples of 6 tasks from lm-eval's --log_samples (base)" in out.stdout
    assert "note: 4 responses per document" in out.stderr
    graded = cli("grade", str(store), "--workers", "1")
    assert graded.returncode == 0, graded.stderr
    verdicts = table(store, "verdicts", "task_id, sample_idx, answer, correct")
    assert len(verdicts) == 24 and verdicts[0][:3] == ("lab_sums_k4/0", 0, "3+0")  # math: 3+0 = 3
    assert [row[3] for row in verdicts if row[0] == "lab_sums_k4/0"] == [True] * 4
    no_label = cli("import", str(tmp_path / "x"), str(K4))
    assert no_label.returncode == 2 and "does not name the model; pass --label" in no_label.stderr


def test_lighteval_details(tmp_path):
    """One sample per document: graded by the file's 0/1 metric ('em'); n samples: ungraded. Token counts
    come from output_tokens, the reference from choices[gold_index]."""
    exact = import_samples(LIGHTEVAL_EXACT, tmp_path / "e", "base")
    assert exact.format == "lighteval" and exact.graded and exact.notes == ("correct = lighteval's 'em'",)
    rows = table(tmp_path / "e", "verdicts", "task_id, correct")
    assert rows[0] == ("lab_sums_exact|0/0", True) and sum(c for _, c in rows) == 2
    assert all(n >= 1 for (n,) in table(tmp_path / "e", "samples", "n_tokens"))
    n4 = import_samples(LIGHTEVAL_N4, tmp_path / "n", "base")
    assert not n4.graded and n4.rows == 24
    assert table(tmp_path / "n", "tasks", "task_id, reference")[0] == ("lab_sums|0/0", json.dumps({"answer": "3"}))


@pytest.mark.parametrize("path, options, message", [
    (CHOICE, HarnessOptions(), "log-likelihoods of given choices (a multiple_choice or loglikelihood task)"),
    (GREEDY, HarnessOptions(filter="nope"), "no filter 'nope'; this file has strict-match, flexible-extract"),
    (GREEDY, HarnessOptions(metric="f1"), "no metric 'f1'; this file has exact_match"),
    (LIGHTEVAL_EXACT, HarnessOptions(metric="acc"), "no metric 'acc'; this file has em"),
])
def test_what_cannot_be_imported_is_one_line_and_writes_nothing(tmp_path, path, options, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_samples(path, tmp_path / "s", "base", harness=options)
    assert not (tmp_path / "s" / "samples").exists()
