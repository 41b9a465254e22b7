"""Cross-likelihood on the lab pair, where every probability is known exactly by enumeration.

The quick lab pair samples 20 prompts at top_p 0.9 (a real nucleus: some correct completions of
one model lie outside the other's), three times with three seeds, graded by the lab's verifier;
the estimates and every score are checked against exact enumeration at the same temperature and
top-p. The intervals (moved into [the chance of the correct completions seen, 1], and widened to the
target's own bound where the distinct correct completions are few) are checked over three runs."""

import math
import os

import numpy as np
import pytest

from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.likelihood import cross_likelihood
from tether.sampling import SamplingConfig, sample
from tether.tasks import load_tasks

from ..cli_run import tether as cli

SPEC, K, TOP_P, SEEDS = "lab-sums:2-21", 96, 0.9, (0, 1, 2)


@pytest.fixture(scope="module")
def lab_run(quick_demo, tmp_path_factory):
    from tether.experiment.demo import exact_prompts
    from tether.experiment.stages import resolve_model
    from tether.grading import GradeOptions, grade

    _, cache = quick_demo
    previous = os.environ.get("TETHER_CACHE")
    os.environ["TETHER_CACHE"] = str(cache)  # the quick pair trained there by the demo fixture
    try:
        models = {label: resolve_model(f"lab-quick:{label}") for label in ("base", "rl")}
    finally:
        os.environ.pop("TETHER_CACHE") if previous is None else os.environ.update(TETHER_CACHE=previous)
    tasks = load_tasks(SPEC)
    engines = {label: TransformersEngine(model, template="plain", batch_size=1024) for label, model in models.items()}
    store = tmp_path_factory.mktemp("likelihood") / "store"  # one store: seed i's pair is base{i}, rl{i}
    for seed in SEEDS:
        config = SamplingConfig(K, Decoding(1.0, TOP_P, 6), seed=seed, task_block=32, sample_block=K)
        for label, engine in engines.items():
            sample(tasks, engine, store, _label(label, seed), config)
    grade(store, GradeOptions(workers=1))
    runs = [(cross_likelihood(store, _label("base", seed), _label("rl", seed), regions=("E", "S", "P"),
                              engines=lambda label: engines[_model(label)]), store) for seed in SEEDS]
    exact = {p.task_id: p for p in exact_prompts(tasks, models["base"], models["rl"], max_tokens=6, threshold=1e-10,
                                                  top_p=TOP_P)}
    return runs, exact


def _label(model: str, seed: int) -> str:
    return model if seed == 0 else f"{model}{seed}"  # seed 0's pair keeps the default labels


def _model(label: str) -> str:
    return label.rstrip("0123456789")


def test_estimates_agree_with_the_exact_probability(lab_run):
    """Every estimate (E, S and P, whatever its status) and its interval lie in [0, 1], the interval never below
    the exact chance of the completions seen; the exact P(correct) of the target lies in the reported 95% interval
    (within 1e-5, the scores' agreement with enumeration: where every correct completion was seen, the lower limit
    is the exact chance) for at least 95% of them over the three runs, and no interval has zero width unless the
    samples pin the truth (the mass seen reaches the target's own bound). At top_p 0.9 these prompts have a
    handful of correct completions each, so every estimate is on too few distinct ones to be trusted."""
    runs, exact = lab_run
    checked = [t for found, _ in runs for t in found.tasks]
    assert len(checked) >= 45
    truth = [getattr(exact[t.task_id], _model(t.target)).p_correct for t in checked]
    tol = 1e-5  # the scores' agreement with enumeration: a lower limit that is the whole correct mass seen
    inside = [t.estimate.ci[0] * (1 - tol) <= p <= t.estimate.ci[1] * (1 + tol) for t, p in zip(checked, truth)]
    assert np.mean(inside) >= 0.95, [(t.task_id, t.region, t.estimate.ci, p)
                                     for t, p, ok in zip(checked, truth, inside) if not ok]
    for t in checked:
        e = t.estimate
        assert 0 <= e.ci[0] <= e.q_hat <= e.ci[1] <= 1 and e.seen_mass <= e.ci[0] + 1e-12
        assert e.ci[1] > e.ci[0] or e.seen_mass >= e.own_bound - 1e-9, (t.task_id, e)
        assert not (e.trusted and e.few_distinct)


def test_scores_are_the_exact_sampling_probabilities(lab_run):
    """Each scored correct completion's probability under either model equals its exact probability by
    enumeration at the same temperature and nucleus; one outside a model's nucleus is one that model's
    enumeration gives no mass to, and there are some (top_p 0.9)."""
    from tether.store import open_store
    from tether.store.query import stored_sequence_scores, task_samples

    (found, store), exact = lab_run[0][0], lab_run[1]
    opened = open_store(store)
    checked = outside = 0
    for scorer in ("base", "rl"):
        for source in ("base", "rl"):
            scores = stored_sequence_scores(opened, scorer, source)
            samples = task_samples(opened, source, sorted(exact))
            for task_id, rows in samples.items():
                completions = getattr(exact[task_id], scorer).completions
                for index, ok, text, _ in rows:
                    if (task_id, index) not in scores:
                        continue
                    logprob = scores[(task_id, index)][2]
                    if math.isinf(logprob):
                        outside += 1
                        assert completions.get(text, 0.0) == 0.0
                    elif text in completions:
                        assert math.exp(logprob) == pytest.approx(completions[text], rel=1e-5)
                        checked += 1
                    else:  # below the enumeration's threshold
                        assert math.exp(logprob) < 1e-10 * 1.01
    assert checked > 500 and outside > 0
    assert sum(len(t.outside) for t in found.tasks) > 0


def test_a_second_run_scores_nothing_again(lab_run):
    (found, store), _ = lab_run[0][0], lab_run[1]
    assert found.scored > 0
    again = cross_likelihood(store, regions=("E", "S", "P"))
    assert again.scored == 0
    assert [t.estimate.q_hat for t in again.tasks] == [t.estimate.q_hat for t in found.tasks]


def test_the_command_prints_the_estimates_and_one_json_object(lab_run):
    """Everything is in the store already: the command loads no model and answers at once."""
    import json

    (found, store), _ = lab_run[0][0], lab_run[1]
    out = cli("likelihood", str(store), "--regions", "E,S,P", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["summary"] == {r: c for r, c in found.summary().items()}
    assert [t["q_hat"] for t in data["tasks"]] == pytest.approx([t.estimate.q_hat for t in found.tasks])
    text = cli("likelihood", str(store), "--regions", "S")
    assert text.returncode == 0 and "samples to solve once" in text.stdout and "S: " in text.stdout


def test_the_report_shows_the_saved_likelihood(lab_run, tmp_path):
    """After `tether likelihood` (which saves its result beside compare.json), the report has the section,
    the figure and the forks or impossible tokens highlighted."""
    from tether.compare import CompareOptions
    from tether.likelihood import save_likelihood
    from tether.report import build_report

    (found, store), _ = lab_run[0][0], lab_run[1]
    save_likelihood(found, store)
    files = build_report(store, tmp_path / "report", options=CompareOptions(bootstrap_reps=100))
    page = files.html.read_text()
    assert "Each model's chance on the other's tasks" in page and "id='fig-likelihood'" in page
    assert "<mark>" in page and "sampler can never emit" in page
    assert (tmp_path / "report" / "figures" / "likelihood.png").exists()
    assert "Each model's chance on the other's tasks" in files.markdown.read_text()
