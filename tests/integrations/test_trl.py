"""`TetherCallback` on TRL's GRPOTrainer training the lab's base: labels, manifest, logged metrics, the exact
per-step values beside the sampled ones, and a failing engine that never stops training."""

import logging

import numpy as np
import pytest

from tether.experiment.training import TrainingStudyConfig, run_training_study
from tether.lab.grpo import GRPOConfig
from tether.lab.models import SHIPPED
from tether.store import open_store

pytest.importorskip("trl", reason="TRL is in the trl extra")
TASKS = "lab-sums:2-9,23,29"  # ten tasks: 23 and 29 are absent from the base's corpus


@pytest.fixture(scope="module")
def studied(tmp_path_factory):
    """A small lab proof: 4 TRL steps, a checkpoint every 2, k = 16; intervals at 99.9% (the check below is
    many intervals at once)."""
    import torch

    config = TrainingStudyConfig(steps=4, save_every=2, k=16, tasks=TASKS, lr=4e-3, prompts_per_step=4,
                                 confidence=0.999, bootstrap_reps=400)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest, and never stalls on a busy machine
    try:
        yield run_training_study(tmp_path_factory.mktemp("training"), config)
    finally:
        torch.set_num_threads(threads)


def test_every_checkpoint_is_a_labelled_step_of_the_run(studied):
    store = open_store(studied.folder / "store")
    assert store.labels("verdicts") == ["base", "grpo-2", "grpo-4"]
    manifest = store.manifest()
    assert [manifest.checkpoint(label) for label in ("base", "grpo-2", "grpo-4")] == [
        ("grpo", 0), ("grpo", 2), ("grpo", 4)]
    run = studied.study.trajectories[0]
    assert (run.run, run.base, run.base_step, [s.step for s in run.steps]) == ("grpo", "base", 0, [2, 4])
    assert (studied.folder / "study" / "trajectory.csv").is_file()
    # through Trainer.log: the base's pass@k at step 0, then every step against the base
    assert [entry["step"] for entry in studied.logged] == [0, 2, 4]
    assert set(studied.logged[0]) >= {"tether/pass@1", "tether/pass@16"} and "tether/S" not in studied.logged[0]
    for entry, step in zip(studied.logged[1:], run.steps):
        counts = step.against_base.counts.as_dict()
        assert {r: entry[f"tether/{r}"] for r in "PESO"} == counts and sum(counts.values()) == 10
        assert entry["tether/srr"] == pytest.approx(step.against_base.rates["srr"].value)
        assert entry["tether/pass@16"] == pytest.approx(step.against_base.pass_at_k["rl"][-1])
        assert {"tether/nscr", "tether/S_chance", "tether/E_p"} <= set(entry)


def test_sampled_regions_agree_with_the_exact_ones(studied):
    """Each step's sampled P/S/E/O lie in their exact interval and the exact pass@k in the sampled interval;
    the sampled per-task success rates follow the checkpoint's exact P(correct), not the base's."""
    assert all(row[f"{r}_inside"] for row in studied.rows for r in "PSEO"), studied.rows
    assert all(row["pass_at_k_inside"] for row in studied.rows), studied.rows
    exact = {e.step: e.p_correct for e in studied.exact}
    store = open_store(studied.folder / "store")
    from tether.store.query import task_counts

    for step in (2, 4):
        counts = task_counts(store, f"grpo-{step}")
        sampled = counts.c / counts.n
        own, base = np.abs(sampled - exact[step]).mean(), np.abs(sampled - exact[0]).mean()
        assert own < base, (step, own, base)


def test_a_failing_engine_is_logged_and_training_goes_on(tmp_path, monkeypatch, caplog):
    import torch

    from tether.engines.transformers_engine import TransformersEngine
    from tether.integrations.trl import TetherCallback
    from tether.lab.trl_grpo import trl_trainer

    def broken(self, requests):
        torch.rand(3)  # the engine draws from torch's generator before it fails
        raise RuntimeError("the engine is down")

    monkeypatch.setattr(TransformersEngine, "generate", broken)
    trainer, result = trl_trainer(SHIPPED / "base", [5, 6], GRPOConfig(steps=2, prompts_per_step=2, group_size=4),
                                  tmp_path / "rl")
    callback = TetherCallback(trainer, tmp_path / "store", TASKS, 4, every=1, run="r", template="plain")
    trainer.add_callback(callback)
    with caplog.at_level(logging.WARNING, logger="tether.integrations.trl"):
        trainer.train()
    assert trainer.state.global_step == 2 and len(result.mean_reward) == 2  # trained to the end
    assert "the engine is down" in caplog.text and not callback.base_ready
    assert [(e.step, e.ok) for e in callback.evaluations] == [(1, False), (2, False)]
    assert "RuntimeError: the engine is down" in callback.evaluations[0].error
    assert not any(key.startswith("tether/") for entry in trainer.state.log_history for key in entry)
    assert open_store(tmp_path / "store").labels("samples") == []  # a failure writes nothing
    trainer.model.train()
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    assert callback.evaluate(3).error.endswith("the engine is down")
    assert trainer.model.training and torch.equal(torch.rand(2), expected)  # mode and generator as they were
    caplog.clear()
    late = TetherCallback(trainer, tmp_path / "store", TASKS, 4, run="r")  # every=None, on a trainer that never saves
    with caplog.at_level(logging.WARNING, logger="tether.integrations.trl"):
        late.on_train_begin(trainer.args, trainer.state, trainer.control)
    assert "neither saves nor evaluates" in caplog.text and "resumes at step 2" in caplog.text
    assert not late.base_ready and late.evaluations == []


def test_a_live_engine_samples_what_the_loaded_one_samples():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tether.engines.base import Decoding, Request
    from tether.engines.transformers_engine import TransformersEngine

    loaded = TransformersEngine(str(SHIPPED / "base"), template="plain", threads=1)
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED / "base")  # right-padded: the engine pads its own copy left
    tokenizer.padding_side = "right"
    live = TransformersEngine.live(AutoModelForCausalLM.from_pretrained(SHIPPED / "base").eval(), tokenizer,
                                   model_id="policy", template="plain")
    requests = [Request(f"r{n}", f"{n}:", (1, 2, 3), Decoding(1.0, 1.0, 6)) for n in (7, 23, 120)]
    texts = [[c.text for c in r.completions] for r in loaded.generate(requests)]
    assert [[c.text for c in r.completions] for r in live.generate(requests)] == texts
    assert tokenizer.padding_side == "right" and live.describe()["model"] == "policy"
