"""Comparing labels sampled under the regions rule (stopped at the first success): regions and chance exact,
pass@k only where measured."""

import pytest

import tether
from tether.errors import InputError

from ..conftest import recorded_run, write_jsonl

RULE = {"first": 8, "growth": 2, "regions": 1}


@pytest.fixture
def regions_store(tmp_path):
    """Task t: the base solved it at sample 3 (stopped after its first round of 8), the RL model only at sample
    200 of 256. Task u: the base stopped after 8 with two successes, the RL model never solved it in 256. Task w:
    both solved it in their first round."""
    base = [{"task_id": t, "sample_idx": j, "correct": (t, j) in {("t", 3), ("u", 2), ("u", 5), ("w", 0)}}
            for t in ("t", "u", "w") for j in range(8)]
    rl = [{"task_id": t, "sample_idx": j, "correct": (t, j) in {("t", 200), ("w", 1)}}
          for t in ("t", "u", "w") for j in range(256 if t != "w" else 8)]
    tether.import_samples(write_jsonl(tmp_path / "b.jsonl", base), tmp_path / "run", label="base")
    tether.import_samples(write_jsonl(tmp_path / "r.jsonl", rl), tmp_path / "run", label="rl")
    store = tether.open_store(tmp_path / "run")
    store.update_manifest("runs", {label: recorded_run(256, adaptive=RULE) for label in ("base", "rl")})
    return tmp_path / "run"


def test_regions_and_chance_are_the_full_protocols(regions_store):
    """Regions as a full run would give them (t is P: budget matching would have cut it to S); chance at k = 256
    for both labels: u's two successes are tested as two of 256 against none of 256 (under identical models, both
    fall to the base with C(256, 2)/C(512, 2)), not as two of 8 against none of 256."""
    from tether.compare.counts import RegionsBudget, adaptive_budgets
    from tether.metrics.chance import region_tests

    budgets, adaptive = adaptive_budgets([(regions_store, "base"), (regions_store, "rl")])
    assert budgets == (256, 256) and all(isinstance(k, RegionsBudget) for k in budgets) and adaptive == ["base", "rl"]
    result = tether.compare(store=regions_store)
    assert list(result.regions) == ["P", "S", "P"]
    at_k = region_tests(["S"], [256], [2], [256], [0]).p_values[0]
    assert result.p_values[1] == pytest.approx(at_k) and at_k != region_tests(["S"], [8], [2], [256], [0]).p_values[0]


def test_pass_at_k_is_shown_only_where_every_task_was_measured(regions_store):
    """The k grid ends at the fewest samples any task holds (8): beyond it a stopped task's pass@k is unknown,
    so no curve, crossover or extrapolation goes there, and the note says why; a larger k asked for is refused."""
    result = tether.compare(store=regions_store)
    assert result.k_grid[-1] == 8 and result.extrapolation is None
    assert result.pass_at_k["base"][0] == pytest.approx(4 / 24)  # pass@1: 4 of the base's 24 samples
    note = next(w for w in result.warnings if "regions rule" in w)
    assert note.startswith("base and rl sampled with the regions rule") and "pass@k is measured only up to" in note
    assert not any("plug-in" in w for w in result.warnings)  # the pass@k rule's note is not theirs
    with pytest.raises(InputError, match=r"k=16: base was sampled with the regions rule, which measures pass@k only "
                                         r"up to k = 8"):
        tether.compare(store=regions_store, options=tether.CompareOptions(k_grid=(1, 16)))


def test_a_pass_at_k_rule_label_still_reaches_its_full_budget(regions_store):
    """The same counts recorded under the pass@k rule: its curves go on to k (settled plug-in), as before."""
    store = tether.open_store(regions_store)
    rule = {"first": 8, "growth": 2, "tol": 0.001, "confidence": 0.95}
    store.update_manifest("runs", {label: recorded_run(256, adaptive=rule) for label in ("base", "rl")})
    result = tether.compare(store=regions_store)
    assert result.k_grid[-1] > 8 and any("plug-in" in w for w in result.warnings)


def test_the_plan_shows_the_floor_beside_the_rule(tmp_path):
    """`tether plan`: each model's expected floor (every task stopped at its first success) under the pilot's
    posterior, below the pass@k rule's expected cost and above the tasks' count; in the JSON and on the terminal."""
    import json

    import numpy as np

    from tether.compare.budget import plan_budget
    from tether.metrics.adaptive import posterior_floor
    from tether.metrics.extrapolate import fit_beta_binomial

    from ..cli_run import tether as cli
    from ..conftest import graded_rows

    counts = {"base": {f"t{i}": (64, c) for i, c in enumerate([60, 40, 8, 1, 0, 0])},
              "rl": {f"t{i}": (64, c) for i, c in enumerate([64, 50, 2, 0, 1, 0])}}
    for label, tasks in counts.items():
        rows = [{**row, "n_tokens": 10} for row in graded_rows(tasks, seed=1)]
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", rows), tmp_path / "run", label=label)
    plan = plan_budget(tmp_path / "run", 1024)
    base = plan.models[0]
    n, c = np.full(6, 64), np.array([60, 40, 8, 1, 0, 0])
    fit = fit_beta_binomial(n, c)
    assert base.floor_samples == pytest.approx(posterior_floor(n, c, fit.a, fit.b, 1024).sum())
    assert 6 < base.floor_samples < base.adaptive_samples < base.full_samples
    assert plan.to_dict()["models"][0]["floor_tokens"] == pytest.approx(base.floor_samples * 10)
    out = cli("plan", str(tmp_path / "run"), "--k", "1024")
    assert out.returncode == 0, out.stderr
    assert "floor (expected)" in out.stdout and "floor: each task stopped at its first success" in out.stdout
    data = json.loads(cli("plan", str(tmp_path / "run"), "--k", "1024", "--json").stdout)
    assert data["models"][1]["floor_samples"] == pytest.approx(plan.models[1].floor_samples)
