"""The lab's GRPO with TRL's GRPOTrainer (trainer = "trl"): trains on the lab task and saves a checkpoint."""

import dataclasses

import pytest

from tether.errors import InputError
from tether.lab.grpo import GRPOConfig
from tether.lab.models import CONFIGS, SHIPPED, LabConfig


def test_the_trainer_choice_keeps_the_shipped_pairs_hash():
    assert CONFIGS["lab"].trainer == "tether" and CONFIGS["lab-trl"].trainer == "trl"
    assert CONFIGS["lab-trl"].digest() != CONFIGS["lab"].digest() == "d5a8d5aaaa83"
    assert dataclasses.replace(CONFIGS["lab-trl"], trainer="tether").digest() == CONFIGS["lab"].digest()
    with pytest.raises(InputError, match="use 'tether' or 'trl'"):
        LabConfig(trainer="ppo")


def test_trl_trains_the_lab_model(tmp_path):
    pytest.importorskip("trl", reason="TRL is in the trl extra")
    import torch
    from transformers import AutoModelForCausalLM

    from tether.lab.trl_grpo import train_trl_grpo

    steps = []
    result = train_trl_grpo(SHIPPED / "base", [23, 29, 37], GRPOConfig(steps=3, prompts_per_step=4, group_size=8),
                            tmp_path / "rl", on_step=lambda step, reward: steps.append(step))
    assert steps == [0, 1, 2] and len(result.mean_reward) == 3 and all(0 <= r <= 1 for r in result.mean_reward)
    trained = AutoModelForCausalLM.from_pretrained(tmp_path / "rl")
    base = AutoModelForCausalLM.from_pretrained(SHIPPED / "base")
    moved = [not torch.equal(a, b) for a, b in zip(trained.parameters(), base.parameters())]
    assert any(moved)  # the policy was updated
