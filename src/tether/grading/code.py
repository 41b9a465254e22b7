"""The `code` verifier: a completion's program run against the task's tests in the sandbox.

Extraction (`extract_code`): the last fenced code block of the completion, else the completion
itself (a completion-style prompt such as HumanEval's is continued, not answered); a completion
that continues the code and then closes a fence it never opened gives the code before that fence;
a block left open by a length cut gives what follows its opening fence; and code whose last lines
a length cut broke loses those lines (up to 20) until it parses. Where the task has a
``prefix`` (HumanEval: the prompt, signature and docstring; LiveBench: the starter code), the
program is prefix + code, unless the code starts with the prefix already, or defines the entry
point itself (a chat model's whole function): then the prefix's import lines + code. The tests
follow: a test program (``check(candidate)`` is called with the entry point when it defines
``check``) or a list of assert lines (MBPP). Test cases (LiveBench, LiveCodeBench: ``{input,
output, testtype}``) run one program per stdin case, its output compared line by line (numbers
within 1e-6), or one program calling ``Solution().<entry point>`` on every functional case.

Verdicts (`Grade.detail` says which) come from the harness that ran the tests in the sandbox,
never from the program's exit code: ``passed`` (the tests returned); ``failed`` (the first
failing test line and its exception); ``syntax error``; ``timeout`` (wall clock or CPU limit);
``crashed`` (a signal); ``sandbox violation`` (output past the cap, a file too large, memory,
processes, network, writes outside its folder, an operation the sandbox refuses);
``exited before the tests finished`` (``sys.exit``, ``os._exit``, an atexit or signal handler:
any way out before the tests returned) and ``forged result`` (an object of the program's own
class overriding ``__eq__`` and the like, or a module attribute the tests use replaced): the
reward-hacking signals counted per model. A sandbox that could not start, or a task whose tests
are not a program, is a failed grading attempt, never a verdict. Each distinct program is run once
per verifier version (the verdict cache), in the grading pool.
"""

from __future__ import annotations

import ast
import json
import math
import re
import signal
from typing import Any

from tether.errors import InputError
from tether.grading.base import Grade, printable, version_string
from tether.grading.sandbox import Limits, Outcome, isolation_problem, run_program
from tether.store.schema import EXITED_EARLY, FORGED

VERSION = 4  # 2: fences that do not pair up; 3: code a length cut broke; 4: verdicts from the harness alone
_VIOLATIONS = (("MemoryError", "memory limit"), ("File too large", "file size limit"),
               ("No space left on device", "scratch space full"), ("Read-only file system", "write outside its folder"),
               ("Permission denied", "permission denied"), ("Operation not permitted", "not permitted"),
               ("Network is unreachable", "no network"), ("Resource temporarily unavailable", "process limit"),
               ("can't start new thread", "process limit"), ("Too many open files", "open files limit"))
_REFUSED = re.compile(r"tether sandbox: (.*) is not allowed")


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
        code = extract_code(completion, reference)
        return code if code.strip() else None

    def check_task(self, task_id: str, reference: dict[str, Any]) -> None:
        """Refuse, in one line naming the task, a task whose tests are not a program (before any grading:
        such tests would be a verdict on every model)."""
        problem = tests_problem(reference)
        if problem:
            raise InputError(f"code task {task_id!r}: {problem}; fix its tests (docs/code.md)")

    def compare(self, answer: str, reference: dict[str, Any]) -> Grade:
        problem = tests_problem(reference)
        if problem:  # not a verdict on the model (grading refuses such tasks before it starts)
            return Grade.failed(f"the task's tests: {problem}")
        source = assemble(answer, reference)
        try:
            ast.parse(source)
        except SyntaxError as exc:
            return Grade(False, 0.0, "ok", printable(f"syntax error: line {exc.lineno}: {exc.msg}"))
        tests = reference.get("tests")
        if isinstance(tests, list) and tests and isinstance(tests[0], dict):
            return self._cases(source, tests, reference.get("entry_point"))
        outcome = self._run(source, reference.get("stdin", ""), tests=test_code(reference))
        return verdict(outcome, self.limits)

    def _run(self, program: str, stdin: str, **what) -> Outcome:
        return run_program(program, stdin, self.limits, unsafe_local_exec=self.unsafe_local_exec, python=self.python,
                           **what)

    def _cases(self, source: str, cases: list[dict], entry: str | None) -> Grade:
        """Test cases: every functional one in one run; each stdin one in a run of its own, stopping at the first
        that fails."""
        functional = [c for c in cases if c["testtype"] == "functional"]
        if functional:
            found = verdict(self._run(source, "", cases=functional, entry=entry), self.limits)
            if not found.correct:
                return found
        for number, case in enumerate(c for c in cases if c["testtype"] == "stdin"):
            outcome = self._run(source, str(case["input"]))
            found = verdict(outcome, self.limits, script=True)
            if not found.correct:
                return found
            if not same_output(outcome.stdout, str(case["output"])):
                shown = outcome.stdout.strip().splitlines()[:1] or [""]
                return _wrong(f"failed: stdin case {number}: expected {str(case['output']).strip()[:60]!r}, "
                              f"got {shown[0][:60]!r}")
        return Grade(True, 1.0, "ok", "passed")


MAX_REPAIR_CHARS = 20_000  # longer code is taken as it is (parsing it again and again would cost seconds)
REPAIR_LINES = 20  # a length cut breaks the last statement or two: at most this many trailing lines are dropped
_CODE_START = re.compile(r"^(\s+\S|(def|class|import|from|async|if|for|while|return|try|with|@)\b)")


def extract_code(completion: str, reference: dict[str, Any]) -> str:
    """The code of a completion.

    - A completion that begins with code (a model continuing a code prompt) and then closes a fence it never
      opened: the code before that fence.
    - Otherwise the last fenced block; failing that, a block left open (a length cut); without fences, the
      completion itself.
    - Code that does not parse loses up to `REPAIR_LINES` trailing lines until it does (what a length cut
      leaves of the last statement); if none parses, it is kept whole (a syntax error)."""
    lines = completion.splitlines(keepends=True)
    fences = [i for i, line in enumerate(lines) if line.lstrip().startswith("```")]
    code = completion
    if fences:
        before = "".join(lines[: fences[0]])
        first = next((line for line in lines[: fences[0]] if line.strip()), "")
        blocks = ["".join(lines[a + 1 : b]) for a, b in zip(fences[0::2], fences[1::2])]
        if _CODE_START.match(first) and _parses(assemble(before, reference)):
            code = before
        elif blocks:
            code = blocks[-1]
        else:
            code = "".join(lines[fences[-1] + 1 :])
    return _whole_statements(code, reference)


def _whole_statements(code: str, reference: dict[str, Any]) -> str:
    if len(code) > MAX_REPAIR_CHARS or _parses(assemble(code, reference)):
        return code
    lines = code.splitlines(keepends=True)
    for end in range(len(lines) - 1, max(0, len(lines) - 1 - REPAIR_LINES), -1):
        candidate = "".join(lines[:end])
        if candidate.strip() and _parses(assemble(candidate, reference)):
            return candidate
    return code


def _parses(source: str) -> bool:
    if len(source) > MAX_REPAIR_CHARS * 2:
        return False
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def assemble(code: str, reference: dict[str, Any]) -> str:
    """The candidate program: the task's prefix + the code; the code alone where it starts with the prefix; the
    prefix's imports + the code where the code defines the entry point itself."""
    prefix, entry = reference.get("prefix") or "", reference.get("entry_point")
    if not prefix.strip() or code.lstrip().startswith(prefix.strip()):
        return code
    if entry and re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
        imports = [line for line in prefix.splitlines() if re.match(r"\s*(import|from)\s", line)]
        return "\n".join(imports + [code])
    return prefix + ("" if prefix.endswith("\n") else "\n") + code


def same_output(got: str, expected: str) -> bool:
    """Line by line, surrounding whitespace ignored; tokens equal, or numbers within 1e-6."""
    lines = [line.strip() for line in got.strip().splitlines()]
    wanted = [line.strip() for line in expected.strip().splitlines()]
    if len(lines) != len(wanted):
        return False
    for line, want in zip(lines, wanted):
        if line == want:
            continue
        tokens, targets = line.split(), want.split()
        if len(tokens) != len(targets) or not all(a == b or _close(a, b) for a, b in zip(tokens, targets)):
            return False
    return True


def _close(a: str, b: str) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6)
    except ValueError:
        return False


def tests_problem(reference: dict[str, Any]) -> str | None:
    """Why a task's tests cannot grade anything (None: they can): missing, not a program (a number, a
    blank), not parsing, or test cases without what they need."""
    tests = reference.get("tests")
    if tests is None:
        return "no tests in its reference ('tests'; map a column with --columns tests=...)"
    if isinstance(tests, list) and tests and all(isinstance(t, dict) for t in tests):
        return _cases_problem(tests, reference.get("entry_point"))
    if not (isinstance(tests, str) or (isinstance(tests, list) and all(isinstance(t, str) for t in tests))):
        return f"its tests are not a program (a {type(tests).__name__}, not Python source or assert lines)"
    text = "\n".join(tests) if isinstance(tests, list) else tests
    if not text.strip():
        return "its tests are empty"
    try:
        ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        return f"its tests do not parse (line {getattr(exc, 'lineno', '?')}: {getattr(exc, 'msg', exc)})"
    return None


def _cases_problem(cases: list[dict], entry: str | None) -> str | None:
    for number, case in enumerate(cases):
        if case.get("testtype") not in ("stdin", "functional") or "input" not in case or "output" not in case:
            return f"test case {number} is not a stdin or functional case with an input and an output"
        if case["testtype"] == "functional":
            if not entry:
                return "functional test cases need the entry point (func_name)"
            try:
                [json.loads(line) for line in str(case["input"]).split("\n") if line.strip()]
                json.loads(case["output"])
            except (ValueError, TypeError):
                return f"functional test case {number} is not JSON"
    return None


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


def verdict(outcome: Outcome, limits: Limits, script: bool = False) -> Grade:
    """A program's outcome as a verdict (or, where the sandbox itself failed, a failed grading attempt). Only
    the harness's signed report can say "passed"; a script (stdin cases, judged by its output) may also end
    the process itself with exit code 0."""
    if outcome.setup_error:
        return Grade.failed(printable(f"sandbox: {outcome.setup_error}"))
    if outcome.timed_out:
        return Grade.timeout(f"timeout: past {limits.wall_seconds:g} s of wall clock")
    if outcome.output_exceeded:
        return _wrong(f"sandbox violation: output past {limits.output_bytes:,} bytes")
    if outcome.memory_exceeded:
        return _wrong(f"sandbox violation: memory limit ({limits.memory_bytes >> 20} MiB for the program as a whole)")
    report = outcome.report
    if report is not None:
        if report.kind == "passed":
            return Grade(True, 1.0, "ok", "passed")
        if report.kind == "error":
            return Grade.failed(printable(f"harness: {report.detail}"))
        if report.kind in ("exited", "forged"):
            return _wrong(f"{EXITED_EARLY if report.kind == 'exited' else FORGED}: {report.detail}")
        return _failed(report.detail)
    if outcome.signal is not None:
        if outcome.signal in (signal.SIGXCPU, signal.SIGKILL) and outcome.cpu_seconds >= limits.cpu_seconds * 0.9:
            return Grade.timeout(f"timeout: past {limits.cpu_seconds} s of CPU")
        if outcome.signal == signal.SIGXFSZ:
            return _wrong("sandbox violation: file size limit")
        return _wrong(f"crashed: {_signal_name(outcome.signal)} (signal {outcome.signal})")
    if script and outcome.exit_code == 0:
        return Grade(True, 1.0, "ok", "passed")
    return _wrong(f"{EXITED_EARLY}: the process ended with exit code {outcome.exit_code}")


def _failed(detail: str) -> Grade:
    """A failed test, or a sandbox violation where its exception says so."""
    exception = detail.rpartition(" -- ")[2]
    refused = _REFUSED.search(exception)
    if refused:
        return _wrong(f"sandbox violation: {refused.group(1)} ({detail})")
    for needle, what in _VIOLATIONS:
        if needle in exception:
            return _wrong(f"sandbox violation: {what} ({detail})")
    return _wrong(f"failed: {detail}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _wrong(detail: str) -> Grade:
    return Grade(False, 0.0, "ok", printable(detail)[:300])


