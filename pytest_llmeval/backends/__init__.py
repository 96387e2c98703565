"""Model backends. Importing this package loads no SDK: each backend imports its own on first use.

The contract lives in ``base``; ``registry.create_backend`` maps a name onto a class. The
backend classes and helpers below are loaded on first attribute access. Families with several
modules are subpackages: ``openai/`` (chat, logprobs, response), ``http/`` (backend, options,
presets, template, sse) and ``hf/`` (backend, options, load, generate, score); ``transport`` and
``stream_clock`` serve the first two, and ``llamacpp`` (with ``bundled``) is the local default.

The modules' old flat paths (``openai_chat``, ``hf_score``, ...) still import, with a
DeprecationWarning, until 0.2 (see ``moved.py``). Their forwarders sit in ``_moved/``, which is
on this package's path, rather than at the old file names: so git sees every move as a rename,
and a change made to an old file on another branch merges into its new place.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from .base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Message, Reply

__path__.append(os.path.join(os.path.dirname(__file__), "_moved"))

if TYPE_CHECKING:
    from .bundled import BUNDLED_MODEL_NAME, bundled_model_path
    from .hf.backend import HFBackend
    from .http.backend import HTTPBackend
    from .llamacpp import LlamaCppBackend
    from .openai.chat import OpenAIChatBackend
    from .registry import KNOWN_BACKENDS, create_backend

_LAZY = {
    "BUNDLED_MODEL_NAME": "bundled", "bundled_model_path": "bundled",
    "KNOWN_BACKENDS": "registry", "create_backend": "registry",
    "LlamaCppBackend": "llamacpp", "OpenAIChatBackend": "openai.chat", "HFBackend": "hf.backend", "HTTPBackend": "http.backend",
}

__all__ = sorted(["Backend", "BackendSettings", "GenerateRequest", "LoglikelihoodRequest", "Message", "Reply", *_LAZY])


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value
