"""The lab's task family, base pretraining and GRPO, on a quick (seconds) configuration."""

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from tether.grading.sums import SumVerifier
from tether.lab.enumerate import enumerate_completions
from tether.lab.grpo import GRPOConfig, train_grpo
from tether.lab.pretrain import CorpusConfig, PretrainConfig, make_corpus, pretrain
from tether.tasks import sums

QUICK = PretrainConfig(corpus=CorpusConfig(examples=8000), steps=300, batch=128)


@pytest.mark.parametrize(
    "completion,n,expected",
    [("2+3", 5, True), ("3+2", 5, True), ("05+0", 5, False), ("2+2", 5, False), ("99+0", 99, True),
     ("100+0", 100, False), (" 1+4 ", 5, True), ("1+4+0", 5, False), ("", 5, False), ("a+b", 5, False)],
)
def test_sum_verifier(completion, n, expected):
    assert sums.is_correct(completion, n) is expected
    verifier = SumVerifier()
    answer = verifier.extract(completion, {"answer": n})
    assert (answer is not None and verifier.compare(answer, {"answer": n}).correct) is expected


def test_every_prompt_has_several_solution_modes():
    assert sums.solutions(5) == ["0+5", "1+4", "2+3", "3+2", "4+1", "5+0"]
    assert all(sums.is_correct(s, 150) for s in sums.solutions(150)) and len(sums.solutions(150)) == 49


def test_corpus_is_skewed_and_leaves_targets_out():
    corpus = make_corpus(CorpusConfig(examples=20_000))
    seen = {n for n, _ in corpus}
    assert not seen & {23, 29}
    wrong = sum(not sums.is_correct(c, n) for n, c in corpus) / len(corpus)
    assert 0.03 < wrong < 0.07
    for_5 = [c for n, c in corpus if n == 5 and sums.is_correct(c, 5)]
    counts = sorted((for_5.count(s) for s in set(for_5)), reverse=True)
    assert len(counts) <= 4 and counts[0] > 20 * counts[-1]  # common modes dwarf the rare ones
    assert make_corpus(CorpusConfig(examples=500)) == make_corpus(CorpusConfig(examples=500))


def p_correct(folder, n, threshold=1e-7):
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    found = enumerate_completions(model, tokenizer, sums.prompt(n), max_tokens=6, threshold=threshold)
    return sum(p for text, p in found.probabilities().items() if sums.is_correct(text, n))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return pretrain(QUICK, tmp_path_factory.mktemp("lab") / "base")


def test_pretraining_learns_the_corpus(base):
    assert p_correct(base, 7) > 0.6
    assert p_correct(base, 23) < p_correct(base, 7)


def test_grpo_increases_reward(base, tmp_path):
    targets = [4, 9, 14, 19]
    before = [p_correct(base, n) for n in targets]
    result = train_grpo(base, targets, GRPOConfig(steps=25, prompts_per_step=8, lr=2e-3, seed=1), tmp_path / "rl")
    after = [p_correct(result.checkpoint, n) for n in targets]
    assert sum(after) > sum(before) + 0.05, (before, after)
    assert len(result.mean_reward) == 25
    again = train_grpo(base, targets, GRPOConfig(steps=3, prompts_per_step=4, seed=1), tmp_path / "rl2")
    twice = train_grpo(base, targets, GRPOConfig(steps=3, prompts_per_step=4, seed=1), tmp_path / "rl3")
    assert again.mean_reward == twice.mean_reward  # seeded and deterministic on CPU
