"""`tether plan`: a full and an adaptive run planned from a pilot in the store."""

import json

import numpy as np
import pytest
from scipy.stats import binom

import tether
from tether.compare.budget import BudgetPlan, plan_budget, plan_chance
from tether.metrics.adaptive import AdaptiveRule, posterior_outlook
from tether.metrics.extrapolate import fit_beta_binomial

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
    assert sum(plan.regions_at_k.values()) == pytest.approx(8)


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


def test_the_plan_puts_chance_beside_s_and_e_and_concludes(pilot):
    store, _ = pilot
    plan = plan_budget(store, 256)
    assert plan.chance.interval[0] <= plan.chance.expected <= plan.chance.interval[1]
    assert plan.conclusion.startswith(f"at k = 256: expected E {plan.regions_at_k['E']:.1f} and S "
                                      f"{plan.regions_at_k['S']:.1f} vs {plan.chance.expected:.1f} each for two "
                                      "identical models; a run would show expansion beyond chance (p ≤ 0.05) with "
                                      f"probability {plan.chance.power['E']:.0%}")
    assert "a single E task needs ≥ 6 of RL's 256 samples correct" in plan.conclusion
    data = plan.to_dict()
    assert data["chance_at_k"]["expected"] == plan.chance.expected and data["conclusion"] == plan.conclusion
    out = cli("plan", str(store), "--k", "256")
    assert out.returncode == 0, out.stderr
    shown = " ".join(out.stdout.split())
    lo, hi = plan.chance.interval
    assert (f"S {plan.regions_at_k['S']:,.1f} (two identical models: {plan.chance.expected:,.1f} [{lo}, {hi}]), "
            f"E {plan.regions_at_k['E']:,.1f} (two identical models:") in shown
    assert "conclusion: at k = 256: expected E" in shown


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
