"""How LiveBench's scorers read a response, as rules over text: thinking removed, tagged spans, bold, its \\boxed.

These restate the reading rules LiveBench's scorers share (``livebench/process_results/util.py`` and the
regular expressions in each task's ``utils.py``), so each task module can say which it applies, in which order:

- `without_thinking`: every closed ``<think>…</think>`` block removed (the shortest one from each opening), as
  LiveBench does before any scorer runs; an unclosed ``<think>`` stays;
- `spans`: what ``re.findall(OPEN(.*?)CLOSE)`` finds: the text between each opening and the first closing
  after it, left to right, not overlapping; on one line unless ``across_lines`` (DOTALL), and with
  ``ignore_case`` as ``re.IGNORECASE``. Computed from the tags' positions, so linear in the text however
  many openings are left unclosed;
- `boxed`: the content of the last ``\\boxed{…}`` as LiveBench's ``last_boxed_only_string`` + ``remove_boxed``
  read it: a ``\\boxed `` followed by a space anywhere wins (the text after the last one, up to a ``$``), else
  the last ``\\boxed`` (else ``\\fbox``) with braces counted from there; None when there is none or it is never
  closed; `Unreadable` where LiveBench's own reading fails (``\\boxed`` not followed by ``{``): LiveBench then
  scores the response 0, so tether finds no answer in it.

Nothing here decides a score; the task modules do.
"""

from __future__ import annotations

import re
from bisect import bisect_left

_BRACES = re.compile(r"[{}]")


class Unreadable(Exception):
    """LiveBench's scorer fails on this response (it records the failure and scores 0)."""


def without_thinking(text: str) -> str:
    """The response without its closed ``<think>…</think>`` blocks."""
    kept, pos = [], 0
    while True:
        start = text.find("<think>", pos)
        end = text.find("</think>", start + len("<think>")) if start >= 0 else -1
        if end < 0:
            kept.append(text[pos:])
            return "".join(kept)
        kept.append(text[pos:start])
        pos = end + len("</think>")


def _positions(text: str, tag: str, ignore_case: bool) -> list[int]:
    """Where `tag` starts in `text`, overlapping occurrences included."""
    pattern = re.compile("(?=" + re.escape(tag) + ")", re.IGNORECASE if ignore_case else 0)
    return [match.start() for match in pattern.finditer(text)]


def spans(text: str, opening: str, closing: str, across_lines: bool = False, ignore_case: bool = False) -> list[str]:
    """The contents ``re.findall(opening + "(.*?)" + closing, text)`` gives (see the module's doc)."""
    closes = _positions(text, closing, ignore_case)
    if not closes:
        return []
    newlines = [] if across_lines else [m.start() for m in re.finditer("\n", text)]
    found, pos = [], 0
    for start in _positions(text, opening, ignore_case):
        if start < pos:
            continue
        inside = start + len(opening)
        at = bisect_left(closes, inside)
        if at == len(closes):
            break
        end = closes[at]
        line_break = bisect_left(newlines, inside)
        if line_break < len(newlines) and newlines[line_break] < end:
            continue  # the span would cross a line: no match from this opening
        found.append(text[inside:end])
        pos = end + len(closing)
    return found


def boxed(text: str) -> str | None:
    """The content of LiveBench's last box (see the module's doc); None without one; `Unreadable` where
    LiveBench's reading of it fails."""
    if "\\boxed " in text:
        return text.split("\\boxed ")[-1].split("$")[0]
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth, end = 0, None
    for match in _BRACES.finditer(text, start):
        depth += 1 if match.group() == "{" else -1
        if match.group() == "}" and depth == 0:
            end = match.start()
            break
    if end is None:
        return None
    box = text[start : end + 1].replace("$", "").replace("fbox", "boxed")
    if not box.startswith("\\boxed{"):
        raise Unreadable(f"a box LiveBench cannot read: {box[:40]!r}")
    return box[len("\\boxed{") : -1]

