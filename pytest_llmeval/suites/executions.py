"""Where a code task's replies are scored: a pool of threads, one per core, fed as replies arrive.

Scoring a ``code`` reply runs a program in the sandbox (a tenth of a second to the wall limit).
Done on the item's thread, one item at a time, it would leave the cores idle while executions
wait on each other; done on the engine's threads, it would hold up requests. So each reply is
handed here the moment the engine resolves it (``then``, a callback on the request's future, which
only queues), and the item waits for its scored result: requests keep flowing, and up to one
execution per core runs beside them.

``stop`` (the session ends, Ctrl-C) kills the programs still running (``sandbox.cancel_running``)
and makes every execution not yet started an error saying so; no bubblewrap process outlives it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ..errors import Cancelled, LLMEvalError
from ..sandbox import cancel_running
from ..scoring.code_tests import UNSAFE_EXEC

__all__ = ["Executions", "cores", "runs_code", "sandbox_refusal"]

T = TypeVar("T")
R = TypeVar("R")

_STOPPED = "the run stopped before this sample's code ran"


def cores() -> int:
    """The cores this process may run on (its affinity, as a container's CPU set limits it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Executions:
    """One process's execution pool. ``unsafe``: executions run without the sandbox (the run's
    decision, ``--llm-unsafe-exec`` on a machine without one)."""

    def __init__(self, unsafe: bool = False, workers: int | None = None) -> None:
        self.unsafe = unsafe
        self._pool = ThreadPoolExecutor(max_workers=workers or cores(), thread_name_prefix="llmeval-exec")
        self._stopped = threading.Event()

    def then(self, future: Future[T], score: Callable[[T], R]) -> Future[R]:
        """The future of ``score(future's result)``, computed on the pool once ``future`` resolves."""
        scored: Future[R] = Future()

        def run(value: T) -> None:
            if self._stopped.is_set():
                scored.set_exception(Cancelled(_STOPPED))
                return
            UNSAFE_EXEC.set(self.unsafe)
            try:
                scored.set_result(score(value))
            except BaseException as exc:  # noqa: BLE001 - handed to the item that waits for it
                scored.set_exception(exc)

        def queue(done: Future[T]) -> None:
            try:
                self._pool.submit(run, done.result())
            except RuntimeError:  # the pool was shut down: the run is ending
                scored.set_exception(Cancelled(_STOPPED))

        future.add_done_callback(queue)
        return scored

    def stop(self) -> None:
        """Start no more executions and kill the running ones; their items end as errors."""
        self._stopped.set()
        cancel_running()

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True)


def runs_code(nodeids: Iterable[str], root: Path) -> bool:
    """Whether any of these items belongs to a suite whose task runs model-written code. Read from
    the suite files themselves, so the controller of an xdist run (which collects nothing) can
    check the sandbox before any worker runs an item."""
    from ..identity import SUITE_MARK
    from ..scoring.tasks import REGISTRY
    from ..yamlfile import load_validated
    from .schema import SuiteConfig

    files = {nodeid.split(SUITE_MARK)[0] + SUITE_MARK[:-2] for nodeid in nodeids if SUITE_MARK in nodeid}
    for name in sorted(files):
        try:
            task = load_validated(root / name, SuiteConfig).task
        except LLMEvalError:
            continue  # a suite that does not load failed its collection already
        if REGISTRY[task].executes:
            return True
    return False


def sandbox_refusal(unsafe_allowed: bool) -> tuple[str | None, str | None]:
    """Checked once per run before any code runs: ``(refusal, warning)``. With a working sandbox,
    neither. Without one, the one line that refuses the run, or (``--llm-unsafe-exec``) the
    warning the summary and results.json carry."""
    from ..sandbox import sandbox_status

    problem = sandbox_status()
    if problem is None:
        return None, None
    if not unsafe_allowed:
        return (f"pytest-llmeval: refusing to run model-written code without a sandbox: {problem} "
                "(or pass --llm-unsafe-exec to run it unsandboxed, as you)"), None
    return None, (f"UNSAFE: model-written code ran without a sandbox (--llm-unsafe-exec; {problem}): "
                  "as this user, with this machine's network and files")
