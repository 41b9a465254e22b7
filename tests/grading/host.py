"""What a sandboxed program could leave on the host, for the sandbox's tests to check it left nothing:
files and processes of uid nobody (the programs' uid), SysV IPC objects, POSIX message queues and shared
memory, and per-program cgroups."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

NOBODY = 65534


@dataclass(frozen=True)
class HostState:
    files: frozenset  # entries of /tmp and /dev/shm owned by nobody
    processes: frozenset  # pids of uid nobody
    ipc: frozenset  # SysV shared memory, message queues and semaphores (kind, id)
    queues: frozenset  # POSIX message queues
    cgroups: frozenset  # tether's per-program cgroups

    def minus(self, before: HostState) -> dict:
        return {name: sorted(getattr(self, name) - getattr(before, name)) for name in self.__dataclass_fields__
                if getattr(self, name) - getattr(before, name)}


def _owned_by_nobody(folder: str) -> set[str]:
    found = set()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        try:
            if entry.stat(follow_symlinks=False).st_uid == NOBODY:
                found.add(f"{folder}/{entry.name}")
        except OSError:
            pass
    return found


def _processes() -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nUid:\t{NOBODY}\t" in status.read_text():
                found.add(int(status.parent.name))
        except OSError:
            pass
    return found


def _sysv() -> set[tuple[str, str]]:
    found = set()
    for kind in ("shm", "msg", "sem"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        found |= {(kind, line.split()[1]) for line in lines if line.split()}
    return found


def _cgroups() -> set[str]:
    from tether.grading.cgroup import hierarchy

    where = hierarchy()
    if where is None:
        return set()
    return {str(p) for folder in {where.memory, where.pids} for p in folder.glob("tether-*")}


def host_state() -> HostState:
    queues = set(os.listdir("/dev/mqueue")) if os.path.isdir("/dev/mqueue") else set()
    return HostState(frozenset(_owned_by_nobody("/tmp") | _owned_by_nobody("/dev/shm")), frozenset(_processes()),
                     frozenset(_sysv()), frozenset(queues), frozenset(_cgroups()))


def left_behind(before: HostState, wait: float = 10.0) -> dict:
    """What is on the host now and was not before (processes killed with their namespace may take a moment to
    exit on a busy machine: waited for, bounded)."""
    deadline = time.monotonic() + wait
    while True:
        extra = host_state().minus(before)
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)


@pytest.fixture(scope="module")
def host_unchanged():
    """Checks, after a module's tests, that none of its sandboxes left anything on the host."""
    before = host_state()
    yield
    assert left_behind(before) == {}
