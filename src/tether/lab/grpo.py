"""A GRPO trainer in torch for the lab's tiny models (RLVR with a verifier's 0/1 reward).

Each step draws `prompts_per_step` training prompts, samples a group of
`group_size` completions per prompt from the current policy, rewards them with
a tether verifier, and takes `epochs` gradient steps on

    - min(ratio * A, clip(ratio, 1 - clip, 1 + clip) * A) + kl_coef * KL_k3(policy || reference)

averaged over each completion's tokens, then over completions; A is the
group-relative advantage (reward - group mean) / (group std + 1e-6) and ratio the
importance ratio against the policy that sampled. The reference is the frozen
base model. `kl_coef` is GRPO's beta; the KL-regularised optimum it aims at is
the exponential tilt with ``tilt = 1 / kl_coef`` (`tether.lab.tilt`), though the
k3 estimator and the per-group std normalisation move GRPO's fixed point away
from it (LAB-NOTES). Seeded and deterministic on CPU; saves a standard checkpoint.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tether.tasks import sums


@dataclass(frozen=True)
class GRPOConfig:
    steps: int = 300
    prompts_per_step: int = 16
    group_size: int = 8
    lr: float = 3e-4
    kl_coef: float = 0.04
    clip: float = 0.2
    epochs: int = 1
    max_tokens: int = 6
    temperature: float = 1.0
    seed: int = 0


@dataclass
class GRPOResult:
    checkpoint: Path
    mean_reward: list[float] = field(default_factory=list)


def train_grpo(base_dir: str | Path, targets: list[int], config: GRPOConfig, out_dir: str | Path,
               on_step=None) -> GRPOResult:
    """RL-tune the model in `base_dir` on prompts N in `targets`; save the policy to `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir, padding_side="left")
    policy = AutoModelForCausalLM.from_pretrained(base_dir)
    reference = copy.deepcopy(policy).eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    optimiser = torch.optim.Adam(policy.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    result = GRPOResult(Path(out_dir))
    for step in range(config.steps):
        chosen = [int(n) for n in rng.choice(targets, size=config.prompts_per_step)]
        batch = _rollout(policy, tokenizer, chosen, config)
        result.mean_reward.append(float(batch["rewards"].mean()))
        for _ in range(config.epochs):
            loss = _loss(policy, reference, batch, config)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if on_step:
            on_step(step, result.mean_reward[-1])
    policy.eval().save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out_dir)
    return result


def _rollout(policy, tokenizer, targets: list[int], config: GRPOConfig) -> dict:
    """Sample a group per prompt; rewards, advantages, masks and the sampling policy's log-probs."""
    import torch

    prompts = [sums.prompt(n) for n in targets for _ in range(config.group_size)]
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        sequences = policy.generate(**encoded, do_sample=True, temperature=config.temperature, top_p=1.0, top_k=0,
                                    max_new_tokens=config.max_tokens, pad_token_id=tokenizer.pad_token_id,
                                    eos_token_id=tokenizer.eos_token_id)
    prompt_len = encoded["input_ids"].shape[1]
    completion = sequences[:, prompt_len:]
    is_eos = completion == tokenizer.eos_token_id
    after_eos = (is_eos.cumsum(dim=1) - is_eos.long()) > 0  # tokens after the first EOS are padding
    completion_mask = ~after_eos
    texts = tokenizer.batch_decode(completion, skip_special_tokens=True)
    targets_rep = [n for n in targets for _ in range(config.group_size)]
    rewards = torch.tensor([float(sums.is_correct(t, n)) for t, n in zip(texts, targets_rep)])
    groups = rewards.view(-1, config.group_size)
    advantages = ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-6)).view(-1)
    attention = torch.cat([encoded["attention_mask"], completion_mask.long()], dim=1)
    batch = {"sequences": sequences, "attention": attention, "prompt_len": prompt_len,
             "mask": completion_mask.float(), "rewards": rewards, "advantages": advantages}
    with torch.no_grad():
        batch["old_logp"] = _token_logprobs(policy, batch)
    return batch


def _token_logprobs(model, batch: dict):
    """Log-probs of each completion token under `model`, (rows, completion length)."""
    import torch

    attention = batch["attention"]
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    logits = model(input_ids=batch["sequences"], attention_mask=attention, position_ids=positions).logits
    start = batch["prompt_len"]
    logp = torch.log_softmax(logits[:, start - 1 : -1].float(), dim=-1)
    return logp.gather(-1, batch["sequences"][:, start:, None])[..., 0]


def _loss(policy, reference, batch: dict, config: GRPOConfig):
    import torch

    new = _token_logprobs(policy, batch)
    with torch.no_grad():
        ref = _token_logprobs(reference, batch)
    ratio = torch.exp(new - batch["old_logp"])
    advantage = batch["advantages"][:, None]
    surrogate = torch.minimum(ratio * advantage, ratio.clamp(1 - config.clip, 1 + config.clip) * advantage)
    kl = torch.exp(ref - new) - (ref - new) - 1  # k3 estimator of KL(policy || reference)
    per_token = -surrogate + config.kl_coef * kl
    mask = batch["mask"]
    per_completion = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
    return per_completion.mean()
