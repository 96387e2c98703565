"""pytest-llmeval: LLM evaluation as pytest regression tests.

Public API: the ``dataset`` and ``examples`` helpers for Python tests; for backends of your own, the ``Backend`` base
class with its settings, request and reply types, ``OpenAIResponseBackend`` for code that gets
OpenAI-format responses, and the errors a backend raises; and the result types. Names load on
first use, so ``import pytest_llmeval`` (which every pytest run does through the plugin) costs
almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backends.base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Reply
    from .backends.openai.response import OpenAIResponseBackend
    from .errors import (
        BackendError, ConfigError, DataError, FatalBackendError, LLMEvalError, SampleRejected, TransientBackendError,
    )
    from .property_tests import examples
    from .python_tests import DatasetSample, LLMClient, dataset
    from .results.payload import SampleResult
    from .samples import Sample

_WHERE = {
    "Backend": "backends.base", "BackendSettings": "backends.base", "GenerateRequest": "backends.base",
    "LoglikelihoodRequest": "backends.base", "Reply": "backends.base", "OpenAIResponseBackend": "backends.openai.response",
    "BackendError": "errors", "ConfigError": "errors", "DataError": "errors", "FatalBackendError": "errors",
    "LLMEvalError": "errors", "SampleRejected": "errors", "TransientBackendError": "errors",
    "DatasetSample": "python_tests", "LLMClient": "python_tests", "dataset": "python_tests",
    "examples": "property_tests",
    "SampleResult": "results.payload", "Sample": "samples",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'pytest_llmeval' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
