"""A study's report (`tether report STORE --rl a --rl b`): the models x scopes table with chance and excess, each
training run's steps per benchmark with its figures, the pairs side by side, every * read from the study's one
family; the pair's report unchanged. `study_page` is the page a real browser opens (tests/report/test_report.py)."""

import json
import re

import pytest

import tether
from tether.compare import CompareOptions
from tether.compare.study import Child, compare_study
from tether.report.study import build_study_report
from tether.store import open_store

from ..cli_run import tether as run
from ..conftest import graded_rows, recorded_run, write_jsonl

FAST = CompareOptions(bootstrap_reps=20)
# the base solves math500's 20 tasks and 10 of simpleqa's 20; step 10 is the base again; step 20 loses math500
BASE = {**{f"math500/{i}": (8, 6) for i in range(20)}, **{f"simpleqa/{i}": (8, 4 if i < 10 else 0) for i in range(20)}}
STEP_10 = dict(BASE)
STEP_20 = {**BASE, **{f"math500/{i}": (8, 0) for i in range(20)}}
SFT = {**BASE, **{f"simpleqa/{i}": (8, 2) for i in range(20)}}  # not of the run: solves all of simpleqa
# (model, scope) -> P, E, S, O as the table shows them
EXPECTED = {("grpo-10", "math500"): (20, 0, 0, 0), ("grpo-10", "simpleqa"): (10, 0, 0, 10),
            ("grpo-10", "Math"): (20, 0, 0, 0), ("grpo-10", "Non-Math"): (10, 0, 0, 10),
            ("grpo-10", "Overall"): (30, 0, 0, 10), ("grpo-20", "math500"): (0, 0, 20, 0),
            ("grpo-20", "simpleqa"): (10, 0, 0, 10), ("grpo-20", "Math"): (0, 0, 20, 0),
            ("grpo-20", "Non-Math"): (10, 0, 0, 10), ("grpo-20", "Overall"): (10, 0, 20, 10)}


@pytest.fixture(scope="module")
def run_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study-report")
    for seed, (label, counts) in enumerate({"base": BASE, "grpo-10": STEP_10, "grpo-20": STEP_20, "sft": SFT}.items()):
        tether.import_samples(write_jsonl(folder / f"{label}.jsonl", graded_rows(counts, seed)), folder / "run",
                              label=label)
    open_store(folder / "run").update_manifest("runs", {
        label: {**recorded_run(8), "checkpoint": {"run": "grpo", "step": step}}
        for label, step in (("grpo-10", 10), ("grpo-20", 20))})
    return folder / "run"


@pytest.fixture(scope="module")
def study_page(run_store, tmp_path_factory):
    """A study report with everything a page can hold: the run's steps per benchmark and two pairs."""
    study = compare_study(run_store, ["grpo-10", "grpo-20", Child("sft")], options=FAST,
                          pairs=["sft,grpo-20", "grpo-10,sft"])
    return build_study_report(study, tmp_path_factory.mktemp("study-page"))


def _tables(markdown: str) -> dict[str, list[list[str]]]:
    """Each Markdown table of the report under its section's heading: rows of cells, the header first."""
    found, heading = {}, None
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("| ") and heading is not None:
            found.setdefault(heading, []).append([cell.strip() for cell in line.strip("|").split(" | ")])
    return found


def test_a_study_report_holds_table_1_and_each_run_s_steps_and_figure(run_store, tmp_path):
    study = compare_study(run_store, ["grpo-10", "grpo-20"], options=FAST)
    files = build_study_report(study, tmp_path / "report")
    tables = _tables(files.markdown.read_text())
    table1 = tables["Models by benchmark and domain"]
    header, rows = table1[0], table1[1:]
    assert header[:8] == ["model", "base", "run, step", "scope", "tasks", "P", "E (chance, excess)",
                          "S (chance, excess)"]
    model, got = None, {}
    for row in rows:
        model = row[0] or model
        got[model, row[3]] = (int(row[5]), int(row[6].split()[0]), int(row[7].split()[0].rstrip("*")), int(row[8]))
        assert row[-1].count("→") == 1 and row[-2] == "8"  # pass@k at the grid's largest k, base -> model
    assert got == EXPECTED
    assert rows[0][:4] == ["grpo-10", "base", "grpo, 10", "math500"]
    family = study.to_dict()["family"]
    shrunk = [r for r in rows if r[7].endswith("*")]  # S beyond chance: only step 20's math rows, on the family
    assert len(shrunk) == 3 and all(r[7].startswith("20 (") for r in shrunk)
    assert f"Holm over {family['tests']} tests" in files.html.read_text()

    (name,) = [h for h in tables if h.startswith("Training run grpo")]
    steps = tables[name]  # per scope: math500, simpleqa, Math, Non-Math, Overall; each its two steps
    assert [row[0] for row in steps[1::2]] == ["math500", "simpleqa", "Math", "Non-Math", "Overall"]
    assert [(r[1], r[2], r[4], r[6].rstrip("*").split()[0]) for r in steps[-2:]] == [("10", "grpo-10", "30", "0"),
                                                                                   ("20", "grpo-20", "10", "20")]
    assert steps[-1][6].endswith("*") and not steps[-2][6].endswith("*")
    assert [r[6] for r in steps[1:5]] == ["0 (0.0, +0.0)", "20 (0.1, +19.9)*", "0 (0.0, +0.0)", "0 (0.0, +0.0)"]
    assert steps[2][-1] == "S 20*, E 0"  # math500: step 20 against step 10
    markdown = files.markdown.read_text()
    assert re.search(r"\n\nSupport shrinks from step 20 \(grpo-20\)[^\n]*\.\n", markdown)
    assert "\n\nOn math500: support shrinks from step 20 (grpo-20)" in markdown
    assert "\n\nOn simpleqa: no step's shrinkage is beyond chance" in markdown
    figure, per_benchmark = (tmp_path / "report" / "figures" / f"{n}.png" for n in ("trajectory-grpo",
                                                                                   "trajectory-grpo-benchmarks"))
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and files.figures == [figure, per_benchmark]
    page = files.html.read_text()
    assert "id='fig-trajectory-grpo'><svg" in page and "id='fig-trajectory-grpo-benchmarks'><svg" in page
    summary = json.loads(files.summary.read_text())
    assert summary["family"] == family and summary["figures"] == ["figures/trajectory-grpo.png",
                                                                  "figures/trajectory-grpo-benchmarks.png"]
    assert [r["S"] for r in summary["rows"] if r["scope"] == "overall"] == [0, 20]


def test_tether_report_with_several_rl_labels_writes_the_study_s_report(run_store, tmp_path):
    out = run("report", run_store, "--rl", "grpo-*", "--out", tmp_path / "r", "--bootstrap-reps", "20", "--json")
    assert out.returncode == 0, out.stderr
    files = json.loads(out.stdout)
    assert files["conclusion"] is None and files["figures"][0] == str(tmp_path / "r" / "figures" / "trajectory-grpo.png")
    assert "Models by benchmark and domain" in (tmp_path / "r" / "report.html").read_text()
    single = run("report", run_store, "--rl", "grpo-20", "--out", tmp_path / "one", "--bootstrap-reps", "20")
    assert single.returncode == 0, single.stderr  # one --rl: the pair's report, as before
    assert "Models by benchmark and domain" not in (tmp_path / "one" / "report.html").read_text()
    assert "<h2>Headline</h2>" in (tmp_path / "one" / "report.html").read_text()


def test_two_children_of_one_base_are_shown_side_by_side_with_their_difference(run_store, tmp_path):
    out = run("report", run_store, "--rl", "grpo-10", "--rl", "grpo-20", "--pair", "grpo-10,grpo-20", "--out",
              tmp_path / "r", "--bootstrap-reps", "20")
    assert out.returncode == 0, out.stderr
    tables = _tables((tmp_path / "r" / "report.md").read_text())
    pair = tables["Two children side by side: grpo-10 and grpo-20 (base base)"]
    assert [row[:3] + [row[4]] for row in pair[1:3]] == [["grpo-10", "40", "30", "0 (0.0, +0.0)"],
                                                         ["grpo-20", "40", "10", "20 (0.1, +19.9)"]]
    difference = pair[3]
    assert difference[0] == "grpo-10 - grpo-20" and difference[2].startswith("20 [")  # P: 30 - 10
    assert difference[4].startswith("-20 [") and difference[4].endswith("*")  # S: 0 - 20, beyond chance
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [p["children"] for p in summary["pairs"]] == [["grpo-10", "grpo-20"]]
    # one family of distinct tests: S and E of 2 models x 3 scopes (Math is math500's tasks, Non-Math simpleqa's), the
    # pair's 5 differences, step 20 against step 10 on the 3 scopes (a step against the base is its cell)
    assert summary["family"]["tests"] == 12 + 5 + 6 and "Holm over 23 tests" in (tmp_path / "r" / "report.md").read_text()
