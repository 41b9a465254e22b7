"""A training run over its checkpoints (Table 4): the first step whose shrinkage is significant, the null, a store."""

import json
import re

import numpy as np
import pytest

import tether
from tether.compare import CompareOptions
from tether.compare.scopes import scopes
from tether.compare.tables import adjust, level_tests
from tether.compare.trajectory import trajectory, trajectory_of_counts
from tether.errors import InputError
from tether.metrics import chance_levels, classify_tasks
from tether.report.trajectory import scopes_figure, trajectory_figure
from tether.store import TaskCounts

from ..conftest import graded_rows, write_jsonl
from .test_study import Member  # a family member holding only p-values

OPTIONS = CompareOptions(bootstrap_reps=100, extrapolate=0)


def simulated_run(seed: int, start: int | None, tasks: int = 200, n: int = 32, lost: int = 30):
    """A base and checkpoints at steps 10..50 sampled from known chances per task: from step `start` on (None:
    never), `lost` tasks the base solves with chance 0.3 per sample are never solved again."""
    rng = np.random.default_rng(seed)
    ids = [f"m/{i}" for i in range(tasks)]
    p = rng.beta(0.5, 1.5, tasks)
    p[:lost] = 0.3

    def counts(label, chances):
        return TaskCounts.from_arrays(label, "sim", ids, np.full(tasks, n), rng.binomial(n, chances))

    steps = [(s, counts(f"grpo@{s}", np.where((np.arange(tasks) < lost) & (start is not None and s >= start), 0, p)))
             for s in (10, 20, 30, 40, 50)]
    return counts("base", p), steps


def test_the_first_step_whose_shrinkage_is_significant_is_where_it_starts():
    base, steps = simulated_run(seed=3, start=30)
    found = trajectory_of_counts(base, steps, OPTIONS)
    assert found.first_shrinkage.step == 30
    assert found.family.tests == 2 * 5 + 2 * 4  # S and E against the base, and against the step before
    assert found.family.describe().startswith("Holm over 18 tests")
    assert found.first_shrinkage.reason.startswith("support shrinks from step 30 (grpo@30): S = ")
    assert found.first_shrinkage.p_adjusted == found.step(30).p_adjusted["S"] <= OPTIONS.alpha
    assert not any(found.step(s).beyond_chance("S", OPTIONS.alpha) for s in (10, 20))
    assert found.step(30).beyond_chance("S_previous", OPTIONS.alpha)  # the drop happens between 20 and 30
    assert not found.step(40).beyond_chance("S_previous", OPTIONS.alpha)
    assert found.step(10).against_previous is None and found.step(10).previous == "base"
    assert found.step(40).previous == "grpo@30"
    assert found.step(30).against_base.rates["srr"].value < found.step(20).against_base.rates["srr"].value


def test_a_run_that_never_shrinks_says_why():
    base, steps = simulated_run(seed=4, start=None)
    found = trajectory_of_counts(base, steps, OPTIONS)
    assert found.first_shrinkage.step is None
    lowest = min(s.p_adjusted["S"] for s in found.steps)
    assert found.first_shrinkage.reason.startswith(f"no step's shrinkage is beyond chance (lowest adjusted p {lowest:.2g}")


def test_checkpoints_identical_to_the_base_claim_anything_at_most_alpha_of_the_time():
    """Every step sampled from the base's own chances: any S or E beyond chance after the family's Holm (against
    the base or step to step) is a false alarm; over 200 runs their rate stays within alpha (+ its noise), and
    without the adjustment it does not."""
    rng = np.random.default_rng(0)
    tasks, n, reps, alarms, raw_alarms = 60, 16, 200, 0, 0
    full = np.full(tasks, n)

    def levels(first, second):
        return chance_levels(full, first, full, second, classify_tasks(full, first, full, second))

    for _ in range(reps):
        p = rng.beta(0.3, 0.7, tasks)
        base = previous = rng.binomial(n, p)
        steps = []
        for step in range(4):
            now = rng.binomial(n, p)
            steps.append(Member({**level_tests(levels(base, now)),
                                **level_tests(None if step == 0 else levels(previous, now), "_previous")}))
            previous = now
        family = adjust([("steps", steps)], 0.05)
        alarms += any(value <= 0.05 for s in steps for value in s.p_adjusted.values())
        raw_alarms += any(value <= 0.05 for s in steps for value in s.raw.values())
    assert family.tests == 14
    assert alarms / reps <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / reps)
    assert raw_alarms / reps > 2 * 0.05


@pytest.fixture
def run_store(tmp_path):
    """base, and checkpoints s-20 and s-10 of one run: s-10 keeps everything, s-20 loses t0 and t1."""
    counts = {"base": {f"t{i}": (4, 2 if i < 4 else 0) for i in range(6)},
              "s-10": {f"t{i}": (4, 1 if i < 4 else 0) for i in range(6)},
              "s-20": {f"t{i}": (4, 3 if 2 <= i < 5 else 0) for i in range(6)}}
    for seed, (label, tasks) in enumerate(counts.items()):
        tether.import_samples(write_jsonl(tmp_path / f"{label}.jsonl", graded_rows(tasks, seed=seed)), tmp_path / "run",
                              label=label)
    return tmp_path / "run"


def test_a_store_s_checkpoints_in_step_order(run_store):
    found = trajectory(run_store, [(20, "s-20"), (0, "base"), (10, "s-10")], options=OPTIONS)
    assert [s.step for s in found.steps] == [10, 20] and found.base_step == 0
    assert found.step(10).against_base.counts.as_dict() == {"P": 4, "S": 0, "E": 0, "O": 2}
    assert found.step(20).against_base.counts.as_dict() == {"P": 2, "S": 2, "E": 1, "O": 1}
    assert found.step(20).against_previous.counts.as_dict() == {"P": 2, "S": 2, "E": 1, "O": 1}
    payload = json.loads(json.dumps(found.to_dict(), allow_nan=False))
    assert payload["steps"][0]["against_previous"] is None
    assert payload["family"]["tests"] == 6 and payload["first_shrinkage"]["step"] is None
    assert found.rows()[1]["S_previous"] == 2 and "S_previous_p_holm" in found.rows()[1]
    assert set(payload["steps"][1]["against_base"]["chance_band"]) == {"srr", "ndr", "nscr"}
    assert [row["step"] for row in found.rows()] == [10, 20]


def test_bad_checkpoint_lists_are_refused(run_store):
    with pytest.raises(InputError, match="its own step and label"):
        trajectory(run_store, [(10, "s-10"), (10, "s-20")], options=OPTIONS)
    with pytest.raises(InputError, match="where the run starts"):
        trajectory(run_store, [(10, "s-10"), (30, "base")], options=OPTIONS)
    with pytest.raises(InputError, match="at least one checkpoint"):
        trajectory(run_store, [(0, "base")], options=OPTIONS)


def test_the_figure_shows_rates_with_chance_and_pass_at_k_by_step():
    base, steps = simulated_run(seed=3, start=30)
    figure = trajectory_figure(trajectory_of_counts(base, steps, OPTIONS), ks=[1, 32])
    assert figure.name == "trajectory" and figure.png.startswith(b"\x89PNG")
    for text in ("SRR", "NDR", "NSCR", "identical to the base", "pass@1", "pass@32", "shrinkage from step 30"):
        assert text in figure.svg


def test_the_figure_s_step_axes_tick_at_the_steps():
    """Steps 1 to 4 (and the base at 0 on pass@k's axis): whole steps at each checkpoint, never 2.5."""
    base, steps = simulated_run(seed=3, start=30, tasks=40, n=8)
    found = trajectory_of_counts(base, [(i + 1, c) for i, (_, c) in enumerate(steps[:4])], OPTIONS)
    svg = trajectory_figure(found, ks=[1, 8]).svg
    ticks = re.findall(r'text-anchor: middle" x="[^"]+" y="[^"]+" transform="rotate\(-0 [^"]+\)">([^<]*)<', svg)
    assert ticks == ["1", "2", "3", "4", "step", "0", "1", "2", "3", "4", "step"]


def test_each_benchmark_has_its_steps_and_its_first_significant_shrinkage_in_the_one_family():
    """The 30 tasks lost from step 30 on are benchmark "lost"'s; "kept" (170 tasks) never shrinks. Each scope's
    steps are counted on its tasks; all of them are one Holm family, and the figure has one panel per benchmark."""
    base, steps = simulated_run(seed=3, start=30)
    parts = scopes({f"m/{i}": "lost" if i < 30 else "kept" for i in range(200)}, {"lost": "Math"})
    found = trajectory_of_counts(base, steps, CompareOptions(bootstrap_reps=20, extrapolate=0), parts=parts)
    assert [(s.scope, s.name, len(s.steps[0].against_base.task_ids)) for s in found.scopes] == [
        ("benchmark", "kept", 170), ("benchmark", "lost", 30), ("domain", "Math", 30), ("domain", "Non-Math", 170)]
    lost, kept = found.scope("benchmark", "lost"), found.scope("benchmark", "kept")
    assert lost.first_shrinkage.step == 30 and kept.first_shrinkage.step is None
    assert lost.steps[2].against_base.counts.as_dict() == {"P": 0, "S": 30, "E": 0, "O": 0}  # every one lost
    assert kept.steps[2].against_base.counts.S > 0 and kept.steps[2].p_adjusted["S"] > 0.05  # chance's S only
    # each test once: domain Math is benchmark lost's tasks, Non-Math kept's: 3 distinct scopes with overall
    assert found.family.tests == 3 * (2 * 5 + 2 * 4) and found.family.describe().startswith(
        "Holm over 54 tests (S and E of every step against the base and the previous step, per benchmark, domain")
    math = found.scope("domain", "Math")
    assert [s.p_adjusted for s in math.steps] == [s.p_adjusted for s in lost.steps]
    assert math.first_shrinkage == lost.first_shrinkage and lost.first_shrinkage.p_adjusted < 1e-6
    assert [(r["scope"], r["name"]) for r in found.rows()][::5] == [("benchmark", "kept"), ("benchmark", "lost"),
                                                                   ("domain", "Math"), ("domain", "Non-Math"),
                                                                   ("overall", "overall")]
    figure = scopes_figure(found)
    assert figure.name == "trajectory-benchmarks" and figure.svg.count("shrinkage from step 30") == 1
    assert "lost (30 tasks)" in figure.svg and "kept (170 tasks)" in figure.svg
    with pytest.raises(InputError, match="no benchmark 'math500'"):
        found.scope("benchmark", "math500")
