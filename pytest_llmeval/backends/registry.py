"""Backend names to classes, imported only when a backend is first used."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import ConfigError
from .base import Backend, BackendSettings

__all__ = ["ENTRY_POINT_GROUP", "KNOWN_BACKENDS", "create_backend", "resolve_backend_class"]

ENTRY_POINT_GROUP = "pytest_llmeval.backends"
KNOWN_BACKENDS = {"openai": "pytest_llmeval.backends.openai_chat:OpenAIChatBackend",
                  "llamacpp": "pytest_llmeval.backends.llamacpp:LlamaCppBackend"}


def _load(target: str, name: str) -> type[Backend]:
    module_name, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load backend {name!r} from {target!r} ({exc})", key="llm-backend") from None
    if not (isinstance(obj, type) and issubclass(obj, Backend)):
        raise ConfigError(f"{target!r} is not a subclass of pytest_llmeval.Backend", key="llm-backend")
    return obj


def resolve_backend_class(name: str) -> type[Backend]:
    if name in KNOWN_BACKENDS:
        return _load(KNOWN_BACKENDS[name], name)
    if ":" in name:
        return _load(name, name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return _load(ep.value, name)
    raise ConfigError(f"unknown backend {name!r} (expected openai, llamacpp, an entry point of "
                      f"{ENTRY_POINT_GROUP}, or package.module:Class)", key="llm-backend")


def create_backend(settings: BackendSettings) -> Backend:
    return resolve_backend_class(settings.backend)(settings)
