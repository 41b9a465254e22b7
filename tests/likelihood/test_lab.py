"""Cross-likelihood on the lab pair, where every probability is known exactly by enumeration."""

import math

import numpy as np
import pytest

from tether.likelihood import cross_likelihood


@pytest.fixture(scope="module")
def lab_likelihood(quick_demo):
    result, _ = quick_demo
    store = result.folder / "store"
    return cross_likelihood(store, regions=("E", "S", "P")), result.analysis, store


def exact(analysis, task_id, label):
    prompt = next(p for p in analysis.prompts if p.task_id == task_id)
    return getattr(prompt, label)


def test_estimates_agree_with_the_exact_probability(lab_likelihood):
    """Where the weights are even enough (ESS >= the documented minimum), the exact P(correct) of the target
    model lies in the estimate's 95% CI for at least 90% of the lab's prompts."""
    found, analysis, _ = lab_likelihood
    checked = [t for t in found.tasks if t.estimate.trusted]
    assert len(checked) >= 8
    inside = [t.estimate.ci[0] <= exact(analysis, t.task_id, t.target).p_correct <= t.estimate.ci[1] for t in checked]
    assert np.mean(inside) >= 0.9, [(t.task_id, t.estimate.ci, exact(analysis, t.task_id, t.target).p_correct)
                                     for t, ok in zip(checked, inside) if not ok]


def test_scores_are_the_exact_sampling_probabilities(lab_likelihood):
    """Each scored correct completion's probability under the target model equals its exact probability by
    enumeration (same temperature and nucleus), and a completion outside the target's nucleus is one the
    enumeration gives no mass to."""
    from tether.store import open_store
    from tether.store.query import stored_sequence_scores, task_samples

    found, analysis, store = lab_likelihood
    opened = open_store(store)
    checked = outside = 0
    for task in found.tasks:
        scores = stored_sequence_scores(opened, task.target, task.proposal)
        texts = {i: text for i, ok, text, _ in task_samples(opened, task.proposal, [task.task_id])[task.task_id] if ok}
        completions = exact(analysis, task.task_id, task.target).completions
        for index, text in texts.items():
            logprob = scores[(task.task_id, index)][2]
            if math.isinf(logprob):
                outside += 1
                assert completions.get(text, 0.0) == 0.0
            else:
                assert math.exp(logprob) == pytest.approx(completions[text], rel=1e-6)
                checked += 1
    assert checked > 50
    assert outside == sum(len(t.outside) for t in found.tasks)


def test_a_second_run_scores_nothing_again(lab_likelihood):
    found, _, store = lab_likelihood
    assert found.scored > 0
    again = cross_likelihood(store, regions=("E", "S", "P"))
    assert again.scored == 0
    assert [t.estimate.q_hat for t in again.tasks] == [t.estimate.q_hat for t in found.tasks]
