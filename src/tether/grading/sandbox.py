"""Running an untrusted Python program: one process per program, isolated by Linux namespaces.

`run_program(program, stdin, limits)` starts ``unshare --net --mount --pid --fork --kill-child``
(with ``--user --map-root-user`` when not root) over `tether.grading.sandbox_init`, which gives
the program (docs/code.md has the full account):

- **no network**: a new network namespace, whose only interface (loopback) is down;
- **no writes outside its scratch space**: every mount read-only, fresh size-capped tmpfs on
  /tmp, /var/tmp and /dev/shm, all gone with the namespace; the program runs in /tmp/program;
- **no other processes**: a new pid namespace (with its own /proc); its processes die with it;
- **limits**: CPU seconds, address space, file size, open files, processes (uid nobody when
  tether runs as root, so the process limit holds), no core files, no new privileges;
- **a scrubbed environment**: PATH, HOME, LANG and TMPDIR only (no credentials, no proxies);
- **a wall-clock deadline**, after which the whole process group is killed (the pid namespace
  with it), and stdout/stderr read up to a cap, past which it is killed too.

Where the namespaces are unavailable (not Linux, no ``unshare``, user namespaces disabled)
`isolation_problem` says why and the `code` verifier refuses to run, unless the user passes
``unsafe_local_exec``: then the program runs as a plain child process with the same limits,
deadline, scratch folder and environment, and an audit hook that refuses sockets and writes
outside its folder (best effort: a program using ctypes can get around it).
"""

from __future__ import annotations

import functools
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

INIT = Path(__file__).with_name("sandbox_init.py")
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class Limits:
    """What one program may use."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    open_files: int = 64
    processes: int = 32
    output_bytes: int = 64 << 10  # stdout and stderr each
    scratch_bytes: int = 64 << 20  # each tmpfs

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """How a program ended: exit code or signal, or stopped by the deadline or the output cap."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    output_exceeded: bool
    stdout: str
    stderr: str
    seconds: float
    setup_error: str | None = None


class SandboxUnavailable(RuntimeError):
    """The isolation the sandbox needs cannot be had here (the reason is the message)."""


@functools.cache
def isolation_problem() -> str | None:
    """Why programs cannot be isolated here (None: they can), from one trial run of the namespaces."""
    if not sys.platform.startswith("linux"):
        return f"process isolation needs Linux namespaces; this is {sys.platform}"
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    trial = subprocess.run([*_unshare(), "true"], capture_output=True, text=True, timeout=30)
    if trial.returncode != 0:
        said = trial.stderr.strip().splitlines()[-1] if trial.stderr.strip() else f"exit code {trial.returncode}"
        return f"unshare cannot create namespaces here: {said}"
    return None


def _unshare() -> list[str]:
    """The namespaces' command: killed when the grading worker that starts it dies (setpriv's parent-death
    signal, which stays across its exec of unshare), and killing the sandbox when it dies itself."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    dying = ["setpriv", "--pdeathsig", "KILL", "--"] if _setpriv_pdeathsig() else []
    return [*dying, "unshare", *user, "--net", "--mount", "--pid", "--fork", "--kill-child", "--"]


@functools.cache
def _setpriv_pdeathsig() -> bool:
    if shutil.which("setpriv") is None:
        return False
    return "--pdeathsig" in subprocess.run(["setpriv", "--help"], capture_output=True, text=True).stdout


def run_program(program: str, stdin: str = "", limits: Limits = Limits(), *, unsafe_local_exec: bool = False,
                python: str | None = None) -> Outcome:
    """Run `program` (Python source) isolated as described above, feeding it `stdin`."""
    python = python or sys.executable
    if unsafe_local_exec:
        return _run_local(program, stdin, limits, python)
    problem = isolation_problem()
    if problem:
        raise SandboxUnavailable(problem)
    granted = limits.as_dict()
    if os.geteuid() != 0:  # under a user namespace the program keeps this user's uid, whose processes all count
        granted["processes"] += _processes_of_this_user()
    config = {"program": program, "stdin": stdin, "limits": granted, "python": python,
              "drop_root": True, "keep": list(_interpreter_folders(python, sys.executable)),
              "env": {**ENV, "HOME": "/tmp/program", "TMPDIR": "/tmp/program"}}
    report_read, report_write = os.pipe()
    try:
        process = subprocess.Popen([*_unshare(), sys.executable, "-I", "-S", str(INIT), str(report_write)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   pass_fds=(report_write,),
                                   env=dict(ENV), start_new_session=True, cwd="/")
    finally:
        os.close(report_write)
    with os.fdopen(report_read) as report:
        outcome = _supervise(process, json.dumps(config).encode(), limits)
        status = json.loads(report.read() or "{}")
    return _with_status(outcome, status)


@functools.cache
def _interpreter_folders(*pythons: str) -> tuple[str, ...]:
    """The folders the interpreters need (the program's, and the sandbox's own first process's): each one's
    installation and, for a virtual environment, that."""
    folders = set()
    for python in pythons:
        folders.add(str(Path(python).resolve().parents[1]))
        environment = Path(python).absolute().parents[1]
        if (environment / "pyvenv.cfg").exists():
            folders.add(str(environment))
    return tuple(sorted(folders))


def _own_group_dying_with_parent() -> None:
    """In the child before exec: a process group of its own (killed whole at the deadline), and on Linux
    SIGKILL when the grading worker that started it dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _processes_of_this_user() -> int:
    """How many processes this user runs now (Linux; 0 elsewhere, where the process limit is then the
    program's own count)."""
    uid, count = os.getuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nUid:\t{uid}\t" in status.read_text():
                count += 1
        except OSError:
            pass
    return count


def _supervise(process: subprocess.Popen, feed: bytes | None, limits: Limits) -> Outcome:
    """Feed stdin (None: the process reads a file), read both outputs up to the cap, kill the group at the
    deadline or past the cap."""
    started = time.monotonic()
    deadline = started + limits.wall_seconds
    if feed is not None:
        try:
            process.stdin.write(feed)
            process.stdin.close()
        except BrokenPipeError:
            pass
    buffers = {process.stdout: bytearray(), process.stderr: bytearray()}
    selector = selectors.DefaultSelector()
    for stream in buffers:
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ)
    timed_out = exceeded = False
    while selector.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ in selector.select(timeout=left):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            buffers[key.fileobj] += chunk
            exceeded = exceeded or len(buffers[key.fileobj]) > limits.output_bytes
        if exceeded:
            break
    selector.close()
    if timed_out or exceeded:
        _kill_group(process)
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()) + 5)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait()
        timed_out = True
    for stream in buffers:
        stream.close()
    cap = limits.output_bytes
    return Outcome(None, None, timed_out, exceeded, buffers[process.stdout][:cap].decode(errors="replace"),
                   buffers[process.stderr][:cap].decode(errors="replace"), time.monotonic() - started)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _with_status(outcome: Outcome, status: dict) -> Outcome:
    if "setup_error" in status:
        return replace(outcome, setup_error=status["setup_error"])
    if outcome.timed_out or outcome.output_exceeded:  # killed by the supervisor: no report, none needed
        return outcome
    if not status:  # the sandbox's first process died before it could report
        tail = outcome.stderr.strip().splitlines()[-1:] or ["no report"]
        return replace(outcome, setup_error=f"the sandbox did not start: {tail[0]}")
    return replace(outcome, exit_code=status.get("exit"), signal=status.get("signal"))


# --- without namespaces (explicitly unsafe) -------------------------------------------------------------------

_GUARD = """
import os, runpy, sys
_root = os.path.realpath(os.getcwd())
def _guard(event, args):
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
        raise PermissionError("tether sandbox: no network")
    if event == "open" and args[1] is not None and any(c in str(args[1]) for c in "wax+"):
        path = os.path.realpath(args[0]) if isinstance(args[0], (str, bytes)) else None
        if path is not None and not str(path).startswith(_root) and path != "/dev/null":
            raise PermissionError(f"tether sandbox: no writes outside {_root}")
sys.addaudithook(_guard)
del _guard
sys.argv = ["program.py"]
runpy.run_path("program.py", run_name="__main__")
"""


def _run_local(program: str, stdin: str, limits: Limits, python: str) -> Outcome:
    """`--unsafe-local-exec`: a child process with the limits, a scratch folder and the audit-hook guard."""
    folder = Path(tempfile.mkdtemp(prefix="tether-program-"))
    try:
        (folder / "program.py").write_text(program, encoding="utf-8")
        (folder / "stdin").write_text(stdin, encoding="utf-8")
        (folder / "guard.py").write_text(_GUARD, encoding="utf-8")

        processes = _processes_of_this_user() + limits.processes  # RLIMIT_NPROC counts every process of the uid

        def limit() -> None:
            import resource

            _own_group_dying_with_parent()
            for name, value in (("RLIMIT_CPU", limits.cpu_seconds), ("RLIMIT_AS", limits.memory_bytes),
                                ("RLIMIT_FSIZE", limits.file_bytes), ("RLIMIT_NOFILE", limits.open_files),
                                ("RLIMIT_NPROC", processes), ("RLIMIT_CORE", 0)):
                try:
                    resource.setrlimit(getattr(resource, name), (value, value + (name == "RLIMIT_CPU")))
                except (ValueError, OSError):  # not settable on this platform (RLIMIT_AS on macOS): docs/code.md
                    pass

        with open(folder / "stdin", "rb") as feed:
            process = subprocess.Popen([python, "-I", "-B", "guard.py"], stdin=feed, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, cwd=folder, preexec_fn=limit,
                                       env={**ENV, "HOME": str(folder), "TMPDIR": str(folder)})
            outcome = _supervise(process, None, limits)
        code = process.returncode
        return _with_status(outcome, {"signal": -code} if code < 0 else {"exit": code})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
