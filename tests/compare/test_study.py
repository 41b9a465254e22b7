"""Studies (issue 33): several children of a base in one store, per benchmark, domain and overall, the pair of
children side by side and every training run over its steps, with one Holm family over every test; the domains'
default grouping and its overrides; children identical to their base claim something in at most alpha of studies."""

import csv
import json
from dataclasses import dataclass, field

import numpy as np
import pytest

import tether
from tether.compare import CompareOptions
from tether.compare.children import FAMILY, child_differences
from tether.compare.study import Child, child_labels, compare_study, save_study
from tether.compare.tables import adjust, level_tests
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
    # the only two children of one base, not steps of a run: side by side, their 5 tests in the study's family
    assert (study.pair.a, study.pair.b) == ("step-2", "step-10") and study.trajectories == []
    # each test once: simpleqa is the only Non-Math benchmark, so that domain's row is its benchmark's test
    distinct = len({(child, name) for child, _, name in EXPECTED} - {(c, "Non-Math") for c in ("step-2", "step-10")})
    assert distinct == 10 and study.family.tests == 2 * distinct + 5 and study.family.method == "Holm"
    assert study.to_dict()["family"]["text"].startswith("Holm over 25 tests (S and E of every child x scope: 20; "
                                                        "the differences step-2 - step-10: 5)")
    for child in ("step-2", "step-10"):
        alone, domain = study.cell(child, "benchmark", "simpleqa"), study.cell(child, "domain", "Non-Math")
        assert alone.comparison is not domain.comparison and alone.p_adjusted == domain.p_adjusted
        assert alone.test_keys() == domain.test_keys()
    math = study.cell("step-10", "domain", "Math")  # the sum of two benchmarks: a test of its own
    assert math.test_keys()["S"] != study.cell("step-10", "benchmark", "math500").test_keys()["S"]
    overall = study.cell("step-10")
    raw = overall.comparison.chance.s.p_value
    assert raw <= overall.p_adjusted["S"] <= min(1.0, 25 * raw)  # Holm: between the raw and Bonferroni's
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
    assert not any("the domains name" in w for w in study.warnings)
    typo = compare_study(store, ["dapo"], options=FAST, domains={"simpleq": "Knowledge"})  # said, not left silent
    assert "the domains name 'simpleq', no benchmark of the study's tasks (benchmarks: aime24, math500, simpleqa)" \
        in typo.warnings and typo.domains["simpleqa"] == "Non-Math"
    # dapo against sft, not the store's base: math500 is 4 vs 8 (P), 0 vs 3 and 0 vs 1 (E)
    cell = study.cell("dapo", "benchmark", "math500")
    assert (cell.comparison.counts.P, cell.comparison.counts.E, cell.comparison.counts.S) == (1, 2, 0)
    assert study.rows()[0]["base"] == "sft" and study.rows()[0]["run"] == "r1" and study.rows()[0]["step"] == 30
    open_store(store).update_manifest("runs", {"sft": {**recorded_run(8), "checkpoint": {"run": "grpo", "step": 2}}})
    placed = compare_study(store, ["sft", "dapo"], options=FAST)  # the manifest's record of a checkpoint
    assert [(c.label, c.run, c.step) for c in placed.children] == [("sft", "grpo", 2), ("dapo", None, None)]


def test_saved_study_holds_the_rows(study_store, tmp_path):
    study = compare_study(study_store, ["step-2", "step-10"], options=FAST)
    json_path, csv_path, pair_path = save_study(study, tmp_path / "out")
    payload = json.loads(json_path.read_text())
    assert payload["family"]["tests"] == 25 and len(payload["rows"]) == 12 and payload["trajectories"] == []
    (pair,) = payload["pairs"]
    assert pair["children"] == ["step-2", "step-10"] and "family" not in pair
    assert pair["differences"]["E"]["value"] == -1  # overall E: 1 against 2
    pair_rows = list(csv.DictReader(pair_path.open()))
    assert [r["child"] for r in pair_rows] == ["step-2", "step-10", "step-2 - step-10"]
    assert {r["pair"] for r in pair_rows} == {"step-2 - step-10"}
    assert (pair_rows[0]["S"], pair_rows[2]["S"], pair_rows[2]["E"]) == ("2", "0", "-1")
    assert payload["study"]["domains"] == {"aime24": "Math", "math500": "Math", "simpleqa": "Non-Math"}
    rows = list(csv.DictReader(csv_path.open()))
    assert [(r["child"], r["name"], r["S"], r["E"]) for r in rows][:2] == [("step-2", "aime24", "1", "1"),
                                                                          ("step-2", "math500", "1", "0")]
    assert (float(rows[0]["srr"]), float(rows[0]["ndr"])) == (0.0, 1.0)  # step-2 on aime24: P 0, E 1, S 1


def test_a_training_run_among_the_children_is_a_trajectory_in_the_one_family(tmp_path):
    store = _store(tmp_path, {"base": BASE, "step-2": CHILD_A, "step-10": CHILD_B, "other": CHILD_B})
    open_store(store).update_manifest("runs", {label: {**recorded_run(8), "checkpoint": {"run": "grpo", "step": step}}
                                               for label, step in (("base", 0), ("step-2", 2), ("step-10", 10))})
    study = compare_study(store, ["step-10", "step-2", "other"], options=FAST)
    assert study.pair is None  # two of the three are steps of one run: no pair unless asked
    (run,) = study.trajectories
    assert (run.run, run.base, run.base_step, [s.step for s in run.steps]) == ("grpo", "base", 0, [2, 10])
    assert run.step(2).against_base.counts.as_dict() == {"P": 3, "S": 2, "E": 1, "O": 2}  # the overall cell's
    assert run.step(10).against_previous.counts.as_dict() == {"P": 1, "S": 3, "E": 4, "O": 0}  # step-2 -> step-10
    # per benchmark and domain as well: each scope's steps are counted on its tasks, against the base its cell
    simpleqa = run.scope("benchmark", "simpleqa")
    assert [(s.step, s.against_base.counts.as_dict()) for s in simpleqa.steps] == [
        (2, {"P": 2, "S": 0, "E": 0, "O": 1}), (10, {"P": 0, "S": 2, "E": 1, "O": 0})]  # EXPECTED's simpleqa rows
    assert simpleqa.steps[1].against_base is study.cell("step-10", "benchmark", "simpleqa").comparison  # reused
    assert simpleqa.steps[1].against_previous.counts.as_dict() == {"P": 0, "S": 2, "E": 1, "O": 0}  # step 2 -> 10
    assert [(s.scope, s.name) for s in run.scopes] == [("benchmark", "aime24"), ("benchmark", "math500"),
                                                       ("benchmark", "simpleqa"), ("domain", "Math"),
                                                       ("domain", "Non-Math")]
    # each test once: of the 6 scopes, Non-Math is simpleqa's test; a step against the base is that child's cell
    # ("other" has step-10's counts, but is another label: its own tests); the run adds its step-to-step tests
    cells, steps = 3 * 2 * 5, 5 * 2
    assert study.family.tests == cells + steps and run.family is study.family
    assert run.step(2).test_keys() == study.cell("step-2").test_keys()
    assert study.cell("other").raw_p() == study.cell("step-10").raw_p() != {"S": 1.0, "E": 1.0}
    assert study.cell("other").test_keys() != study.cell("step-10").test_keys()
    non_math = run.scope("domain", "Non-Math").steps[1]
    assert non_math.test_keys() == simpleqa.steps[1].test_keys() and non_math.p_adjusted == simpleqa.steps[1].p_adjusted
    assert dict(study.family.parts) == {"S and E of every child x scope": cells, "run grpo: S and E of every step "
                                        "against the base and the previous step, per benchmark, domain and overall":
                                        steps}
    assert all(s.first_shrinkage is not None and s.first_shrinkage.step is None for s in run.scopes)
    assert run.step(10).p_adjusted["S_previous"] >= run.step(10).raw_p()["S_previous"]
    lowest = min(s.p_adjusted["S"] for s in run.steps)
    assert run.first_shrinkage.step is None and f"lowest adjusted p {lowest:.2g}" in run.first_shrinkage.reason
    asked = compare_study(store, ["step-2", "step-10", "other"], options=FAST,
                          pairs=["other,step-2", ("step-10", "other")])  # two pairs: each its 5 tests, one family
    assert [(p.a, p.b) for p in asked.pairs] == [("other", "step-2"), ("step-10", "other")]
    assert asked.family.tests == cells + steps + 2 * 5 and all(p.family is asked.family for p in asked.pairs)
    assert [part for part, _ in asked.family.parts][1:3] == ["the differences other - step-2",
                                                           "the differences step-10 - other"]
    assert asked.pairs[0].differences["E"].value == 1 and asked.pairs[1].differences["E"].value == 0  # E: 2 - 1; 2 - 2
    assert [r["pair"] for r in asked.pair_rows()] == ["other - step-2"] * 3 + ["step-10 - other"] * 3
    written = save_study(asked, tmp_path / "out")
    assert [p.name for p in written] == ["study.json", "study.csv", "pair.csv", "trajectory.csv"]
    rows = list(csv.DictReader((tmp_path / "out" / "trajectory.csv").open()))
    assert [(r["run"], r["step"], r["child"], r["previous"], r["S_previous"]) for r in rows if r["scope"] == "overall"
            ] == [("grpo", "2", "step-2", "base", ""), ("grpo", "10", "step-10", "step-2", "3")]
    assert [(r["scope"], r["name"], r["step"], r["S"], r["S_previous"]) for r in rows[4:6]] == [
        ("benchmark", "simpleqa", "2", "0", ""), ("benchmark", "simpleqa", "10", "2", "2")]  # each scope's steps
    assert len(rows) == 6 * 2  # benchmarks, domains, then overall
    payload = json.loads((tmp_path / "out" / "study.json").read_text())
    (saved,) = payload["trajectories"]
    assert saved["first_shrinkage"]["step"] is None and "family" not in saved
    assert [(s["scope"], s["name"], [step["step"] for step in s["steps"]]) for s in saved["scopes"]][2] == (
        "benchmark", "simpleqa", [2, 10])
    assert saved["scopes"][2]["steps"][1]["against_previous"]["counts"] == {"P": 0, "S": 2, "E": 1, "O": 0}
    with pytest.raises(InputError, match="'nope' is not a child of the study"):
        compare_study(store, ["step-2", "step-10"], options=FAST, pairs=[("step-2", "nope")])
    with pytest.raises(InputError, match="--pair step-10,step-2 is named twice"):
        compare_study(store, ["step-2", "step-10"], options=FAST, pairs=["step-2,step-10", "step-10,step-2"])
    with pytest.raises(InputError, match="names two different children"):
        compare_study(store, ["step-2", "step-10"], options=FAST, pairs=["step-2", "step-10"])  # not (a, b) pairs
    with pytest.raises(InputError, match="their bases differ"):
        compare_study(store, ["step-2", Child("other", base="step-10")], options=FAST, pairs=[("step-2", "other")])


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
        "math500", "minerva", "olympiadbench", "aime24", "aime25", "amc23", "mathvista", "mathvision"}
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


@dataclass
class Member:
    """A family member holding the p-values a cell, the pair or a step gives (their `raw_p`), without the rest."""

    raw: dict[str, float]
    keys: dict[str, object] = field(default_factory=dict)  # what each test is, where another member shows it too
    p_adjusted: dict[str, float] = field(default_factory=dict)

    def raw_p(self) -> dict[str, float]:
        return self.raw

    def test_keys(self) -> dict[str, object]:
        return self.keys


def test_a_test_shown_by_several_members_enters_the_family_once():
    """Holm over the distinct tests: a cell's test shown again by a step (one key) is one test with one adjusted
    p-value; counted twice, it would make every adjusted p-value larger."""
    cell, step = Member({"S": 0.01, "E": 0.5}, {"S": "cell S", "E": "cell E"}), Member({"S": 0.01}, {"S": "cell S"})
    other = Member({"S_previous": 0.02})
    family = adjust([("cells", [cell]), ("run", [step, other])], 0.05)
    assert (family.tests, family.parts) == (3, (("cells", 2), ("run", 1)))  # the step's S is the cell's
    assert cell.p_adjusted == {"S": 0.03, "E": 0.5} and step.p_adjusted == {"S": 0.03}
    assert other.p_adjusted == {"S_previous": 0.04}
    cell, step = Member({"S": 0.01, "E": 0.5}), Member({"S": 0.01})  # unkeyed: each member's tests its own
    twice = adjust([("cells", [cell]), ("run", [step, other])], 0.05)
    assert twice.describe().startswith("Holm over 4 tests") and cell.p_adjusted["S"] == step.p_adjusted["S"] == 0.04


def test_children_identical_to_their_base_claim_something_in_at_most_alpha_of_studies():
    """Three children, each the base's own model and the steps of one run: the tests of every cell, of the pair of
    the first two and of the run (each step against the base and the previous, on every scope) as the study adjusts
    them."""
    rng = np.random.default_rng(3)
    alpha, reps, tasks, n = 0.05, 300, 24, 8
    benchmarks = np.repeat(np.array(["a", "b", "c"]), tasks // 3)
    full = np.full(tasks, n)
    pair_options = CompareOptions(bootstrap_reps=10, extrapolate=0)
    claims = raw_claims = 0
    scope = [0, 1, 2, 4, 4]  # each test keyed as the study keys it: the one domain's tasks are all (Overall's test)

    def keys(i, j, suffix=""):
        return {region + suffix: (i, scope[j], region + suffix) for region in "SE"}

    for _ in range(reps):
        p = rng.beta(0.3, 0.6, size=tasks)  # many hard tasks: S and E happen often by chance
        base_c = rng.binomial(n, p)
        children = [rng.binomial(n, p) for _ in range(3)]
        levels = [_cells(full, base_c, full, c, benchmarks) for c in children]
        cells = [Member(level_tests(level), keys(i, j)) for i, found in enumerate(levels)
                 for j, level in enumerate(found)]
        differences, _ = child_differences(base_c > 0, children[0] > 0, children[1] > 0, pair_options)
        pair = Member({name: differences[name].p_value for name in FAMILY})
        # on every scope, a step against the base is its cell's test on the same tasks; against the previous, one more
        previous = [None] + [_cells(full, children[i - 1], full, c, benchmarks) for i, c in enumerate(children) if i]
        steps = [Member({**level_tests(levels[i][j]), **level_tests(previous[i] and previous[i][j], "_previous")},
                        {**keys(i, j), **(keys(i, j, "_previous") if i else {})}) for i in range(3) for j in range(5)]
        family = adjust([("cells", cells), ("pair", [pair]), ("run", steps)], alpha)
        assert family.tests == 2 * 3 * 4 + 5 + 2 * 2 * 4  # 4 distinct scopes; the steps add only step to step
        members = cells + [pair] + steps
        claims += any(v <= alpha for m in members for v in m.p_adjusted.values())
        raw_claims += any(v <= alpha for m in members for v in m.raw.values())
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


def _laid_out(ids: list[str], regions: dict[str, int]) -> tuple[dict, dict]:
    """Base and child (n = 1) on `ids`, in the given regions, in order."""
    pairs = {"P": (1, 1), "S": (1, 0), "E": (0, 1), "O": (0, 0)}
    flags = [pairs[region] for region, count in regions.items() for _ in range(count)]
    assert len(flags) == len(ids)
    return {t: (1, b) for t, (b, _) in zip(ids, flags)}, {t: (1, c) for t, (_, c) in zip(ids, flags)}


def test_the_papers_checkpoint_table_aime24_at_step_30_and_math500_at_step_300(tmp_path):
    """The paper's support dynamics over DAPO training (checkpoint table): AIME24 at step 30 is 24 0 1 5
    (P E S O; SRR 0.960, NSCR -0.040), MATH500 at step 300 is 488 1 8 3 (SRR 0.984, NDR 0.002, NSCR -0.014);
    the two checkpoints of one run in one study, every printed rate to its precision."""
    aime = [f"aime24/{i}" for i in range(30)]
    math = [f"math500/{i}" for i in range(500)]
    base_aime, step30_aime = _laid_out(aime, {"P": 24, "E": 0, "S": 1, "O": 5})
    base_math, step300_math = _laid_out(math, {"P": 488, "E": 1, "S": 8, "O": 3})
    base = {**base_aime, **base_math}
    store = _store(tmp_path, {"base": base, "dapo-30": {**step30_aime, **base_math},
                              "dapo-300": {**base_aime, **step300_math}})
    study = compare_study(store, [Child("dapo-30", run="dapo", step=30), Child("dapo-300", run="dapo", step=300)],
                          options=FAST)
    rows = {(r["child"], r["name"]): r for r in study.rows()}
    for (child, bench), counts, rates in (
            (("dapo-30", "aime24"), (24, 0, 1, 5), {"srr": (0.960, 3), "nscr": (-0.040, 3)}),
            (("dapo-300", "math500"), (488, 1, 8, 3), {"srr": (0.984, 3), "ndr": (0.002, 3), "nscr": (-0.014, 3)})):
        row = rows[child, bench]
        assert (row["P"], row["E"], row["S"], row["O"]) == counts
        for name, (value, places) in rates.items():
            assert round(row[name], places) == value, (child, bench, name, row[name])
    [run] = study.trajectories
    assert [step.step for step in run.steps] == [30, 300]
