"""Terminal rendering of `tether show` (`tether.compare.show`): a task's region, counts and graded completions.

Every text a model, a dataset or a verifier wrote (completions, prompts, answers, reasons) is printed
through `tether.cli.render.untrusted`, one line at a time, so no terminal sequence gets through; a long
text is cut in the middle, keeping its end (where the answer usually is), unless `full`.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.text import Text

from tether.cli.render import untrusted

HEAD, TAIL = 300, 900  # characters kept of a long completion: its start and its end
PROMPT_HEAD, PROMPT_TAIL = 200, 400
REFERENCE_CHARS = 200
_VERDICTS = {"no_answer": "no answer", "timeout": "timed out", "error": "not graded (error)"}


def render_show_task(view, console: Console, full: bool = False) -> None:
    """One task: its region and why, its prompt and reference, then each label's counts and completions."""
    console.print(Text.assemble((view.task_id, "bold"), f"  {_region_line(view)}"), highlight=False)
    if view.benchmark is not None:
        console.print(f"benchmark {view.benchmark}, verifier {view.verifier}", highlight=False)
    if view.prompt is not None:
        _block(console, "prompt", _prompt_text(view.prompt), full, PROMPT_HEAD, PROMPT_TAIL)
    if view.reference is not None:
        console.print(Text.assemble(*_reference(view.reference)), highlight=False)
    only = "" if view.which == "all" else f" ({view.which} ones only)"
    for label in view.labels:
        _render_label(label, console, full, only)


def render_show_region(view, console: Console, full: bool = False) -> None:
    """Every task of a region, one after another, each as `render_show_task` prints it."""
    shown = f"; the first {len(view.tasks)} shown (--limit)" if len(view.tasks) < view.total else ""
    console.print(Text.assemble((f"region {view.region}", "bold"),
                                f": {view.total} task{'s' if view.total != 1 else ''} "
                                f"(base {view.base_label}, RL model {view.rl_label}){shown}"), highlight=False)
    for task in view.tasks:
        console.print()
        render_show_task(task, console, full)


def _region_line(view) -> str:
    if view.region is None:
        return "no region (it needs two labels that both hold the task)"
    base, rl = view.labels[0].label, view.labels[1].label
    why = {"P": "both solve it", "S": f"{base} solves it, {rl} does not", "E": f"{rl} solves it, {base} does not",
           "O": "neither solves it"}[view.region]
    return f"region {view.region}: {why}"


def _prompt_text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m.get('role', '?')}: {_content_text(m.get('content', ''))}" if isinstance(m, dict) else str(m)
                     for m in prompt)


def _content_text(content) -> str:
    """A message's content: its text, each image part as [image sha256:…] (the store keeps the picture)."""
    if not isinstance(content, list):
        return str(content)
    return " ".join(f"[image {str(p.get('image', ''))[:19]}…]" if p.get("type") == "image" else str(p.get("text", ""))
                    for p in content if isinstance(p, dict))


def _reference(reference: dict) -> tuple:
    if "answer" in reference:
        answer = reference["answer"]
        shown = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        return "reference answer: ", untrusted(shown, REFERENCE_CHARS)
    return "reference: ", untrusted(json.dumps(reference, ensure_ascii=False, sort_keys=True), REFERENCE_CHARS)


def _render_label(label, console: Console, full: bool, only: str) -> None:
    counts = f"{label.c} of {label.n} correct"
    if label.compared_n is not None and (label.compared_n, label.compared_c) != (label.n, label.c):
        counts = (f"{label.compared_c} of {label.compared_n} correct in the budget the region compares "
                  f"({label.c} of {label.n} in all)")
    console.print(Text.assemble((label.label, "bold"), f": {counts}{only}"), highlight=False)
    for done in label.completions:
        _render_completion(done, console, full)
    if label.left_out:
        console.print(f"  … {label.left_out} more not shown (--completions N, or --completions 0 for all)", highlight=False)


def _render_completion(done, console: Console, full: bool) -> None:
    verdict = "correct" if done.correct else _VERDICTS.get(done.status, "incorrect")
    parts: list = [f"  #{done.sample_idx} ", (verdict, "green" if done.correct else "red"), f", score {done.score:g}"]
    if done.answer is not None:
        parts += [", answer ", untrusted(done.answer, REFERENCE_CHARS)]
    if done.extraction:
        parts.append(f" (via {done.extraction})")
    if done.finish_reason and done.finish_reason != "stop":
        parts.append(f", finished: {done.finish_reason}")
    if done.counted is False:
        parts.append("; beyond the matched budget: not counted")
    console.print(Text.assemble(*parts), highlight=False)
    if done.detail:
        console.print(Text.assemble("    reason: ", untrusted(done.detail)), highlight=False)
    if done.completion is None:
        console.print("    (no text stored: only its grade was imported)", highlight=False)
    else:
        _block(console, None, done.completion, full, HEAD, TAIL)


def _block(console: Console, title: str | None, text: str, full: bool, head: int, tail: int) -> None:
    """`text` indented under `title`, line by line, each line escaped; cut in the middle unless `full`."""
    if title is not None:
        console.print(f"{title}:", highlight=False)
    if not full and len(text) > head + tail + 100:  # cutting less than that saves nothing
        cut = len(text) - head - tail
        text = f"{text[:head]}\n[… {cut:,} characters cut; --full shows them …]\n{text[-tail:]}"
    for line in text.split("\n"):
        console.print(Text.assemble("    │ ", untrusted(line)), highlight=False, soft_wrap=True)
