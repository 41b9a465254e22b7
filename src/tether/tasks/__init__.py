"""Tasks: one `Task` type, loaders (files, Hugging Face datasets, Reasoning Gym), presets, prompts."""

from tether.tasks.loaders import count_tasks, load_tasks
from tether.tasks.presets import MATH_INSTRUCTION, MATH_TEMPLATE, PRESETS, Preset
from tether.tasks.prompts import render_prompt
from tether.tasks.task import ColumnMap, Task

__all__ = ["MATH_INSTRUCTION", "MATH_TEMPLATE", "PRESETS", "ColumnMap", "Preset", "Task", "count_tasks", "load_tasks",
           "render_prompt"]
