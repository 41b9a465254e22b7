"""The conclusion sentence: each branch from constructed comparisons, decided by the statistics it quotes."""

import numpy as np
import pytest

from tether.compare import CompareOptions, Comparison, compare_counts
from tether.compare.conclusion import conclude
from tether.store import TaskCounts

FAST = CompareOptions(bootstrap_reps=20, extrapolate=0)


def counts(label: str, n, c) -> TaskCounts:
    c = np.asarray(c)
    n = np.broadcast_to(np.asarray(n), c.shape)
    return TaskCounts(label, label, np.array([f"t{i:03d}" for i in range(len(c))], dtype=object), np.array(n),
                      np.array(c))


def compared(base_c, rl_c, n=16, rl_n=None, **options) -> Comparison:
    return compare_counts(counts("base", n, base_c), counts("rl", rl_n or n, rl_c),
                          CompareOptions(bootstrap_reps=20, extrapolate=0, **options))


def same_model(tasks: int = 60, n: int = 16, seed: int = 3, rl_n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two samplings of one model: the same per-task success probabilities, drawn twice (n and `rl_n` times)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 2.0, tasks)
    return rng.binomial(n, p), rng.binomial(rl_n or n, p)


def test_two_samplings_of_one_model_read_not_beyond_chance():
    result = compared(*same_model())
    found = result.conclusion
    e, s = found.claim("E"), found.claim("S")
    assert result.counts.S + result.counts.E > 0  # chance alone put tasks in S and E
    assert not e.beyond_chance and not s.beyond_chance
    assert (e.observed, e.p_value, s.observed, s.p_value) == (result.counts.E, result.chance.e.p_value,
                                                              result.counts.S, result.chance.s.p_value)
    assert found.text.startswith(f"No expansion or shrinkage beyond chance: E {result.counts.E} and "
                                 f"S {result.counts.S} vs {result.chance.e.expected:.1f} each expected for identical "
                                 f"models (p ")
    assert "at k = 16 an E or S task needs ≥ 5 successes of the model that solves it to reach p ≤ 0.05" in found.text
    assert "expanded" not in found.text and "shrank" not in found.text


def test_a_clear_expansion_reads_as_one():
    base, rl = same_model()
    base[:10], rl[:10] = 0, 8  # ten tasks the base never solves and RL solves half the time
    result = compared(base, rl)
    e = result.conclusion.claim("E")
    assert e.beyond_chance and e.p_value < 0.001 and e.significant_tasks == result.significant["E"] >= 10
    assert result.conclusion.text.startswith(
        f"RL expanded support beyond chance: E {result.counts.E} vs {result.chance.e.expected:.1f} expected for "
        f"identical models (p < 0.001); {result.significant['E']} E tasks significant on their own at q ≤ 0.05.")
    assert " No shrinkage beyond chance: S " in result.conclusion.text  # the other direction, with its power
    assert "an S task needs ≥ 5 base successes" in result.conclusion.text


def test_a_clear_shrinkage_reads_as_one():
    base, rl = same_model()
    base[:10], rl[:10] = 8, 0
    found = compared(base, rl).conclusion
    assert found.claim("S").beyond_chance and not found.claim("E").beyond_chance
    assert "RL shrank support beyond chance: S " in found.text
    assert found.text.startswith("No expansion beyond chance: E ")


def test_a_count_above_its_expectation_is_not_beyond_chance_when_p_is_above_alpha():
    # 20 tasks both solve often, 2 tasks with a single success, RL's: each is E with chance 1/2 alone
    result = compared([8] * 20 + [0, 0], [8] * 20 + [1, 1])
    e = result.conclusion.claim("E")
    assert (e.observed, e.expected) == (2, pytest.approx(1.0)) and e.p_value == pytest.approx(0.25)
    assert not e.beyond_chance and e.p_adjusted == pytest.approx(0.5)  # Holm over E and S: 2 x 0.25
    assert result.conclusion.text.startswith("No expansion or shrinkage beyond chance: E 2 and S 0 vs 1.0 each "
                                             "expected for identical models (p 0.5 and 1; Holm over E and S, alone "
                                             "0.25 and 1); ")


def test_s_and_e_are_one_family_a_p_value_below_alpha_alone_is_not_enough():
    """E's excess at p between alpha/2 and alpha alone: Holm over E and S (S unremarkable) doubles it past alpha,
    so two identical models cannot claim "expansion or shrinkage" in more than alpha of runs."""
    result = compared([8] * 20 + [0] * 5, [8] * 20 + [1] * 5)  # each single success RL's: E 5, p 1/32 alone
    e = result.conclusion.claim("E")
    assert e.p_value == pytest.approx(1 / 32) and e.p_adjusted == pytest.approx(1 / 16) and not e.beyond_chance
    assert result.chance.family["E"] == e.p_adjusted and "(p 0.063 and 1; Holm over E and S, alone 0.031 and 1)" in \
        result.conclusion.text


def test_the_excess_without_a_significant_task_says_so():
    # 20 tasks each solved once, always by RL: far beyond chance as a count, no task significant on its own
    found = compared([0] * 20, [1] * 20).conclusion
    assert found.claim("E").beyond_chance and found.claim("E").significant_tasks == 0
    assert "no single E task is significant at q ≤ 0.05 (the excess is spread over tasks)" in found.text
    assert "Caution: base has no correct sample on any task" in found.text


def test_every_task_out_of_support_says_nothing():
    found = compared([0] * 5, [0] * 5).conclusion
    assert not found.evidence and found.claims == ()
    assert found.text.startswith("No conclusion: every one of the 5 tasks is out of support (O)")


def test_too_few_samples_for_any_single_task():
    base, rl = same_model(n=2)
    found = compared(base, rl, n=2).conclusion
    assert found.claim("E").fewest_successes is None
    assert "at k = 2 no single task can reach p ≤ 0.05 on its own" in found.text


def test_unequal_budgets_state_each_direction_with_its_own_power():
    result = compared(*same_model(n=16, rl_n=4), rl_n=4, match_budget=False)
    e, s = result.conclusion.claim("E"), result.conclusion.claim("S")
    assert (e.samples, s.samples) == (4, 16) and e.fewest_successes != s.fewest_successes
    assert result.conclusion.text.startswith("No expansion beyond chance: E ")
    assert f"at k = 4 an E task needs ≥ {e.fewest_successes} RL successes" in result.conclusion.text
    assert f"at k = 16 an S task needs ≥ {s.fewest_successes} base successes" in result.conclusion.text


def test_the_conclusion_is_in_the_json_form_and_survives_a_round_trip():
    base, rl = same_model()
    base[:10], rl[:10] = 0, 8
    result = compared(base, rl)
    payload = result.to_dict()
    assert payload["conclusion"] == conclude(result).as_dict()
    assert payload["conclusion"]["claims"][0]["region"] == "E" and payload["conclusion"]["claims"][0]["beyond_chance"]
    again = Comparison.from_dict(payload)
    assert again.conclusion == result.conclusion and again.to_dict() == payload
