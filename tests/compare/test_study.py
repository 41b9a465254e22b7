"""Studies (issue 33): several children of a base in one store, per benchmark, domain and overall, with one Holm
family over every cell; the domains' default grouping and its overrides; children identical to their base claim
something in at most alpha of studies."""

import csv
import json

import numpy as np
import pytest

import tether
from tether.compare import CompareOptions
from tether.compare.study import Child, adjust_family, child_labels, compare_study, save_study
from tether.errors import InputError
from tether.metrics import chance_levels, support_regions
from tether.store import open_store
from tether.store.schema import TaskCounts
from tether.tasks.domains import DEFAULT_DOMAINS, benchmark_of_task, domain_of, parse_domains

from ..conftest import graded_rows, recorded_run, write_jsonl

FAST = CompareOptions(bootstrap_reps=20)

# per task: base's and each child's (n, c); the regions are known by construction
BASE = {"math500/1": (8, 4), "math500/2": (8, 3), "math500/3": (8, 0), "aime24/1": (8, 0), "aime24/2": (8, 2),
        "simpleqa/1": (8, 5), "simpleqa/2": (8, 0), "simpleqa/3": (8, 1)}
CHILD_A = {"math500/1": (8, 4), "math500/2": (8, 0), "math500/3": (8, 0), "aime24/1": (8, 2), "aime24/2": (8, 0),
           "simpleqa/1": (8, 5), "simpleqa/2": (8, 0), "simpleqa/3": (8, 1)}
CHILD_B = {"math500/1": (8, 8), "math500/2": (8, 3), "math500/3": (8, 1), "aime24/1": (8, 0), "aime24/2": (8, 2),
           "simpleqa/1": (8, 0), "simpleqa/2": (8, 1), "simpleqa/3": (8, 0)}
# (child, scope, name) -> P, E, S, O
EXPECTED = {
    ("step-2", "benchmark", "aime24"): (0, 1, 1, 0), ("step-2", "benchmark", "math500"): (1, 0, 1, 1),
    ("step-2", "benchmark", "simpleqa"): (2, 0, 0, 1), ("step-2", "domain", "Math"): (1, 1, 2, 1),
    ("step-2", "domain", "Non-Math"): (2, 0, 0, 1), ("step-2", "overall", "overall"): (3, 1, 2, 2),
    ("step-10", "benchmark", "aime24"): (1, 0, 0, 1), ("step-10", "benchmark", "math500"): (2, 1, 0, 0),
    ("step-10", "benchmark", "simpleqa"): (0, 1, 2, 0), ("step-10", "domain", "Math"): (3, 1, 0, 1),
    ("step-10", "domain", "Non-Math"): (0, 1, 2, 0), ("step-10", "overall", "overall"): (3, 2, 2, 1),
}


def _store(folder, labels):
    for seed, (label, counts) in enumerate(labels.items()):
        tether.import_samples(write_jsonl(folder / f"{label}.jsonl", graded_rows(counts, seed)), folder / "run",
                              label=label)
    return folder / "run"


@pytest.fixture(scope="module")
def study_store(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("study"), {"base": BASE, "step-2": CHILD_A, "step-10": CHILD_B})


def test_every_cell_has_the_known_regions_and_one_holm_family(study_store):
    study = compare_study(study_store, ["step-2", "step-10"], options=FAST)
    got = {(c.child, c.scope, c.name): tuple(getattr(c.comparison.counts, r) for r in "PESO") for c in study.cells}
    assert got == EXPECTED
    assert [(r["child"], r["scope"], r["name"]) for r in study.rows()] == list(EXPECTED)  # the table's order
    assert study.family.tests == 2 * len(EXPECTED) and study.family.method == "Holm"
    assert "Holm over 24 tests" in study.to_dict()["family"]["text"]
    overall = study.cell("step-10")
    raw = overall.comparison.chance.s.p_value
    assert raw <= overall.p_adjusted["S"] <= min(1.0, 24 * raw)  # Holm: between the raw and Bonferroni's
    assert overall.beyond_chance("S") == (overall.p_adjusted["S"] <= FAST.alpha)
    assert study.cell("step-2", "domain", "Math").comparison.rates["srr"].value == pytest.approx(1 / 3)
    row = study.rows()[-1]
    assert (row["k"], row["base_pass_at_k"], row["child_pass_at_k"]) == (8, pytest.approx(5 / 8), pytest.approx(5 / 8))
    with pytest.raises(InputError, match="no domain 'Science' for 'step-2'"):
        study.cell("step-2", "domain", "Science")


def test_a_child_against_its_own_base_and_overridden_domains(tmp_path):
    store = _store(tmp_path, {"base": BASE, "sft": CHILD_A, "dapo": CHILD_B})
    study = compare_study(store, [Child("dapo", base="sft", run="r1", step=30)], options=FAST,
                          domains={"simpleqa": "Knowledge", "aime24": "Competition"})
    assert [c.name for c in study.cells if c.scope == "domain"] == ["Math", "Competition", "Knowledge"]
    # dapo against sft, not the store's base: math500 is 4 vs 8 (P), 0 vs 3 and 0 vs 1 (E)
    cell = study.cell("dapo", "benchmark", "math500")
    assert (cell.comparison.counts.P, cell.comparison.counts.E, cell.comparison.counts.S) == (1, 2, 0)
    assert study.rows()[0]["base"] == "sft" and study.rows()[0]["run"] == "r1" and study.rows()[0]["step"] == 30
    open_store(store).update_manifest("runs", {"sft": {**recorded_run(8), "checkpoint": {"run": "grpo", "step": 2}}})
    placed = compare_study(store, ["sft", "dapo"], options=FAST)  # the manifest's record of a checkpoint
    assert [(c.label, c.run, c.step) for c in placed.children] == [("sft", "grpo", 2), ("dapo", None, None)]


def test_saved_study_holds_the_rows(study_store, tmp_path):
    study = compare_study(study_store, ["step-2", "step-10"], options=FAST)
    json_path, csv_path = save_study(study, tmp_path / "out")
    payload = json.loads(json_path.read_text())
    assert payload["family"]["tests"] == 24 and len(payload["rows"]) == 12
    assert payload["study"]["domains"] == {"aime24": "Math", "math500": "Math", "simpleqa": "Non-Math"}
    rows = list(csv.DictReader(csv_path.open()))
    assert [(r["child"], r["name"], r["S"], r["E"]) for r in rows][:2] == [("step-2", "aime24", "1", "1"),
                                                                          ("step-2", "math500", "1", "0")]
    assert (float(rows[0]["srr"]), float(rows[0]["ndr"])) == (0.0, 1.0)  # step-2 on aime24: P 0, E 1, S 1


def test_children_are_checked_and_patterns_expand_in_natural_order(study_store):
    assert child_labels(study_store, ["step-*"]) == ["step-2", "step-10"]
    assert child_labels(study_store, ["step-10", "step-*"]) == ["step-10", "step-2"]
    with pytest.raises(InputError, match="matches no graded label"):
        child_labels(study_store, ["grpo-*"])
    with pytest.raises(InputError, match="its own base"):
        compare_study(study_store, [Child("base")], options=FAST)
    with pytest.raises(InputError, match="named twice"):
        compare_study(study_store, ["step-2", "step-2"], options=FAST)
    with pytest.raises(InputError, match="no verdicts for label 'nope'"):
        compare_study(study_store, ["nope"], options=FAST)


def test_domains_default_and_overrides(tmp_path):
    assert {name for name, domain in DEFAULT_DOMAINS.items() if domain == "Math"} == {
        "math500", "minerva", "olympiadbench", "aime24", "aime25", "amc23"}
    assert domain_of("scibench") == "Non-Math" and domain_of("reasoning-gym-gcd") == "Non-Math"
    assert domain_of("scibench", {"scibench": "Science"}) == "Science"
    assert benchmark_of_task("math500/test/1.json") == "math500" and benchmark_of_task("t1") == "all"
    assert parse_domains("scibench=Science, simpleqa = Knowledge") == {"scibench": "Science", "simpleqa": "Knowledge"}
    table = tmp_path / "domains.toml"
    table.write_text('[domains]\nscibench = "Science"\n')
    assert parse_domains(str(table)) == {"scibench": "Science"}
    table.write_text('scibench = 3\n')
    with pytest.raises(InputError, match="the domain of 'scibench' must be a name"):
        parse_domains(str(table))
    with pytest.raises(InputError, match="is not benchmark=Domain"):
        parse_domains("scibench")


def _cells(base_n, base_c, rl_n, rl_c, benchmarks):
    """The chance levels a study's cells test for one child: each benchmark's, the one domain's and overall
    (`compare_counts` computes them so on each cell's tasks)."""
    levels = []
    for ids in [benchmarks == b for b in np.unique(benchmarks)] + [np.ones(len(benchmarks), bool)] * 2:
        base = TaskCounts("base", "sim", np.arange(ids.sum()).astype(str).astype(object), base_n[ids], base_c[ids])
        rl = TaskCounts("rl", "sim", base.task_ids, rl_n[ids], rl_c[ids])
        levels.append(chance_levels(base.n, base.c, rl.n, rl.c, support_regions(base, rl).regions))
    return levels


def test_children_identical_to_their_base_claim_something_in_at_most_alpha_of_studies():
    rng = np.random.default_rng(3)
    alpha, reps, tasks, n = 0.05, 300, 24, 8
    benchmarks = np.repeat(np.array(["a", "b", "c"]), tasks // 3)
    claims = raw_claims = 0
    for _ in range(reps):
        p = rng.beta(0.3, 0.6, size=tasks)  # many hard tasks: S and E happen often by chance
        base_c = rng.binomial(n, p)
        levels = []
        for _child in range(3):  # three children, each the base's own model
            levels += _cells(np.full(tasks, n), base_c, np.full(tasks, n), rng.binomial(n, p), benchmarks)
        family, adjusted = adjust_family(levels, alpha)
        assert family.tests == 2 * 3 * 5
        claims += any(v <= alpha for pair in adjusted for v in pair.values())
        raw_claims += any(p <= alpha for level in levels for p in (level.s.p_value, level.e.p_value))
    assert claims / reps <= alpha
    assert raw_claims / reps > 2 * alpha  # without the family correction the same studies claim far more


def _table1_counts(regions: dict[str, int]) -> tuple[dict, dict]:
    """One sample per task on the paper's six math benchmarks (1,547 tasks), base and child giving `regions`."""
    sizes = {"math500": 500, "minerva": 272, "olympiadbench": 675, "aime24": 30, "aime25": 30, "amc23": 40}
    ids = [f"{name}/{i}" for name, size in sizes.items() for i in range(size)]
    flags = [f for region, count in regions.items() for f in [{"P": (1, 1), "S": (1, 0), "E": (0, 1),
                                                               "O": (0, 0)}[region]] * count]
    assert len(flags) == len(ids)
    return ({t: (1, b) for t, (b, _) in zip(ids, flags)}, {t: (1, c) for t, (_, c) in zip(ids, flags)})


def test_the_papers_table_1_math_rows_of_prorl_v1_and_v2(tmp_path):
    base, v1 = _table1_counts({"P": 1355, "E": 5, "S": 56, "O": 131})
    same_base, v2 = _table1_counts({"P": 1349, "E": 9, "S": 62, "O": 127})
    assert same_base != base  # one base in the paper; here each child's regions are laid out on its own base
    store = _store(tmp_path, {"base": base, "base-v2": same_base, "prorl-v1": v1, "prorl-v2": v2})
    study = compare_study(store, [Child("prorl-v1"), Child("prorl-v2", base="base-v2")], options=FAST)
    for child, counts, rates in (("prorl-v1", (1355, 5, 56, 131), (0.96, 0.00, 0.01, -0.04)),
                                 ("prorl-v2", (1349, 9, 62, 127), (0.96, 0.01, 0.01, -0.04))):
        row = next(r for r in study.rows() if (r["child"], r["name"]) == (child, "Math"))
        assert (row["P"], row["E"], row["S"], row["O"]) == counts and row["tasks"] == 1547
        assert tuple(round(row[name], 2) for name in ("srr", "ndr", "sds", "nscr")) == rates
    assert [r["name"] for r in study.rows() if r["scope"] == "domain"] == ["Math", "Math"]  # no Non-Math row
