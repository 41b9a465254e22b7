"""`tether plan`: a full and an adaptive run planned from a pilot in the store."""

import json

import numpy as np
import pytest

import tether
from tether.compare.budget import plan_budget
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
