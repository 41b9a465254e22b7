"""What a report shows, gathered from a store and its saved comparison: comparisons overall and per
benchmark, the S and E tasks with their tests and an example completion each, three tasks whose
pass@k curves show the three shapes, the stored diagnostics (as they hold for the current verdicts:
`tether.diagnostics.current_diagnostics`), and each label's reward-hacking signals
(shown when the store has code tasks or some verdict signals one). Nothing is compared again here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from tether.compare import Comparison
from tether.compare.store import StoreComparison
from tether.metrics import pass_at_k_where_sampled
from tether.store import Store, open_store, query
from tether.store.schema import Diagnostic, RewardHackCounts

EXAMPLE_CHARS = 2000


@dataclass(frozen=True)
class ShiftedTask:
    """A task in S (only the base solves it) or E (only RL does), with its evidence."""

    task_id: str
    benchmark: str
    region: str
    base: tuple[int, int]  # (correct, samples)
    rl: tuple[int, int]
    p_value: float
    q_value: float
    example: str | None  # a correct completion of the model that solved it
    answer: str | None = None  # the answer extracted from that completion
    extraction: str | None = None  # how it was found (box, final_answer, bold, full_text, ...)
    gold: str | None = None  # the task's reference answer


@dataclass(frozen=True)
class TaskCurve:
    """One task's pass@k curves, picked to show a shape: preservation, expansion or shrinkage."""

    shape: str
    task_id: str
    region: str
    k_grid: np.ndarray
    base: np.ndarray
    rl: np.ndarray


@dataclass
class ReportData:
    store: str
    labels: tuple[str, str]
    overall: Comparison
    benchmarks: dict[str, Comparison]
    benchmark_of: dict[str, str]
    shifted: list[ShiftedTask]
    curves: list[TaskCurve]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    likelihood: dict | None = None  # `tether likelihood`'s saved result (tether.likelihood.save_likelihood)
    reward_hacks: dict[str, RewardHackCounts] = field(default_factory=dict)  # "base"/"rl" -> its signals
    code_tasks: bool = False  # some task of either label is graded by the `code` verifier
    diagnostics_notes: list[str] = field(default_factory=list)  # recomputed or stale diagnostics, and why

    @property
    def shows_reward_hacks(self) -> bool:
        """The signals are shown for code tasks (where they can occur), or wherever one occurred."""
        return bool(self.reward_hacks) and (self.code_tasks or any(c.any for c in self.reward_hacks.values()))


def gather(store: str | Store, comparison: StoreComparison) -> ReportData:
    """Everything a report needs: the store's saved comparison of two labels, and what the store holds."""
    store = open_store(store)
    overall = comparison.overall
    labels = (overall.base.label, overall.rl.label)
    from tether.likelihood import load_likelihood

    saved = load_likelihood(store)
    if saved is not None and (saved.get("base_label"), saved.get("rl_label")) != labels:
        saved = None  # another pair of labels than this report's
    code = any("code" in query.task_verifiers(store, label) for label in labels)
    from tether.diagnostics import current_diagnostics

    diagnostics = current_diagnostics(store)  # avg@k and answer entropy of the current verdicts
    return ReportData(str(store.root), labels, overall, comparison.benchmarks, comparison.benchmark_of,
                      _shifted(store, overall, comparison.benchmark_of, *labels), task_curves(overall),
                      diagnostics.rows, saved, dict(overall.reward_hacks), code,
                      diagnostics_notes=diagnostics.notes)


def task_curves(result: Comparison) -> list[TaskCurve]:
    """Up to three tasks, one per shape, each the clearest example of it in the store."""
    grid = result.k_grid
    base = pass_at_k_where_sampled(result.base.n, result.base.c, grid)
    rl = pass_at_k_where_sampled(result.rl.n, result.rl.c, grid)
    complete = ~np.isnan(base).any(axis=1) & ~np.isnan(rl).any(axis=1)  # tasks sampled up to the grid's end
    gap = rl - base
    picks = {
        # RL higher at small k, both (near) equal at the largest k
        "preservation": np.where((result.regions == "P") & (np.abs(gap[:, -1]) < 0.05), gap[:, 0], -np.inf),
        # RL above the base at every k (an E task first; else RL at least as high everywhere)
        "expansion": np.where(result.regions == "E", 2 + gap[:, -1],
                              np.where((gap.min(axis=1) >= 0) & (gap[:, -1] > 0), gap[:, -1], -np.inf)),
        # the base overtakes RL at large k
        "shrinkage": np.where(gap[:, -1] < 0, -gap[:, -1] + np.maximum(gap[:, 0], 0), -np.inf),
    }
    curves = []
    for shape, score in picks.items():
        score = np.where(complete & ~np.isnan(score), score, -np.inf)
        best = int(np.argmax(score))
        if np.isfinite(score[best]):
            curves.append(TaskCurve(shape, str(result.task_ids[best]), str(result.regions[best]), grid,
                                    base[best], rl[best]))
    return curves


def _shifted(store: Store, result: Comparison, benchmark_of: dict[str, str], base_label: str,
             rl_label: str) -> list[ShiftedTask]:
    index = [i for i in np.argsort(result.q_values, kind="stable") if result.regions[i] in ("S", "E")]
    wanted = {str(result.task_ids[i]): (base_label if result.regions[i] == "S" else rl_label) for i in index}
    examples = {label: query.first_correct_completions(store, label, [t for t, who in wanted.items() if who == label])
                for label in (base_label, rl_label)}
    golds = _golds(store, base_label)
    found = []
    for i in index:
        task = str(result.task_ids[i])
        text, answer, route = examples[wanted[task]].get(task, (None, None, None))
        found.append(ShiftedTask(task, benchmark_of.get(task, "all"), str(result.regions[i]),
                                 (int(result.base.c[i]), int(result.base.n[i])), (int(result.rl.c[i]), int(result.rl.n[i])),
                                 float(result.p_values[i]), float(result.q_values[i]),
                                 text[:EXAMPLE_CHARS] if text else None, answer, route, golds.get(task)))
    return found


def _golds(store: Store, label: str) -> dict[str, str]:
    """task id -> its reference answer as text (empty when the store holds no tasks for `label`)."""
    golds = {}
    for task_id, _, _, reference, _ in query.stored_tasks(store, label):
        gold = json.loads(reference).get("answer")
        if gold is not None:
            golds[task_id] = gold if isinstance(gold, str) else json.dumps(gold)
    return golds
