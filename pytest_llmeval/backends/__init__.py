"""Model backends. Importing this package loads no SDK: each backend imports its own on first use.

The contract lives in ``base``; ``registry.create_backend`` maps a name onto a class. The
backend classes and helpers below are loaded on first attribute access. Families with several
modules are subpackages: ``openai/`` (chat, logprobs, response) and ``http/`` (backend, options,
presets, template, sse); ``transport`` and ``stream_clock`` serve both. The ``hf`` and
``llamacpp`` families are still flat files here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Message, Reply

if TYPE_CHECKING:
    from .bundled import BUNDLED_MODEL_NAME, bundled_model_path
    from .hf import HFBackend
    from .http.backend import HTTPBackend
    from .llamacpp import LlamaCppBackend
    from .openai.chat import OpenAIChatBackend
    from .registry import KNOWN_BACKENDS, create_backend

_LAZY = {
    "BUNDLED_MODEL_NAME": "bundled", "bundled_model_path": "bundled",
    "KNOWN_BACKENDS": "registry", "create_backend": "registry",
    "LlamaCppBackend": "llamacpp", "OpenAIChatBackend": "openai.chat", "HFBackend": "hf", "HTTPBackend": "http.backend",
}

__all__ = sorted(["Backend", "BackendSettings", "GenerateRequest", "LoglikelihoodRequest", "Message", "Reply", *_LAZY])


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value
