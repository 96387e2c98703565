"""Backend names to classes. A backend's module (and so its SDK) is imported only when that
backend is created, so naming a backend that is never used costs nothing.

A name is looked up, in order, as:
1. a built-in name (``KNOWN_BACKENDS``);
2. ``package.module:Class`` (``Class`` may be dotted: ``module:Outer.Inner``);
3. an entry point of the group ``pytest_llmeval.backends``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType

from ..errors import ConfigError, one_line
from .base import Backend, BackendSettings

__all__ = ["ACCEPTED", "ENTRY_POINT_GROUP", "KNOWN_BACKENDS", "create_backend", "entry_point_class",
           "resolve_backend_class"]

ENTRY_POINT_GROUP = "pytest_llmeval.backends"
KNOWN_BACKENDS: Mapping[str, str] = MappingProxyType({
    "openai": "pytest_llmeval.backends.openai.chat:OpenAIChatBackend",
    "llamacpp": "pytest_llmeval.backends.llamacpp:LlamaCppBackend",
    "hf": "pytest_llmeval.backends.hf.backend:HFBackend",
    "http": "pytest_llmeval.backends.http.backend:HTTPBackend",
})
ACCEPTED = f"{', '.join(KNOWN_BACKENDS)}, an entry point of {ENTRY_POINT_GROUP}, or package.module:Class"
_KEY = "llm-backend"


def create_backend(settings: BackendSettings) -> Backend:
    """A backend for ``settings.backend``, built from ``settings``."""
    return resolve_backend_class(settings.backend)(settings)


def resolve_backend_class(name: str) -> type[Backend]:
    if name in KNOWN_BACKENDS:
        return _checked(_load_target(KNOWN_BACKENDS[name]), name)
    if ":" in name:
        return _checked(_load_target(name), name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return entry_point_class(ep)
    raise ConfigError(f"unknown backend {name!r} (expected {ACCEPTED})", key=_KEY)


def entry_point_class(ep: EntryPoint) -> type[Backend]:
    """The backend class an entry point names, checked as a run would check it (``doctor`` checks
    every installed one with this)."""
    try:
        obj = ep.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin package: say which
        raise ConfigError(f"cannot load entry point {ep.name!r} ({ep.value}): {one_line(exc)}", key=_KEY) from None
    return _checked(obj, ep.name)


def _load_target(target: str) -> object:
    module_name, _, qualname = target.partition(":")
    if not module_name or not qualname:
        raise ConfigError(f"backend {target!r} is not of the form package.module:Class", key=_KEY)
    try:
        obj: object = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - ImportError, or the module itself failing
        raise ConfigError(f"cannot import {module_name!r} for backend {target!r}: {one_line(exc)}", key=_KEY) from None
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module {module_name!r} has no {qualname!r} (backend {target!r})", key=_KEY)
        obj = getattr(obj, part)
    return obj


def _checked(obj: object, name: str) -> type[Backend]:
    if not (isinstance(obj, type) and issubclass(obj, Backend)):
        raise ConfigError(f"backend {name!r} is not a subclass of pytest_llmeval.Backend", key=_KEY)
    return obj

