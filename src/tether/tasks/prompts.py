"""How a task's prompt becomes the exact text a model sees.

- ``chat``: the model's own chat template (a text prompt becomes one user
  message), with the generation prompt appended;
- ``plain``: the text as it is (chat messages are joined by blank lines);
- ``auto``: ``chat`` when the tokenizer has a chat template, else ``plain``.

Engines call `render_prompt` with their tokenizer; the rendered text is what
gets stored once per task and model.
"""

from __future__ import annotations

from typing import Any

from tether.errors import InputError
from tether.tasks.images import has_images, prompt_text
from tether.tasks.task import Messages

TEMPLATE_MODES = ("auto", "chat", "plain")


def as_messages(prompt: str | Messages) -> Messages:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def as_plain(prompt: str | Messages) -> str:
    """The prompt's text (messages joined by blank lines; an image prompt's text parts only)."""
    return prompt_text(prompt)


def render_prompt(prompt: str | Messages, tokenizer: Any | None, mode: str = "auto") -> str:
    """The text a model sees for `prompt` under template `mode`."""
    if mode not in TEMPLATE_MODES:
        raise InputError(f"template mode {mode!r}: expected one of {', '.join(TEMPLATE_MODES)}")
    if has_images(prompt):  # a vision-language engine renders these itself (tether.engines.vision)
        raise InputError("this task's prompt holds images and this model reads text only: sample it with a "
                         "vision-language model (docs/tasks.md, \"Tasks with images\")")
    has_template = tokenizer is not None and getattr(tokenizer, "chat_template", None)
    if mode == "chat" and not has_template:
        raise InputError("--template chat: this model's tokenizer has no chat template; use --template plain")
    if mode == "plain" or not has_template:
        return as_plain(prompt)
    return tokenizer.apply_chat_template(as_messages(prompt), add_generation_prompt=True, tokenize=False)
