"""The `livebench-coding` preset on rows written in LiveBench's format (the hub is not reachable here):
its public and private test cases decoded, stdin and functional cases run in the sandbox."""

import base64
import json
import pickle
import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tether.errors import InputError
from tether.grading.sandbox import isolation_problem
from tether.tasks import load_tasks
from tether.tasks.livebench_coding import decode_cases


def lcb_encoded(cases: list[dict]) -> str:
    """LiveCodeBench's private test cases: base64 of zlib of a pickled JSON string."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


ROWS = [
    {"question_id": "q-stdin", "task": "LCB_generation", "turns": ["Read two integers and print their sum."],
     "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
     "private_test_cases": lcb_encoded([{"input": "40 2\n", "output": "42\n", "testtype": "stdin"}]),
     "original_json": {"metadata": "{}"}, "partial_solution": ""},
    {"question_id": "q-functional", "task": "LCB_generation", "turns": ["Return the sum of nums."],
     "public_test_cases": json.dumps([{"input": "[1, 2, 3]", "output": "6", "testtype": "functional"}]),
     "private_test_cases": json.dumps([{"input": "[]", "output": "0", "testtype": "functional"}]),
     "original_json": {"metadata": json.dumps({"func_name": "total"})}, "partial_solution": ""},
    {"question_id": "q-completion", "task": "coding_completion", "turns": ["Complete the function."],
     "public_test_cases": json.dumps([{"input": "2\n3", "output": "6", "testtype": "functional"}]),
     "private_test_cases": "[]", "original_json": {"metadata": json.dumps({"func_name": "product"})},
     "partial_solution": "class Solution:\n    def product(self, a: int, b: int) -> int:\n"},
]


@pytest.fixture
def data_dir(tmp_path):
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "livebench-coding.parquet")
    return tmp_path


def test_rows_become_code_tasks_with_every_test_case(data_dir):
    tasks = {t.task_id: t for t in load_tasks("livebench-coding", data_dir=data_dir)}
    stdin, functional, completion = tasks["q-stdin"], tasks["q-functional"], tasks["q-completion"]
    assert stdin.verifier == "code" and stdin.prompt == "Read two integers and print their sum."
    assert [c["input"] for c in stdin.reference["tests"]] == ["1 2\n", "40 2\n"]  # public, then private
    assert functional.reference["entry_point"] == "total" and len(functional.reference["tests"]) == 2
    assert completion.reference["prefix"].startswith("class Solution:") and completion.reference["task"] == \
        "coding_completion"


def test_a_pickle_with_anything_but_plain_data_is_refused():
    import os

    class Hostile:
        def __reduce__(self):
            return (os.system, ("echo ran",))

    encoded = base64.b64encode(zlib.compress(pickle.dumps(Hostile()))).decode()
    with pytest.raises(InputError, match=r"refusing (posix|os)\.system: test cases are plain data"):
        decode_cases(encoded, "row 1")


@pytest.mark.skipif(isolation_problem() is not None, reason=f"no namespaces here: {isolation_problem()}")
def test_stdin_functional_and_completion_cases_are_run(data_dir):
    from tether.grading.code import CodeVerifier

    tasks = {t.task_id: t for t in load_tasks("livebench-coding", data_dir=data_dir)}
    verifier = CodeVerifier(wall_seconds=5.0, cpu_seconds=2)

    def grade(task_id, completion):
        task = tasks[task_id]
        return verifier.compare(verifier.extract(completion, task.reference), task.reference)

    assert grade("q-stdin", "```python\na, b = map(int, input().split())\nprint(a + b)\n```").detail == "passed"
    wrong = grade("q-stdin", "```python\na, b = map(int, input().split())\nprint(a * b if a > 1 else a + b)\n```")
    assert wrong.detail == "failed: stdin case 1: expected '42', got '80'"  # the private case
    right = "```python\nclass Solution:\n    def total(self, nums):\n        return sum(nums)\n```"
    assert grade("q-functional", right).detail == "passed"
    off = grade("q-functional", "```python\nclass Solution:\n    def total(self, nums):\n        return 6\n```")
    assert not off.correct and "functional case 1: expected 0, got 6" in off.detail
    assert grade("q-completion", "        return a * b\n").detail == "passed"  # continues the starter code
