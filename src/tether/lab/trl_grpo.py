"""GRPO for the lab's tiny models with TRL's `GRPOTrainer`: the trainer most people run.

`train_trl_grpo` trains the model in `base_dir` with the lab's settings (`tether.lab.grpo.GRPOConfig`:
prompts per step, group size, learning rate held constant, Adam without weight decay, KL
coefficient as TRL's ``beta``, clip as ``epsilon``, epochs as ``num_iterations``, temperature 1,
``max_tokens`` as ``max_completion_length``, group-normalised advantages, per-sequence token
means) and the same 0/1 reward (the `lab_sum` verifier), on CPU, and saves a standard
checkpoint; `trl_trainer` builds the same trainer untrained, to attach callbacks to (the lab proof of
`tether.experiment.training`). `LabConfig(trainer="trl")` selects it; `benchmarks/trainer.py` compares it with the
lab's own trainer. Needs ``pip install trl``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tether.errors import InputError
from tether.lab.grpo import GRPOConfig, GRPOResult
from tether.tasks import sums


def train_trl_grpo(base_dir: str | Path, targets: list[int], config: GRPOConfig, out_dir: str | Path,
                   on_step=None) -> GRPOResult:
    """RL-tune the model in `base_dir` on prompts N in `targets` with TRL; save the policy to `out_dir`."""
    from transformers import AutoTokenizer

    trainer, result = trl_trainer(base_dir, targets, config, out_dir, on_step)
    trainer.train()
    trainer.model.eval().save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out_dir)
    return result


def trl_trainer(base_dir: str | Path, targets: list[int], config: GRPOConfig, out_dir: str | Path, on_step=None,
                save_every: int | None = None):
    """(TRL's `GRPOTrainer` with the lab's settings, not yet trained; the `GRPOResult` its steps fill). With
    `save_every`, it saves a checkpoint every that many steps into ``out_dir/.trl/checkpoint-<step>``."""
    try:
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, TrainerCallback
        from trl import GRPOConfig as TRLConfig
        from trl import GRPOTrainer
    except ImportError:
        raise InputError("the lab's trainer 'trl' needs TRL: pip install trl") from None

    result = GRPOResult(Path(out_dir))

    def reward(completions, prompts, **_):
        return [float(sums.is_correct(c, int(p[:-1]))) for c, p in zip(completions, prompts)]

    class Steps(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "reward" in logs:
                result.mean_reward.append(float(logs["reward"]))
                if on_step:
                    on_step(state.global_step - 1, float(logs["reward"]))

    rng = np.random.default_rng(config.seed)
    prompts = [sums.prompt(int(n)) for n in rng.choice(targets, size=config.steps * config.prompts_per_step)]
    tokenizer = AutoTokenizer.from_pretrained(base_dir, padding_side="left")
    arguments = TRLConfig(
        output_dir=str(Path(out_dir) / ".trl"), max_steps=config.steps,
        per_device_train_batch_size=config.prompts_per_step * config.group_size, num_generations=config.group_size,
        learning_rate=config.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
        beta=config.kl_coef, epsilon=config.clip, num_iterations=config.epochs,
        max_completion_length=config.max_tokens, temperature=config.temperature, top_p=1.0, top_k=0,
        loss_type="grpo", scale_rewards="group", seed=config.seed, use_cpu=True, bf16=False, report_to="none",
        save_strategy="steps" if save_every else "no", save_steps=save_every or 500, save_only_model=True,
        logging_steps=1, disable_dropout=True, shuffle_dataset=False, disable_tqdm=True,
    )
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(base_dir), reward_funcs=reward, args=arguments,
                          train_dataset=Dataset.from_dict({"prompt": prompts}), processing_class=tokenizer,
                          callbacks=[Steps()])
    trainer.remove_callback(PrinterCallback)  # the lab reports its own progress
    return trainer, result
