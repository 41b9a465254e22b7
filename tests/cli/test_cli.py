"""The `tether` command end to end on generated files with known regions (in this process: tests/cli_run.py;
the demo's test starts the installed command)."""

import json
import re
from math import comb

import pytest

from ..cli_run import tether
from ..conftest import write_jsonl


def test_version_and_help():
    out = tether("--version")
    assert out.returncode == 0 and out.stdout.startswith("tether ")
    help_text = tether("--help").stdout
    for command in ("compare", "import", "bound"):
        assert command in help_text


def test_bound_both_ways():
    out = tether("bound", "--k", 8192, "--delta", 0.05)
    assert out.returncode == 0 and "3.66e-4" in out.stdout
    out = tether("bound", "--epsilon", "3.66e-4", "--delta", 0.05)
    assert out.returncode == 0 and out.stdout.startswith("k = 8184")  # (1 - 3.66e-4)^8184 <= 0.05
    out = tether("bound", "--k", 1)
    assert out.returncode == 0 and out.stdout.startswith("epsilon = 9.50e-1") and "ln(1/delta)/k = 3.00e0" in out.stdout
    out = tether("bound", "--epsilon", 1)
    assert out.returncode == 2 and "epsilon must be a probability in (0, 1)" in out.stderr
    out = tether("bound")
    assert out.returncode == 2 and out.stderr.strip() == "error: give exactly one of --k or --epsilon"


def test_compare_json_end_to_end(known_pair, tmp_path):
    base, rl, base_counts, rl_counts, regions = known_pair
    out = tether("compare", base, rl, "--json", "--k-grid", "1,2,16", "--out", tmp_path / "out",
                 "--no-match-budget")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)  # exactly one JSON object
    assert payload["counts"] == {"P": 3, "S": 2, "E": 1, "O": 2}
    assert set(payload["metrics"]) == {"srr", "ndr", "sds", "nscr"}
    for metric in payload["metrics"].values():
        lo, hi = metric["ci"]
        assert lo <= metric["value"] <= hi
    assert list(payload["pass_at_k"]["base"]) == ["1", "2", "16"]
    assert set(payload["significant"]) == {"S", "E"}
    assert payload["crossover_k"] is None or isinstance(payload["crossover_k"], float)
    by_id = {t["task_id"]: t for t in payload["tasks"]}
    assert {t: by_id[t]["region"] for t in by_id} == regions
    assert by_id["s1"]["base"] == {"n": 16, "c": 9} and by_id["s1"]["rl"] == {"n": 32, "c": 0}
    assert by_id["p1"]["p_value"] == 1.0 and by_id["s1"]["p_value"] == pytest.approx(comb(16, 9) / comb(48, 9))
    chance = payload["chance"]
    assert {chance[r]["observed"] for r in ("S", "E")} == {2, 1} and chance["S-E"]["observed"] == 1
    assert chance["S"]["interval"][0] <= chance["S"]["expected"] <= chance["S"]["interval"][1]
    assert chance["tests"]["tested"] == sum(1 for t in payload["tasks"] if t["region"] != "O")
    assert json.loads((tmp_path / "out" / "compare.json").read_text())["counts"] == payload["counts"]
    assert (tmp_path / "out" / "tasks.csv").read_text().count("\n") == 9


def test_compare_table_output(known_pair):
    base, rl, *_ = known_pair
    out = tether("compare", base, rl)
    assert out.returncode == 0, out.stderr
    for text in ("P  preservation", "SRR", "NSCR", "Mean pass@k", "crossover", "significant"):
        assert text in out.stdout


def test_import_then_compare_store(known_pair, tmp_path):
    base, rl, *_ = known_pair
    store = tmp_path / "run"
    assert tether("import", store, base, "--label", "base").returncode == 0
    out = tether("import", store, rl, "--label", "rl")
    assert out.returncode == 0 and "imported 256 graded samples of 8 tasks (rl)" in out.stdout
    payload = json.loads(tether("compare", store, "--json", "--no-match-budget").stdout)
    assert payload["counts"] == {"P": 3, "S": 2, "E": 1, "O": 2}
    again = tether("import", store, rl, "--label", "rl")
    assert again.returncode == 2 and "already in" in again.stderr
    own = json.loads(tether("compare", store, "--json", "--self", "base").stdout)["chance"]["self"]
    assert own["label"] == "base" and sum(own["counts"].values()) == 8 and own["samples_per_half"] == 8
    assert own["S"]["observed"] == own["counts"]["S"] and own["S"]["interval"][0] <= own["S"]["expected"]
    text = tether("compare", store, "--self", "rl").stdout
    assert "rl against itself (even vs odd samples, 16 per task each)" in text
    bad = tether("compare", base, rl, "--self", "base")
    assert bad.returncode == 2 and "--self needs a store" in bad.stderr


@pytest.mark.parametrize(
    "rows,needle",
    [
        ([{"task_id": "p1", "correct": "x"}], "'correct' must be true/false"),
        ([{"task_id": "zz", "correct": True}], "share no task ids"),  # not "missing ... use --allow-missing"
    ],
)
def test_bad_input_exits_2_with_one_line(known_pair, tmp_path, rows, needle):
    base, *_ = known_pair
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    out = tether("compare", base, bad, "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and needle in out.stderr
    assert "Traceback" not in out.stderr
    debug = tether("--debug", "compare", base, bad)
    assert "Traceback" in debug.stderr


def test_missing_file_and_allow_missing(known_pair, tmp_path):
    base, *_ = known_pair
    out = tether("compare", base, tmp_path / "nope.jsonl")
    assert out.returncode == 2 and "no such file" in out.stderr
    partial = write_jsonl(tmp_path / "partial.jsonl", [{"task_id": "p1", "correct": True}, {"task_id": "s1", "correct": False}])
    out = tether("compare", base, partial, "--allow-missing", "--json", "--no-match-budget")
    assert out.returncode == 0
    assert "warning" in out.stderr and "dropped" in out.stderr
    assert json.loads(out.stdout)["counts"] == {"P": 1, "S": 1, "E": 0, "O": 0}


def test_import_model_is_a_deprecated_alias_of_label(known_pair, tmp_path):
    base, *_ = known_pair
    out = tether("import", tmp_path / "run", base, "--model", "base")
    assert out.returncode == 0 and "(base)" in out.stdout
    assert out.stderr.strip() == "warning: --model is deprecated and goes in the next release; use --label"


def test_sample_takes_a_lab_model_and_one_engine_name(quick_demo, tmp_path):
    """`--model lab-quick:base` works on the command line as in experiment files; the engine is
    named `transformers` on the CLI and in the manifest (`hf` still works, with a warning)."""
    _, cache = quick_demo
    env = {"TETHER_CACHE": str(cache)}  # the quick pair, already trained there
    command = ["sample", "--model", "lab-quick:base", "--tasks", "lab-sums:2-3", "--k", "4", "--template", "plain",
               "--max-tokens", "6"]
    out = tether(*command, tmp_path / "s", "--label", "base", "--json", env=env)
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)  # the one object on stdout; the summary line a person reads is on stderr
    assert (done["label"], done["tasks"], done["samples_written"], done["samples_skipped"]) == ("base", 2, 8, 0)
    assert done["store"] == str(tmp_path / "s") and done["tokens_written"] > 0 and done["ok"]
    # stderr is not a terminal, as in a SLURM job: progress comes as plain lines, the last with the totals
    assert re.search(r"^base: 2 tasks x 4: 8/8 samples \(100\.0%\), [\d.]+ samples/s, .*ETA 0:00$", out.stderr,
                     re.MULTILINE), out.stderr
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["runs"]["base"]["settings"]["engine"]["engine"] == "transformers"
    with pytest.warns(DeprecationWarning, match="engine name 'hf' is deprecated; use 'transformers'"):
        from tether.engines import engine_name

        assert engine_name("hf") == "transformers"  # the CLI maps --engine hf the same way
    bad = tether(*command, tmp_path / "s", "--label", "x", "--engine", "nope", env=env)
    assert bad.returncode == 2 and "unknown engine 'nope'; choose one of transformers, vllm, openai" in bad.stderr


@pytest.mark.parametrize("flags, message", [
    (["--top-p", "0"], "error: --top-p: must be in (0, 1], got 0.0"),
    (["--engine", "openai"], "error: engine 'openai' needs base_url"),
    (["--k", "0"], "error: --k: must be >= 1, got 0"),
    (["--temperature", "inf"], "error: --temperature: must be a finite number >= 0, got inf"),
    (["--temperature", "nan"], "error: --temperature: must be a finite number >= 0, got nan"),
    (["--k", str(10**12)], "error: --k: must be at most 9,999,999 (a unit's shard names its samples with 7 digits"),
    (["--k", str(10**21)], "error: --k: must be at most 9,999,999"),
    (["--max-tokens", str(10**15)], "error: max_tokens 1,000,000,000,000,000: a unit of 8 tasks x 64 samples holds"),
    (["--limit", "0"], "error: --limit: Input should be greater than or equal to 1"),
    (["--workers", "0"], "error: --workers: Input should be greater than or equal to 1"),
    (["--adaptive-tol", "0.5"], "error: --adaptive-tol: Input should be less than 0.5"),
    (["--tasks", " "], "error: --tasks: is empty; give a task spec"),
    (["--verifier", "nope"], "error: --verifier: unknown verifier 'nope'"),
])
def test_sample_flags_are_checked_by_the_experiment_schema(tmp_path, flags, message):
    out = tether("sample", tmp_path / "s", "--model", "x", "--tasks", "lab-sums:2-3", "--label", "a", *flags)
    assert out.returncode == 2 and message in out.stderr and not (tmp_path / "s").exists(), out.stderr


def test_errors_print_brackets_as_they_are(tmp_path):
    """Paths and values are never read as Rich markup: '[red]' stays, '[/x]' does not crash."""
    out = tether("compare", tmp_path / "badrow[red].jsonl", tmp_path / "x[/x].jsonl")
    assert out.returncode == 2 and "badrow[red].jsonl: no such file" in out.stderr, out.stderr
    bad = write_jsonl(tmp_path / "odd.jsonl", [{"task_id": "t", "correct": True, "model": "[/x]"}])
    out = tether("compare", bad, bad)
    assert out.returncode == 2 and "[/x]" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_full_disk_is_one_line_naming_where_it_writes(tmp_path):
    """The system's "[Errno 28] No space left on device" says no file; the line names the store (issue 31)."""
    import resource
    import signal
    import subprocess
    import sys

    def small_files_only():  # as on a full disk: a write past 256 bytes fails (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256, 256))

    rows = write_jsonl(tmp_path / "g.jsonl", [{"task_id": f"t{i}", "correct": i % 2 == 0} for i in range(200)])
    out = subprocess.run([sys.executable, "-m", "tether", "import", str(tmp_path / "run"), str(rows),
                          "--label", "base"], capture_output=True, text=True, preexec_fn=small_files_only)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    line, = out.stderr.strip().splitlines()
    assert line.startswith("error: [Errno 27] File too large") and str(tmp_path / "run") in line, line
