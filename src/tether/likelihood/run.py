"""`cross_likelihood`: how far outside the other model's reach a task is, from the samples already drawn.

For an E task (the RL model solved it, the base never did in its k samples) the base's own
success probability is estimated from the RL model's samples by importance sampling
(`tether.metrics.importance`): each correct RL completion is scored token by token under both
models' sampling distributions (temperature and top-p from the store's manifest, on each
model's own rendered prompt). For an S task the roles swap (the RL model's chance, from the
base's samples); for a few P tasks, picked by seed, the base's chance is estimated too, where
its own empirical rate is known: a check of the estimator on real data.

Scores are stored in the store's ``likelihood`` table (one row per completion and scoring model,
with the per-token log-probabilities), so a re-run scores only what is new, and every
(model, completion) is scored once. Each model is loaded once, one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from tether.engines import Decoding, SequenceScorer
from tether.errors import InputError
from tether.likelihood.forks import Fork, first_outside, fork_tokens
from tether.metrics.bound import detectability_epsilon
from tether.metrics.importance import MIN_ESS, ImportanceEstimate, importance_estimate
from tether.progress import ProgressFactory, silent
from tether.store import Shard, Store, new_shard_name, open_store
from tether.store.query import stored_prompts, stored_sequence_scores, task_samples
from tether.store.schema import SequenceScore, to_table

EngineFactory = Callable[[str], SequenceScorer]
BUDGET_FACTOR = 10  # "rare but reachable": q̂ above the ε of a budget this many times the run's k


@dataclass(frozen=True)
class TaskLikelihood:
    """One task's estimate: the `target` label's chance of solving it, from `proposal`'s samples."""

    task_id: str
    region: str  # E, S or P
    target: str
    proposal: str
    observed: tuple[int, int]  # the target's own (correct, samples) in the store
    estimate: ImportanceEstimate
    bound: str  # "unbiased" or "lower bound" (the proposal's nucleus may exclude some of the target's solutions)
    outside: list[tuple[int, Fork]] = field(default_factory=list)  # (sample_idx, first token the target can't emit)
    forks: list[Fork] = field(default_factory=list)  # along the proposal's highest-weight correct completion
    fork_sample: int | None = None
    mismatched: int = 0  # correct completions whose re-tokenised text the proposal's own sampler could not emit

    @property
    def reachable(self) -> str:
        """"no estimate" (weights too uneven), "out of reach" (no correct completion the target can emit) or
        the estimate, compared with a threshold by `LikelihoodResult`."""
        if self.estimate.n_correct and self.estimate.zero_weight == self.estimate.n_correct:
            return "out of reach"
        return "estimated" if self.estimate.trusted else "no estimate"


@dataclass
class LikelihoodResult:
    base_label: str
    rl_label: str
    k: int  # the run's budget (median samples per task)
    epsilon: float  # the detection bound at k
    threshold: float  # q̂ above it: rare but reachable
    tasks: list[TaskLikelihood]
    notes: list[str] = field(default_factory=list)
    scored: int = 0  # completions scored in this call (the rest came from the store)

    def summary(self) -> dict[str, dict[str, int]]:
        """Per region: how many tasks are rare but reachable, below the threshold, out of reach, or without a
        trustworthy estimate."""
        found: dict[str, dict[str, int]] = {}
        for task in self.tasks:
            counts = found.setdefault(task.region, {"reachable": 0, "below": 0, "out of reach": 0, "no estimate": 0})
            state = task.reachable
            if state == "estimated":
                state = "reachable" if task.estimate.q_hat >= self.threshold else "below"
            counts[state] += 1
        return found

    def to_dict(self) -> dict:
        def task_dict(t: TaskLikelihood) -> dict:
            e = t.estimate
            needed, (low, high) = e.samples_needed()
            return {"task_id": t.task_id, "region": t.region, "target": t.target, "proposal": t.proposal,
                    "observed": {"correct": t.observed[0], "samples": t.observed[1]},
                    "q_hat": e.q_hat, "log10_q_hat": _finite(e.log10_q_hat), "se": e.se, "ci": list(e.ci),
                    "ess": e.ess, "trusted": e.trusted, "n": e.n, "n_correct": e.n_correct,
                    "zero_weight": e.zero_weight, "bound": t.bound, "reachable": t.reachable,
                    "samples_needed": _finite(needed), "samples_needed_ci": [_finite(low), _finite(high)],
                    "outside": [{"sample_idx": i, **asdict(f)} for i, f in t.outside],
                    "forks": [asdict(f) for f in t.forks], "fork_sample": t.fork_sample,
                    "mismatched": t.mismatched}

        return {"base_label": self.base_label, "rl_label": self.rl_label, "k": self.k, "epsilon": self.epsilon,
                "threshold": self.threshold, "min_ess": MIN_ESS, "summary": self.summary(),
                "tasks": [task_dict(t) for t in self.tasks], "notes": self.notes}


def cross_likelihood(store: str | Store, base_label: str = "base", rl_label: str = "rl", *,
                     regions: Sequence[str] = ("E", "S"), p_tasks: int = 5, max_completions: int | None = None,
                     engines: EngineFactory | None = None, decodings: dict[str, Decoding] | None = None,
                     threshold: float | None = None, delta: float = 0.05, seed: int = 0,
                     progress: ProgressFactory = silent) -> LikelihoodResult:
    """Estimate, for the tasks of `regions` (and `p_tasks` P tasks), the other model's success probability
    from each model's correct samples; scores are stored and reused. `engines(label)` gives the engine
    that scores with `label`'s model (default: the one it was sampled with); `decodings` overrides the
    sampling settings read from the manifest (needed for imported labels)."""
    store = open_store(store) if not isinstance(store, Store) else store
    regions = tuple(regions)
    unknown = set(regions) - {"E", "S", "P"}
    if unknown:
        raise InputError(f"regions are E, S and P; unknown: {', '.join(sorted(unknown))}")
    counts = _region_counts(store, base_label, rl_label)
    chosen = _chosen_tasks(counts, regions, p_tasks, seed)
    k = int(np.median(counts["n"])) if len(counts["n"]) else 0
    epsilon = detectability_epsilon(max(k, 1), delta)
    result = LikelihoodResult(base_label, rl_label, k, epsilon,
                              threshold if threshold is not None else detectability_epsilon(BUDGET_FACTOR * max(k, 1),
                                                                                            delta), [])
    decodings = {**{label: _decoding(store, label) for label in (base_label, rl_label) if label not in (decodings or {})},
                 **(decodings or {})}
    plans = _plans(store, chosen, base_label, rl_label, max_completions)
    scores = _scores(store, plans, decodings, engines or (lambda label: _default_engine(store, label)), progress,
                     result)
    for plan in plans:
        result.tasks.append(_task_result(plan, scores, decodings, counts))
    result.notes += _notes(decodings, base_label, rl_label)
    return result


@dataclass
class _Plan:
    task_id: str
    region: str
    target: str
    proposal: str
    samples: list[tuple[int, bool, str | None, str | None]]  # the proposal's (index, correct, text, finish)

    def correct(self) -> list[tuple[int, str, str | None]]:
        return [(i, text, finish) for i, ok, text, finish in self.samples if ok and text is not None]


def _region_counts(store: Store, base_label: str, rl_label: str) -> dict:
    from tether.compare.counts import budget_matched, label_warnings
    from tether.compare.run import align
    from tether.metrics.support import classify_tasks
    from tether.store.query import task_counts

    label_warnings(store, base_label, rl_label)
    base, rl, _ = budget_matched(lambda limits: task_counts(store, base_label, limits),
                                 lambda limits: task_counts(store, rl_label, limits), True)
    base, rl, _ = align(base, rl, allow_missing=True)
    regions = classify_tasks(base.n, base.c, rl.n, rl.c)
    return {"task_ids": base.task_ids.astype(str), "regions": regions, "n": base.n, "base": base, "rl": rl}


def _chosen_tasks(counts: dict, regions: tuple[str, ...], p_tasks: int, seed: int) -> list[tuple[str, str]]:
    chosen = [(t, r) for t, r in zip(counts["task_ids"], counts["regions"]) if r in regions and r != "P"]
    p_ids = [t for t, r in zip(counts["task_ids"], counts["regions"]) if r == "P"]
    if "P" in regions:
        chosen += [(t, "P") for t in p_ids]
    elif p_tasks and p_ids:
        picked = np.random.default_rng(seed).choice(len(p_ids), size=min(p_tasks, len(p_ids)), replace=False)
        chosen += [(p_ids[i], "P") for i in sorted(picked)]
    return chosen


def _plans(store: Store, chosen, base_label: str, rl_label: str, max_completions: int | None) -> list[_Plan]:
    by_proposal: dict[str, list[tuple[str, str]]] = {}
    for task_id, region in chosen:
        proposal = base_label if region == "S" else rl_label
        by_proposal.setdefault(proposal, []).append((task_id, region))
    plans = []
    for proposal, tasks in by_proposal.items():
        samples = task_samples(store, proposal, [t for t, _ in tasks])
        target = rl_label if proposal == base_label else base_label
        for task_id, region in tasks:
            rows = samples.get(task_id, [])
            if max_completions is not None:  # the first samples, up to the last before the (N+1)-th correct one:
                correct = [j for j, row in enumerate(rows) if row[1]]  # an estimate on fewer samples, still unbiased
                if len(correct) > max_completions:
                    rows = rows[: correct[max_completions]]
            plans.append(_Plan(task_id, region, target, proposal, rows))
    return plans


def _decoding(store: Store, label: str) -> Decoding:
    settings = store.manifest().get("runs", {}).get(label, {}).get("settings")
    if settings is None:
        raise InputError(f"{store.root}: no sampling settings recorded for {label!r} (imported samples?); pass its "
                         "temperature and top-p (decodings=, or --decoding LABEL=TEMPERATURE,TOP_P)")
    d = settings["decoding"]
    return Decoding(d["temperature"], d["top_p"], d["max_tokens"], tuple(d.get("stop", ())))


def _default_engine(store: Store, label: str) -> SequenceScorer:
    from tether.diagnostics.run import sampling_engine

    return sampling_engine(store, label)


def _scores(store: Store, plans: list[_Plan], decodings: dict[str, Decoding], engines: EngineFactory,
            progress: ProgressFactory, result: LikelihoodResult) -> dict[tuple[str, str, str, int], tuple]:
    """(scorer, source, task, index) -> stored row, scoring what the store does not hold yet, one model at a time."""
    found: dict[tuple[str, str, str, int], tuple] = {}
    for scorer in sorted({p.target for p in plans} | {p.proposal for p in plans}):
        decoding = decodings[scorer]
        for source in sorted({p.proposal for p in plans}):
            stored = stored_sequence_scores(store, scorer, source)
            for (task, index), row in stored.items():
                if (row[0], row[1]) == (decoding.temperature, decoding.top_p):
                    found[(scorer, source, task, index)] = row
        missing = [(p, i, text, finish) for p in plans for i, text, finish in p.correct()
                   if (scorer, p.proposal, p.task_id, i) not in found]
        if not missing:
            continue
        engine = engines(scorer)
        if not isinstance(engine, SequenceScorer):
            raise InputError(f"the {getattr(engine, 'name', '?')} engine cannot score completions under a sampling "
                             "distribution (it has no sequence_scores); use --engine transformers")
        try:
            _score_missing(store, engine, scorer, missing, decoding, progress, found, result)
        finally:
            close = getattr(engine, "close", None)
            if close:
                close()
    return found


def _score_missing(store, engine, scorer, missing, decoding, progress, found, result, chunk: int = 64) -> None:
    prompts = _scorer_prompts(store, scorer, {p.proposal for p, *_ in missing})
    _check_rendering(store, engine, scorer, {p.task_id: prompts[p.task_id] for p, *_ in missing})
    with progress(f"scoring with {scorer}'s model") as bar:
        bar.start(len(missing))
        for start in range(0, len(missing), chunk):
            part = missing[start : start + chunk]
            scored = engine.sequence_scores([prompts[p.task_id] for p, *_ in part],
                                            [text for _, _, text, _ in part], decoding,
                                            [finish == "stop" and not decoding.stop for *_, finish in part])
            rows = []
            for (plan, index, _, _), s in zip(part, scored):
                outside = np.flatnonzero(np.isneginf(s.logprobs))
                rows.append(SequenceScore(scorer, plan.proposal, plan.task_id, index, decoding.temperature,
                                          decoding.top_p, s.total, len(s.logprobs),
                                          int(outside[0]) if outside.size else None,
                                          [float(x) for x in s.logprobs], list(s.tokens)))
                found[(scorer, plan.proposal, plan.task_id, index)] = (
                    decoding.temperature, decoding.top_p, s.total, rows[-1].outside, rows[-1].token_logprobs,
                    rows[-1].tokens)
            store.write([Shard("likelihood", scorer, to_table(rows, SequenceScore), new_shard_name("likelihood"))])
            result.scored += len(rows)
            bar.advance(len(part))


def _scorer_prompts(store: Store, scorer: str, proposals: set[str]) -> dict:
    """Each task's prompt as `scorer`'s model was given it (the proposal's where the scorer has none)."""
    prompts: dict = {}
    for label in sorted(proposals - {scorer}) + [scorer]:
        if store.shard_paths("tasks", label):
            prompts.update(stored_prompts(store, label))
    return prompts


def _check_rendering(store: Store, engine, scorer: str, prompts: dict) -> None:
    """The scoring engine must render each task as `scorer`'s model was given it when sampling."""
    from tether.store.query import rendered_prompts

    stored = rendered_prompts(store, scorer)
    for task_id in sorted(set(prompts) & set(stored))[:50]:
        if engine.render(prompts[task_id]) != stored[task_id]:
            raise InputError(f"{store.root}: the scoring engine renders task {task_id!r} differently from "
                             f"{scorer!r}'s sampling run (another template or tokenizer?); score with the engine "
                             "and template it was sampled with")


def _task_result(plan: _Plan, scores: dict, decodings: dict[str, Decoding], counts: dict) -> TaskLikelihood:
    indices = [i for i, *_ in plan.samples]
    correct = np.array([ok and text is not None for _, ok, text, _ in plan.samples], dtype=bool)
    log_q = np.full(len(indices), np.nan)
    log_pi = np.full(len(indices), np.nan)
    outside, best, best_weight = [], None, -np.inf
    for j, index in enumerate(indices):
        if not correct[j]:
            continue
        target = scores[(plan.target, plan.proposal, plan.task_id, index)]
        proposal = scores[(plan.proposal, plan.proposal, plan.task_id, index)]
        log_q[j], log_pi[j] = target[2], proposal[2]
        if target[3] is not None:
            fork = first_outside(np.asarray(target[4]), target[5])
            outside.append((index, fork))
        if np.isfinite(log_pi[j]) and log_q[j] - log_pi[j] > best_weight:
            best, best_weight = (index, target, proposal), log_q[j] - log_pi[j]
    mismatched = correct & ~np.isfinite(np.nan_to_num(log_pi, nan=0.0))
    correct_for_estimate = correct & ~mismatched  # scored on another tokenisation than sampled: left out, counted
    estimate = importance_estimate(correct_for_estimate, log_q, log_pi)
    forks = fork_tokens(np.asarray(best[1][4]), np.asarray(best[2][4]), best[1][5]) if best else []
    row = list(counts["task_ids"]).index(plan.task_id)
    own = counts["base"] if plan.target == counts["base"].label else counts["rl"]
    bound = "lower bound" if decodings[plan.proposal].top_p < 1 or decodings[plan.proposal].temperature == 0 \
        else "unbiased"
    return TaskLikelihood(plan.task_id, plan.region, plan.target, plan.proposal, (int(own.c[row]), int(own.n[row])),
                          estimate, bound, outside, forks, best[0] if best else None, int(mismatched.sum()))


def _notes(decodings: dict[str, Decoding], base_label: str, rl_label: str) -> list[str]:
    notes = []
    for label in (base_label, rl_label):
        d = decodings[label]
        if d.top_p < 1:
            other = rl_label if label == base_label else base_label
            notes.append(f"{label} sampled with top_p {d.top_p:g}: where {label}'s samples estimate {other}'s chance, "
                         f"completions outside {label}'s nucleus are never drawn, so the estimate is a lower bound")
        if d.stop:
            notes.append(f"{label} stopped at stop strings: the stop string's own tokens are not scored")
    return notes


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
