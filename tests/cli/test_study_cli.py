"""`tether compare STORE --rl a --rl b` (issue 33): a study of several children, printed as the models x domains
table with the pairs side by side and a run's steps per benchmark, one JSON object with --json, study.json,
study.csv and pair.csv with --out; one --rl stays today's comparison."""

import json

import pytest

from ..cli_run import tether
from ..compare.test_study import BASE, CHILD_A, CHILD_B, EXPECTED, _store
from ..report.test_study_report import run_store  # noqa: F401  (a fixture: base and checkpoints grpo-10, grpo-20)

FAST = ("--bootstrap-reps", "10")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("cli-study"), {"base": BASE, "step-2": CHILD_A, "step-10": CHILD_B,
                                                         "rl": CHILD_A})


def test_several_children_print_the_table_and_save_the_study(store, tmp_path):
    shown = tether("compare", store, "--rl", "step-2", "--rl", "step-10", *FAST, "--out", tmp_path / "out")
    assert shown.returncode == 0, shown.stderr
    assert "Support regions by model and domain" in shown.stdout and "Support rates by model and domain" in shown.stdout
    assert "Non-Math" in shown.stdout
    assert "Two children of base side by side: step-2 and step-10 (8 shared tasks)" in shown.stdout
    assert shown.stdout.count("Holm over") == 1 and "Holm over 25 tests" in shown.stdout  # 20 cells' + the pair's 5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pair.csv", "study.csv", "study.json"]
    given = json.loads(tether("compare", store, "--rl", "step-*", *FAST, "--json").stdout)  # a pattern: natural order
    assert [c["label"] for c in given["study"]["children"]] == ["step-2", "step-10"]
    assert {(r["child"], r["scope"], r["name"]): (r["P"], r["E"], r["S"], r["O"]) for r in given["rows"]} == EXPECTED
    assert [p["children"] for p in given["pairs"]] == [["step-2", "step-10"]] and given["trajectories"] == []


def test_pair_names_two_of_the_children_and_repeats(store, tmp_path):
    two = tether("compare", store, "--rl", "step-2", "--rl", "step-10", "--rl", "rl", "--pair", "step-10,rl",
                 "--pair", "step-2,step-10", *FAST, "--out", tmp_path)
    assert two.returncode == 0, two.stderr
    assert "side by side: step-10 and rl" in two.stdout and "side by side: step-2 and step-10" in two.stdout
    said = " ".join(two.stdout.split())
    # 3 children x 5 distinct scopes (Non-Math is simpleqa's tasks) x S and E, and each pair's 5
    assert ("Holm over 40 tests (S and E of every child x scope: 30; the differences step-10 - rl: 5; the "
            "differences step-2 - step-10: 5)") in said
    payload = json.loads((tmp_path / "study.json").read_text())
    assert [p["children"] for p in payload["pairs"]] == [["step-10", "rl"], ["step-2", "step-10"]]
    # rl has step-2's counts: step-10 - rl is overall E 2 against 1
    assert [p["differences"]["E"]["value"] for p in payload["pairs"]] == [1, -1]


def test_a_run_s_steps_per_benchmark_in_the_terminal(run_store):  # noqa: F811
    shown = tether("compare", run_store, "--rl", "grpo-*", *FAST)
    assert shown.returncode == 0, shown.stderr
    said = " ".join(shown.stdout.split())
    assert "Training run grpo against base, step by step (per benchmark, domain and overall)" in said
    assert "grpo on math500: support shrinks from step 20 (grpo-20): S = 20" in said  # the base solves every task
    assert "grpo on simpleqa: no step's shrinkage is beyond chance" in said  # math500 only is lost
    assert "grpo: support shrinks from step 20 (grpo-20)" in said
    # each test once: Math is math500's tasks, Non-Math simpleqa's, so 3 distinct scopes; 2 children's S and E on
    # each, and the run's step 20 against step 10 on each (a step against the base is its cell)
    assert "Holm over 18 tests (S and E of every child x scope: 12; run grpo: S and E of every step" in said


def test_one_rl_is_todays_comparison_and_domains_make_a_study(store):
    one = json.loads(tether("compare", store, "--rl", "step-2", *FAST, "--extrapolate", "0", "--json").stdout)
    assert "conclusion" in one and one["counts"] == {"P": 3, "S": 2, "E": 1, "O": 2}
    grouped = tether("compare", store, "--rl", "step-2", *FAST, "--json", "--domains", "simpleqa=Knowledge")
    assert grouped.returncode == 0, grouped.stderr
    names = [r["name"] for r in json.loads(grouped.stdout)["rows"] if r["scope"] == "domain"]
    assert names == ["Math", "Knowledge"]


@pytest.mark.parametrize("args, message", [
    (("--rl", "step-*", "--self", "base"), "error: --self and --verifiers compare one pair"),
    (("--rl", "grpo-*"), "error: --rl 'grpo-*' matches no graded label"),
    (("--rl", "step-2", "--domains", "simpleqa"), "error: --domains: 'simpleqa' is not benchmark=Domain"),
    (("--rl", "step-2", "--rl", "step-10", "--pair", "step-2,rl"), "error: --pair: 'rl' is not a child of the study"),
])
def test_a_study_refuses_what_it_cannot_do_in_one_line(store, args, message):
    refused = tether("compare", store, *args, *FAST)
    assert refused.returncode == 2 and refused.stderr.startswith(message), refused.stderr
