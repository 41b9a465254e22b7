"""The harness: one untrusted program and its tests, run so that only the tests can make it pass.

Runs inside the sandbox, in the process the supervisor made for the program (standard library only,
Python 3.8+). A program may try to pass without passing: exit before the tests do (``sys.exit``,
``os._exit``, an ``atexit`` or signal handler), return an object whose ``__eq__`` says yes to
anything, patch what the tests call. So the exit code means nothing here, and the verdict comes
from the harness alone, over a channel the program cannot write:

- **Out of the program's reach.** The supervisor executes this file in a namespace of its own,
  with a copy of the builtins taken before the program exists, and registers it nowhere: no
  module, function or builtin the harness uses can be patched by the program. What the harness
  calls after the program has started is captured beforehand (``os.write``, ``sha256``, ...).
- **Two threads.** The main thread (the *judge*) reads the job and a per-run key from a pipe,
  reports ``ready``, and starts a second thread (the *runner*) with ``_thread`` (no Thread object
  holds its arguments). The runner loads the program and runs the tests; it never holds the key,
  and no frame of the judge is ever below a frame of the program. Signal handlers, which Python
  runs on the main thread, cannot be installed from the runner.
- **Where the runner stops says how it ended.** Every path of the runner ends by parking it in one
  of two functions: `_park_passed`, called from exactly one place (after the tests returned and
  nothing was forged), or `_park` (anything else). The judge, woken by the runner, looks at the
  runner's stack and accepts "passed" only when it is exactly ``_park_passed`` called by
  `_execute`, the thread's first frame. A program cannot put those frames there without the tests
  having returned.
- **The report** is one line ``<mac> <kind> <detail as hex>`` with an HMAC-SHA256 under the key;
  the judge then ends the process (``os._exit``: no atexit handler or thread of the program runs
  after it). The driver accepts only lines with a valid MAC; without a valid report the program
  exited before the tests finished (or crashed, or ran out of time).
- **An audit hook** (which no program can remove) refuses what would reach the harness's frames or
  memory, or start what has no hook: ``sys._getframe`` (replaced by a stand-in returning None,
  which logging and typing accept), the frames of tracebacks, generators and coroutines, tracing
  and profiling, other audit hooks, the garbage collector's object walks and its DEBUG_SAVEALL,
  new code objects or code compiled under an installed file's name, ctypes, starting programs;
  and, in the unsafe mode without namespaces, /proc, sockets and writes outside the folder.
- **Forged results.** The tests run in a namespace of their own (a copy of the program's, with the
  builtins as they were before the program ran), rewritten so that every call's result is
  checked: an object of a class the program made that overrides a comparison (``__eq__``,
  ``__ne__``, ordering, ``__bool__``, ``__len__``, ``__sub__``, ``__abs__``, ``__contains__``) is a
  forged result, and so is a module or module attribute the tests use (``math.isclose``) that the
  program replaced.

Not claimed (docs/code.md): a program that corrupts the interpreter's memory, or races its own
threads against the checks, could forge.
"""

from __future__ import annotations

import _ast
import _thread
import builtins
import gc
import io
import marshal
import os
import sys
import types

try:  # the C module alone (hashlib would load OpenSSL: milliseconds per program)
    from _sha256 import sha256 as _sha256_new
except ImportError:  # Python 3.12+
    from _sha2 import sha256 as _sha256_new

PROGRAM_FILE = "program.py"
GUARD = "__tether_checked__"
STACK_BYTES = 64 << 20  # the runner's stack (deep recursion)
POLL_SECONDS = 0.1
JUDGING = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__", "__sub__",
           "__rsub__", "__abs__", "__contains__")
SAFE = frozenset({int, float, complex, str, bytes, bool, type(None)})
CONTAINERS = (list, tuple, set, frozenset, dict)
MAX_WALK = 10_000
BLOCKED = {
    "sys._getframe": "inspecting the interpreter's frames", "sys._current_frames": "inspecting other threads",
    "sys._current_exceptions": "inspecting other threads", "sys.settrace": "tracing",
    "sys.setprofile": "profiling hooks", "sys.monitoring.register_callback": "monitoring hooks",
    "sys.addaudithook": "audit hooks", "setopencodehook": "import hooks",
    "gc.get_objects": "walking the garbage collector's objects", "gc.get_referrers": "walking referrers",
    "gc.get_referents": "walking referents", "code.__new__": "making code objects",
    "os.exec": "starting programs", "os.posix_spawn": "starting programs", "os.spawn": "starting programs",
    "os.system": "starting programs", "subprocess.Popen": "starting programs",
}
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
NETWORK = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"})
NO_IMPORT = frozenset({"ctypes", "_ctypes", "gc"})  # gc: imported already; importing it again remakes it

# What the harness calls once the program runs, captured now (the program can patch modules, not these).
_WRITE, _EXIT, _READ, _CLOSE, _GETPID = os.write, os._exit, os.read, os.close, os.getpid
_PID = os.getpid()  # the judge's process (a fork of the program's is not)
_SHA256, _OPEN, _MODULES = _sha256_new, io.open, sys.modules
_FRAMES, _IDENT, _LOCK, _STACK = sys._current_frames, _thread.get_ident, _thread.allocate_lock, _thread.stack_size
_GC_ENABLED, _GC_DISABLE, _GC_ENABLE = gc.isenabled, gc.disable, gc.enable
_FUNCTION, _TRACEBACK = types.FunctionType, types.TracebackType
_C_METHODS = (types.WrapperDescriptorType, types.MethodDescriptorType, types.BuiltinFunctionType,
              types.MethodWrapperType)
_MRO = type.__dict__["__mro__"].__get__
_DICT = type.__dict__["__dict__"].__get__
_QUALNAME = type.__dict__["__qualname__"].__get__


def _installed_roots() -> tuple:
    """The interpreter's own folders, as written and resolved: code compiled from files there is the
    installation's, not the program's."""
    roots = set()
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        if prefix:
            roots |= {prefix.rstrip("/") + "/", os.path.realpath(prefix).rstrip("/") + "/"}
    return tuple(sorted(roots))


_ROOTS = _installed_roots()
_COPY = str.__getitem__  # str.__getitem__(text, EVERYTHING): an exact str with text's characters
EVERYTHING = slice(None)


def _exact(text):
    """A str the program handed in (a name, a file name), as an exact str: a subclass of str could answer
    ``==``, ``in`` or ``startswith`` as it pleases; its characters cannot. None for anything else."""
    return _COPY(text, EVERYTHING) if isinstance(text, str) else None


class _Forged(BaseException):
    """Raised in the tests when a checked value or module is forged (a BaseException: a test's
    ``except Exception`` does not swallow it)."""


# --- the judge (main thread) --------------------------------------------------------------------------------


def main(payload_fd: int, report_fd: int) -> None:
    """Read the job, start the runner, judge how it ended, report, end the process. Never returns."""
    job = marshal.loads(_read_all(payload_fd))  # plain data, from the driver
    key = bytes.fromhex(job.pop("key")).ljust(64, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
    del key

    def report(kind: str, detail: str) -> None:
        body = (kind + " " + detail.encode("utf-8", "replace").hex()).encode()
        mac = _SHA256(outer + _SHA256(inner + body).digest()).hexdigest()
        _WRITE(report_fd, mac.encode() + b" " + body + b"\n")

    source = job["program"] + "\n\n" + (job.get("tests") or "")
    streams = [(stream, type(stream).flush) for stream in (sys.stdout, sys.stderr)]
    _stdin_from(job.pop("stdin", "") or "")
    state = [_IDENT(), False]  # the judge's thread; whether it is inside one of its own short steps
    sys.addaudithook(_audit_hook(state, bool(job.get("guard_writes"))))
    _replace_frame_access()
    done = _LOCK()
    done.acquire()
    report("ready", "")
    _STACK(STACK_BYTES)
    box = [job]  # emptied by the runner as it starts
    runner = _thread.start_new_thread(_execute, (box, done.release))
    _STACK(0)
    del job
    while not done.acquire(True, POLL_SECONDS):
        if box:  # not started yet (a loaded machine schedules the new thread late): it has not ended either
            continue
        if not _trusted(state, lambda: runner in _FRAMES()):
            report("error", "the harness's runner ended without a verdict")
            _EXIT(0)
    kind, detail = _trusted(state, lambda: _judge(_FRAMES().get(runner), source))
    for stream, flush in streams:
        try:
            flush(stream)
        except BaseException:  # noqa: BLE001, S110 - a closed stream: the output is what it is
            pass
    report(kind, detail)
    _EXIT(0)


def _trusted(state: list, step):
    """Run one of the judge's own steps with the hook's leave (automatic garbage collection paused, so that
    no finalizer of the program runs inside it)."""
    collecting = _GC_ENABLED()
    _GC_DISABLE()
    state[1] = True
    try:
        return step()
    finally:
        state[1] = False
        if collecting:
            _GC_ENABLE()


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = _READ(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    _CLOSE(fd)
    return b"".join(chunks)


def _stdin_from(text: str) -> None:
    """The program's stdin: an unlinked file it may read or not (a program that never reads blocks nobody)."""
    with open(".stdin", "w", encoding="utf-8") as handle:
        handle.write(text)
    fd = os.open(".stdin", os.O_RDONLY)
    os.unlink(".stdin")
    os.dup2(fd, 0)
    os.close(fd)


def _judge(frame, source: str) -> tuple:
    """(kind, detail) from where the runner parked: the stack must be exactly a park function called by
    `_execute`, the thread's first frame."""
    parks = (_park_passed.__code__, _park.__code__)
    while frame is not None and frame.f_code not in parks:  # a finalizer may run above a parked runner
        frame = frame.f_back
    if frame is None:
        return "forged", "the end of the tests was signalled from outside the harness"
    caller = frame.f_back
    if caller is None or caller.f_code is not _execute.__code__ or caller.f_back is not None:
        return "forged", "the harness's end was reached from the program's own code"
    if frame.f_code is _park_passed.__code__:
        return "passed", "passed"
    values = frame.f_locals
    kind, detail, trace = values.get("kind"), values.get("detail"), values.get("trace")
    if type(kind) is not str or kind not in ("failed", "exited", "forged", "error"):
        return "error", "the harness parked without a verdict"
    detail = detail if type(detail) is str else "(no detail)"
    if kind == "failed" and type(trace) is _TRACEBACK:
        detail = _failing_line(trace, source) + detail
    return kind, detail


def _failing_line(trace, source: str) -> str:
    """'line N: <source> -- ' of the last frame of the program or its tests in a traceback, or ''."""
    number = None
    while trace is not None:
        if _exact(trace.tb_frame.f_code.co_filename) == PROGRAM_FILE:
            number = trace.tb_lineno
        trace = trace.tb_next
    lines = source.splitlines()
    if number is None or not 0 < number <= len(lines):
        return ""
    return f"line {number}: {lines[number - 1].strip()[:160]} -- "


# --- the audit hook -----------------------------------------------------------------------------------------


def _audit_hook(state: list, guard_writes: bool):
    """The hook: refuses the events above to every thread but the judge inside its own steps."""
    folder = os.path.realpath(os.getcwd())
    resolve = os.path.realpath

    def refuse(what: str):
        raise PermissionError(f"tether sandbox: {what} is not allowed")

    def hook(event: str, args: tuple) -> None:
        if state[1] and _IDENT() == state[0]:
            return
        what = BLOCKED.get(event)
        if what is not None:
            refuse(what)
        if event == "object.__getattr__":
            if _exact(args[1]) in FRAME_ATTRIBUTES:
                refuse("reaching a frame")
        elif event == "object.__setattr__":
            if _exact(args[1]) == "__code__":
                refuse("replacing a function's code")
        elif event == "import":
            name = _exact(args[0])
            if name in NO_IMPORT:
                refuse(f"importing {name}")
        elif event == "compile":
            _check_compile(args, refuse)
        elif event.startswith("ctypes."):
            refuse("ctypes")
        elif guard_writes:
            _unsafe_mode_checks(event, args, folder, resolve, refuse)

    return hook


def _unsafe_mode_checks(event: str, args: tuple, folder: str, resolve, refuse) -> None:
    """Without namespaces (best effort): no /proc, no network, no writes outside the program's folder."""
    if event in NETWORK:
        refuse("the network")
    if event != "open" or not isinstance(args[0], (str, bytes)):
        return
    real = resolve(_exact(args[0]) if isinstance(args[0], str) else bytes(args[0]).decode("utf-8", "replace"))
    if real == "/proc" or real.startswith("/proc/"):
        refuse("reading /proc")
    mode = _exact(args[1]) or ""
    if any(c in mode for c in "wax+") and not (real == folder or real.startswith(folder + "/")
                                                or real == "/dev/null"):
        refuse(f"writing outside {folder}")


def _check_compile(args: tuple, refuse) -> None:
    """Code compiled under the name of an installed file must be that file's text (an import without a
    cached .pyc); anything else would pass the program's classes off as the library's."""
    source, filename = args[0], _exact(args[1])
    if filename is None or not filename.startswith(_ROOTS):
        return
    if "/../" in filename or "/./" in filename:
        refuse("compiling code under the name of an installed file")
    try:
        with _OPEN(filename, "rb") as handle:
            text = handle.read()
    except OSError:
        text = None
    wanted = source.encode("utf-8") if isinstance(source, str) else source
    if text is None or not isinstance(wanted, (bytes, bytearray, memoryview)) or bytes(wanted) != text:
        refuse("compiling code under the name of an installed file")


def _replace_frame_access() -> None:
    """`sys._getframe` becomes a stand-in returning None (logging and typing accept that), whose globals
    lead nowhere; so does `gc.set_debug`, refusing (its DEBUG_SAVEALL keeps dead frames readable)."""
    namespace: dict = {}
    source = ("def _getframe(depth=0):\n    return None\n\n"
              "def set_debug(flags):\n    raise PermissionError('tether sandbox: gc.set_debug is not allowed')\n")
    exec(source, namespace)  # noqa: S102 - our own two stand-ins, in an empty namespace
    sys._getframe, gc.set_debug = namespace["_getframe"], namespace["set_debug"]


# --- the runner (second thread) -----------------------------------------------------------------------------


def _park_passed(release) -> None:
    if _GETPID() != _PID:  # a fork of the program that ran on to the end: it has no judge; it just ends
        _EXIT(0)
    hold = _LOCK()
    hold.acquire()
    _release(release)
    hold.acquire()  # never released: parked until the judge ends the process


def _park(release, kind: str, detail: str, trace=None) -> None:
    if _GETPID() != _PID:
        _EXIT(1)
    hold = _LOCK()
    hold.acquire()
    _release(release)
    hold.acquire()


def _release(release) -> None:
    try:
        release()
    except RuntimeError:  # released already (by a program that found the lock): the judge is awake anyway
        pass


def _execute(box: list, release) -> None:
    """The runner: the program, then its tests, then the checks; parks where it ended."""
    kind, detail, trace = "error", "the harness failed before the program ran", None
    try:
        run = _Run(box.pop())
        kind, detail = "failed", "(no detail)"
        run.program()
        run.tests()
        run.final_check()
    except _Forged as exc:
        kind, detail = "forged", _describe(exc, bare=True)
    except SystemExit as exc:
        kind, detail = "exited", f"SystemExit({_short(_exit_code(exc))})"
    except _HarnessError as exc:
        kind, detail = "error", _describe(exc, bare=True)
    except BaseException as exc:  # noqa: BLE001 - the program's own exception: a failed test
        kind, detail, trace = "failed", _describe(exc), exc.__traceback__
    else:
        _park_passed(release)
    _park(release, kind, detail, trace)


class _HarnessError(Exception):
    """The harness could not prepare the run (the tests do not compile): no verdict on the program."""


class _ScriptExit(Exception):
    """A script that called sys.exit with a non-zero code."""


def _exit_code(exc: SystemExit):
    try:
        return exc.code
    except BaseException:  # noqa: BLE001 - a SystemExit subclass whose code cannot be read
        return "?"


def _describe(exc: BaseException, bare: bool = False) -> str:
    try:
        message = str(exc)
        name = type(exc).__name__
    except BaseException:  # noqa: BLE001 - an exception of the program's that cannot be printed
        return "(an exception that cannot be printed)"
    if bare or isinstance(exc, _ScriptExit):
        return message
    return f"{name}: {message}" if message else name


def _short(value) -> str:
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001
        text = "(unprintable)"
    return text if len(text) <= 60 else text[:57] + "..."


class _Run:
    """One job: the program's module, the rewritten tests, and the checks they call. Everything the tests
    need is prepared here, before the program runs."""

    def __init__(self, job: dict):
        self.mode, self.entry = job["mode"], job.get("entry")
        self.code = compile(job["program"], PROGRAM_FILE, "exec", dont_inherit=True)
        offset = job["program"].count("\n") + 2  # the tests follow the program after a blank line
        self.test_code, used = None, ()
        self.cases = job.get("cases") or ()  # (arguments, expected output), decoded by the driver
        try:
            if job.get("tests"):
                self.test_code, used = _rewrite_tests(job["tests"], offset)
        except (SyntaxError, ValueError, TypeError, RecursionError) as exc:
            raise _HarnessError(f"the task's tests cannot be prepared: {exc}") from None
        self.builtins = dict(builtins.__dict__)
        self.used = _snapshot(used)
        self.forged = None
        name = "__main__" if self.mode == "script" else "__program__"
        self.module = types.ModuleType(name)
        self.module.__dict__["__builtins__"] = builtins
        if self.mode == "script":
            self.module.__dict__["__file__"] = PROGRAM_FILE
            sys.argv[:] = [PROGRAM_FILE]
        _MODULES[name] = self.module

    def program(self) -> None:
        try:
            exec(self.code, self.module.__dict__)  # noqa: S102 - the program and its tests, by design
        except SystemExit as exc:
            if self.mode != "script":
                raise
            code = _exit_code(exc)
            if code not in (None, 0):
                raise _ScriptExit(f"exit code {_short(code)}") from None

    def tests(self) -> None:
        if self.test_code is not None:
            namespace = dict(self.module.__dict__)
            namespace.update({"__builtins__": self.builtins, "__name__": "__tests__", GUARD: self.checked})
            exec(self.test_code, namespace)  # noqa: S102 - the program and its tests, by design
        if self.mode == "functional":
            self._functional()

    def _functional(self) -> None:
        """LiveCodeBench's functional cases: one JSON argument per input line, calling `Solution().<entry>`
        or a function of that name."""
        namespace = self.module.__dict__
        solution = namespace.get("Solution")
        function = getattr(solution(), self.entry) if solution is not None else namespace.get(self.entry)
        if function is None:
            raise NameError(f"name {self.entry!r} is not defined")
        for number, (arguments, expected) in enumerate(self.cases):
            got = self.checked(function(*arguments))
            if not got == expected:
                raise AssertionError(f"functional case {number}: expected {_short(expected)}, got {_short(got)}")

    def checked(self, value):
        """Every call's result in the tests passes through here."""
        problem = _tampered(self.used) or _forged(value)
        if problem is not None:
            self.forged = problem
            raise _Forged(problem)
        return value

    def final_check(self) -> None:
        problem = self.forged or _tampered(self.used)
        if problem is not None:
            raise _Forged(problem)


# --- the tests, rewritten ------------------------------------------------------------------------------------


def _rewrite_tests(tests: str, offset: int):
    """The tests compiled with every call checked (`f(x)` becomes `__tether_checked__(f(x))`), their lines
    numbered after the program's; and the (module, attribute) pairs they use, to be watched. (With the
    `_ast` C module alone: importing `ast` costs milliseconds per program.)"""
    tree = compile(tests, PROGRAM_FILE, "exec", _ast.PyCF_ONLY_AST, dont_inherit=True)
    used = _modules_used(tree)
    _check_calls(tree)
    for node in _walk(tree):
        if "lineno" in node._attributes and getattr(node, "lineno", None) is not None:
            node.lineno += offset
            if getattr(node, "end_lineno", None) is not None:
                node.end_lineno += offset
    return compile(tree, PROGRAM_FILE, "exec", dont_inherit=True), used


def _walk(tree):
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                pending.extend(item for item in value if isinstance(item, _ast.AST))
            elif isinstance(value, _ast.AST):
                pending.append(value)


def _check_calls(node) -> None:
    """Wrap every call under `node` (children first) in the guard."""
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, _ast.AST):
                    _check_calls(item)
                    value[index] = _guarded(item)
        elif isinstance(value, _ast.AST):
            _check_calls(value)
            setattr(node, name, _guarded(value))


def _guarded(node):
    if not isinstance(node, _ast.Call):
        return node
    wrapped = _ast.Call(func=_ast.Name(id=GUARD, ctx=_ast.Load()), args=[node], keywords=[])
    for part in (wrapped, wrapped.func):
        for attribute in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            setattr(part, attribute, getattr(node, attribute, None))
    return wrapped


def _modules_used(tree) -> list:
    """(module, attribute or None) for each `import m` / `m.attr` / `from m import attr` of the tests."""
    aliases, used = {}, []
    for node in _walk(tree):
        if isinstance(node, _ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                aliases[alias.asname or top] = alias.name if alias.asname else top
                used.append((alias.name, None))
        elif isinstance(node, _ast.ImportFrom) and node.module and not node.level:
            used += [(node.module, alias.name) for alias in node.names if alias.name != "*"]
    for node in _walk(tree):
        if isinstance(node, _ast.Attribute) and isinstance(node.value, _ast.Name) and node.value.id in aliases:
            used.append((aliases[node.value.id], node.attr))
    return used


def _snapshot(used) -> list:
    """(module name, module, attribute, value) of what the tests use, imported now, before the program runs."""
    import importlib

    taken = []
    for name, attribute in used:
        try:
            module = importlib.import_module(name)
        except BaseException:  # noqa: BLE001, S112 - a module this interpreter lacks: the tests' to fail on
            continue
        missing = object()
        value = module.__dict__.get(attribute, missing) if attribute is not None else None
        if value is not missing:
            taken.append((name, module, attribute, value))
    return taken


def _tampered(used) -> str | None:
    for name, module, attribute, value in used:
        if _MODULES.get(name) is not module:
            return f"the program replaced the module {name}"
        if attribute is not None and module.__dict__.get(attribute) is not value:
            return f"the program replaced {name}.{attribute}"
    return None


# --- forged objects -----------------------------------------------------------------------------------------


def _forged(value) -> str | None:
    """What makes a value forged (an object of a class the program made that overrides a comparison),
    looking inside lists, tuples, sets and dicts; None when nothing does."""
    pending, seen = [value], 0
    while pending and seen < MAX_WALK:
        item = pending.pop()
        seen += 1
        kind = type(item)
        if kind in SAFE:
            continue
        name = _overridden(kind)
        if name is not None:
            return f"a call returned an instance of {_class_name(kind)}, a class of the program's own that overrides {name}"
        for base in CONTAINERS:
            if isinstance(item, base):
                pending.extend(list(dict.keys(item)) + list(dict.values(item)) if base is dict
                               else list(base.__iter__(item)))
                break
    return None


def _overridden(kind: type) -> str | None:
    """The first comparison whose implementation the program wrote (in kind's own classes), or None."""
    for name in JUDGING:
        for klass in _MRO(kind):
            members = _DICT(klass)
            if name in members:
                if _programs(klass, members[name]):
                    return name
                break
    return None


def _programs(klass: type, implementation) -> bool:
    """True when the program wrote this implementation: Python code not from an installed file, a C method
    borrowed from another class, or any other callable."""
    if type(implementation) is _FUNCTION:
        filename = _exact(implementation.__code__.co_filename) or ""
        return not (filename.startswith(_ROOTS) and "/../" not in filename and "/./" not in filename)
    if type(implementation) in _C_METHODS:
        return getattr(implementation, "__objclass__", None) is not klass
    return implementation is not None


def _class_name(kind: type) -> str:
    name = _QUALNAME(kind)
    return name if type(name) is str else "class"
