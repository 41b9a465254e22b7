"""Running an untrusted Python program: one sandbox per program, built by bubblewrap.

`run_program(program, stdin, limits, tests=…)` starts ``bwrap`` (Debian's ``bubblewrap``, the
sandbox Flatpak uses) over `tether/grading/sandboxed/supervisor.py`, inside a cgroup of its own
where the machine has one (`tether.grading.cgroup`). The program sees (docs/code.md has the full
account):

- **a file system of its own**: a fresh root holding only /usr (read-only), the interpreter's
  folders (read-only), the sandbox's own scripts, an empty /dev, and size-capped tmpfs on /tmp and
  /dev/shm, gone with the sandbox; no /proc, no /home, /root, /srv, /run or store; it runs in
  /tmp/program;
- **no network, no IPC, no other processes**: new network (loopback down), IPC (SysV shared
  memory, message queues), UTS and pid namespaces; no Unix-domain socket (the seccomp filter), so
  no host socket is reachable whatever folder it lies in;
- **limits**: memory and processes for the sandbox as a whole (the cgroup), CPU seconds, address
  space, file size, open files per process, no core files, uid/gid nobody when tether runs as
  root, no new privileges, no ``execve``; a scrubbed environment; a wall-clock deadline, after
  which the whole sandbox is killed; stdout and stderr read up to a cap, past which it is killed;
- **a verdict it cannot forge**: the harness (`sandboxed/harness.py`) reports over a pipe of its
  own, each line signed with a per-run key (HMAC-SHA256) the program never holds; a pass is only
  what the harness reports.

Where bubblewrap cannot run (not Linux, not installed, namespaces not permitted) `isolation_problem`
says why and the `code` verifier refuses, unless the user passes ``unsafe_local_exec``: then the same
supervisor and harness run as a plain child process, with the same limits, deadline, verdict channel
and filter, but the machine's files and network in sight (best effort: the harness's audit hook
refuses sockets and writes outside the program's folder).
"""

from __future__ import annotations

import functools
import hmac
import json
import marshal
import os
import platform
import secrets
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tether.grading.cgroup import ProgramCgroup, hierarchy

SANDBOXED = Path(__file__).with_name("sandboxed")  # what runs inside: supervisor, harness, seccomp
INSIDE = "/tether"  # where the sandbox sees it
FOLDER = "/tmp/program"
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
PROGRAM_ENV = {**ENV, "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
FALLBACK_PROCESSES = 8  # without a cgroup: the process (and thread) cap that bounds memory at 8 x memory_bytes
REPORT_CAP = 1 << 16  # bytes of the harness's report channel kept (its lines are short)


@dataclass(frozen=True)
class Limits:
    """What one program may use."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30  # the sandbox as a whole where a cgroup can be made; else each process
    file_bytes: int = 16 << 20
    open_files: int = 64
    processes: int = 32  # processes and threads of the sandbox (the cgroup's pids.max)
    output_bytes: int = 64 << 10  # stdout and stderr each
    scratch_bytes: int = 64 << 20  # each tmpfs

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """What the harness said at the end, with a valid signature: passed, failed, exited, forged or error."""

    kind: str
    detail: str


@dataclass(frozen=True)
class Outcome:
    """How a program ended: the harness's report (None: it ended before reporting), the process's exit
    code or signal, the CPU it used; or stopped by the deadline, the output cap or the memory limit."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    output_exceeded: bool
    stdout: str
    stderr: str
    seconds: float
    setup_error: str | None = None
    report: Report | None = None
    ready: bool = False  # the harness came up (before any of the program ran)
    cpu_seconds: float = 0.0
    memory_exceeded: bool = False


class SandboxUnavailable(RuntimeError):
    """The isolation the sandbox needs cannot be had here (the reason is the message)."""


@functools.cache
def isolation_problem() -> str | None:
    """Why programs cannot be isolated here (None: they can), from one trial run of bubblewrap."""
    if not sys.platform.startswith("linux"):
        return f"isolating programs needs Linux namespaces; this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (`apt-get install bubblewrap`, or your distribution's package)"
    if platform.machine() not in ("x86_64", "aarch64"):
        return f"no system-call filter for {platform.machine()}"
    trial = subprocess.run([*_bwrap([]), "/usr/bin/true"], check=False, capture_output=True, text=True, timeout=30)
    if trial.returncode != 0:
        said = trial.stderr.strip().splitlines()[-1] if trial.stderr.strip() else f"exit code {trial.returncode}"
        return f"bubblewrap cannot create its namespaces here: {said}"
    return None


def run_program(program: str, stdin: str = "", limits: Limits = Limits(), *, tests: str | None = None,
                entry: str | None = None, cases: list | None = None, unsafe_local_exec: bool = False,
                python: str | None = None) -> Outcome:
    """Run `program` (Python source) in a sandbox, then `tests` (Python source run after it, in a namespace
    holding the program's names) or the functional `cases` (LiveCodeBench's, calling `entry`); with
    neither, the program is a script reading `stdin`."""
    python = python or sys.executable
    isolated = not unsafe_local_exec
    if isolated and isolation_problem():
        raise SandboxUnavailable(isolation_problem())
    key = secrets.token_hex(32)
    mode = "functional" if cases else "tests" if tests is not None else "script"
    job = {"key": key, "mode": mode, "program": program, "tests": tests, "entry": entry,
           "cases": [_decoded(case) for case in cases or ()], "stdin": stdin, "guard_writes": not isolated}
    cgroup = ProgramCgroup(hierarchy(), limits.memory_bytes, limits.processes) if hierarchy() else None
    scratch = None if isolated else tempfile.mkdtemp(prefix="tether-program-")
    try:
        config = {"limits": _granted(limits, cgroup is not None), "drop_root": isolated, "pid1": isolated,
                  "folder": FOLDER if isolated else scratch, "seccomp": platform.machine() in ("x86_64", "aarch64")
                  and sys.platform.startswith("linux"),
                  "env": {**PROGRAM_ENV, "HOME": FOLDER if isolated else scratch,
                          "TMPDIR": FOLDER if isolated else scratch}}
        command = _command(python, limits, isolated)
        if cgroup is not None:
            command = cgroup.join_command() + command
        outcome = _run(command, config, job, limits, key)
        if cgroup is not None and cgroup.oom_killed():
            outcome = replace(outcome, memory_exceeded=True)
        return outcome
    finally:
        if cgroup is not None:
            cgroup.remove()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _decoded(case: dict) -> tuple[list, object]:
    """A functional test case (LiveCodeBench: one JSON argument per input line, the output as JSON) as
    (arguments, expected), decoded here rather than by the harness after the program could patch json."""
    arguments = [json.loads(line) for line in str(case["input"]).split("\n") if line.strip()]
    return arguments, json.loads(case["output"])


def _granted(limits: Limits, counted: bool) -> dict:
    """The per-process limits the supervisor sets. The process limit: none where the cgroup counts
    processes; otherwise `FALLBACK_PROCESSES`, over the user's current count where the program keeps this
    user's uid (RLIMIT_NPROC counts every process of a uid)."""
    granted = limits.as_dict()
    if counted:
        granted["processes"] = None
    else:
        granted["processes"] = min(limits.processes, FALLBACK_PROCESSES)
        if os.geteuid() != 0:
            granted["processes"] += _processes_of_this_user()
    return granted


def _command(python: str, limits: Limits, isolated: bool) -> list[str]:
    _compile_sandboxed(python)
    if not isolated:
        return [python, "-I", "-B", "-c", _BOOTSTRAP.format(folder=str(SANDBOXED))]
    scratch = str(limits.scratch_bytes)
    binds = ["--size", scratch, "--perms", "1777", "--tmpfs", "/tmp", "--size", scratch, "--perms", "1777",
             "--tmpfs", "/dev/shm"]
    folders = _interpreter_folders(python)
    ancestors = sorted({str(p) for f in folders for p in Path(f).parents if str(p) not in ("/", "/tmp")} - set(folders))
    for ancestor in ancestors:  # traversable by the program's user, whatever the host's modes (/root is 0700)
        binds += ["--perms", "0755", "--dir", ancestor]
    for folder in folders:
        binds += ["--ro-bind", folder, folder]
    binds += ["--ro-bind", str(SANDBOXED), INSIDE]
    return [*_bwrap(binds), python, "-I", "-B", "-c", _BOOTSTRAP.format(folder=INSIDE)]


_BOOTSTRAP = "import sys; sys.path.insert(0, {folder!r}); import supervisor; sys.exit(supervisor.main())"


@functools.cache
def _compile_sandboxed(python: str) -> None:
    """Cache the sandboxed scripts' bytecode for the interpreter that runs them (milliseconds a program);
    where their folder is not writable, they are compiled each time instead."""
    if not os.access(SANDBOXED, os.W_OK):
        return
    if Path(python).resolve() == Path(sys.executable).resolve():
        import py_compile

        for script in SANDBOXED.glob("*.py"):
            try:
                py_compile.compile(str(script), doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
            except (OSError, py_compile.PyCompileError):
                return
        return
    try:
        subprocess.run([python, "-m", "compileall", "-q", "--invalidation-mode", "timestamp", str(SANDBOXED)],
                       check=False, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):  # no such interpreter: the sandbox will say so
        pass


def _bwrap(binds: list[str]) -> list[str]:
    """bubblewrap's command up to the program: namespaces, a root of /usr and `binds`, read-only after."""
    root = ["--ro-bind", "/usr", "/usr", "--dev", "/dev", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for name in ("bin", "lib", "lib64", "lib32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            root += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            root += ["--ro-bind", str(path), f"/{name}"]
    user = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if os.geteuid() == 0 else ["--unshare-user"]
    return ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            *user, "--die-with-parent", "--new-session", "--as-pid-1", "--hostname", "sandbox", *root, *binds,
            "--remount-ro", "/", "--clearenv", *[a for k, v in ENV.items() for a in ("--setenv", k, v)],
            "--chdir", "/", "--"]


@functools.cache
def _interpreter_folders(python: str) -> tuple[str, ...]:
    """The folders the interpreter needs: its installation and, for a virtual environment, that (both as
    written and resolved)."""
    folders = set()
    resolved = Path(python).resolve()
    folders.add(str(resolved.parents[1]))
    environment = Path(python).absolute().parents[1]
    if (environment / "pyvenv.cfg").exists():
        folders.add(str(environment))
        home = _venv_home(environment / "pyvenv.cfg")
        if home:
            folders.add(str(Path(home).resolve().parent))
    return tuple(sorted(f for f in folders if f not in ("/", "/usr") and not f.startswith("/usr/")))


def _venv_home(config: Path) -> str | None:
    for line in config.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return value.strip()
    return None


def _processes_of_this_user() -> int:
    """How many processes this user runs now (Linux; 0 elsewhere)."""
    uid, count = os.getuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nUid:\t{uid}\t" in status.read_text():
                count += 1
        except OSError:
            pass
    return count


def _run(command: list[str], config: dict, job: dict, limits: Limits, key: str) -> Outcome:
    """Start the supervisor, feed it, watch its outputs and the two report pipes until it ends or must be
    killed; the outcome."""
    status_read, status_write = os.pipe()
    harness_read, harness_write = os.pipe()
    settings = marshal.dumps(config, 4)
    feed = struct.pack(">Q", len(settings)) + settings + marshal.dumps(job, 4)
    try:
        process = subprocess.Popen([*command, str(status_write), str(harness_write)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   pass_fds=(status_write, harness_write), env=dict(ENV), start_new_session=True,
                                   cwd="/")
    finally:
        os.close(status_write)
        os.close(harness_write)
    with os.fdopen(status_read, "rb") as status_pipe, os.fdopen(harness_read, "rb") as harness_pipe:
        watch = _Watch(process, feed, harness_pipe, status_pipe, limits)
        watch.run()
    lines = _signed_lines(bytes(watch.buffers[harness_pipe]), key)
    ready = ("ready", "") in lines
    final = next((Report(kind, detail) for kind, detail in reversed(lines) if kind != "ready"), None)
    status = _status(bytes(watch.buffers[status_pipe]))
    cap = limits.output_bytes
    outcome = Outcome(status.get("exit"), status.get("signal"), watch.timed_out, watch.exceeded,
                      bytes(watch.buffers[process.stdout][:cap]).decode(errors="replace"),
                      bytes(watch.buffers[process.stderr][:cap]).decode(errors="replace"),
                      time.monotonic() - watch.started, None, final, ready, float(status.get("cpu") or 0.0))
    if not ready and not watch.timed_out and not watch.exceeded:
        tail = outcome.stderr.strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        return replace(outcome, setup_error=f"the sandbox did not start the program: {tail[0]}")
    return outcome


@dataclass
class _Watch:
    """The supervisor watched: stdin fed, outputs and report pipes read (each up to its cap), the whole
    process group killed at the deadline or past the output cap."""

    process: subprocess.Popen
    feed: bytes
    harness: object
    status: object
    limits: Limits
    buffers: dict = field(default_factory=dict)
    timed_out: bool = False
    exceeded: bool = False
    started: float = field(default_factory=time.monotonic)

    def run(self) -> None:
        deadline = self.started + self.limits.wall_seconds
        selector = selectors.DefaultSelector()
        readers = (self.process.stdout, self.process.stderr, self.harness, self.status)
        for stream in readers:
            self.buffers[stream] = bytearray()
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ)
        os.set_blocking(self.process.stdin.fileno(), False)
        selector.register(self.process.stdin, selectors.EVENT_WRITE)
        feed = memoryview(self.feed)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                break
            for key, _ in selector.select(timeout=left):
                if key.fileobj is self.process.stdin:
                    feed = self._write(selector, feed)
                else:
                    self._read(selector, key.fileobj)
            if self.exceeded:
                break
        selector.close()
        if self.timed_out or self.exceeded:
            _kill_group(self.process)
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()) + 5)
        except subprocess.TimeoutExpired:
            _kill_group(self.process)
            self.process.wait()
            self.timed_out = True
        _kill_group(self.process)  # without namespaces, what the program left in its session
        for stream in (*readers, self.process.stdin):
            stream.close()

    def _write(self, selector, feed: memoryview) -> memoryview:
        try:
            written = os.write(self.process.stdin.fileno(), feed[: 1 << 16])
        except (BrokenPipeError, BlockingIOError) as exc:
            if isinstance(exc, BlockingIOError):
                return feed
            written = len(feed)
        feed = feed[written:]
        if not feed:
            selector.unregister(self.process.stdin)
            self.process.stdin.close()
        return feed

    def _read(self, selector, stream) -> None:
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            selector.unregister(stream)
            return
        buffer = self.buffers[stream]
        if stream in (self.process.stdout, self.process.stderr):
            buffer += chunk
            self.exceeded = len(buffer) > self.limits.output_bytes
        elif len(buffer) < REPORT_CAP:
            buffer += chunk[: REPORT_CAP - len(buffer)]


def _status(data: bytes) -> dict:
    """The supervisor's `exit=<code> cpu=<seconds>` (or `signal=<n>`): {} when it said nothing."""
    status = {}
    for part in data.decode("ascii", "replace").split():
        name, _, value = part.partition("=")
        try:
            status[name] = float(value) if name == "cpu" else int(value)
        except ValueError:
            continue
    return status


def _signed_lines(data: bytes, key: str) -> list[tuple[str, str]]:
    """(kind, detail) of the harness's report lines whose signature is valid; anything else is ignored."""
    secret, found = bytes.fromhex(key), []
    for line in data.split(b"\n"):
        mac, _, body = line.partition(b" ")
        if not body or not hmac.compare_digest(mac, hmac.new(secret, body, "sha256").hexdigest().encode()):
            continue
        kind, _, detail = body.decode("ascii", "replace").partition(" ")
        try:
            found.append((kind, bytes.fromhex(detail).decode("utf-8", "replace")))
        except ValueError:
            continue
    return found


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
