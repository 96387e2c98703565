"""Per-process state: the models of the run and their backends, created on first use.

Kept in ``config.stash`` (never a module global) so pytester runs in one process stay apart.
A backend is created lazily, so collecting, ``--co`` and ``-k`` never load a model or open a
socket, and an xdist worker loads only what its items need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from .errors import FatalBackendError
from .options import RunOptions

if TYPE_CHECKING:
    from .backends.base import Backend
    from .profiles import ModelSpec

__all__ = ["RUNTIME", "Runtime", "build_runtime"]


@dataclass(eq=False)
class Runtime:
    options: RunOptions
    resolve_models: Callable[[], list[ModelSpec]]
    _models: list[ModelSpec] | None = None
    _backends: dict[str, Backend] = field(default_factory=dict)
    _fatal: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def models(self) -> list[ModelSpec]:
        """Resolved on first use, so a run that evaluates nothing never parses a profile."""
        if self._models is None:
            self._models = self.resolve_models()
        return self._models

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


def build_runtime(config: pytest.Config) -> Runtime:
    """The run's options and models. Profiles are parsed up front only when the run names models
    or has a profile file (a bad profile is then a usage error); otherwise on first use."""
    from .errors import ConfigError
    from .options import read_options
    from .profile_files import find_profile_files

    opts = read_options(config)
    files = [opts.models_file] if opts.models_file else find_profile_files(
        config.inipath, config.rootpath, list(config.args), config.invocation_params.dir)

    def resolve() -> list[ModelSpec]:
        from .profiles import resolve_models

        return resolve_models(opts, files)

    runtime = Runtime(options=opts, resolve_models=resolve)
    if opts.models or files:
        try:
            runtime.models
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    return runtime
