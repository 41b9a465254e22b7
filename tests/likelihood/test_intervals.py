"""What `tether likelihood` says of an estimate resting on few distinct correct completions (no model needed)."""

import io
import json

import numpy as np
import pytest
from rich.console import Console

from tether.likelihood import LikelihoodResult, TaskLikelihood
from tether.metrics.bound import detectability_epsilon
from tether.metrics.importance import importance_estimate

from ..metrics.test_importance import collapsed


def result_with(*estimates) -> LikelihoodResult:
    tasks = [TaskLikelihood(f"sum/{i:03d}", region, "base", "rl", (0, 64), e)
             for i, (region, e) in enumerate(estimates)]
    return LikelihoodResult("base", "rl", 64, detectability_epsilon(64), detectability_epsilon(640), tasks)


def test_the_collapsed_e_task_is_shown_widened_and_counted_as_few_completions():
    """The lab's E task (64 copies of one RL completion, base 0 of 64): the JSON and the terminal give the
    widened interval, the count of distinct completions and the reason; the summary does not call it trusted. Its
    certain lower limit (the completion's own chance, 4.86e-3) is above the 10x threshold, so it is reachable."""
    correct, log_q, log_pi, own, pairs = collapsed()
    found = result_with(("E", importance_estimate(correct, log_q, log_pi, own=own, pairs=pairs)),
                        ("E", importance_estimate(*collapsed(q_star=1e-4)[:3], own=own, pairs=pairs)))
    assert [t.reachable for t in found.tasks] == ["few completions", "few completions"]
    assert found.summary()["E"] == {"reachable": 1, "below": 0, "out of reach": 0, "few completions": 1,
                                    "no estimate": 0}
    data = json.loads(json.dumps(found.to_dict(), allow_nan=False))
    task = data["tasks"][0]
    assert task["distinct_correct"] == 1 and task["min_distinct"] == 10 and not task["trusted"]
    assert task["ci"] == pytest.approx([4.86e-3, detectability_epsilon(64)])
    assert task["bootstrap_ci"][0] == pytest.approx(task["bootstrap_ci"][1])  # what the bootstrap alone said
    assert task["unseen_mass_below"] == pytest.approx(detectability_epsilon(64) - 4.86e-3)
    assert task["samples_needed_ci"] == pytest.approx([1 / detectability_epsilon(64), 1 / 4.86e-3])
    from tether.cli.render import render_likelihood

    out = io.StringIO()
    render_likelihood(found, Console(file=out, width=200))
    text = out.getvalue()
    assert "[4.86e-3, 4.57e-2]" in text and "≈ 206 [22, 206]" in text
    assert "* fewer than 10 distinct correct completions (sum/000: 1, sum/001: 1)" in text
    assert "1 on too few distinct correct completions" in text


def test_out_of_reach_still_has_the_unseen_bound():
    """Every correct completion seen lies outside the target's nucleus: the estimate is 0, but completions no
    sample showed may still be within reach; the interval reaches the target's own bound (0 of 64: ε(64))."""
    e = importance_estimate(np.array([False, True]), np.array([np.nan, -np.inf]), np.array([np.nan, -1.0]),
                            own=np.array([True, False]))
    task = result_with(("S", e)).tasks[0]
    assert task.reachable == "out of reach" and e.q_hat == 0 and e.ci == (0.0, pytest.approx(detectability_epsilon(1)))
