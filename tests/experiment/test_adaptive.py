"""Adaptive sampling on the lab pair: the full run's regions for a fraction of the samples."""

import duckdb
import numpy as np
import pytest

from tether.engines import Decoding
from tether.engines.transformers_engine import TransformersEngine
from tether.experiment.adaptive import sample_adaptive
from tether.grading import GradeOptions, grade
from tether.metrics.adaptive import AdaptiveRule, settled
from tether.sampling import SamplingConfig, sample
from tether.tasks import load_tasks

K = 256


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The shipped lab base model sampled adaptively and in full, same seeds, on 12 prompts."""
    from tether.experiment.stages import resolve_model

    tasks = load_tasks("lab-sums:2-9,29,37,41,42")  # the last four: rarely or never solved by the base
    config = SamplingConfig(K, Decoding(1.0, 1.0, 8), seed=0, task_block=8, sample_block=64)
    root = tmp_path_factory.mktemp("adaptive")
    found = {}
    for label in ("rl", "base"):
        engine = TransformersEngine(resolve_model(f"lab:{label}"), template="plain", batch_size=1024)
        found[label] = sample_adaptive(tasks, engine, root / "adaptive", label, config, AdaptiveRule(),
                                       GradeOptions(workers=1))
        sample(tasks, engine, root / "full", label, config)
    grade(root / "full", GradeOptions(workers=1))
    return found["base"], root, tasks


def rows(store, label="base"):
    return duckdb.sql(f"SELECT s.task_id, s.sample_idx, s.completion, v.correct FROM read_parquet('{store}/samples/"
                      f"{label}/*.parquet') s JOIN read_parquet('{store}/verdicts/{label}/*.parquet') v "
                      "USING (task_id, sample_idx) ORDER BY ALL").fetchall()


def test_adaptive_samples_are_the_full_runs_prefix_and_give_its_regions(runs):
    adaptive, root, tasks = runs
    full = rows(root / "full")
    drawn = rows(root / "adaptive")
    n = adaptive.samples
    assert drawn == [r for r in full if r[1] < n[r[0]]]  # each task's first n_t samples, sample for sample
    for task in tasks:
        solved_full = any(r[3] for r in full if r[0] == task.task_id)
        solved_adaptive = any(r[3] for r in drawn if r[0] == task.task_id)
        assert solved_full == solved_adaptive  # so P/S/E/O are the full protocol's, task by task
        if not solved_adaptive:
            assert n[task.task_id] == K  # an unsolved task goes on to k
    assert sum(n.values()) <= 0.5 * K * len(tasks) and adaptive.stopped_early >= len(tasks) // 2
    assert adaptive.rounds[0] == (16, len(tasks)) and adaptive.rounds[-1][0] == K  # some tasks went on to k


def test_compare_gives_the_full_runs_regions_task_by_task(runs):
    """Budget matching would cut a task one model solved late to the other's early stop; on adaptive labels
    compare takes each task's own samples, and says so."""
    import tether

    _, root, _ = runs
    adaptive, full = tether.compare(store=root / "adaptive"), tether.compare(store=root / "full")
    assert dict(zip(adaptive.task_ids, adaptive.regions)) == dict(zip(full.task_ids, full.regions))
    assert any("base and rl sampled adaptively" in w for w in adaptive.warnings)
    spent = adaptive.provenance["base"]  # tokens spent and the saving against a full run, in every comparison
    held = sum(runs[0].samples.values())
    assert spent["samples"] == held and spent["full_run_samples"] == K * 12 and spent["tokens"] > 0
    assert full.provenance["base"]["samples"] == K * 12 and "full_run_samples" not in full.provenance["base"]
    from tether.compare.provenance import describe

    assert f"(adaptive: {held / (K * 12):.0%} of a full run's {K * 12:,} samples)" in describe(spent)


def test_each_task_stopped_at_its_first_settling_round(runs):
    """The stopping rule against a direct computation on the stored verdicts."""
    adaptive, root, tasks = runs
    by_task = {}
    for task_id, index, _, correct in rows(root / "adaptive"):
        by_task.setdefault(task_id, []).append(correct)
    for task in tasks:
        flags = np.array(by_task[task.task_id])
        expected = next((end for end in AdaptiveRule().rounds(K)
                         if end == K or settled(end, flags[:end].sum(), K)), K)
        assert adaptive.samples[task.task_id] == expected, task.task_id


def test_resuming_with_another_rule_is_refused(runs, tmp_path):
    from tether.errors import StoreError

    adaptive, root, tasks = runs
    engine = TransformersEngine(__import__("tether.experiment.stages", fromlist=["x"]).resolve_model("lab:base"),
                                template="plain", batch_size=1024)
    config = SamplingConfig(K, Decoding(1.0, 1.0, 8), seed=0, task_block=8, sample_block=64)
    again = sample_adaptive(tasks, engine, root / "adaptive", "base", config, AdaptiveRule(), GradeOptions(workers=1))
    assert again.samples_written == 0 and again.samples == adaptive.samples  # complete: nothing to do
    with pytest.raises(StoreError, match="adaptive.tol: 0.001 -> 0.01"):
        sample_adaptive(tasks, engine, root / "adaptive", "base", config, AdaptiveRule(tol=1e-2),
                        GradeOptions(workers=1))


def test_budget_matching_is_off_for_adaptive_labels(tmp_path):
    """The failure it prevents: the base settled task t after 16 samples, the RL model solved it only at sample
    200 of 256. Budget-matched to 16 samples, t would be S; it is P, as in the full protocol."""
    import tether

    from ..conftest import recorded_run, write_jsonl

    base = [{"task_id": t, "sample_idx": j, "correct": j in (3, 9)} for t in ("t", "u") for j in range(16)]
    rl = [{"task_id": t, "sample_idx": j, "correct": t == "t" and j == 200} for t in ("t", "u") for j in range(256)]
    tether.import_samples(write_jsonl(tmp_path / "b.jsonl", base), tmp_path / "run", label="base")
    tether.import_samples(write_jsonl(tmp_path / "r.jsonl", rl), tmp_path / "run", label="rl")
    assert list(tether.compare(store=tmp_path / "run").regions) == ["S", "S"]  # imported: budgets matched
    store = tether.open_store(tmp_path / "run")
    rule = {"first": 16, "growth": 2, "tol": 0.001, "confidence": 0.95}
    store.update_manifest("runs", {label: recorded_run(256, adaptive=rule) for label in ("base", "rl")})
    result = tether.compare(store=tmp_path / "run")
    assert list(result.regions) == ["P", "S"] and any("sampled adaptively" in w for w in result.warnings)
    # u: the base stopped after 2 successes in 16, the RL model went on to k = 256 without one. Under identical
    # models both had k samples to solve it: the chance that both successes fall to the base is
    # C(256, 2) / C(512, 2), not C(16, 2) / C(272, 2) as if the base had had only 16 samples; the test is
    # two-sided (all to the RL model is as likely at equal budgets), so twice that
    assert result.p_values[1] == pytest.approx(2 * 256 * 255 / (512 * 511))


def test_an_experiment_file_samples_adaptively(tmp_path, tiny_model):
    from tether.experiment import run_experiment

    from .test_run import write_experiment

    path = write_experiment(tmp_path, tiny_model, k=16)
    path.write_text(path.read_text().replace("sample_block = 4", "sample_block = 4\nadaptive = true\nadaptive_first = 8")
                    + "[diagnostics]\nenabled = false\n[report]\nenabled = false\n")
    _, store, log = run_experiment(path)
    notes = {stage: detail for stage, _, detail in log.entries}
    assert "adaptive:" in notes["sample base"] and "tasks stopped before k" in notes["sample rl"]
    settings = tether_settings(store)
    assert settings["base"].adaptive == {"confidence": 0.95, "first": 8, "growth": 2, "tol": 0.001}


def tether_settings(store):
    import tether

    return {label: run.settings for label, run in tether.open_store(store).manifest().runs.items()}


def test_kill_9_in_an_adaptive_run_then_resume_gives_the_uninterrupted_store(tmp_path, holds):
    """`tether sample --adaptive` killed with SIGKILL while its second round's unit is staged; resumed (here,
    in process), it grades what the first round wrote, recomputes the same decisions and ends with the same
    samples and verdicts as a run never interrupted, each sample once."""
    import os
    import signal
    import subprocess
    import sys

    from tether.experiment.stages import resolve_model

    spec, k = "lab-sums:2-5,41", 64  # blocks of 2 tasks: round 16 is three units; 41 goes on alone
    config = SamplingConfig(k, Decoding(1.0, 1.0, 8), seed=0, task_block=2, sample_block=64)
    engine = TransformersEngine(resolve_model("lab:base"), template="plain")
    whole = sample_adaptive(load_tasks(spec), engine, tmp_path / "whole", "base", config, AdaptiveRule(),
                            GradeOptions(workers=1))
    command = [sys.executable, "-m", "tether", "sample", str(tmp_path / "cut"), "--model", "lab:base", "--tasks", spec, "--k", str(k),
               "--template", "plain", "--max-tokens", "8", "--temperature", "1", "--top-p", "1", "--task-block", "2",
               "--sample-block", "64", "--adaptive", "--label", "base"]
    hold = holds("commit:samples", 3)  # round 16's three units written (and graded), round 32's staged
    process = hold.start(command, stdout=subprocess.DEVNULL)
    hold.reached(process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = sample_adaptive(load_tasks(spec), engine, tmp_path / "cut", "base", config, AdaptiveRule(),
                              GradeOptions(workers=1))
    assert resumed.samples == whole.samples and rows(tmp_path / "cut") == rows(tmp_path / "whole")
    assert len(rows(tmp_path / "cut")) == len({(r[0], r[1]) for r in rows(tmp_path / "cut")}) == sum(whole.samples.values())


def test_pass_at_k_reaches_the_full_budget_on_adaptive_labels(runs):
    """Curves go on to k: a stopped task's pass@k beyond its samples is the plug-in estimate; at k it is within
    the rule's tolerance of the full run's (every stopped task was solved and settled)."""
    import tether

    _, root, _ = runs
    adaptive, full = tether.compare(store=root / "adaptive"), tether.compare(store=root / "full")
    assert adaptive.k_grid[-1] == full.k_grid[-1] == K
    for side in ("base", "rl"):
        assert adaptive.pass_at_k[side][-1] == pytest.approx(full.pass_at_k[side][-1], abs=1e-3)


def test_a_run_whose_tasks_all_settle_early_keeps_its_full_budget(tmp_path):
    """No round reaches k when every task settles in the first: the label's budget is still k, so compare takes
    the chance of S and E at k (not at the first round's end)."""
    import tether
    from tether.compare.counts import adaptive_budgets
    from tether.experiment.stages import resolve_model

    config = SamplingConfig(4096, Decoding(1.0, 1.0, 8), seed=0, task_block=8, sample_block=64)
    engine = TransformersEngine(resolve_model("lab:base"), template="plain")
    done = sample_adaptive(load_tasks("lab-sums:2-4"), engine, tmp_path / "run", "base", config, AdaptiveRule(),
                           GradeOptions(workers=1))
    assert done.rounds == [(16, 3)] and set(done.samples.values()) == {16}  # easy: all settled after 16
    assert tether.open_store(tmp_path / "run").manifest().runs["base"].k == 4096
    assert adaptive_budgets([(tmp_path / "run", "base")]) == ((4096,), ["base"])


def test_the_regions_rule_stops_each_task_at_its_first_success_and_resumes(tmp_path):
    """`regions_rule()` on the lab base: each task's samples are the full run's first n_t, n_t the end of the round
    (8, 16, ...) holding its first success (k for a task never solved), so the regions are the full run's. The
    manifest records the rule; a run cut after its first round resumes to the same samples; the pass@k rule is
    refused on that label."""
    from dataclasses import replace

    from tether.errors import StoreError
    from tether.experiment.adaptive import adaptive_config
    from tether.experiment.stages import resolve_model
    from tether.metrics.adaptive import regions_rule

    tasks, k, rule = load_tasks("lab-sums:2-5,41"), 32, regions_rule()
    config = SamplingConfig(k, Decoding(1.0, 1.0, 8), seed=0, task_block=8, sample_block=64)
    engine = TransformersEngine(resolve_model("lab:base"), template="plain", batch_size=1024)
    whole = sample_adaptive(tasks, engine, tmp_path / "whole", "base", config, rule, GradeOptions(workers=1))
    sample(tasks, engine, tmp_path / "full", "base", config)
    grade(tmp_path / "full", GradeOptions(workers=1))
    full, drawn = rows(tmp_path / "full"), rows(tmp_path / "whole")
    assert drawn == [r for r in full if r[1] < whole.samples[r[0]]]
    for task in tasks:
        flags = [r[3] for r in full if r[0] == task.task_id]
        first = flags.index(True) + 1 if any(flags) else None
        expected = k if first is None else next(end for end in rule.rounds(k) if end >= first)
        assert whole.samples[task.task_id] == expected, task.task_id
    assert whole.rounds[0] == (8, len(tasks)) and min(whole.samples.values()) == 8
    import tether

    assert tether.open_store(tmp_path / "whole").manifest().runs["base"].settings.adaptive == rule.as_dict()
    sample(tasks, engine, tmp_path / "cut", "base", replace(adaptive_config(config, rule), k=8))  # killed after round 1
    resumed = sample_adaptive(tasks, engine, tmp_path / "cut", "base", config, rule, GradeOptions(workers=1))
    assert resumed.samples == whole.samples and rows(tmp_path / "cut") == drawn
    assert all(end > 8 for end, _ in resumed.rounds)  # the first round was not sampled again
    with pytest.raises(StoreError, match="adaptive"):
        sample_adaptive(tasks, engine, tmp_path / "cut", "base", config, AdaptiveRule(), GradeOptions(workers=1))


def test_the_flag_and_the_experiment_key_choose_the_rule():
    """`--adaptive` is the pass@k rule; `--adaptive-rule regions` (or `adaptive_rule = "regions"` under
    [sampling]) the regions rule, with or without `--adaptive`; anything else is one line naming the flag."""
    from tether.errors import InputError
    from tether.experiment.schema import SamplingSection, from_flags

    assert from_flags(SamplingSection, k=64).rule() is None
    assert from_flags(SamplingSection, k=64, adaptive=True).rule() == AdaptiveRule()
    for flags in ({"adaptive_rule": "regions"}, {"adaptive": True, "adaptive_rule": "regions"}):
        rule = from_flags(SamplingSection, k=64, **flags).rule()
        assert rule.regions and rule.first == 8
    chosen = SamplingSection.model_validate({"k": 64, "adaptive_rule": "regions", "adaptive_first": 16}).rule()
    assert chosen.first == 16 and chosen.regions
    assert from_flags(SamplingSection, k=64, adaptive_rule="passk").rule() == AdaptiveRule()
    with pytest.raises(InputError, match="--adaptive-rule: Input should be 'passk' or 'regions'"):
        from_flags(SamplingSection, k=64, adaptive_rule="region")
