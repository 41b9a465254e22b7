"""Chance levels under optional stopping: two identical models sampled by the adaptive rule.

The rule stops a (task, model) early only once it is solved, so the regions are the full run's; but the
counts a stopped task holds are a prefix of the full run's, and which prefix depends on the outcomes.
`compare` computes the chance of S and E at the label's k (an adaptive label's budget) from the
successes held. A task's region is the full run's, and its successes held are at most the full run's,
so its p-value is at least the full run's exact conditional one (the chance that all t successes fall
to one model at k each falls as t grows): the false-alarm rate stays at or below alpha. These tests
simulate the null (both models with the same success probability per task) and count false alarms, and
check that the same simulation finds a real difference (the RL model losing tasks) about as often as the
full protocol would.
"""

import numpy as np
import pytest

from tether.compare.result import CompareOptions
from tether.compare.run import compare_counts
from tether.metrics.adaptive import AdaptiveRule, settled
from tether.store.schema import TaskCounts

K, TASKS, REPLICATES, POWER_REPLICATES, ALPHA = 128, 100, 200, 40, 0.05
RULE = AdaptiveRule()
OPTIONS = CompareOptions(bootstrap_reps=1, extrapolate=0, k_grid=(1, K))


def adaptive_counts(outcomes: np.ndarray, rule: AdaptiveRule) -> tuple[np.ndarray, np.ndarray]:
    """(n, c) per task that the rule holds, given each task's full run of outcomes (tasks x k)."""
    k = outcomes.shape[1]
    correct = outcomes.cumsum(axis=1)
    n = np.full(len(outcomes), k)
    for end in rule.rounds(k)[:-1]:
        stop = (n == k) & settled(end, correct[:, end - 1], k, rule)
        n[stop] = end
    return n, correct[np.arange(len(outcomes)), n - 1]


def success_probabilities(rng) -> np.ndarray:
    """A benchmark's mix: never solved, solved about once in k or a few times (where chance makes S and E,
    and where the rule may stop one model after two successes while the other misses), and easy."""
    kind = rng.choice(4, size=TASKS, p=[0.2, 0.3, 0.3, 0.2])
    return np.select([kind == 0, kind == 1, kind == 2],
                     [0.0, rng.uniform(0.2 / K, 3 / K, TASKS), rng.uniform(0.01, 0.05, TASKS)],
                     rng.uniform(0.05, 0.9, TASKS))


def counts(label: str, n, c) -> TaskCounts:
    return TaskCounts.from_arrays(label, label, [f"t{i:03d}" for i in range(len(n))], n, c)


@pytest.fixture(scope="module")
def alarms():
    """The share of replicates with an alarm (S, E, S - E beside chance; any task called significant) from
    compare on two adaptive labels: identical models (the null); and, on the first replicates, an RL model
    that lost every task of success probability 0.05 to 0.3 (a real shrinkage), adaptive and in full."""
    rng = np.random.default_rng(7)
    found = {"null": [], "shrunk": [], "shrunk, full run": []}
    for replicate in range(REPLICATES):
        p = success_probabilities(rng)
        runs = [rng.random((TASKS, K)) < p[:, None] for _ in range(2)]
        found["null"].append(_alarms(*(adaptive_counts(run, RULE) for run in runs), budgets=(K, K)))
        if replicate < POWER_REPLICATES:
            runs[1][(p >= 0.05) & (p <= 0.3)] = False
            found["shrunk"].append(_alarms(*(adaptive_counts(run, RULE) for run in runs), budgets=(K, K)))
            found["shrunk, full run"].append(_alarms(*((np.full(TASKS, K), run.sum(axis=1)) for run in runs)))
    return {name: np.array(rows).mean(axis=0) for name, rows in found.items()}


def _alarms(base, rl, budgets=(None, None)) -> tuple[bool, ...]:
    result = compare_counts(counts("base", *base), counts("rl", *rl), OPTIONS, budgets)
    chance = result.chance
    return (chance.s.p_value <= ALPHA, chance.e.p_value <= ALPHA, chance.s_minus_e.p_value <= ALPHA,
            any(result.significant.values()))


def test_false_alarms_under_the_rule_stay_below_alpha(alarms):
    """At most alpha (plus two standard errors of the replicates) when both models are the same."""
    slack = 2 * np.sqrt(ALPHA * (1 - ALPHA) / REPLICATES)
    assert (alarms["null"] <= ALPHA + slack).all(), alarms


def test_the_same_simulation_finds_a_real_shrinkage(alarms):
    """S beside chance and S - E alarm where RL lost tasks about as often as on the full runs (E, which did
    not change, does not): the null's low rate is not a test that never fires. The per-task tests lose
    power, since a task the base solved early holds few successes (docs/adaptive.md); they still fire."""
    (s, e, net, tasks), (full_s, _, full_net, _) = alarms["shrunk"], alarms["shrunk, full run"]
    assert s >= full_s - 0.1 and net >= full_net - 0.1 and s >= 0.5 and e <= 0.1, alarms
    assert tasks >= 0.3, alarms
