"""`cross_likelihood`: how far outside the other model's reach a task is, from the samples already drawn.

For an E task (the RL model solved it, the base never did in its k samples) the base's own
success probability is estimated by importance sampling from both models' samples
(`tether.metrics.importance`): each correct completion is scored token by token under both
models' sampling distributions (temperature and top-p from the store's manifest, on each
model's own rendered prompt). For an S task the roles swap (the RL model's chance); for a few
P tasks, picked by seed, the base's chance is estimated too, where its own rate is known.

Scores are stored in the store's ``likelihood`` table (one row per completion and scoring model,
with the per-token log-probabilities), so a re-run scores only what is new, and every
(model, completion) is scored once. Each model is loaded once, one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tether.engines import Decoding, SequenceScorer
from tether.errors import InputError
from tether.likelihood.forks import Fork, first_outside, fork_tokens
from tether.metrics.bound import detectability_epsilon
from tether.metrics.importance import MIN_DISTINCT, MIN_ESS, ImportanceEstimate, importance_estimate
from tether.progress import ProgressFactory, silent
from tether.store import Shard, Store, new_shard_name, open_store
from tether.store.images import lend_images
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
    estimate: ImportanceEstimate  # from both models' samples (tether.metrics.importance)
    outside: list[tuple[int, Fork]] = field(default_factory=list)  # the other's (sample_idx, first token the
    forks: list[Fork] = field(default_factory=list)  # target can't emit); along the other's highest-weight
    #                                                  correct completion: where the target would rarely go
    fork_sample: int | None = None
    mismatched: int = 0  # correct completions whose re-tokenised text the proposal's own sampler could not emit

    @property
    def reachable(self) -> str:
        """"no estimate" (weights too uneven), "out of reach" (no correct completion the target can emit), "few
        completions" (fewer distinct correct completions than `MIN_DISTINCT`: shown with its widened interval,
        not trusted) or "estimated", compared with a threshold by `LikelihoodResult`."""
        if self.estimate.n_correct and self.estimate.zero_weight == self.estimate.n_correct:
            return "out of reach"
        if self.estimate.ess < MIN_ESS:
            return "no estimate"
        return "few completions" if self.estimate.few_distinct else "estimated"


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
        """Per region: how many tasks are rare but reachable (by a trusted estimate, or by the chance of the
        completions seen alone), below the threshold, out of reach, resting on too few distinct correct completions
        to say, or without a trustworthy estimate."""
        found: dict[str, dict[str, int]] = {}
        for task in self.tasks:
            counts = found.setdefault(task.region, {"reachable": 0, "below": 0, "out of reach": 0,
                                                    "few completions": 0, "no estimate": 0})
            state = task.reachable
            if state == "estimated":
                state = "reachable" if task.estimate.q_hat >= self.threshold else "below"
            elif state == "few completions" and task.estimate.seen_mass >= self.threshold:
                state = "reachable"  # the completions seen alone have that chance: certain, however few
            counts[state] += 1
        return found

    def to_dict(self) -> dict:
        def task_dict(t: TaskLikelihood) -> dict:
            e = t.estimate
            needed, (low, high) = e.samples_needed()
            return {"task_id": t.task_id, "region": t.region, "target": t.target, "proposal": t.proposal,
                    "observed": {"correct": t.observed[0], "samples": t.observed[1]},
                    "q_hat": e.q_hat, "log10_q_hat": _finite(e.log10_q_hat), "se": _finite(e.se),
                    "ci": [_finite(v) for v in e.ci], "q_hat_unbiased": _finite(float(np.exp(e.log_raw))),
                    "bootstrap_ci": [_finite(v) for v in e.bootstrap_ci], "seen_mass": e.seen_mass,
                    "own_bound": e.own_bound, "distinct_correct": e.distinct, "min_distinct": MIN_DISTINCT,
                    "ess": e.ess, "trusted": e.trusted, "n": e.n, "n_correct": e.n_correct,
                    "zero_weight": e.zero_weight, "reachable": t.reachable,
                    "samples_needed": _finite(needed), "samples_needed_ci": [_finite(low), _finite(high)],
                    "outside": [{"sample_idx": i, **_fork(f)} for i, f in t.outside],
                    "forks": [_fork(f) for f in t.forks], "fork_sample": t.fork_sample,
                    "mismatched": t.mismatched, "unseen_mass_below": e.unseen_bound}

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
    store = open_store(store)
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
    scores = _scores(store, plans, decodings, engines, progress, result)
    for plan in plans:
        result.tasks.append(_task_result(plan, scores, counts))
    result.notes += _notes(decodings, base_label, rl_label)
    return result


@dataclass
class _Plan:
    task_id: str
    region: str
    target: str
    proposal: str  # the other model
    samples: dict[str, list[tuple[int, bool, str | None, str | None]]]  # label -> (index, correct, text, finish)

    def correct(self, source: str) -> list[tuple[int, str, str | None]]:
        return [(i, text, finish) for i, ok, text, finish in self.samples[source] if ok and text is not None]


def _region_counts(store: Store, base_label: str, rl_label: str) -> dict:
    from tether.compare.counts import label_warnings
    from tether.compare.pairing import paired_counts
    from tether.metrics.support import classify_tasks
    from tether.store.query import task_counts

    label_warnings(store, base_label, rl_label)
    base, rl, _ = paired_counts(lambda limits: task_counts(store, base_label, limits),
                                lambda limits: task_counts(store, rl_label, limits), allow_missing=True,
                                match_budget=True)
    regions = classify_tasks(base.n, base.c, rl.n, rl.c)
    task_ids = base.task_ids.astype(str)
    return {"task_ids": task_ids, "regions": regions, "n": base.n, "base": base, "rl": rl,
            "row": {task: i for i, task in enumerate(task_ids)}}


def _chosen_tasks(counts: dict, regions: tuple[str, ...], p_tasks: int, seed: int) -> list[tuple[str, str]]:
    chosen = [(t, r) for t, r in zip(counts["task_ids"], counts["regions"]) if r in regions and r != "P"]
    p_ids = [t for t, r in zip(counts["task_ids"], counts["regions"]) if r == "P"]
    if "P" in regions:
        chosen += [(t, "P") for t in p_ids]
    elif p_tasks and p_ids:
        picked = np.random.default_rng(seed).choice(len(p_ids), size=min(p_tasks, len(p_ids)), replace=False)
        chosen += [(p_ids[i], "P") for i in sorted(picked)]
    return chosen


SAVED = "likelihood.json"  # in the store's compare/ folder, beside compare.json


def save_likelihood(result: LikelihoodResult, store: str | Store) -> Path | None:
    """Write the result as JSON into the store's compare/ folder, where the report finds it (local stores)."""
    import json

    from tether.compare.store import saved_path

    path = saved_path(open_store(store), SAVED)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=1, allow_nan=False, default=str) + "\n")
    return path


def load_likelihood(store: str | Store) -> dict | None:
    """The saved result as JSON, or None when the store has none."""
    from tether.compare.store import read_saved

    return read_saved(open_store(store), SAVED)


def _plans(store: Store, chosen, base_label: str, rl_label: str, max_completions: int | None) -> list[_Plan]:
    ids = [task_id for task_id, _ in chosen]
    samples = {label: task_samples(store, label, ids) for label in (base_label, rl_label)}
    plans = []
    for task_id, region in chosen:
        target, other = (rl_label, base_label) if region == "S" else (base_label, rl_label)
        plans.append(_Plan(task_id, region, target, other,
                           {label: _first(samples[label].get(task_id, []), max_completions) for label in samples}))
    return plans


def _first(rows: list, max_completions: int | None) -> list:
    """The first samples, up to the last before the (N+1)-th correct one: an estimate on fewer samples, as
    unbiased as on all."""
    if max_completions is None:
        return rows
    correct = [j for j, row in enumerate(rows) if row[1]]
    return rows[: correct[max_completions]] if len(correct) > max_completions else rows


def _decoding(store: Store, label: str) -> Decoding:
    run = store.manifest().runs.get(label)
    if run is None:
        raise InputError(f"{store.root}: no sampling settings recorded for {label!r} (imported samples?); pass its "
                         "temperature and top-p (decodings=, or --decoding LABEL=TEMPERATURE,TOP_P)")
    d = run.settings.decoding
    return Decoding(d.temperature, d.top_p, d.max_tokens, tuple(d.stop))


def _default_engine(store: Store, label: str) -> SequenceScorer:
    from tether.diagnostics.run import sampling_engine

    return sampling_engine(store, label)


def _scores(store: Store, plans: list[_Plan], decodings: dict[str, Decoding], engines: EngineFactory | None,
            progress: ProgressFactory, result: LikelihoodResult) -> dict[tuple[str, str, str, int], tuple]:
    """(scorer, source, task, index) -> stored row, scoring what the store does not hold yet, one model at a time
    (engines made here are closed after use; the caller's are left open)."""
    found: dict[tuple[str, str, str, int], tuple] = {}
    labels = sorted({p.target for p in plans} | {p.proposal for p in plans})
    for scorer in labels:
        decoding = decodings[scorer]
        for source in labels:
            stored = stored_sequence_scores(store, scorer, source)
            for (task, index), row in stored.items():
                if (row[0], row[1]) == (decoding.temperature, decoding.top_p):
                    found[(scorer, source, task, index)] = row
        missing = [(p, source, i, text, finish) for p in plans for source in labels
                   for i, text, finish in p.correct(source) if (scorer, source, p.task_id, i) not in found]
        if not missing:
            continue
        engine = engines(scorer) if engines else _default_engine(store, scorer)
        if not isinstance(engine, SequenceScorer):
            raise InputError(f"the {getattr(engine, 'name', '?')} engine cannot score completions under a sampling "
                             "distribution (it has no sequence_scores); use --engine transformers")
        try:
            _score_missing(store, engine, scorer, missing, decoding, progress, found, result)
        finally:
            if engines is None:
                engine.close()
    return found


def _score_missing(store, engine, scorer, missing, decoding, progress, found, result, chunk: int = 64) -> None:
    prompts = _scorer_prompts(store, scorer, {source for _, source, *_ in missing})
    lend_images(engine, store)  # prompts with images name them; the engine reads them from the store
    _check_rendering(store, engine, scorer, {p.task_id: prompts[p.task_id] for p, *_ in missing})
    with progress(f"scoring with {scorer}'s model") as bar:
        bar.start(len(missing))
        for start in range(0, len(missing), chunk):
            part = missing[start : start + chunk]
            scored = engine.sequence_scores([prompts[p.task_id] for p, *_ in part],
                                            [text for *_, text, _ in part], decoding,
                                            [finish == "stop" and not decoding.stop for *_, finish in part])
            rows = []
            for (plan, source, index, _, _), s in zip(part, scored):
                outside = np.flatnonzero(np.isneginf(s.logprobs))
                rows.append(SequenceScore(scorer, source, plan.task_id, index, decoding.temperature,
                                          decoding.top_p, s.total, len(s.logprobs),
                                          int(outside[0]) if outside.size else None,
                                          [float(x) for x in s.logprobs], list(s.tokens)))
                found[(scorer, source, plan.task_id, index)] = (
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


def _task_result(plan: _Plan, scores: dict, counts: dict) -> TaskLikelihood:
    """The mixture estimate of the target's P(correct) from both models' samples of the task."""
    correct, log_q, log_pi, own, where, pairs, texts = [], [], [], [], [], [], []
    for source in (plan.target, plan.proposal):
        for index, ok, text, _ in plan.samples[source]:
            scored = ok and text is not None
            texts.append(text if scored else None)
            target = scores.get((plan.target, source, plan.task_id, index)) if scored else None
            other = scores.get((plan.proposal, source, plan.task_id, index)) if scored else None
            correct.append(scored)
            log_q.append(target[2] if target else np.nan)
            log_pi.append(other[2] if other else np.nan)
            own.append(source == plan.target)
            pairs.append(index)  # sample j of both models was drawn from the same seed
            where.append((source, index, target, other))
    correct, log_q, log_pi, own = (np.array(a) for a in (correct, log_q, log_pi, own))
    sampled_by = np.where(own, log_q, log_pi)
    mismatched = correct & ~np.isfinite(np.nan_to_num(sampled_by, nan=0.0))  # re-tokenised text its own
    row = counts["row"][plan.task_id]
    mine = counts["base"] if plan.target == counts["base"].label else counts["rl"]
    observed = (int(mine.c[row]), int(mine.n[row]))  # all the target's own samples bound its chance
    estimate = importance_estimate(correct & ~mismatched, log_q, log_pi, own=own,  # sampler could not emit
                                   pairs=np.array(pairs), completions=np.array(texts, dtype=object),
                                   own_counts=observed)
    outside, best, best_weight = [], None, -np.inf
    for j, (source, index, target, other) in enumerate(where):
        if not correct[j] or own[j]:
            continue
        if target[3] is not None:
            outside.append((index, first_outside(np.asarray(target[4]), target[5])))
        if not mismatched[j] and log_q[j] - log_pi[j] > best_weight:
            best, best_weight = (index, target, other), log_q[j] - log_pi[j]
    forks = fork_tokens(np.asarray(best[1][4]), np.asarray(best[2][4]), best[1][5]) if best else []
    return TaskLikelihood(plan.task_id, plan.region, plan.target, plan.proposal, observed, estimate, outside, forks,
                          best[0] if best else None, int(mismatched.sum()))


def _notes(decodings: dict[str, Decoding], base_label: str, rl_label: str) -> list[str]:
    notes = [("estimates combine both models' samples (balance-heuristic importance sampling), moved into [the "
              "chance of the correct completions seen, 1]; correct completions neither model sampled are seen by no "
              f"estimate: with fewer than {MIN_DISTINCT} distinct correct completions the interval reaches the "
              "target's own 95% bound on its chance (epsilon where it never solved the task) and is not trusted")]
    for label in (base_label, rl_label):
        if decodings[label].stop:
            notes.append(f"{label} stopped at stop strings: the stop string's own tokens are not scored")
    return notes


def _fork(fork: Fork) -> dict:
    return {**asdict(fork), "drop": _finite(fork.drop)}


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
