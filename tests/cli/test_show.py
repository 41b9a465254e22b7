"""`tether show STORE TASK` and `--region`: the terminal view (escaped, cut in the middle) and `--json`."""

import json

import pytest

import tether

from ..cli_run import tether as cli
from ..compare.show_store import build_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("show-cli"))


def test_a_task_prints_its_region_counts_reasons_and_completions(store):
    out = cli("show", store, "chain_sum/42/10")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("chain_sum/42/10  region E: rl solves it, base does not\n")
    assert "benchmark tasks, verifier exact" in text and "reference answer: 26" in text
    assert "base: 0 of 4 correct in the budget the region compares (2 of 6 in all)" in text
    assert "rl: 2 of 4 correct\n" in text
    assert "  #4 correct, score 1, answer 26 (via final_answer); beyond the matched budget: not counted" in text
    assert "  #1 incorrect, score 0, answer 19 (via final_answer)\n" in text
    assert "    │ 8 + 7 += 15 + 8 = 19.\n    │ Final answer: 19\n" in text  # one line of output per line of text
    assert "\x1b" not in text  # the reason's terminal escapes print escaped, and "[red]" stays text
    assert "    reason: restated: 8 + 7 += 15 + 8 = 19 repeats the question \\x1b[2J\\x1b[31m[red]boom[/red]" in text
    assert "  … 2 more not shown (--completions N, or --completions 0 for all)" in text
    # the long completion: cut in the middle, its end (the answer) kept; whole with --full
    assert "characters cut; --full shows them" in text and text.rstrip().endswith("│ Final answer: 3")
    whole = cli("show", store, "chain_sum/42/10", "--full", "--label", "rl").stdout
    assert "characters cut" not in whole and whole.count("Let me think.") == 300
    assert "base:" not in whole and "no region" in whole.splitlines()[0]


def test_json_is_one_object_with_every_field(store):
    out = cli("show", store, "chain_sum/42/10", "--json", "--completions", "0", "--incorrect")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload == tether.show_task(store, "chain_sum/42/10", limit=None, which="incorrect").to_dict()
    assert payload["region"] == "E" and payload["which"] == "incorrect"
    assert [c["sample_idx"] for c in payload["labels"][0]["completions"]] == [0, 1, 2, 3]
    region = json.loads(cli("show", store, "--region", "S", "--json", "--correct").stdout)
    assert [t["task_id"] for t in region["tasks"]] == ["chain_sum/42/11"] and region["total"] == 1
    assert [c["correct"] for c in region["tasks"][0]["labels"][0]["completions"]] == [True, True]


def test_a_region_prints_each_task(store):
    out = cli("show", store, "--region", "p", "--completions", "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("region P: 1 task (base base, RL model rl)\n\nchain_sum/42/12  region P: both solve it")
    assert out.stdout.count("more not shown") == 2


def test_bad_input_is_one_line(store):
    cases = [(("chain_sum/42/1",), "did you mean chain_sum/42/1"),
             ((), "give a TASK id, or --region P|S|E|O"),
             (("chain_sum/42/10", "--region", "E"), "give a TASK or --region, not both"),
             (("--region", "Q"), "region 'Q': expected one of P, S, E, O")]
    for args, message in cases:
        out = cli("show", store, *args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        assert out.stderr.count("\n") == 1 and out.stdout == ""
