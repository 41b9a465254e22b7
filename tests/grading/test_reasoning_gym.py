"""Every Reasoning Gym dataset's gold answer, inside realistic completions, is graded correct."""

import pytest
import reasoning_gym
from reasoning_gym.factory import DATASETS

from tether.grading.reasoning_gym import NO_GOLD, ReasoningGymVerifier
from tether.tasks import load_tasks

# 'composite' mixes other datasets and needs a config naming them; it has no default.
GRADED = sorted(set(DATASETS) - {"composite"} - set(NO_GOLD))


@pytest.fixture(scope="module")
def verifier():
    return ReasoningGymVerifier()


def reference(name: str, index: int = 0) -> dict:
    return load_tasks(f"reasoning-gym:{name}?size=2&seed=1")[index].reference


@pytest.mark.parametrize("name", GRADED)
def test_gold_answer_in_realistic_completions_is_correct(verifier, name):
    ref = reference(name)
    gold = ref["answer"]
    completions = [
        f"Let me work through this carefully.\nFirst, consider the constraints...\n<answer>{gold}</answer>",
        f"Reasoning step by step, checking each case.\nSo the final answer is \\boxed{{{gold}}}",
        f"<think>trying a few things</think>\n{gold}",
    ]
    for completion in completions:
        answer = verifier.extract(completion, ref)
        result = verifier.compare(answer, ref)
        assert result.correct and result.score == 1.0, (completion[-80:], answer, result)


def test_partial_credit_is_not_correct(verifier):
    ref = reference("gcd")
    padded = verifier.compare(f"{ref['answer']} because it divides both", ref)
    assert not padded.correct and padded.score < 1.0


def test_datasets_without_gold_are_known():
    for name in NO_GOLD:
        assert reasoning_gym.create_dataset(name, size=1, seed=1)[0].get("answer") is None, name
    ref = reference("propositional_logic")
    assert ref["answer"] is None


def test_wrong_answer_scores_below_one(verifier):
    ref = reference("basic_arithmetic")
    result = verifier.compare("definitely not a number", ref)
    assert not result.correct and result.score < 1.0


def test_strict_extraction_is_reasoning_gyms_own():
    """strict reads only <answer> tags, as Reasoning Gym's extract_answer does; fair also takes a box."""
    from reasoning_gym.utils import extract_answer

    strict, fair = ReasoningGymVerifier(extraction="strict"), ReasoningGymVerifier()
    ref = reference("gcd")
    gold = ref["answer"]
    for completion in (f"so \\boxed{{{gold}}}", f"<answer>{gold}</answer>", f"<answer>x</answer> <answer> {gold} </answer>",
                       f"<ANSWER>{gold}</ANSWER>", f"<think>hm</think>{gold}", f"<answer>1 <answer>{gold}</answer>"):
        assert strict.extract(completion, ref) == extract_answer(completion), completion
    assert strict.extract(f"so \\boxed{{{gold}}}", ref) is None and fair.extract(f"so \\boxed{{{gold}}}", ref) == gold
    assert strict.version() != fair.version()
    with pytest.raises(Exception, match="use one of fair, strict"):
        ReasoningGymVerifier(extraction="loose")
