"""A cgroup per program: one memory limit and one process limit on the whole sandbox.

Per-process limits (``RLIMIT_AS``) let a program fork children that each use the limit; a cgroup
bounds them together, scratch files in tmpfs included. tether makes one child cgroup per program
under the cgroup it runs in, on cgroup v2 (``memory.max``, ``memory.swap.max``, ``pids.max``) or
v1 (the memory and pids hierarchies: ``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes``,
``pids.max``), puts the sandbox in it before anything of the program runs (`join_command`), reads
afterwards whether the kernel killed something for memory (`oom_killed`), and removes it.

Where no cgroup can be made (not Linux, no delegation, not permitted) `cgroup_problem` says why and
the sandbox falls back to per-process limits with a cap on processes (docs/code.md).
"""

from __future__ import annotations

import functools
import os
import shlex
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REMOVE_SECONDS = 2.0  # a killed sandbox's last processes may take a moment to leave the cgroup


@dataclass(frozen=True)
class Hierarchy:
    """Where this process may make child cgroups: v2 (one folder) or v1 (memory's and pids' folders)."""

    version: int
    memory: Path
    pids: Path


def _mounts() -> list[tuple[str, str, str, str]]:
    """(mount point, mount root, fstype, super options) of the cgroup mounts."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4].replace("\\040", " "), fields[3], tail[0], tail[2]))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup per v1 controller ("memory", "pids") and for v2 (key "")."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _folder(point: str, root: str, path: str) -> Path:
    """This process's cgroup folder under a mount whose root is `root`."""
    relative = path[len(root):] if root != "/" and path.startswith(root) else path
    return Path(point) / relative.lstrip("/")


def hierarchy() -> Hierarchy | None:
    """Where child cgroups can be made (checked by making and removing one), or None."""
    return _find()[0]


def cgroup_problem() -> str | None:
    """Why no per-program cgroup can be made here (None: one can)."""
    return _find()[1]


@functools.cache
def _find() -> tuple[Hierarchy | None, str | None]:
    if not Path("/proc/self/cgroup").exists():
        return None, "no cgroups on this system"
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError as exc:
        return None, f"cannot read the cgroup mounts: {exc}"
    candidates = []
    v1 = {}
    for point, root, fstype, options in mounts:
        if fstype == "cgroup":
            for controller in ("memory", "pids"):
                if controller in options.split(",") and controller in own:
                    v1[controller] = _folder(point, root, own[controller])
        elif "" in own:
            folder = _folder(point, root, own[""])
            wanted = {"memory", "pids"}
            try:
                enabled = set((folder / "cgroup.subtree_control").read_text().split())
            except OSError:
                enabled = set()
            if wanted <= enabled:
                candidates.append(Hierarchy(2, folder, folder))
    if "memory" in v1 and "pids" in v1:
        candidates.append(Hierarchy(1, v1["memory"], v1["pids"]))
    reasons = []
    for candidate in candidates:
        try:
            trial = ProgramCgroup(candidate, 64 << 20, 8)
            trial.remove()
            return candidate, None
        except OSError as exc:
            reasons.append(f"v{candidate.version}: {exc.strerror or exc}")
    if not candidates:
        return None, "no cgroup hierarchy with the memory and pids controllers this process may use"
    return None, "cannot make a cgroup here (" + "; ".join(reasons) + ")"


class ProgramCgroup:
    """One program's cgroup: made with its limits, joined by the sandbox's first command, then removed."""

    def __init__(self, where: Hierarchy, memory_bytes: int, processes: int):
        self.where = where
        name = f"tether-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.folders = sorted({where.memory / name, where.pids / name})
        for folder in self.folders:
            folder.mkdir()
        try:
            self._limit(where, name, memory_bytes, processes)
        except OSError:
            self.remove()
            raise

    def _limit(self, where: Hierarchy, name: str, memory_bytes: int, processes: int) -> None:
        memory, pids = where.memory / name, where.pids / name
        if where.version == 2:
            (memory / "memory.max").write_text(str(memory_bytes))
            _write_if_there(memory / "memory.swap.max", "0")
        else:
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            _write_if_there(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))  # no swapping past it
        (pids / "pids.max").write_text(str(processes))

    def join_command(self) -> list[str]:
        """A prefix that puts the command it runs into this cgroup before it starts (a shell that moves
        itself, then execs)."""
        moves = " && ".join(f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))}" for folder in self.folders)
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "tether-sandbox"]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the cgroup for memory."""
        memory = self.where.memory / self.folders[0].name
        name = "memory.events" if self.where.version == 2 else "memory.oom_control"
        try:
            for line in (memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> None:
        """Kill what is left in it and remove it (retrying while its last processes exit)."""
        deadline = time.monotonic() + REMOVE_SECONDS
        for folder in self.folders:
            while folder.exists():
                for pid in _procs(folder):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    folder.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)


def _write_if_there(path: Path, value: str) -> None:
    if path.exists():
        path.write_text(value)


def _procs(folder: Path) -> list[int]:
    try:
        return [int(line) for line in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []

