"""The sandbox shows a program nothing of the host: hostile programs end within their deadline with the right
verdict, reach no host socket, file, IPC object or process, stay within one memory limit as a whole, and leave
nothing behind (checked after the module: `host_unchanged`)."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tether.errors import InputError
from tether.grading.cgroup import cgroup_problem
from tether.grading.code import CodeVerifier
from tether.grading.sandbox import Limits, _bwrap, isolation_problem, run_program

from .host import host_unchanged  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.skipif(isolation_problem() is not None, reason=f"no sandbox here: {isolation_problem()}"),
              pytest.mark.usefixtures("host_unchanged")]

LIMITS = {"wall_seconds": 3.0, "cpu_seconds": 1}
TESTS = {"tests": "pass"}  # a program judged by running to the end
ROOT = os.geteuid() == 0


def grade(program: str, reference: dict = TESTS, **options):
    return CodeVerifier(**{**LIMITS, **options}).compare(program, reference)


HOSTILE = {
    "infinite loop": ("while True:\n    pass\n", "timeout: past 1 s of CPU"),
    "sleeping forever": ("import time\ntime.sleep(3600)\n", "timeout: past 3 s of wall clock"),
    "fork bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                  "timeout"),
    "50 GB of memory": ("x = bytearray(50 * 2**30)\n", "sandbox violation: memory limit"),
    "a 10 GB file": ("with open('big', 'wb') as f:\n    for _ in range(10 * 1024):\n        f.write(b'0' * 2**20)\n",
                     "sandbox violation: file size limit"),
    "1 GB on stdout": ("import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * 2**20)\n",
                       "sandbox violation: output past"),
    "killing its parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", "sandbox violation: not permitted"),
    "killing everything it can": ("import os, signal\nos.kill(-1, signal.SIGKILL)\n",  # nothing but itself in sight
                                  "failed: line 2: os.kill(-1, signal.SIGKILL) -- ProcessLookupError"),
    "deleting its folder": ("import os, shutil\nshutil.rmtree(os.getcwd())\nprint('gone')\n", "passed"),
    "never reading stdin": ("import time\ntime.sleep(0.1)\n", "passed"),
    "filling the scratch space": (("with open('/tmp/fill', 'wb') as f:\n    for _ in range(200):\n"
                                   "        f.write(b'0' * 2**20)\n"), "sandbox violation"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_programs_end_in_time_with_their_verdict(name):
    program, expected = HOSTILE[name]
    reference = {**TESTS, "stdin": "x" * (10 << 20)} if name == "never reading stdin" else TESTS
    started = time.monotonic()
    verdict = grade(program, reference)
    assert time.monotonic() - started < LIMITS["wall_seconds"] + 3
    assert verdict.is_verdict and verdict.detail.startswith(expected), verdict
    assert verdict.correct == (expected == "passed")


@pytest.mark.skipif(cgroup_problem() is not None, reason=f"no cgroup for the program here: {cgroup_problem()}")
def test_memory_is_limited_for_the_program_as_a_whole():
    """Three forked children holding 100 MB each under a 256 MiB limit: each within its address-space limit,
    together past the sandbox's."""
    program = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        block = b'1' * (100 << 20)\n"
               "        time.sleep(3)\n        os._exit(0)\nfor _ in range(3):\n    os.wait()\n")
    verdict = grade(program, memory_bytes=256 << 20, wall_seconds=8.0)
    assert verdict.detail.startswith("sandbox violation: memory limit (256 MiB for the program as a whole)"), verdict
    alone = grade("block = b'1' * (100 << 20)\n", memory_bytes=256 << 20)
    assert alone.correct, alone


@pytest.mark.skipif(cgroup_problem() is not None, reason=f"no cgroup for the program here: {cgroup_problem()}")
def test_processes_are_limited_for_the_sandbox_as_a_whole():
    program = ("import os, time\nborn = 0\ntry:\n    for _ in range(40):\n        if os.fork() == 0:\n"
               "            time.sleep(5)\n            os._exit(0)\n        born += 1\nexcept OSError:\n    pass\n"
               "print(born)\nassert born < 10\n")
    assert grade(program, processes=10, wall_seconds=8.0).correct


def test_without_a_cgroup_a_process_cap_bounds_the_total(monkeypatch):
    from tether.grading import sandbox

    monkeypatch.setattr(sandbox, "hierarchy", lambda: None)
    program = ("import os, time\nborn = 0\ntry:\n    for _ in range(40):\n        if os.fork() == 0:\n"
               "            time.sleep(5)\n            os._exit(0)\n        born += 1\nexcept OSError:\n    pass\n"
               f"assert born < {sandbox.FALLBACK_PROCESSES}, born\n")
    if ROOT:  # RLIMIT_NPROC counts every process of uid nobody: exact only where the programs have that uid
        assert grade(program, wall_seconds=8.0).correct


@pytest.fixture
def unix_servers(tmp_path):
    """Unix-domain servers of mode 0666 where a program might find one: /run, /srv and the interpreter's own
    virtual environment (which the sandbox shows read-only: read-only mounts do not stop connect())."""
    folders = [Path(sys.prefix) / ".tether-test-sockets"]
    if ROOT:
        folders += [Path("/run/tether-test-sockets"), Path("/srv/tether-test-sockets")]
    servers, received = [], []
    for folder in folders:
        folder.mkdir(exist_ok=True)
        path = folder / "s.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        os.chmod(path, 0o666)
        server.listen()
        server.settimeout(0.2)
        servers.append((server, folder, path))

    def serve():
        while servers:
            for server, _, _ in servers:
                try:
                    connection, _ = server.accept()
                    received.append(connection.recv(100))
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    paths = [path for _, _, path in servers]
    yield paths, received
    for server, folder, path in servers:
        server.close()
        path.unlink()
        folder.rmdir()
    servers.clear()


def test_no_host_unix_socket_is_reachable(unix_servers):
    paths, received = unix_servers
    for path in paths:
        program = (f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})\n"
                   "s.sendall(b'hello from the sandbox')\n")
        verdict = grade(program)
        assert not verdict.correct and verdict.detail.startswith(("sandbox violation", "failed")), verdict
    time.sleep(0.3)
    assert received == []


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


def test_the_network_is_unreachable(server):
    port, accepted = server
    verdict = grade(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n")
    assert not verdict.correct and "ConnectionRefusedError" in verdict.detail, verdict  # its own loopback
    outside = grade("import socket\nsocket.create_connection(('10.0.0.1', 80), timeout=1)\n")
    assert outside.detail.startswith("sandbox violation: no network"), outside
    assert accepted == []


def test_files_outside_the_interpreter_are_not_there(tmp_path):
    """World-readable files under /srv, the grading process's working folder, the store, a home: absent."""
    planted = [Path.cwd() / ".tether-test-secret", tmp_path / "store" / "secret", Path.home() / ".tether-test-secret"]
    if ROOT:
        planted.append(Path("/srv/.tether-test-secret"))
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("planted-secret")
        path.chmod(0o644)
    try:
        reads = "".join(f"try:\n    seen.append(open({str(p)!r}).read())\nexcept OSError:\n    pass\n" for p in planted)
        outcome = run_program("seen = []\n" + reads + "import os\nprint(seen, os.listdir('/'))\n", "",
                              Limits(**LIMITS))
        assert outcome.report.kind == "passed" and "planted-secret" not in outcome.stdout, outcome
        root = set(eval(outcome.stdout.split("] ", 1)[1]))  # what the program sees at /
        assert root <= {"usr", "bin", "lib", "lib64", "lib32", "sbin", "dev", "tmp", "etc", "tether",
                        *(Path(p).parts[1] for p in (sys.prefix, sys.base_prefix))}, root
        assert "proc" not in root and "srv" not in root and "home" not in root, root
    finally:
        for path in planted:
            path.unlink()


def test_writing_outside_its_folder_fails_and_writes_nothing(tmp_path):
    for path in (tmp_path / "planted.txt", Path(__file__).parent / "written-by-a-program.txt", Path("/usr/x")):
        verdict = grade(f"open({str(path)!r}, 'w').write('x')\n")
        assert not verdict.correct and verdict.detail.startswith(("sandbox violation", "failed")), verdict
        assert not path.exists()


def test_secrets_in_the_environment_are_not_seen(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    outcome = run_program("import os\nprint(dict(os.environ))\n", "", Limits(**LIMITS))
    assert outcome.report.kind == "passed" and "planted-secret" not in outcome.stdout and "proxy" not in outcome.stdout


def test_ipc_objects_do_not_outlive_the_sandbox():
    """The sandbox's own IPC namespace: SysV shared memory, a message queue and a semaphore made inside (by
    util-linux's ipcmk, through the same bubblewrap command) are not on the host, during or after."""
    before = Path("/proc/sysvipc/shm").read_text(), Path("/proc/sysvipc/msg").read_text()
    made = subprocess.run([*_bwrap([]), "/bin/sh", "-c", "ipcmk -M 536870912 && ipcmk -Q && ipcmk -S 1 && ipcs"],
                          check=False, capture_output=True, text=True, timeout=30)
    assert made.returncode == 0 and made.stdout.count("0x") >= 3, made
    assert (Path("/proc/sysvipc/shm").read_text(), Path("/proc/sysvipc/msg").read_text()) == before
    shared = grade("import _posixshmem, os\nfd = _posixshmem.shm_open('/tether-test', os.O_CREAT | os.O_RDWR, 0o600)\n"
                   "os.ftruncate(fd, 1 << 20)\n")
    assert shared.correct, shared  # in the sandbox's own /dev/shm: gone with it (host_unchanged checks)


def test_a_daemon_the_program_leaves_is_gone_when_the_verdict_comes():
    from .host import host_state

    before = host_state().processes
    program = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(3600)\nelse:\n"
               "    time.sleep(0.2)\n")
    assert grade(program).detail == "passed"
    assert not host_state().processes - before


def test_a_sandbox_that_cannot_start_the_program_is_no_verdict():
    """An interpreter that is not there: a failed grading attempt (retried by the next run), never 'wrong'."""
    verdict = CodeVerifier(python="/nonexistent/python3", **LIMITS).compare("print(1)\n", TESTS)
    assert not verdict.is_verdict and "did not start the program" in verdict.detail, verdict


def test_without_namespaces_it_refuses_unless_told_to_run_unsafely(monkeypatch):
    from tether.grading import code

    monkeypatch.setattr(code, "isolation_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(InputError, match="cannot here: bubblewrap is not installed; --unsafe-local-exec"):
        CodeVerifier()
    unsafe = CodeVerifier(unsafe_local_exec=True, **LIMITS)
    assert unsafe.compare("def add(a, b):\n    return a + b\n", {"tests": ["assert add(1, 1) == 2"]}).correct
    blocked = unsafe.compare("import socket\nsocket.create_connection(('127.0.0.1', 9))\n", TESTS)
    assert blocked.detail.startswith("sandbox violation: the network"), blocked
    exited = unsafe.compare("import os\nos._exit(0)\n", TESTS)
    assert exited.detail.startswith("exited before the tests finished"), exited
    monkeypatch.undo()
    assert unsafe.version() != CodeVerifier(**LIMITS).version()  # its verdicts are cached apart


def test_an_interpreter_under_tmp_is_kept_when_tmp_is_replaced(tmp_path):
    """A virtual environment under /tmp (a CI clone's .venv, pytest's tmp_path): bound into the sandbox's own
    /tmp, read-only."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    program = f"import sys\nassert sys.prefix == {str(tmp_path / 'venv')!r}, sys.prefix\nopen(sys.executable, 'a')\n"
    verdict = CodeVerifier(python=python, **LIMITS).compare(program, TESTS)
    assert verdict.detail.startswith(("sandbox violation: write outside its folder",  # it ran, and cannot write
                                      "sandbox violation: permission denied")), verdict
