"""The sandbox's first process: makes the program's process, waits for it, reports how it ended.

Run by `tether.grading.sandbox` as ``python -I -B -c 'import supervisor …' REPORT_FD HARNESS_FD``
(standard library only, Python 3.8+; imported, so that its cached .pyc is used): under bubblewrap as pid 1 of fresh namespaces, or, in the unsafe mode
without namespaces, as a plain child process. Its stdin is an 8-byte length, the configuration
(marshal: plain data), then the job for the harness, which it passes on unread. It then:

1. ignores the signals a program could send it (pid 1 of a pid namespace gets only those it
   handles; as root, a program running as nobody cannot signal it at all);
2. forks the process that becomes the program: resource limits (CPU, address space, file size,
   open files, processes where no cgroup counts them, no core files), uid/gid nobody when it runs
   as root, no new privileges, a scrubbed environment, its folder, the system-call filter
   (`seccomp`), ctypes gone again; then the harness (`harness`) in a namespace of its own, which
   reads the job and runs the program and its tests. Nothing is executed: every process of the
   sandbox is this interpreter, with the harness's audit hook;
3. copies the job from its stdin to the harness, then reaps every process until the program's
   has ended (with the CPU time it used), kills and reaps what that left behind (as pid 1), and
   writes ``exit=<code>`` or ``signal=<n>``, and ``cpu=<seconds>``, to REPORT_FD.

The harness's own report (its verdict on the tests) goes to HARNESS_FD, signed with a key this
process never sees. Nothing the program can write reaches REPORT_FD: it is closed in the program's
process, and this process runs as another user (or, under a user namespace, cannot be traced).
"""

import _signal as signal  # the C module: `signal` would import enum (milliseconds per program)
import marshal
import os
import resource
import sys

NOBODY = 65534
HERE = os.path.dirname(os.path.abspath(__file__))
LIMITS = (("RLIMIT_CPU", "cpu_seconds"), ("RLIMIT_AS", "memory_bytes"), ("RLIMIT_FSIZE", "file_bytes"),
          ("RLIMIT_NOFILE", "open_files"), ("RLIMIT_NPROC", "processes"))
IGNORED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGPIPE", "SIGTSTP",
           "SIGTTIN", "SIGTTOU")


def _read_exact(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the configuration ended early")
        data += chunk
    return data


def become_program(config: dict, payload_fd: int, harness_fd: int) -> None:
    """In the forked child: limits, identity, folder, filter, then the harness (never returns)."""
    try:
        for name in IGNORED:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python leaves it: a closed pipe is an exception
        limits = config["limits"]
        for name, field in LIMITS:
            value = limits.get(field)
            if value is not None:
                hard = value + 1 if name == "RLIMIT_CPU" else value  # past the soft CPU limit: SIGXCPU, then SIGKILL
                resource.setrlimit(getattr(resource, name), (value, hard))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if config["drop_root"] and os.getuid() == 0:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        folder = config["folder"]
        if not os.path.isdir(folder):
            os.mkdir(folder, 0o700)
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(config["env"])
        if config["seccomp"]:
            _filter_system_calls()
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
        main = _harness_main()
    except BaseException as exc:  # noqa: BLE001 - the driver sees no "ready": a sandbox failure, not a verdict
        os.write(2, f"tether sandbox: cannot start the program: {exc}\n".encode())
        os._exit(126)
    main(payload_fd, harness_fd)


def _filter_system_calls() -> None:
    """Install the seccomp filter, then forget ctypes' C module (which it needed): the harness refuses to
    load it again."""
    import seccomp

    problem = seccomp.install()
    if problem:
        raise OSError(problem)
    for name in ("_ctypes", "seccomp"):
        sys.modules.pop(name, None)


def _harness_main():
    """The harness's `main`, from its file executed in a namespace of its own with a private copy of the
    builtins: registered nowhere, so the program can patch nothing it uses."""
    import builtins

    path = os.path.join(HERE, "harness.py")
    namespace = {"__name__": "tether_harness", "__file__": path, "__builtins__": dict(builtins.__dict__)}
    exec(_code(path), namespace)  # noqa: S102 - the harness, in a namespace of its own
    return namespace["main"]


def _code(path: str):
    """A file's code: from its cached .pyc when that is current (the driver writes them), else compiled."""
    import marshal

    name = os.path.splitext(os.path.basename(path))[0]
    cached = os.path.join(os.path.dirname(path), "__pycache__", f"{name}.{sys.implementation.cache_tag}.pyc")
    magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
    try:
        with open(cached, "rb") as handle:
            data = handle.read()
        stat = os.stat(path)
        header = [int.from_bytes(data[i:i + 4], "little") for i in (4, 8, 12)]
        if data[:4] == magic and header == [0, int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF]:
            return marshal.loads(data[16:])
    except (OSError, ValueError, EOFError):
        pass
    with open(path, encoding="utf-8") as handle:
        return compile(handle.read(), path, "exec", dont_inherit=True)


def _forward(source: int, target: int) -> None:
    """The job, from stdin to the harness (which may have died: then the rest is dropped)."""
    while True:
        chunk = os.read(source, 1 << 20)
        if not chunk:
            break
        try:
            while chunk:
                chunk = chunk[os.write(target, chunk):]
        except BrokenPipeError:
            break
    os.close(target)


def _reap(child: int, pid1: bool) -> dict:
    """Wait for every process (pid 1 inherits orphans) until `child` has ended; as pid 1, then kill whatever
    it left running and reap that too, so that the namespace is empty when the outcome is reported."""
    outcome = None
    while outcome is None:
        pid, status, usage = os.wait4(-1, 0)
        if pid == child:
            outcome = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)}
            outcome["cpu"] = usage.ru_utime + usage.ru_stime
    if pid1:
        try:
            os.kill(-1, signal.SIGKILL)  # from pid 1: every other process of the namespace
        except ProcessLookupError:
            pass
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return outcome


def main() -> int:
    for name in IGNORED:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    report_fd, harness_fd = int(sys.argv[-2]), int(sys.argv[-1])
    report = os.fdopen(report_fd, "w")
    size = int.from_bytes(_read_exact(0, 8), "big")
    config = marshal.loads(_read_exact(0, size))  # plain data, from the driver
    payload_read, payload_write = os.pipe()
    child = os.fork()
    if child == 0:
        report.close()
        os.close(payload_write)
        become_program(config, payload_read, harness_fd)
    os.close(payload_read)
    os.close(harness_fd)
    _forward(0, payload_write)
    outcome = _reap(child, config["pid1"])
    report.write(" ".join(f"{key}={value}" for key, value in outcome.items()))
    report.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
