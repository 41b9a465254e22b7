"""Write the verl validation dumps of tests/ingest/test_verl.py with verl's own code (README.md beside this file).

Run from the repository root with verl 0.9.1 importable (generate.sh sets that up):
``python tests/ingest/verl_files/generate.py OUT``. The trainer object is made without its __init__ (no GPU,
no Ray workers): only its dump path runs, `RayPPOTrainer._dump_generations` with its writer thread, as
`RayPPOTrainer._validate` calls it. The scores come from verl's own reward functions
(`verl.utils.reward_score.default_compute_score`), and the extra reward information is gathered as verl's
naive reward loop and `_validate` gather it (see `_validation`). Only the responses are made up here: seeded
draws, with a chance per prompt and step chosen so the run sharpens (rare solves lost, one gained).
"""

import sys
from collections import defaultdict

import numpy as np
from verl.trainer.ppo.ray_trainer import RayPPOTrainer
from verl.utils.reward_score import default_compute_score

# verl's chat prompts as `_validate` decodes them (skip_special_tokens=True on a Qwen chat template)
GSM8K_PROMPT = ("system\nYou are a helpful assistant.\nuser\n{q} Let's think step by step and output the final answer "
                "after \"####\".\nassistant\n")
DAPO_PROMPT = ("user\nSolve the following math problem step by step. The last line of your response should be of the "
               "form Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n{q}\n\nRemember "
               "to put your answer on its own line after \"Answer:\".\nassistant\n")
PAIRS = [(12, 7), (35, 48), (9, 16), (120, 57), (44, 44), (73, 18), (261, 139), (88, 5)]
# chance that a response solves prompt i, at steps 0, 10, 20: the easy ones sharpen, the rare ones (2, 5) are
# lost by step 20, and one (7) the base never solves is gained
CHANCE = {0: [0.9, 0.6, 0.3, 0.5, 0.95, 0.25, 0.0, 0.0], 10: [1.0, 0.85, 0.1, 0.8, 1.0, 0.1, 0.0, 0.2],
          20: [1.0, 1.0, 0.0, 0.95, 1.0, 0.0, 0.0, 0.5]}
N = 4  # actor_rollout_ref.rollout.val_kwargs.n


def _trainer(step: int) -> RayPPOTrainer:
    trainer = RayPPOTrainer.__new__(RayPPOTrainer)  # no __init__: no config, workers or GPU
    trainer.global_steps = step
    trainer._init_dump_executor()
    return trainer


def _validation(data_source: str, prompts: list[str], gts: list[str], outputs: list[str], step: int, out: str):
    """One validation: each prompt repeated n times (interleaved, as `test_batch.repeat`), scored by verl's reward
    function, the extra information gathered as verl 0.9.1 gathers it, dumped by the trainer's own method."""
    inputs = [p for p in prompts for _ in range(N)]
    truths = [g for g in gts for _ in range(N)]
    extra: dict[str, list] = defaultdict(list)  # _validate: reward_extra_infos_dict = defaultdict(list)
    scores = []
    for response, truth in zip(outputs, truths):
        result = default_compute_score(data_source, response, truth)
        info = {}  # experimental/reward_loop/reward_manager/naive.py: a dict's items, else acc = the score
        if isinstance(result, dict):
            score = result["score"]
            info.update(result)
        else:
            score = result
            info["acc"] = score
        scores.append(float(score))  # rm_scores holds the reward at the last token; _validate sums them
        extra["reward"].append(float(score))  # _validate: reward_extra_infos_dict["reward"].extend(scores)
        for key, value in info.items():
            extra[key].append(value)
    trainer = _trainer(step)
    trainer._dump_generations(inputs=inputs, outputs=outputs, gts=truths, scores=scores,
                              reward_extra_infos_dict=extra, dump_path=out)
    trainer._shutdown_dump_executor()


def gsm8k_run(out: str) -> None:
    rng = np.random.default_rng(20261206)
    prompts = [GSM8K_PROMPT.format(q=f"What is {a} + {b}?") for a, b in PAIRS]
    gts = [str(a + b) for a, b in PAIRS]
    for step, chances in CHANCE.items():
        outputs = []
        for (a, b), chance in zip(PAIRS, chances):
            for _ in range(N):
                right = rng.random() < chance
                said = a + b if right else a + b + int(rng.integers(1, 10)) * (1 if rng.random() < 0.5 else -1)
                outputs.append(f"We add {a} and {b}: {a} + {b} = {said}.\n#### {said}")
        _validation("openai/gsm8k", prompts, gts, outputs, step, out)


def dapo_run(out: str) -> None:
    """DAPO's math reward: score 1.0 / -1.0, acc true/false, pred the extracted answer; one response unanswered."""
    questions = ["Find the remainder when $7^{100}$ is divided by $5$.", "Compute $\\binom{6}{2}$.",
                 "What is the sum of the first $10$ positive integers?"]
    gts = ["1", "15", "55"]
    said = [["1", "2", "1", "1"], ["15", "15", "12", None], ["55", "45", "55", "55"]]
    outputs = [f"Step by step we get the value.\nAnswer: {s}" if s is not None else "I am not sure how to finish."
               for row in said for s in row]
    _validation("math_dapo", [DAPO_PROMPT.format(q=q) for q in questions], gts, outputs, 40, out)


if __name__ == "__main__":
    target = sys.argv[1]
    gsm8k_run(f"{target}/gsm8k-grpo")
    dapo_run(f"{target}/dapo")
