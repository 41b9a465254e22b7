"""`tether plan`: a full and an adaptive run planned from a pilot in the store."""

import io
import json

import numpy as np
import pytest
from rich.console import Console
from scipy.stats import binom

import tether
from tether.cli.render import render_budget
from tether.compare.budget import BudgetPlan, plan_budget, plan_chance
from tether.metrics.adaptive import AdaptiveRule, posterior_outlook
from tether.metrics.extrapolate import expected_regions, fit_beta_binomial, posterior_pass_at_k

from ..cli_run import tether as cli
from ..conftest import graded_rows, write_jsonl


@pytest.fixture
def pilot(tmp_path):
    """64 samples per task: easy, rare and never-solved tasks for both labels, 100 tokens a sample."""
    counts = {"base": {f"t{i}": (64, c) for i, c in enumerate([60, 40, 8, 1, 0, 0, 30, 2])},
              "rl": {f"t{i}": (64, c) for i, c in enumerate([64, 50, 2, 0, 1, 0, 45, 0])}}
    for label, tasks in counts.items():
        rows = [{**row, "n_tokens": 100} for row in graded_rows(tasks, seed=1)]
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", rows), tmp_path / "run", label=label)
    return tmp_path / "run", counts


def test_the_plan_follows_the_pilot(pilot):
    store, counts = pilot
    plan = plan_budget(store, 4096, throughput=1000)
    base = plan.models[0]
    assert base.full_samples == 8 * 4096 and base.tokens(base.full_samples) == 8 * 4096 * 100
    n = np.array([v[0] for v in counts["base"].values()])
    c = np.array([v[1] for v in counts["base"].values()])
    fit = fit_beta_binomial(n, c)
    samples, to_the_end = posterior_outlook(n, c, fit.a, fit.b, 4096, AdaptiveRule())
    assert base.adaptive_samples == pytest.approx(samples.sum()) and base.stopped_early == pytest.approx(8 - to_the_end.sum())
    assert base.adaptive_samples < 0.6 * base.full_samples  # easy tasks stop in the first rounds
    assert plan.gpu_hours(base.tokens(base.full_samples)) == pytest.approx(8 * 4096 * 100 / 1000 / 3600)
    # eight tasks: the joint model has too few to fit, so the plan gives no expected regions and says why
    assert plan.regions_at_k is None and plan.regions_ci is None
    assert plan.regions_refusal.startswith("only 7 of 8 tasks are solved by either model")
    assert plan.chance.power == {} and plan.conclusion.startswith(
        f"at k = 4,096: no expected S or E: {plan.regions_refusal}; a single E task needs")
    data = plan.to_dict()
    assert data["regions_at_k"] is None and data["regions_at_k_refusal"] == plan.regions_refusal
    shown = " ".join(cli("plan", str(store), "--k", "4096").stdout.split())
    assert f"expected regions at k: none shown: {plan.regions_refusal}" in shown and "expected E" not in shown


@pytest.fixture(scope="module")
def identical(tmp_path_factory):
    """Two identical models (the same known p per task) on 600 tasks, 64 samples each, counts drawn apart."""
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 2.0, 600)
    folder = tmp_path_factory.mktemp("identical")
    counts = {}
    for label in ("base", "rl"):
        counts[label] = rng.binomial(64, p)
        tasks = {f"t{i}": (64, int(c)) for i, c in enumerate(counts[label])}
        tether.import_samples(write_jsonl(folder / f"{label}.jsonl", graded_rows(tasks, seed=1, shuffle=False)),
                              folder / "run", label=label)
    return folder / "run", p, counts


def test_the_command(pilot):
    store, _ = pilot
    out = cli("plan", str(store), "--k", "1024", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["k"] == 1024 and data["rule"]["tol"] == 1e-3 and len(data["models"]) == 2
    assert data["models"][1]["adaptive_tokens"] < data["models"][1]["full_tokens"]
    small = cli("plan", str(store), "--k", "32")
    assert small.returncode == 2 and "more than k = 32" in small.stderr


def test_identical_pilots_have_the_chance_level_of_their_expected_regions():
    from tether.metrics import poisson_binomial

    q = np.array([0.9, 0.5, 0.3, 0.05, 0.6, 0.2])
    chance = plan_chance(q, q, 256)
    assert chance.expected == pytest.approx(np.sum(q * (1 - q)))  # S = E = q(1 - q) per task: the same footing
    offset, pmf = poisson_binomial(q * (1 - q))
    tail = pmf[chance.critical - offset:].sum()
    assert tail <= 0.05 < pmf[chance.critical - offset - 1:].sum()  # the fewest S (E) beyond chance at alpha
    assert chance.power == {"S": pytest.approx(tail), "E": pytest.approx(tail)}  # identical: power is the size
    assert chance.fewest_successes == 6  # two-sided, as `tether compare` tests a task: 2 x C(256, 6)/C(512, 6)
    assert binom.sf(5, 256, chance.half_the_time) == pytest.approx(0.5)  # >= 6 of 256 half the time


def test_identical_models_get_the_regions_of_identical_models(identical):
    """The old plan multiplied each model's own posterior pass@k as if independent and doubled S and E;
    the joint model lands near the truth Σ g(p)(1 - g(p)), g(p) = 1 - (1 - p)^k, at the sampled budget."""
    store, p, counts = identical
    plan = plan_budget(store, 64, reps=300)
    solved = 1 - (1 - p) ** 64
    truth = float(np.sum(solved * (1 - solved)))  # ≈ 28 tasks in S and in E each
    n = np.full(p.size, 64)
    independent = expected_regions(*(posterior_pass_at_k(n, c, fit_beta_binomial(n, c), [64]) for c in counts.values()))
    assert (independent["S"][0] + independent["E"][0]) / 2 > 1.4 * truth  # the bias this replaced
    assert (plan.regions_at_k["S"] + plan.regions_at_k["E"]) / 2 == pytest.approx(truth, rel=0.25)
    for region in ("S", "E"):
        lo, hi = plan.regions_ci[region]
        assert lo < truth < hi and lo < plan.regions_at_k[region] < hi
    assert plan.chance.expected == pytest.approx(truth, rel=0.25)  # the identical-models level, same footing
    assert max(plan.chance.power.values()) < 0.3  # identical models: a run would rarely look beyond chance
    for region, (low, high) in plan.chance.power_range.items():  # the power at the ends of the count's interval
        assert low <= plan.chance.power[region] <= high and high - low > 0.01
    assert sorted(plan.chance.power_range) == ["E", "S"] and "over the expected E's 95% interval" in plan.conclusion
    assert plan.regions_refusal is None and sum(plan.regions_at_k.values()) == pytest.approx(600)
    assert plan.conclusion.startswith(f"at k = 64: expected E {plan.regions_at_k['E']:.1f} and S "
                                      f"{plan.regions_at_k['S']:.1f} vs {plan.chance.expected:.1f} each for two "
                                      "identical models; a run would show expansion beyond chance (p ≤ 0.05) with "
                                      f"probability {plan.chance.power['E']:.0%}")
    data = plan.to_dict()
    assert data["chance_at_k"]["expected"] == plan.chance.expected and data["conclusion"] == plan.conclusion
    assert data["regions_at_k_ci"]["S"] == list(plan.regions_ci["S"]) and data["regions_at_k_refusal"] is None
    printed = io.StringIO()  # the terminal's lines, from the plan already made (a second plan costs seconds)
    render_budget(plan, Console(file=printed, width=160, markup=False))
    shown = " ".join(printed.getvalue().split())
    lo, hi = plan.chance.interval
    assert "expected regions at k: (joint model of both models' chances, 95% interval) P " in shown
    assert f"(two identical models: {plan.chance.expected:,.1f} [{lo}, {hi}])" in shown
    assert "conclusion: at k = 64: expected E" in shown


def test_far_beyond_a_pilot_the_plan_refuses(identical):
    store, _, _ = identical
    plan = plan_budget(store, 64 * 16, reps=50)
    assert plan.regions_at_k is None and plan.regions_refusal.startswith("no numbers at k = 1024")
    assert "no expected S or E" in plan.conclusion and "a single E task needs ≥ 6" in plan.conclusion


def test_an_expansion_the_pilot_shows_would_show_and_none_would_not():
    base = np.array([0.9, 0.8, 0.5, 0.02, 0.01, 0.03, 0.02, 0.05, 0.01, 0.02, 0.9, 0.7])
    rl = base.copy()
    rl[3:10] = 0.97  # seven tasks the base rarely solves at k, RL nearly always
    chance = plan_chance(base, rl, 256)
    assert chance.power["E"] >= 0.8 and chance.power["S"] < 0.05
    plan = BudgetPlan(256, AdaptiveRule(), 1.0, [], {"P": 4.0, "S": 0.1, "E": 6.5, "O": 1.4}, chance=chance)
    assert "if the pilot's estimates hold, expansion would likely show; shrinkage would not be told from chance" \
        in plan.conclusion
    same = BudgetPlan(256, AdaptiveRule(), 1.0, [], plan.regions_at_k, chance=plan_chance(base, base, 256))
    assert "this budget would not tell expansion or shrinkage from chance" in same.conclusion


def test_too_few_tasks_can_tell_nothing():
    chance = plan_chance(np.array([0.5]), np.array([0.5]), 64)
    assert chance.critical is None and chance.power == {"S": 0.0, "E": 0.0}
    plan = BudgetPlan(64, AdaptiveRule(), 1.0, [], {"P": 0.25, "S": 0.25, "E": 0.25, "O": 0.25}, chance=chance)
    assert "would be beyond chance at p ≤ 0.05: too few tasks could land in S or E to tell anything" in plan.conclusion
