"""The first code that runs in the sandbox: it sets the limits, then runs the program and reports how
it ended. ``sandbox.py`` passes this file's text to ``python -c``, inside bubblewrap (or, unsafe, in
a plain subprocess), so it imports nothing from pytest_llmeval: the package is not in the sandbox.

Arguments: the status pipe's fd, then CPU seconds, address-space bytes, processes, file bytes and
open files. The program's source arrives on stdin, which is then switched to /dev/null (a program
that reads input gets end-of-file, never a hang).

The limits are set here, in the program's own process and before any of its code runs, so the
program and everything it starts inherit them and none of it can raise them again.

The verdict goes to the status pipe, not to stdout, because the program owns stdout: first the
line ``started`` (so the caller can tell a sandbox that never started from a program that failed),
then one line of tab-separated fields: ``passed`` when the program ran to its last statement;
``raised``, the exception's type, line and message; ``exit`` and the code, when it called
``exit()`` before its end (its tests never ran, so that is no pass); ``oom`` for a MemoryError.
Only the launcher's own process reports: a child the program forked that comes back here leaves
silently. Nothing is imported for this (json alone would add milliseconds to every execution).

``random`` is seeded with 0 before the program runs, as ``PYTHONHASHSEED`` fixes hashing: some
HumanEval tests draw inputs from the unseeded module, and the same reply must get the same verdict.
"""

from __future__ import annotations

import builtins
import os
import random
import resource
import sys

_MESSAGE_CHARS = 300


def main() -> None:
    status_fd = int(sys.argv[1])
    cpu_s, memory_b, processes, file_b, open_files = (int(a) for a in sys.argv[2:7])
    source = sys.stdin.buffer.read()
    _stdin_from_devnull()
    os.set_inheritable(status_fd, False)  # what the program runs must not inherit the verdict's channel
    _set_limits(cpu_s, memory_b, processes, file_b, open_files)
    launcher, write = os.getpid(), os.write  # held before the program can replace them
    random.seed(0)
    write(status_fd, b"started\n")
    record = _run(source)
    if os.getpid() != launcher:
        os._exit(1)
    _flush()
    write(status_fd, "\t".join(" ".join(str(f).split()) for f in record).encode("utf-8", "replace") + b"\n")
    os._exit(0)  # no atexit handlers and no waiting for the program's threads: the verdict is in


def _stdin_from_devnull() -> None:
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _set_limits(cpu_s: int, memory_b: int, processes: int, file_b: int, open_files: int) -> None:
    """Soft and hard limits alike (none can be raised again), except CPU: SIGXCPU at the soft limit
    ends the program with a signal the caller reads as a timeout; the hard limit one second later
    is SIGKILL, for a program that ignores SIGXCPU. A limit already lower here is kept."""
    _limit(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)
    for which, value in ((resource.RLIMIT_AS, memory_b), (resource.RLIMIT_NPROC, processes),
                         (resource.RLIMIT_FSIZE, file_b), (resource.RLIMIT_NOFILE, open_files),
                         (resource.RLIMIT_CORE, 0)):
        _limit(which, value, value)


def _limit(which: int, soft: int, hard: int) -> None:
    current = resource.getrlimit(which)[1]
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _run(source: bytes) -> tuple[object, ...]:
    try:
        code = compile(source, "<program>", "exec", dont_inherit=True)
        exec(code, {"__name__": "__main__", "__builtins__": builtins})  # noqa: S102 - the point of the sandbox
    except SystemExit as exc:
        return "exit", repr(_exit_code(exc))
    except MemoryError as exc:
        _print_traceback(exc, source)
        return ("oom",)
    except BaseException as exc:  # noqa: BLE001 - every way the program can fail is its verdict
        _print_traceback(exc, source)
        message = exc.msg if isinstance(exc, SyntaxError) else exc  # str(SyntaxError) repeats the line
        return "raised", type(exc).__name__, _line(exc) or "", _first_line(message)
    return ("passed",)


def _exit_code(exc: SystemExit) -> object:
    code = exc.code
    return code if code is None or isinstance(code, int) else _first_line(code)


def _first_line(value: object) -> str:
    try:
        lines = str(value).strip().splitlines()
    except Exception:  # noqa: BLE001 - a __str__ written by the program may itself fail
        return ""
    return lines[0][:_MESSAGE_CHARS] if lines else ""


def _line(exc: BaseException) -> int | None:
    """The program's line where it failed: a SyntaxError's own line, else the innermost frame of the
    program in the traceback (an assert in ``check``, or the line of the code under test)."""
    if isinstance(exc, SyntaxError) and exc.filename == "<program>":
        return exc.lineno
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<program>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _print_traceback(exc: BaseException, source: bytes) -> None:
    """The traceback from the program's first frame down (this launcher's own frame is noise), with
    the program's lines shown, as for a script."""
    try:
        import linecache
        import traceback

        lines = source.decode("utf-8", "replace").splitlines(keepends=True)
        linecache.cache["<program>"] = (len(source), None, lines, "<program>")
        tb = exc.__traceback__
        traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)
    except BaseException:  # noqa: BLE001 - no memory left, or a broken stderr: the verdict still goes out
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the program may have closed or replaced them
            pass


if __name__ == "__main__":
    main()
