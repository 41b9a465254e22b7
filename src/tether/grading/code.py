"""The `code` verifier: a completion's program run against the task's tests in the sandbox.

Extraction: the last fenced code block of the completion, else the completion itself (a
completion-style prompt such as HumanEval's is continued, not answered). Where the task has a
``prefix`` (HumanEval: the prompt, signature and docstring), the program is prefix + code, unless
the code defines the entry point itself (a chat model's whole function): then the prefix's import
lines + code. The tests follow: a test program (``check(candidate)`` is called with the entry point
when it defines ``check``) or a list of assert lines (MBPP).

Verdicts (`Grade.detail` says which): ``passed``; ``failed`` (the first failing test line and its
exception); ``syntax error``; ``timeout`` (wall clock or CPU limit); ``crashed`` (a signal);
``sandbox violation`` (output past the cap, a file too large, memory, processes, network, writes
outside its folder). A sandbox that could not start is a failed grading attempt, never a verdict.
Each distinct program is run once per verifier version (the verdict cache), in the grading pool.
"""

from __future__ import annotations

import ast
import re
import signal
from typing import Any

from tether.errors import InputError
from tether.grading.base import Grade, version_string
from tether.grading.sandbox import Limits, Outcome, isolation_problem, run_program

VERSION = 1
_FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n(.*?)```", re.DOTALL)
_VIOLATIONS = (("MemoryError", "memory limit"), ("File too large", "file size limit"),
               ("No space left on device", "scratch space full"), ("Read-only file system", "write outside its folder"),
               ("Permission denied", "permission denied"), ("Operation not permitted", "not permitted"),
               ("Network is unreachable", "no network"), ("tether sandbox: no network", "no network"),
               ("tether sandbox: no writes", "write outside its folder"),
               ("Resource temporarily unavailable", "process limit"), ("Too many open files", "open files limit"))


class CodeVerifier:
    """Runs the program with the task's tests (options: the `Limits` fields, `unsafe_local_exec`, `python`)."""

    name = "code"
    in_process = False

    def __init__(self, unsafe_local_exec: bool = False, python: str | None = None, **limits):
        self.unsafe_local_exec, self.python = unsafe_local_exec, python
        try:
            self.limits = Limits(**limits)
        except TypeError as exc:
            raise InputError(f"code verifier: {exc}") from None
        problem = None if unsafe_local_exec else isolation_problem()
        if problem:
            raise InputError(f"the code verifier runs programs isolated, and cannot here: {problem}; "
                             "--unsafe-local-exec runs them with resource limits only (docs/code.md)")

    def version(self) -> str:
        return version_string(self.name, (), {"verifier": VERSION, "limits": self.limits.as_dict(),
                                              "unsafe_local_exec": self.unsafe_local_exec, "python": self.python})

    def extract(self, completion: str, reference: dict[str, Any]) -> str | None:
        blocks = _FENCE.findall(completion)
        code = blocks[-1] if blocks else completion
        return code if code.strip() else None

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        source = assemble(answer, reference)
        try:
            ast.parse(source)
        except SyntaxError as exc:
            return Grade(False, 0.0, "ok", f"syntax error: line {exc.lineno}: {exc.msg}")
        program = source + "\n\n" + test_code(reference)
        outcome = run_program(program, reference.get("stdin", ""), self.limits,
                              unsafe_local_exec=self.unsafe_local_exec, python=self.python)
        return verdict(outcome, program, self.limits)


def assemble(code: str, reference: dict[str, Any]) -> str:
    """The candidate program: the task's prefix + the code, or its imports + the code where the code defines the
    entry point itself."""
    prefix, entry = reference.get("prefix") or "", reference.get("entry_point")
    if not prefix:
        return code
    if entry and re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
        imports = [line for line in prefix.splitlines() if re.match(r"\s*(import|from)\s", line)]
        return "\n".join(imports + [code])
    return prefix + code


def test_code(reference: dict[str, Any]) -> str:
    """The task's tests as program text: a test program (then ``check(<entry point>)`` where it defines
    ``check``), or assert lines."""
    tests = reference.get("tests")
    if tests is None:
        raise InputError("a code task needs tests in its reference ('tests'; map a column with --columns tests=…)")
    text = "\n".join(tests) if isinstance(tests, list) else str(tests)
    entry = reference.get("entry_point")
    if entry and re.search(r"^def check\(", text, re.MULTILINE):
        text += f"\n\ncheck({entry})\n"
    return text


def verdict(outcome: Outcome, program: str, limits: Limits) -> Grade:
    """A program's outcome as a verdict (or, where the sandbox itself failed, a failed grading attempt)."""
    if outcome.setup_error:
        return Grade.failed(f"sandbox: {outcome.setup_error}")
    if outcome.timed_out:
        return Grade.timeout(f"timeout: past {limits.wall_seconds:g} s of wall clock")
    if outcome.output_exceeded:
        return _wrong(f"sandbox violation: output past {limits.output_bytes:,} bytes")
    if outcome.signal is not None:
        if outcome.signal in (signal.SIGXCPU, signal.SIGKILL) and outcome.seconds >= limits.cpu_seconds * 0.9:
            return Grade.timeout(f"timeout: past {limits.cpu_seconds} s of CPU")
        if outcome.signal == signal.SIGXFSZ:
            return _wrong("sandbox violation: file size limit")
        return _wrong(f"crashed: {signal.Signals(outcome.signal).name}")
    if outcome.exit_code == 0:
        return Grade(True, 1.0, "ok", "passed")
    if outcome.exit_code == 126 and "tether sandbox: cannot start the program" in outcome.stderr:
        return Grade.failed(outcome.stderr.strip()[:300])
    last = outcome.stderr.strip().splitlines()[-1] if outcome.stderr.strip() else f"exit code {outcome.exit_code}"
    for needle, what in _VIOLATIONS:
        if needle in last:
            return _wrong(f"sandbox violation: {what} ({last})")
    return _wrong(f"failed: {_failing_line(outcome.stderr, program)}{last}")


def _wrong(detail: str) -> Grade:
    return Grade(False, 0.0, "ok", detail[:300])


def _failing_line(stderr: str, program: str) -> str:
    """'line N: <source> -- ' of the program's last frame in the traceback (the failing test), or ''."""
    lines = re.findall(r'File "[^"]*program\.py", line (\d+)', stderr)
    if not lines:
        return ""
    number = int(lines[-1])
    source = program.splitlines()[number - 1].strip() if 0 < number <= len(program.splitlines()) else ""
    return f"line {number}: {source[:160]} -- "
