"""LiveBench's coding split as code tasks: its test cases decoded, its starter code kept as the prefix.

A row of ``livebench/coding`` holds the prompt in ``turns`` (LiveBench's own instruction format,
used as is), test cases in ``public_test_cases`` (JSON) and ``private_test_cases`` (JSON, or
LiveCodeBench's base64 + zlib + pickle of that JSON), each ``{"input", "output", "testtype"}``
with testtype ``stdin`` (the program reads the input and prints the output) or ``functional``
(LeetCode: a method of ``class Solution`` named by ``original_json.metadata.func_name``, called
with one JSON argument per input line). ``partial_solution`` is the starter code of the
completion task (``coding_completion``), which the program continues.

`coding_row` turns such a row into the columns the ``livebench-coding`` preset maps: question,
tests (the decoded cases), entry_point (the function name, functional tests only) and prefix.
The pickle is read by an unpickler that admits no class or function at all (the payload is one
string), so a hostile dataset file cannot run code here.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from typing import Any

from tether.errors import InputError


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing {module}.{name}: test cases are plain data")


def decode_cases(value: Any, where: str) -> list[dict]:
    """Test cases from their JSON text, or from LiveCodeBench's compressed pickle of it."""
    if isinstance(value, list):
        return value
    text = str(value or "[]")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        payload = _PlainUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(text.encode())))).load()
        return json.loads(payload)
    except (ValueError, zlib.error, pickle.UnpicklingError, EOFError, json.JSONDecodeError) as exc:
        raise InputError(f"{where}: test cases neither JSON nor LiveCodeBench's encoding: {exc}") from None


def coding_row(row: dict[str, Any]) -> dict[str, Any]:
    """A LiveBench coding row with its tests decoded, entry point and prefix named."""
    where = f"livebench-coding {row.get('question_id', '?')}"
    cases = decode_cases(row.get("public_test_cases"), where) + decode_cases(row.get("private_test_cases"), where)
    if not cases:
        raise InputError(f"{where}: no test cases")
    for case in cases:
        if case.get("testtype") not in ("stdin", "functional") or "input" not in case or "output" not in case:
            raise InputError(f"{where}: a test case is not {{input, output, testtype: stdin|functional}}: "
                             f"{str(case)[:120]}")
    original = row.get("original_json") or {}
    metadata = original.get("metadata", "{}") if isinstance(original, dict) else "{}"
    metadata = json.loads(metadata) if isinstance(metadata, str) else (metadata or {})
    return {**row, "tests": cases, "entry_point": metadata.get("func_name"),
            "prefix": row.get("partial_solution") or ""}
