"""Per-process state: the models of the run and their backends, created on first use.

Kept in ``config.stash`` (never a module global) so pytester runs in one process stay apart.
A backend is created lazily, so collecting, ``--co`` and ``-k`` never load a model or open a
socket, and an xdist worker loads only what its items need.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from .backends.base import Backend
from .errors import FatalBackendError
from .options import RunOptions
from .profiles import ModelSpec

__all__ = ["RUNTIME", "Runtime"]


@dataclass
class Runtime:
    options: RunOptions
    models: list[ModelSpec]
    _backends: dict[str, Backend] = field(default_factory=dict)
    _fatal: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    def backend(self, name: str) -> Backend:
        """The model's backend; after a fatal refusal, fail fast without another request."""
        if name in self._fatal:
            raise FatalBackendError(self._fatal[name])
        with self._lock:
            if name not in self._backends:
                from .backends.registry import create_backend

                self._backends[name] = create_backend(self.model(name).settings)
            return self._backends[name]

    def mark_fatal(self, name: str, message: str) -> None:
        self._fatal.setdefault(name, message)

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()


RUNTIME = pytest.StashKey[Runtime]()
