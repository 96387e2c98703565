"""Small records shared by every process of a run: read, changed and written back as one step.

The rate limit, adaptive concurrency, budgets and early stopping each keep a few numbers that all
xdist workers (and, with a coordination server, all hosts of a sharded run) must see and change
atomically. They all go through one interface, so where the state lives is decided in one place:

- ``FileState`` (the default): one small file per record in the run's shared folder, changed under
  an exclusive ``flock``. Every process of one run on one host sees it.
- A server-backed store (``--llm-coordination``) implements the same two methods.

A record is bytes (its owner chooses the encoding: ``struct`` for the rate limit's two floats,
JSON for the rest). ``update`` hands the change function the current bytes (None before the first
write) and the store's clock, and writes what it returns; the change must be a pure function of
its arguments, because a server-backed store may call it again when another process won the race.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

__all__ = ["Change", "FileState", "SharedState"]

T = TypeVar("T")
Change = Callable[[bytes | None, float], tuple[bytes, T]]

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: the state is per process only
    fcntl = None  # type: ignore[assignment]


class SharedState(Protocol):
    """Where a run's shared records live (see the module docstring)."""

    def update(self, name: str, change: Change[T]) -> T:
        """Apply ``change(current, now)`` to record ``name`` atomically; return its result."""
        ...

    def read(self, name: str) -> bytes | None:
        """Record ``name`` as last written (None: never written)."""
        ...

    def close(self) -> None: ...


class FileState:
    """Records as files in ``folder``, one per name, each changed under an exclusive flock.

    A thread lock per record queues the threads of one process (flock is per open file), and one
    descriptor per record stays open for the run, so an update costs a lock, a read and a write."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._guard = threading.Lock()
        self._open: dict[str, tuple[int, threading.Lock]] = {}

    def path(self, name: str) -> Path:
        return self.folder / f"state-{hashlib.sha256(name.encode()).hexdigest()[:16]}.bin"

    def update(self, name: str, change: Change[T]) -> T:
        fd, lock = self._record(name)
        with lock:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                raw = _read_all(fd)
                new, result = change(raw or None, time.time())
                os.pwrite(fd, new, 0)
                os.ftruncate(fd, len(new))
                return result
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def read(self, name: str) -> bytes | None:
        fd, lock = self._record(name)
        with lock:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                return _read_all(fd) or None
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._guard:
            for fd, _ in self._open.values():
                os.close(fd)
            self._open.clear()

    def _record(self, name: str) -> tuple[int, threading.Lock]:
        with self._guard:
            if name not in self._open:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._open[name] = (os.open(self.path(name), os.O_RDWR | os.O_CREAT, 0o600), threading.Lock())
            return self._open[name]


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 65536, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
