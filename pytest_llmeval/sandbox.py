"""Run a Python program written by a model where it cannot reach this machine: in bubblewrap.

``run_python(program, limits=...)`` runs the program in a new ``bwrap`` sandbox (Debian's
``bubblewrap``, the sandbox Flatpak is built on) and returns an ``Execution``: passed, failed,
timeout, killed or oom, with a one-line reason, the duration and capped stdout/stderr. Model code
never runs in the calling process. ``sandbox_status()`` says in one line why no sandbox can run
here, or None. The tests in ``tests/test_sandbox_hostile.py`` prove each guarantee below against a
program that tries to break it.

What the program gets:
- **Files**: only what Python needs, read-only: ``/usr``, ``/lib*``/``/bin`` (or their links),
  ``/etc/ld.so.*`` and the interpreter's own prefix when it lives outside ``/usr``. No ``$HOME``,
  no project folder, no ``/etc/passwd``, no ``/sys``. The root, ``/dev`` and ``/usr`` are
  read-only; ``/tmp`` and ``/dev/shm`` are fresh tmpfs of ``tmp_mb`` each, gone afterwards.
- **Namespaces**: its own user, PID, network (loopback only, so no route anywhere, and no
  abstract Unix socket of the host), IPC, UTS and cgroup namespaces. ``/proc`` shows only its own
  processes, and it cannot create further user namespaces.
- **Identity**: uid/gid 65534 inside. Run as root, ``bwrap`` itself is started as uid 65534, so
  the program is not root to the kernel either: a sandbox that maps root inside its user namespace
  is still uid 0 outside, and the kernel exempts uid 0 from RLIMIT_NPROC. (A Python under a folder
  closed to uid 65534, as pyenv's under ``/root``, is then replaced by the system's
  ``python3.X`` of the same version.)
- **Environment**: ``PATH``, ``HOME=/tmp``, ``TMPDIR``, ``LANG=C.UTF-8`` and ``PYTHONHASHSEED=0``
  (set and dict order, hence results, are the same on every run), nothing else; ``bwrap`` itself
  gets an empty environment, so not even ``/proc/1/environ`` inside holds a key of the caller.
- **Limits** (``Limits``), set by ``sandbox_launcher.py`` in the program's process before its
  first line: CPU seconds, address space per process, processes and threads together, file size,
  open files; wall time is the caller's clock. RLIMIT_NPROC counts per user *and user namespace*,
  and every execution has a fresh user namespace, so a fork bomb stops at ``processes`` without
  taking slots from executions running beside it. Memory is per process: without a memory cgroup
  (these machines have cgroup v1, whose hierarchy belongs to the container), a program that
  deliberately forks can hold about ``processes`` x (``memory_mb`` + ``open_files`` x
  ``file_mb`` of memfds) until its time is up.
- **Lifetime**: ``--die-with-parent`` plus the PID namespace: when the program's first process
  ends, is killed at the wall limit, or the caller dies, every process it started dies with it.
- **Output**: stdout and stderr keep their first ``output_bytes`` each and the rest is read and
  dropped, so a program printing gigabytes neither fills memory nor blocks on a full pipe.

It does not filter system calls (no seccomp), so a kernel bug reachable from an unprivileged
process is reachable from the program. And the verdict is the program's own: code written to cheat
(an object equal to everything, a forged report on the status pipe) can fake a pass; the sandbox
protects the machine, not the score.

``unsafe=True`` is the plain fallback for machines without bubblewrap (``--llm-unsafe-exec``): the
same Python, launcher and limits in an ordinary subprocess, in a fresh temporary folder with the
same environment, killed with its process group. It runs as the caller, sees the network and the
caller's files, and as root RLIMIT_NPROC does not apply.

Thread-safe: each call has its own process, pipes and selector, so executions run in parallel
from a thread pool while the engine keeps sending requests.
"""

from __future__ import annotations

import contextlib
import math
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from .errors import SandboxError

__all__ = ["Execution", "Limits", "SANDBOX_UID", "Status", "cancel_running", "run_python", "sandbox_status"]

Status = Literal["passed", "failed", "timeout", "killed", "oom"]

SANDBOX_UID = 65534
"""The program's uid and gid in the sandbox; as root, also the host uid that runs ``bwrap``."""

_MIB = 1024 * 1024
_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
_PYTHON_FLAGS = ("-S", "-B", "-u", "-P")  # no site-packages, no .pyc, unbuffered output, no cwd on sys.path
_NAMESPACES = ("--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--disable-userns", "--die-with-parent", "--new-session")
_ROOT_ENTRIES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_LOADER_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
_STATUS_BYTES = 64 * 1024
_CHUNK = 64 * 1024
_GRACE_S = 2.0  # once the program's first process has ended, how long its pipes may take to close
_RUNNING: dict[subprocess.Popen[bytes], bool] = {}  # every live execution's process, and whether it is unsafe
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Limits:
    """What one execution may use. Defaults fit HumanEval-style tests (stdlib, one process, well
    under a second) with wide margins; ``processes`` counts threads too, and includes the
    sandbox's own init and the program's first process."""

    wall_s: float = 10.0
    cpu_s: float = 5.0
    memory_mb: int = 512
    processes: int = 8
    output_bytes: int = 64 * 1024
    file_mb: int = 16
    tmp_mb: int = 64
    open_files: int = 64

    def __post_init__(self) -> None:
        for name in ("wall_s", "cpu_s", "memory_mb", "output_bytes", "file_mb", "tmp_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"sandbox limit {name} must be positive, got {getattr(self, name)!r}")
        if self.processes < 3:  # the sandbox's init and the program's first process, plus one
            raise ValueError(f"sandbox limit processes must be at least 3, got {self.processes!r}")
        if self.open_files < 16:  # the interpreter itself needs a few
            raise ValueError(f"sandbox limit open_files must be at least 16, got {self.open_files!r}")

    def launcher_args(self) -> list[str]:
        """The numbers ``sandbox_launcher.py`` reads, in its order."""
        return [str(v) for v in (math.ceil(self.cpu_s), self.memory_mb * _MIB, self.processes, self.file_mb * _MIB,
                                 self.open_files)]


@dataclass(frozen=True, slots=True)
class Execution:
    """How one program ended. ``reason`` is one line ("" when it passed); ``stdout`` and ``stderr``
    hold at most ``Limits.output_bytes`` each, and ``truncated`` says whether either lost the rest."""

    status: Status
    reason: str
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    sandboxed: bool = True

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_python(program: str, *, limits: Limits = Limits(), unsafe: bool = False) -> Execution:
    """Run ``program`` (Python source) to its end, in the sandbox, or with ``unsafe=True`` in a plain
    subprocess. It passes when it runs to its last statement without an exception; ``exit()`` before
    that is a failure, since the tests after it never ran. Raises ``SandboxError`` when no program
    could run at all (bwrap missing or refused), which must never count as the program's failure."""
    status_read, status_write = os.pipe()
    try:
        with _workdir(unsafe) as workdir:
            command = _unsafe_command(limits, status_write) if unsafe else _sandbox_command(limits, status_write)
            started = time.monotonic()
            proc = _spawn(command, status_write, workdir, unsafe)
            os.close(status_write)
            status_write = -1
            with _reaped(proc, unsafe):
                captured = _Capture(proc, status_read, limits, unsafe, started)
                captured.run(program.encode("utf-8", "surrogatepass"))  # a lone surrogate: a SyntaxError there
            duration = (captured.ended or time.monotonic()) - started
    finally:
        for fd in (status_read, status_write):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
    return _verdict(captured, proc.returncode, limits, duration, sandboxed=not unsafe)


def cancel_running() -> None:
    """Kill every execution running in this process now (the run is stopping: Ctrl-C, the end of
    the session). Each ``run_python`` call then returns as killed; nothing it started survives."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.items())
    for proc, unsafe in running:
        _kill(proc, unsafe)


def sandbox_status() -> str | None:
    """None when the sandbox runs here; otherwise one line saying why not and what to do. Checked
    once per process by running a trivial program in it, so the answer is what run_python meets."""
    return _probe()


@cache
def _probe() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    try:
        execution = run_python("import os\nassert os.getuid() == 65534\n", limits=Limits(wall_s=60.0))
    except SandboxError as exc:
        return str(exc)
    if not execution.passed:
        return f"the sandbox ran but a trivial program did not pass: {execution.status}: {execution.reason}"
    return None


# --- the command -------------------------------------------------------------------------------


def _sandbox_command(limits: Limits, status_fd: int) -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError("bubblewrap is not installed (no bwrap on PATH): apt-get install bubblewrap, "
                           "or dnf install bubblewrap")
    python, prefix = _interpreter()
    tmp = str(limits.tmp_mb * _MIB)
    return [bwrap, *_NAMESPACES, "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
            "--clearenv", *_setenv(), "--ro-bind", "/usr", "/usr", *_root_entries(), *_loader_files(),
            *(("--ro-bind", prefix, prefix) if prefix else ()),
            "--proc", "/proc", "--dev", "/dev", "--size", tmp, "--tmpfs", "/tmp", "--size", tmp, "--tmpfs", "/dev/shm",
            "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
            "--", python, *_PYTHON_FLAGS, "-c", _launcher(), str(status_fd), *limits.launcher_args()]


def _unsafe_command(limits: Limits, status_fd: int) -> list[str]:
    """The Python the sandbox would run, so both give the same verdicts; this one where it has none."""
    try:
        python = _interpreter()[0]
    except SandboxError:
        python = getattr(sys, "_base_executable", None) or sys.executable
    return [python, *_PYTHON_FLAGS, "-c", _launcher(), str(status_fd), *limits.launcher_args()]


def _setenv() -> list[str]:
    return [arg for name, value in _ENV.items() for arg in ("--setenv", name, value)]


@cache
def _root_entries() -> tuple[str, ...]:
    """``/bin``, ``/lib64``...: the same link where the host has a link (merged /usr), else bound read-only."""
    args: list[str] = []
    for name in _ROOT_ENTRIES:
        path = Path("/", name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return tuple(args)


def _loader_files() -> list[str]:
    return [arg for path in _LOADER_FILES for arg in ("--ro-bind-try", path, path)]


@cache
def _launcher() -> str:
    return Path(__file__).with_name("sandbox_launcher.py").read_text(encoding="utf-8")


@cache
def _interpreter() -> tuple[str, str | None]:
    """The Python the sandbox runs, and its prefix when that must be bound (None: under /usr).

    This process's own interpreter (the base one, never a virtualenv's, which lives in the project),
    when the sandbox's user can reach it and its prefix holds neither $HOME nor the working folder;
    otherwise the system's ``python3.X`` of the same version."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    own = Path(getattr(sys, "_base_executable", None) or sys.executable).resolve()
    candidates = [(own, Path(sys.base_prefix).resolve())]
    candidates += [(Path(folder, f"python{version}").resolve(), Path(folder).parent)
                   for folder in ("/usr/bin", "/usr/local/bin")]
    for python, prefix in candidates:
        if python.is_file() and python.is_relative_to(prefix) and _reachable(python) and _bindable(prefix):
            return str(python), None if prefix.is_relative_to("/usr") else str(prefix)
    raise SandboxError(f"no Python {version} the sandbox's user (uid {SANDBOX_UID}) can read: {own} is in a folder "
                       f"closed to other users; install python{version} system-wide (apt-get install python3)")


def _bindable(prefix: Path) -> bool:
    """A prefix to bind read-only must not hand the program $HOME or the project: "/" or a folder
    holding either is refused."""
    if prefix.is_relative_to("/usr"):
        return True
    if prefix == Path("/"):
        return False
    shielded = [Path.home().resolve(), Path.cwd().resolve()]
    return _reachable(prefix) and not any(path.is_relative_to(prefix) for path in shielded)


def _reachable(path: Path) -> bool:
    """Whether the user that runs bwrap can reach ``path`` (read it, and pass every folder above):
    always for an ordinary user (it is their own interpreter); for root, by the "other" permission
    bits, since bwrap then runs as uid 65534, which owns nothing."""
    if _host_user() is None:
        return True
    folders = list(reversed(path.parents))
    if not all(_mode(folder) & stat.S_IXOTH for folder in folders):
        return False
    wanted = stat.S_IROTH | stat.S_IXOTH
    return _mode(path) & wanted == wanted


def _mode(path: Path) -> int:
    try:
        return path.stat().st_mode
    except OSError:
        return 0


def _host_user() -> int | None:
    """The host uid bwrap runs as: SANDBOX_UID when we are root (see the module's docstring), else
    None (bwrap runs as the caller, an ordinary user the kernel already limits)."""
    return SANDBOX_UID if os.geteuid() == 0 else None


# --- the process -------------------------------------------------------------------------------


@contextlib.contextmanager
def _workdir(unsafe: bool) -> Iterator[str | None]:
    """A fresh temporary folder for an unsafe run (the sandbox has its own /tmp)."""
    if not unsafe:
        yield None
        return
    folder = tempfile.mkdtemp(prefix="llmeval-unsafe-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _spawn(command: list[str], status_fd: int, workdir: str | None, unsafe: bool) -> subprocess.Popen[bytes]:
    """A new session (a terminal's Ctrl-C reaches pytest, which then ends the sandbox, not the program
    mid-write), only the status pipe passed on, and for bwrap an empty environment. bwrap's
    --die-with-parent follows the thread that started it, which waits here until the end."""
    user = None if unsafe else _host_user()
    try:
        return subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
            pass_fds=(status_fd,), env=dict(_ENV) if unsafe else {}, cwd=workdir, start_new_session=True,
            user=user, group=user, extra_groups=[] if user is not None else None)
    except OSError as exc:
        raise SandboxError(f"cannot start {command[0]}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _reaped(proc: subprocess.Popen[bytes], unsafe: bool) -> Iterator[None]:
    """Whatever happens in between, the program and everything it started are gone afterwards."""
    with _RUNNING_LOCK:
        _RUNNING[proc] = unsafe
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(proc, None)
        _kill(proc, unsafe)
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _kill(proc: subprocess.Popen[bytes], unsafe: bool) -> None:
    """bwrap's SIGKILL takes the sandbox with it (--die-with-parent, then the PID namespace); an
    unsafe run has only its process group, which is killed even after its leader ended."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if unsafe:
            os.killpg(proc.pid, signal.SIGKILL)
        elif proc.poll() is None:
            proc.kill()


class _Capture:
    """Feeds the program to stdin and reads stdout, stderr and the status pipe until they close or
    the wall limit passes, keeping only the first bytes of each: one selector, no threads."""

    def __init__(self, proc: subprocess.Popen[bytes], status_fd: int, limits: Limits, unsafe: bool,
                 started: float) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.proc, self.unsafe, self.deadline = proc, unsafe, started + limits.wall_s
        self.stdin = proc.stdin.fileno()
        self.outputs = {proc.stdout.fileno(): _Buffer(limits.output_bytes),
                        proc.stderr.fileno(): _Buffer(limits.output_bytes), status_fd: _Buffer(_STATUS_BYTES)}
        self.stdout, self.stderr, self.status = self.outputs.values()
        self.timed_out = False
        self.ended: float | None = None

    def run(self, program: bytes) -> None:
        pidfd = os.pidfd_open(self.proc.pid)  # readable once the process has ended: no polling
        try:
            with selectors.DefaultSelector() as selector:
                self._register(selector, pidfd)
                self._loop(selector, memoryview(program))
        finally:
            os.close(pidfd)

    def _loop(self, selector: selectors.BaseSelector, pending: memoryview) -> None:
        while len(selector.get_map()) > 0:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                self.timed_out = self.ended is None
                return
            for key, _ in selector.select(timeout):
                pending = self._handle(selector, key.fd, key.data, pending)

    def _register(self, selector: selectors.BaseSelector, pidfd: int) -> None:
        for fd in (self.stdin, *self.outputs):
            os.set_blocking(fd, False)
        selector.register(self.stdin, selectors.EVENT_WRITE, "stdin")
        for fd in self.outputs:
            selector.register(fd, selectors.EVENT_READ, "output")
        selector.register(pidfd, selectors.EVENT_READ, "exit")

    def _handle(self, selector: selectors.BaseSelector, fd: int, kind: str, pending: memoryview) -> memoryview:
        if kind == "stdin":
            return self._feed(selector, pending)
        if kind == "exit":
            self._exited(selector, fd)
        else:
            self._read(selector, fd)
        return pending

    def _feed(self, selector: selectors.BaseSelector, pending: memoryview) -> memoryview:
        try:
            pending = pending[os.write(self.stdin, pending[:_CHUNK]):]
        except BlockingIOError:
            return pending
        except OSError:  # the sandbox ended before reading its program
            pending = pending[:0]
        if not pending:  # end of program: close through the file object, which owns the fd
            selector.unregister(self.stdin)
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        return pending

    def _read(self, selector: selectors.BaseSelector, fd: int) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if data:
            self.outputs[fd].add(data)
        else:
            selector.unregister(fd)

    def _exited(self, selector: selectors.BaseSelector, pidfd: int) -> None:
        """The first process ended: in the sandbox everything else ends with it and the pipes close at
        once; an unsafe run's leftovers (a daemon holding stdout) are killed. Either way the pipes
        get a short grace to deliver what is in them, not the rest of the wall limit."""
        selector.unregister(pidfd)
        self.ended = time.monotonic()
        self.deadline = min(self.deadline, self.ended + _GRACE_S)
        if self.unsafe:
            _kill(self.proc, unsafe=True)


class _Buffer:
    """The first ``limit`` bytes of a stream; later bytes are counted and dropped."""

    def __init__(self, limit: int) -> None:
        self.limit, self.data, self.dropped = limit, bytearray(), 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


# --- the verdict -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Report:
    """What the launcher wrote on the status pipe (see sandbox_launcher.py): whether it started,
    and the fields of its final line, empty when there is none."""

    started: bool
    record: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: bytes) -> _Report:
        lines = raw.decode("utf-8", "replace").splitlines()
        if not lines or lines[0] != "started":
            return cls(started=False)
        return cls(started=True, record=tuple(lines[1].split("\t")) if len(lines) > 1 else ())


def _verdict(captured: _Capture, returncode: int | None, limits: Limits, duration: float, *,
             sandboxed: bool) -> Execution:
    report = _Report.parse(bytes(captured.status.data))
    if not report.started:
        raise SandboxError(_not_started(captured, limits))
    status, reason = _classify(report.record, returncode, captured.timed_out, limits)
    return Execution(status=status, reason=reason, duration_s=duration, stdout=captured.stdout.text(),
                     stderr=captured.stderr.text(), truncated=bool(captured.stdout.dropped or captured.stderr.dropped),
                     sandboxed=sandboxed)


def _not_started(captured: _Capture, limits: Limits) -> str:
    if captured.timed_out:
        return f"the sandbox did not start within the wall-time limit ({limits.wall_s:g} s)"
    lines = captured.stderr.text().strip().splitlines()
    return f"the sandbox did not start: {lines[-1] if lines else 'no message'}"


def _classify(record: tuple[str, ...], returncode: int | None, timed_out: bool,
              limits: Limits) -> tuple[Status, str]:
    kind = record[0] if record else None
    if kind == "passed":
        return "passed", ""
    if timed_out:
        return "timeout", f"no result within the wall-time limit ({limits.wall_s:g} s)"
    if kind == "oom":
        return "oom", f"MemoryError: over the memory limit ({limits.memory_mb} MiB per process)"
    if kind == "raised" and len(record) == 4:
        return "failed", _raised(*record[1:])
    if kind == "exit" and len(record) == 2:
        return "failed", f"the program called exit({record[1]}) before its end, so its tests did not all run"
    return _ended_without_verdict(returncode, limits)


def _raised(kind: str, line: str, message: str) -> str:
    where = f" (line {line})" if line else ""
    return f"{kind}: {message}{where}" if message else f"{kind}{where}"


def _ended_without_verdict(returncode: int | None, limits: Limits) -> tuple[Status, str]:
    """No final record: the program's process died, or left with ``os._exit``. bwrap reports a
    death by signal as 128 + the signal's number; a plain subprocess as minus the number."""
    code = returncode or 0
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number == signal.SIGXCPU:
        return "timeout", f"ran past the CPU-time limit ({limits.cpu_s} s)"
    if number:
        return "killed", f"killed by {_signal_name(number)}"
    return "failed", f"the program left with status {code} before its end, so its tests did not all run"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
