"""The sandbox's first process: pid 1 of new pid, mount and network namespaces (`tether.grading.sandbox`).

Run as ``unshare --net --mount --pid --fork --kill-child [--user --map-root-user] python -I -S <this file> FD``,
with the standard library only. It reads its configuration and the program (JSON) from stdin, then:

1. makes every mount private to the namespace, mounts fresh tmpfs (size-capped) on /tmp, /var/tmp
   and /dev/shm, a /proc of the new pid namespace, and remounts every other mount read-only, so
   nothing outside the scratch space can be written and nothing written outlives the sandbox;
2. writes the program and its stdin into a fresh folder under the new /tmp;
3. forks the program: resource limits (CPU, address space, file size, open files, processes, no
   core files), uid/gid nobody when it runs as real root, no new privileges, a scrubbed
   environment, stdin from a file (a program that never reads it cannot block anyone), then
   ``python -I -B program.py``;
4. reaps every process until the program exits, kills and reaps whatever it left running, and
   writes the program's exit code or signal to the report fd (its one argument).

Killed itself (at the deadline), the kernel kills whatever else runs in the namespace.
"""

import ctypes
import json
import os
import re
import resource
import signal
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
KEPT_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
              (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
PR_SET_NO_NEW_PRIVS = 38
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
HOMES = ("/root", "/home")  # hidden (credentials, keys, other projects), but for the interpreter's own folders
MS_MOVE = 8192
NOBODY = 65534

libc = ctypes.CDLL(None, use_errno=True)


def _mount(source, target, fstype, flags, data=None) -> None:
    args = [None if v is None else v.encode() for v in (source, target, fstype)]
    if libc.mount(*args, ctypes.c_ulong(flags), None if data is None else data.encode()) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            raw = line.split()[4]
            points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw))  # \040: a space
    return points


def prepare(config: dict) -> str:
    """The namespace's file system as described above; returns the program's folder."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    scratch = _cover(config["keep"], config["limits"]["scratch_bytes"])
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for point in _mount_points():
        if point in scratch or point == "/proc" or point.startswith("/proc/"):
            continue
        try:
            flags = os.statvfs(point).f_flag
        except OSError:
            continue  # a mount point this process cannot reach (hidden under another mount)
        if flags & os.ST_RDONLY:
            continue
        kept = sum(ms for st, ms in KEPT_FLAGS if flags & st)
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)
    folder = os.path.join("/tmp", "program")
    os.mkdir(folder, 0o700)
    for name, text in (("program.py", config["program"]), ("stdin", config["stdin"])):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    if os.getuid() == 0 and config["drop_root"]:
        for path in (folder, *(os.path.join(folder, n) for n in os.listdir(folder))):
            os.chown(path, NOBODY, NOBODY)
    return folder


def _cover(keep: list[str], size: int) -> list[str]:
    """Empty tmpfs over the scratch folders (writable, `size` bytes each) and the homes (read-only later), with
    the folders in `keep` (the interpreters' and their environments') that lie under them bound back at their
    own paths. The first covered folder holding none of them stages the others' while theirs is mounted.
    Returns the scratch folders covered."""
    covered = [path for path in (*SCRATCH, *HOMES) if os.path.isdir(path) and not os.path.islink(path)]
    holds = {path: [k for k in keep if k == path or k.startswith(path + "/")] for path in covered}
    free = [path for path in covered if not holds[path]]
    if not free:
        raise OSError(f"the interpreter's folders {keep} leave no folder to stage them in")
    staging = None
    for path in sorted(covered, key=lambda p: p != free[0]):
        held = []
        for index, folder in enumerate(holds[path]):
            slot = os.path.join(staging, f"{len(os.listdir(staging))}-{index}")
            os.mkdir(slot)
            _mount(folder, slot, None, MS_BIND | MS_REC)
            held.append((slot, folder))
        options = f"size={size},mode=1777" if path in SCRATCH else "size=1m,mode=0755"
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options)
        for slot, folder in held:
            os.makedirs(folder, mode=0o755, exist_ok=True)
            _mount(slot, folder, None, MS_MOVE)
        if staging is None:
            staging = os.path.join(path, ".tether-staging")
            os.mkdir(staging, 0o700)
    return [path for path in covered if path in SCRATCH]


def run_program(config: dict, folder: str) -> None:
    """In the forked child: limits, identity, then exec the program (never returns)."""
    try:
        os.chdir(folder)
        stdin = os.open("stdin", os.O_RDONLY)
        os.dup2(stdin, 0)
        os.close(stdin)
        limits = config["limits"]
        for name, value in (("RLIMIT_CPU", limits["cpu_seconds"]), ("RLIMIT_AS", limits["memory_bytes"]),
                            ("RLIMIT_FSIZE", limits["file_bytes"]), ("RLIMIT_NOFILE", limits["open_files"]),
                            ("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_CORE", 0)):
            hard = value + 1 if name == "RLIMIT_CPU" else value  # past the soft CPU limit: SIGXCPU, then SIGKILL
            resource.setrlimit(getattr(resource, name), (value, hard))
        if os.getuid() == 0 and config["drop_root"]:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        os.execve(config["python"], [config["python"], "-I", "-B", "program.py"], config["env"])
    except BaseException as exc:  # noqa: BLE001 - reported to the driver through the exit code
        os.write(2, f"tether sandbox: cannot start the program: {exc}\n".encode())
        os._exit(126)


def reap(child: int) -> dict:
    """Wait for every process (pid 1 inherits orphans) until `child` has exited; then kill whatever it left
    running and reap that too, so that the namespace is empty when the outcome is reported."""
    outcome = None
    while outcome is None:
        pid, status = os.wait()
        if pid == child:
            outcome = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)}
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
    report = os.fdopen(int(sys.argv[1]), "w")
    os.set_inheritable(report.fileno(), False)
    config = json.loads(sys.stdin.buffer.read())
    try:
        folder = prepare(config)
    except OSError as exc:
        report.write(json.dumps({"setup_error": str(exc)}))
        return 0
    child = os.fork()
    if child == 0:
        report.close()
        run_program(config, folder)
    report.write(json.dumps(reap(child)))
    report.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
