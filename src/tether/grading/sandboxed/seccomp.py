"""The program's system-call filter (seccomp): what no graded program may ask the kernel for.

Runs inside the sandbox, in the process that becomes the program, after it has dropped its
privileges and before the harness loads the program (standard library only: the BPF program is
assembled here by hand, eight bytes an instruction, and installed with ``prctl`` through ctypes' C module).

Refused, with an errno the program sees as an ordinary ``OSError``:

- ``execve``/``execveat``: the program cannot start another program, so every process of the
  sandbox is a fork of the harness's interpreter, with its audit hook (docs/code.md);
- ``socket(AF_UNIX, …)``: no host Unix-domain socket can be reached, even one in a folder the
  sandbox shows read-only (``connect`` ignores read-only mounts); ``socketpair`` stays allowed;
- reading or writing another process (``ptrace``, ``process_vm_readv``/``writev``), new
  namespaces (``unshare``, ``setns``, ``clone`` with a namespace flag; ``clone3`` answers ENOSYS so
  that the C library falls back to ``clone``), mounts, ``io_uring`` (which opens sockets without
  ``socket``), ``bpf``, ``perf_event_open``, ``userfaultfd``, keyrings, kernel modules, ``kexec``;
- any other architecture's system calls (x32 on x86-64): the process is killed.

Supported on x86-64 and aarch64; elsewhere `install` returns the reason it could not.
"""

from __future__ import annotations

import errno
import os
import sys

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SYSCALLS = {  # name -> number, per architecture
    "x86_64": {"socket": 41, "clone": 56, "execve": 59, "ptrace": 101, "pivot_root": 155, "chroot": 161,
               "mount": 165, "umount2": 166, "init_module": 175, "delete_module": 176, "kexec_load": 246,
               "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
               "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
               "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
               "execveat": 322, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
               "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
               "fsmount": 432, "fspick": 433, "clone3": 435, "pidfd_getfd": 438, "mount_setattr": 442},
    "aarch64": {"socket": 198, "clone": 220, "execve": 221, "ptrace": 117, "pivot_root": 41, "chroot": 51,
                "mount": 40, "umount2": 39, "init_module": 105, "delete_module": 106, "kexec_load": 104,
                "add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97, "perf_event_open": 241,
                "name_to_handle_at": 264, "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270,
                "process_vm_writev": 271, "finit_module": 273, "kexec_file_load": 294, "bpf": 280,
                "execveat": 281, "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
                "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
                "fsmount": 432, "fspick": 433, "clone3": 435, "pidfd_getfd": 438, "mount_setattr": 442},
}
REFUSED = ("execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns",
           "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig",
           "fsmount", "fspick", "mount_setattr", "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf",
           "perf_event_open", "userfaultfd", "add_key", "request_key", "keyctl", "init_module", "finit_module",
           "delete_module", "kexec_load", "kexec_file_load", "name_to_handle_at", "open_by_handle_at",
           "pidfd_getfd")
AF_UNIX = 1
CLONE_NEW_ANY = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
X32_BIT = 0x40000000

# classic BPF
LD_ABS_W, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (the low word of args[0], little-endian)
KILL_PROCESS, ALLOW = 0x80000000, 0x7FFF0000


def _errno(number: int) -> int:
    return 0x00050000 | number  # SECCOMP_RET_ERRNO


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    """One `struct sock_filter` (code, jt, jf, k) in the machine's byte order."""
    order = sys.byteorder
    return code.to_bytes(2, order) + bytes((jt, jf)) + k.to_bytes(4, order)


def program(machine: str) -> bytes:
    """The filter for one architecture, as bytes of `struct sock_filter`."""
    numbers = SYSCALLS[machine]
    ops = [_op(LD_ABS_W, ARCH), _op(JEQ, AUDIT_ARCH[machine], 1, 0), _op(RET, KILL_PROCESS), _op(LD_ABS_W, NR)]
    if machine == "x86_64":
        ops += [_op(JGE, X32_BIT, 0, 1), _op(RET, KILL_PROCESS)]
    for name in REFUSED:
        ops += [_op(JEQ, numbers[name], 0, 1), _op(RET, _errno(errno.EPERM))]
    ops += [_op(JEQ, numbers["clone3"], 0, 1), _op(RET, _errno(errno.ENOSYS))]
    # socket(AF_UNIX, ...) and clone(<a namespace flag>, ...): the first argument decides
    for name, test, value, refusal in (("socket", JEQ, AF_UNIX, errno.EACCES), ("clone", JSET, CLONE_NEW_ANY,
                                                                               errno.EPERM)):
        ops += [_op(JEQ, numbers[name], 0, 4), _op(LD_ABS_W, ARG0), _op(test, value, 0, 1),
                _op(RET, _errno(refusal)), _op(RET, ALLOW)]
    ops.append(_op(RET, ALLOW))
    return b"".join(ops)


def install() -> str | None:
    """Install the filter on this (single-threaded) process and its future children; None when done,
    else why it could not be (an architecture without a filter here).

    Through the `_ctypes` C module alone (the ctypes package costs milliseconds per program, and leaves
    objects behind): ``prctl`` is looked up in the C library and called with plain ints and a bytes
    object, whose buffer ctypes passes as a pointer; the `sock_fprog` it points to holds the filter's
    address, CPython's bytes layout (the data after a fixed header) giving it."""
    machine = os.uname().machine
    if machine not in SYSCALLS:
        return f"no system-call filter for {machine}"
    import _ctypes

    code = program(machine)
    prctl = _ctypes.dlsym(_ctypes.dlopen(None), "prctl")
    address = id(code) + sys.getsizeof(b"") - 1  # where a bytes object's data starts
    fprog = (len(code) // 8).to_bytes(2, sys.byteorder) + bytes(6) + address.to_bytes(8, sys.byteorder)
    if _ctypes.call_function(prctl, (38, 1, 0, 0, 0)) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    if _ctypes.call_function(prctl, (22, 2, fprog, 0, 0)) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError("prctl(PR_SET_SECCOMP) failed")
    return None
