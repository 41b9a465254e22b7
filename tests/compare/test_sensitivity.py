"""Grader sensitivity: the regions under several verdict sets side by side, and the tasks whose region moves
(`tether compare --verifiers`, the store comparison, the report)."""

import json
import shutil

import pytest

import tether
from tether.compare import Comparison
from tether.compare.sensitivity import MovedTask, Sensitivity
from tether.compare.store import compare_store
from tether.errors import InputError
from tether.grading import GradeOptions, grade
from tether.tasks import ColumnMap, load_tasks

from ..cli_run import tether as cli
from ..conftest import graded_rows, write_jsonl

GOLDS = {"t1": "2", "t2": "0.5", "t3": "10", "t4": "7", "t5": "5"}
# answers after "Final answer: "; `exact` (the tasks' own verifier) wants the gold's very text, `numeric` and
# `math` its value: t2 and t3 are solved only under numeric/math by one model or both, t5 only by rl
ANSWERS = {"base": {"t1": ["2", "3"], "t2": ["1/2", "9"], "t3": ["10.0", "4"], "t4": ["8", "8"], "t5": ["6", "4"]},
           "rl": {"t1": ["2", "2"], "t2": ["0.50", "3"], "t3": ["11", "12"], "t4": ["9", "9"], "t5": ["5.0", "4"]}}
EXACT = {"t1": "P", "t2": "O", "t3": "O", "t4": "O", "t5": "O"}
BY_VALUE = {"t1": "P", "t2": "P", "t3": "S", "t4": "O", "t5": "E"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A store whose two labels are graded under auto (= exact), numeric and math; auto counts."""
    folder = tmp_path_factory.mktemp("sets")
    for label, answers in ANSWERS.items():
        rows = [{"task_id": t, "completion": f"Final answer: {a}"} for t, found in answers.items() for a in found]
        tether.import_samples(write_jsonl(folder / f"{label}.jsonl", rows), folder / "run", label=label)
    tasks = write_jsonl(folder / "tasks.jsonl", [{"id": t, "question": "?", "answer": g} for t, g in GOLDS.items()])
    grade(folder / "run", GradeOptions(workers=1, also=("numeric", "math")),
          tasks=load_tasks(str(tasks), columns=ColumnMap(id="id"), verifier="exact"))
    return folder / "run"


def test_regions_shares_and_moves_under_each_set(graded):
    found = tether.compare(store=graded, verifiers=("auto", "numeric", "math")).sensitivity
    assert [s.name for s in found.sets] == ["auto", "numeric", "math"] and found.n_tasks == 5
    auto, numeric, math = found.sets
    assert auto.counts.as_dict() == {"P": 1, "S": 0, "E": 0, "O": 4} and auto.counted
    for by_value in (numeric, math):
        assert by_value.counts.as_dict() == {"P": 2, "S": 1, "E": 1, "O": 1} and not by_value.counted
        assert by_value.correct == {"base": 0.3, "rl": 0.4}  # 3 and 4 of 10 samples
    assert auto.correct == {"base": 0.1, "rl": 0.2}
    moved = {t.task_id: t.regions for t in found.moved}
    assert moved == {t: {"auto": EXACT[t], "numeric": BY_VALUE[t], "math": BY_VALUE[t]}
                     for t in GOLDS if EXACT[t] != BY_VALUE[t]}
    assert [t.task_id for t in found.moved] == ["t2", "t3", "t5"]
    # chance alone under numeric: per solved task, P(all t successes fall to one model) = C(2, t) / C(4, t):
    # t1 (t = 3) 0, t2 (t = 2) 1/6, t3 and t5 (t = 1) 1/2 each
    assert numeric.s.expected == pytest.approx(1 / 6 + 1 / 2 + 1 / 2) == numeric.e.expected
    assert auto.s.expected == 0 and auto.e.expected == 0  # t1 is solved 3 times: never S or E by chance


def test_a_set_a_label_lacks_names_the_command_and_files_have_none(graded, tmp_path):
    with pytest.raises(InputError, match=r"'base' has no verdict set 'choice' \(its sets: auto, numeric, math\); "
                                         r"run `tether grade \S+ --verifier auto,choice`"):
        tether.compare(store=graded, verifiers=("auto", "choice"))
    counts = {"t1": (4, 1)}
    base, rl = (write_jsonl(tmp_path / f"{name}.jsonl", graded_rows(counts, seed)) for name, seed in (("b", 1), ("r", 2)))
    with pytest.raises(InputError, match="a file of graded samples has only its own verdicts"):
        tether.compare(base, rl, verifiers=("auto",))


def test_a_set_missing_new_samples_is_refused_until_graded(graded, tmp_path):
    store = shutil.copytree(graded, tmp_path / "run")
    more = [{"task_id": "t1", "sample_idx": 2, "completion": "Final answer: 2"}]
    tether.import_samples(write_jsonl(tmp_path / "more.jsonl", more), store, label="base")
    grade(store, GradeOptions(workers=1, also=("math",)))  # not numeric
    with pytest.raises(InputError, match=r"1 samples of 'base' have no verdict in set 'numeric' \(sampled after "
                                         r"it was graded\); run `tether grade \S+ --verifier auto,numeric`"):
        tether.compare(store=store, verifiers=("auto", "numeric"))
    report = compare_store(store).overall.sensitivity  # the store's own view leaves the set out, saying why
    assert [s.name for s in report.sets] == ["auto", "math"] and len(report.notes) == 1
    assert report.notes[0].startswith("verdict set 'numeric' left out: ") and "have no verdict" in report.notes[0]


def test_the_store_comparison_has_the_sets_and_reads_back(graded, tmp_path):
    overall = compare_store(graded).overall
    found = overall.sensitivity
    assert [s.name for s in found.sets] == ["auto", "numeric", "math"] and len(found.moved) == 3
    payload = json.loads(json.dumps(overall.to_dict(), allow_nan=False))
    back = Comparison.from_dict(payload).sensitivity
    assert back.to_dict() == found.to_dict() and back.sets[1].counts.E == 1


def test_one_set_only_means_no_table(tmp_path):
    from ..conftest import imported_pair

    store = imported_pair(tmp_path, {"t1": (4, 1), "t2": (4, 0)})
    assert compare_store(store).overall.sensitivity is None
    with pytest.raises(InputError, match="has no verdict set 'auto'"):
        tether.compare(store=store, verifiers=("auto", "exact"))


def test_the_moved_line_names_ten_then_counts_the_rest():
    moved = [MovedTask(f"t{i}", {"auto": "O", "math": "P"}) for i in range(12)]
    line = Sensitivity([], moved, 40).moved_line()
    assert line.startswith("tasks whose region moves: 12 of 40: t0 (auto O, math P), t1 (auto O, math P)")
    assert line.count("(auto O, math P)") == 10 and line.endswith("t9 (auto O, math P) and 2 more")
    assert Sensitivity([], [], 7).moved_line() == "tasks whose region moves: none of 7"


def test_tether_compare_verifiers_prints_the_table_and_json(graded, tmp_path):
    out = cli("compare", graded, "--verifiers", "auto,numeric,math", "--bootstrap-reps", "50", "--extrapolate", "0")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Regions by grader" in text and "tasks whose region moves: 3 of 5: t2 (auto O, numeric P, math P)" in text
    rows = [line for line in text.splitlines() if line.startswith("│ ") and ("auto" in line or "numeric" in line
                                                                          or "│ math" in line)]
    assert [row.split("│")[1].strip() for row in rows] == ["auto (counts)", "numeric", "math"]
    payload = json.loads(cli("compare", graded, "--verifiers", "numeric,auto", "--json", "--bootstrap-reps", "50",
                             "--extrapolate", "0").stdout)
    assert [s["name"] for s in payload["sensitivity"]["sets"]] == ["numeric", "auto"]
    assert payload["sensitivity"]["sets"][0]["counts"] == {"P": 2, "S": 1, "E": 1, "O": 1}
    bad = cli("compare", graded, "--verifiers", "auto,choice")
    assert bad.returncode != 0 and "has no verdict set 'choice'" in bad.stderr


def test_the_report_has_the_section(graded, tmp_path):
    from tether.report.build import build_report

    store = shutil.copytree(graded, tmp_path / "run")
    files = build_report(store, tmp_path / "report")
    markdown, page = files.markdown.read_text(), files.html.read_text()
    assert "## Regions by grader" in markdown
    assert "| numeric | 2 | 1 | 1.2 [0, 3] | 1 | 1.2 [0, 3] | 1 | 30.0% | 40.0% |" in markdown
    assert "tasks whose region moves: 3 of 5" in markdown
    assert "<h2>Regions by grader</h2>" in page and "<td>auto (counts)</td>" in page
    assert json.loads(files.summary.read_text())["overall"]["sensitivity"]["n_tasks"] == 5
