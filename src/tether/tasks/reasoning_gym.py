"""Reasoning Gym tasks, generated offline by the `reasoning_gym` package.

Each task keeps the dataset's full entry (question, answer, metadata) in its
reference, plus (dataset, size, seed, index) so a grader can regenerate the
exact entry and call the dataset's own ``score_answer`` on it. The prompt is
Reasoning Gym's default system prompt (answer inside ``<answer>`` tags) and the
question as the user message.
"""

from __future__ import annotations

import json

from tether.errors import InputError
from tether.tasks.task import Task

VERIFIER = "reasoning_gym"


def generate(name: str, size: int, seed: int) -> list[Task]:
    """`size` tasks of Reasoning Gym dataset `name`, generated with `seed`."""
    try:
        import reasoning_gym
        from reasoning_gym.utils import SYSTEM_PROMPTS
    except ImportError:
        raise InputError("Reasoning Gym tasks need the `reasoning-gym` package: pip install 'tether[tasks]'") from None
    if size < 1:
        raise InputError(f"reasoning-gym:{name}: size must be >= 1")
    try:
        dataset = reasoning_gym.create_dataset(name, size=size, seed=seed)
    except (KeyError, ValueError) as exc:
        known = ", ".join(sorted(reasoning_gym.factory.DATASETS)[:8])
        raise InputError(f"reasoning-gym: cannot create {name!r}: {exc} (known datasets include {known}, ...)") from None
    system = SYSTEM_PROMPTS["default"]
    tasks = []
    for index in range(size):
        entry = json.loads(json.dumps(dataset[index], default=str))
        reference = {"dataset": name, "size": size, "seed": seed, "index": index, "answer": entry.get("answer"),
                     "entry": entry}
        prompt = [{"role": "system", "content": system}, {"role": "user", "content": entry["question"]}]
        tasks.append(Task(f"{name}/{seed}/{index}", f"reasoning-gym/{name}", prompt, reference, VERIFIER))
    return tasks
