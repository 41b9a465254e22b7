"""Exact enumeration against teacher-forced scores and against the engine's own samples."""

from collections import Counter

import numpy as np
import pytest
import torch

from tether.engines import Decoding, Request, derive_seed
from tether.engines.transformers_engine import TransformersEngine
from tether.lab.checkpoint import char_tokenizer, save_checkpoint, tiny_llama
from tether.lab.enumerate import enumerate_completions

MAX_TOKENS = 4


@pytest.fixture(scope="module")
def peaked_model(tmp_path_factory):
    """A tiny Llama fitted in a few seconds to 'a+b<eos>' strings with a skewed b: a few likely modes, a long tail."""
    tokenizer = char_tokenizer("0123456789+", chat_template=None)
    model = tiny_llama(len(tokenizer), hidden=32, layers=1, heads=2, seed=3)
    rng = np.random.default_rng(0)
    eos = tokenizer.eos_token_id
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        a, b = rng.integers(0, 10, 64), np.minimum(rng.geometric(0.45, 64) - 1, 9)
        ids = torch.tensor([tokenizer(f"{x}+{y}", add_special_tokens=False)["input_ids"] + [eos] for x, y in zip(a, b)])
        loss = model(input_ids=ids, labels=ids).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return save_checkpoint(model.eval(), tokenizer, tmp_path_factory.mktemp("peaked") / "model")


@pytest.fixture(scope="module")
def engine(peaked_model):
    return TransformersEngine(peaked_model, batch_size=64, template="plain")


def test_mass_is_accounted_for(engine):
    found = enumerate_completions(engine.model, engine.tokenizer, "7+", max_tokens=MAX_TOKENS, threshold=1e-12)
    assert found.mass + found.pruned_mass == pytest.approx(1.0, abs=1e-9)
    assert 0 < found.truncated_mass < found.mass  # completions cut at max_tokens are enumerated too
    assert all(len(ids) == MAX_TOKENS for ids, stop in zip(found.token_ids, found.stopped) if not stop)
    assert found.expanded > 1 and len(found.texts) > 5
    tighter = enumerate_completions(engine.model, engine.tokenizer, "7+", max_tokens=MAX_TOKENS, threshold=1e-4)
    assert tighter.pruned_mass >= found.pruned_mass and len(tighter.texts) <= len(found.texts)


def test_probabilities_equal_teacher_forced_scores(engine):
    found = enumerate_completions(engine.model, engine.tokenizer, "3+", max_tokens=MAX_TOKENS)
    top = np.argsort(-found.logprobs)[:10]
    eos = engine.tokenizer.eos_token
    for i in top:
        text = engine.tokenizer.decode(list(found.token_ids[i]))  # with its EOS, to score the stop too
        scores = engine.score(["3+"], [text.replace(eos, "") + eos])[0]
        assert scores.logprobs.sum() == pytest.approx(found.logprobs[i], abs=1e-4)


@pytest.mark.parametrize("decoding", [Decoding(1.0, 1.0, MAX_TOKENS), Decoding(0.7, 0.8, MAX_TOKENS)])
def test_sampled_frequencies_match_enumerated_probabilities(engine, decoding):
    found = enumerate_completions(engine.model, engine.tokenizer, "5+", max_tokens=MAX_TOKENS,
                                  temperature=decoding.temperature, top_p=decoding.top_p)
    n = 4000
    request = Request("r", "5+", tuple(derive_seed("enum", i) for i in range(n)), decoding)
    completions = next(engine.generate([request])).completions
    counts = Counter(c.text for c in completions)
    truncated = sum(c.finish_reason == "length" for c in completions)
    expected = found.probabilities()
    frequent = {text: p for text, p in expected.items() if p * n >= 20}
    assert frequent, "the peaked model should have frequent completions"
    chi2 = sum((counts.get(t, 0) - n * p) ** 2 / (n * p) for t, p in frequent.items())
    dof = len(frequent)
    assert chi2 < dof + 5 * np.sqrt(2 * dof), (chi2, dof)
    assert set(counts) <= set(expected)  # nothing sampled that the enumeration says is impossible
    assert truncated / n == pytest.approx(found.truncated_mass, abs=5 * np.sqrt(found.truncated_mass / n) + 0.005)
